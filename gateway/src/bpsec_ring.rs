//! BPSec's primitives on `ring` for the gateway: its HMAC-SHA2 and AES-GCM are assembly
//! with AES-NI/AVX2/SHA extensions, faster on a ground station than the pure-Rust ones the
//! flight build (`dtn_core::bpsec::RustCrypto`) uses. `ring` takes only 12-byte IVs; other
//! lengths (RFC 9173 allows 8 to 16, and hardy accepts them) go to RustCrypto.

use dtn_core::bpsec::bcb_aes_gcm::{AesVariant, GcmError, TAG_LEN};
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{Crypto, RustCrypto};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use ring::hmac;

/// The `ring` primitives.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingCrypto;

fn gcm_key(variant: AesVariant, key: &[u8]) -> Result<LessSafeKey, GcmError> {
    let alg = match variant {
        AesVariant::A128 => &AES_128_GCM,
        AesVariant::A256 => &AES_256_GCM,
    };
    UnboundKey::new(alg, key).map(LessSafeKey::new).map_err(|_| GcmError::KeyLength(variant.key_len()))
}

impl Crypto for RingCrypto {
    fn hmac(&self, variant: ShaVariant, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let alg = match variant {
            ShaVariant::Sha256 => hmac::HMAC_SHA256,
            ShaVariant::Sha384 => hmac::HMAC_SHA384,
            ShaVariant::Sha512 => hmac::HMAC_SHA512,
        };
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(alg, key));
        for part in parts {
            ctx.update(part);
        }
        ctx.sign().as_ref().to_vec()
    }

    fn seal(
        &self,
        variant: AesVariant,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; TAG_LEN], GcmError> {
        let Ok(nonce) = Nonce::try_assume_unique_for_key(iv) else {
            return RustCrypto.seal(variant, key, iv, aad, data);
        };
        let tag = gcm_key(variant, key)?
            .seal_in_place_separate_tag(nonce, Aad::from(aad), data)
            .map_err(|_| GcmError::Authentication)?;
        tag.as_ref().try_into().map_err(|_| GcmError::Authentication)
    }

    fn open(
        &self,
        variant: AesVariant,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), GcmError> {
        let Ok(nonce) = Nonce::try_assume_unique_for_key(iv) else {
            return RustCrypto.open(variant, key, iv, aad, data, tag);
        };
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| GcmError::Authentication)?;
        gcm_key(variant, key)?
            .open_in_place_separate_tag(nonce, Aad::from(aad), Tag::from(tag), data, 0..)
            .map(|_| ())
            .map_err(|_| GcmError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_and_rustcrypto_agree_on_every_mac_and_ciphertext() {
        for variant in [ShaVariant::Sha256, ShaVariant::Sha384, ShaVariant::Sha512] {
            let parts: [&[u8]; 2] = [b"prefix", b"payload bytes"];
            assert_eq!(RingCrypto.hmac(variant, b"k", &parts), RustCrypto.hmac(variant, b"k", &parts));
        }
        for variant in [AesVariant::A128, AesVariant::A256] {
            let key = vec![3u8; variant.key_len()];
            for iv_len in 8..=16 {
                let iv = vec![9u8; iv_len];
                let (mut a, mut b) = (b"weights".to_vec(), b"weights".to_vec());
                let ta = RingCrypto.seal(variant, &key, &iv, b"aad", &mut a).unwrap();
                let tb = RustCrypto.seal(variant, &key, &iv, b"aad", &mut b).unwrap();
                assert_eq!((&a, ta), (&b, tb));
                RingCrypto.open(variant, &key, &iv, b"aad", &mut a, &tb).unwrap();
                assert_eq!(a, b"weights");
                assert!(RingCrypto.open(variant, &key, &iv, b"aaD", &mut b, &tb).is_err());
            }
        }
    }
}
