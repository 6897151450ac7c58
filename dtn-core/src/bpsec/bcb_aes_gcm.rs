//! BCB-AES-GCM (RFC 9173 4): the confidentiality context's parameters, the additional
//! authenticated data (AAD) and AES-GCM over a target's block-type-specific data.
//!
//! The ciphertext replaces the target's data and has its length; the 16-byte tag is the
//! security result (4.4.1). The AAD (4.7.2) is the CBOR unsigned integer of the scope flags,
//! then as they say the primary block, the target's header and the BCB's header — the
//! plaintext itself is the raw data, not wrapped. The IV is 8 to 16 bytes (12 recommended);
//! GCM takes any length, a non-12-byte one through GHASH (NIST SP 800-38D 7.1).

use alloc::vec::Vec;

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::{U8, U9, U10, U11, U12, U13, U14, U15, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::{Aes128, Aes256};

use super::asb::{Asb, SecurityItem};
use super::hmac_sha2::BlockHeader;

/// Parameter 1: the IV.
pub const PARAM_IV: u64 = 1;
/// Parameter 2: the AES variant.
pub const PARAM_AES_VARIANT: u64 = 2;
/// Parameter 3: the content-encryption key, wrapped.
pub const PARAM_WRAPPED_KEY: u64 = 3;
/// Parameter 4: the AAD scope flags.
pub const PARAM_SCOPE: u64 = 4;
/// Result 1: the authentication tag.
pub const RESULT_TAG: u64 = 1;
/// The tag's length, bytes.
pub const TAG_LEN: usize = 16;

/// Scope flag: the primary block is in the AAD.
pub const SCOPE_PRIMARY: u64 = 0x01;
/// Scope flag: the target's header is in the AAD.
pub const SCOPE_TARGET_HEADER: u64 = 0x02;
/// Scope flag: the BCB's own header is in the AAD.
pub const SCOPE_SECURITY_HEADER: u64 = 0x04;
/// The scope when the parameter is absent: all three.
pub const SCOPE_DEFAULT: u64 = 0x07;

/// The shortest and longest IV the context allows (4.3.1).
pub const IV_LEN: core::ops::RangeInclusive<usize> = 8..=16;

/// The AES key size (4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AesVariant {
    /// A128GCM (code 1).
    A128,
    /// A256GCM (code 3, the default).
    A256,
}

impl AesVariant {
    /// The variant for a parameter value.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(AesVariant::A128),
            3 => Some(AesVariant::A256),
            _ => None,
        }
    }

    /// Its parameter value.
    pub fn code(self) -> u64 {
        match self {
            AesVariant::A128 => 1,
            AesVariant::A256 => 3,
        }
    }

    /// The key's length, bytes.
    pub fn key_len(self) -> usize {
        match self {
            AesVariant::A128 => 16,
            AesVariant::A256 => 32,
        }
    }
}

/// What one target's AAD is made of.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    /// The AAD scope flags.
    pub scope: u64,
    /// The primary block, encoded.
    pub primary: &'a [u8],
    /// The target's header.
    pub target: BlockHeader,
    /// The BCB's header.
    pub security: BlockHeader,
}

impl Aad<'_> {
    /// The AAD (RFC 9173 4.7.2).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.primary.len() + 32);
        super::hmac_sha2::encode_scoped(&mut out, self.scope, Some((self.primary, &self.target)), &self.security);
        out
    }
}

/// Why AES-GCM did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GcmError {
    /// The key is not the variant's length.
    #[error("the key is not {0} bytes")]
    KeyLength(usize),
    /// The IV is outside 8..=16 bytes.
    #[error("an IV of {0} bytes (8 to 16 are allowed)")]
    IvLength(usize),
    /// The tag does not authenticate the data: the wrong key, or tampering.
    #[error("the tag does not authenticate the data")]
    Authentication,
}

/// Encrypts `data` in place; returns the tag.
pub fn encrypt(
    variant: AesVariant,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; TAG_LEN], GcmError> {
    run(variant, key, iv, |cipher| cipher.seal(iv, aad, data))
}

/// Decrypts `data` in place if `tag` authenticates it; on failure `data` is unchanged.
pub fn decrypt(
    variant: AesVariant,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> Result<(), GcmError> {
    if tag.len() != TAG_LEN {
        return Err(GcmError::Authentication);
    }
    run(variant, key, iv, |cipher| cipher.open(iv, aad, data, tag)).map(|_| ())
}

/// AES-GCM with one key size and one IV size, behind one interface.
trait Cipher {
    fn seal(&self, iv: &[u8], aad: &[u8], data: &mut [u8]) -> Result<[u8; TAG_LEN], GcmError>;
    fn open(&self, iv: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8]) -> Result<[u8; TAG_LEN], GcmError>;
}

impl<C: AeadInOut> Cipher for C {
    fn seal(&self, iv: &[u8], aad: &[u8], data: &mut [u8]) -> Result<[u8; TAG_LEN], GcmError> {
        let nonce = iv.try_into().map_err(|_| GcmError::IvLength(iv.len()))?;
        let tag = self.encrypt_inout_detached(nonce, aad, data.into()).map_err(|_| GcmError::Authentication)?;
        tag.as_slice().try_into().map_err(|_| GcmError::Authentication)
    }

    fn open(&self, iv: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8]) -> Result<[u8; TAG_LEN], GcmError> {
        let nonce = iv.try_into().map_err(|_| GcmError::IvLength(iv.len()))?;
        let tag = tag.try_into().map_err(|_| GcmError::Authentication)?;
        self.decrypt_inout_detached(nonce, aad, data.into(), tag).map_err(|_| GcmError::Authentication)?;
        Ok([0; TAG_LEN])
    }
}

fn run<T>(
    variant: AesVariant,
    key: &[u8],
    iv: &[u8],
    f: impl FnOnce(&dyn Cipher) -> Result<T, GcmError>,
) -> Result<T, GcmError> {
    if key.len() != variant.key_len() {
        return Err(GcmError::KeyLength(variant.key_len()));
    }
    macro_rules! with_iv {
        ($aes:ty) => {
            match iv.len() {
                8 => f(&cipher::<$aes, U8>(key)?),
                9 => f(&cipher::<$aes, U9>(key)?),
                10 => f(&cipher::<$aes, U10>(key)?),
                11 => f(&cipher::<$aes, U11>(key)?),
                12 => f(&cipher::<$aes, U12>(key)?),
                13 => f(&cipher::<$aes, U13>(key)?),
                14 => f(&cipher::<$aes, U14>(key)?),
                15 => f(&cipher::<$aes, U15>(key)?),
                16 => f(&cipher::<$aes, U16>(key)?),
                n => Err(GcmError::IvLength(n)),
            }
        };
    }
    match variant {
        AesVariant::A128 => with_iv!(Aes128),
        AesVariant::A256 => with_iv!(Aes256),
    }
}

fn cipher<A, N>(key: &[u8]) -> Result<AesGcm<A, N>, GcmError>
where
    AesGcm<A, N>: KeyInit,
{
    AesGcm::<A, N>::new_from_slice(key).map_err(|_| GcmError::KeyLength(key.len()))
}

/// The context's parameters as a BCB carries them, with RFC 9173's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// The IV (required).
    pub iv: Vec<u8>,
    /// The key size.
    pub variant: AesVariant,
    /// The wrapped content-encryption key, if the block carries one.
    pub wrapped_key: Option<Vec<u8>>,
    /// The AAD scope flags.
    pub scope: u64,
}

/// A BCB whose parameters this context cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("BCB-AES-GCM: {0}")]
pub struct ParameterError(pub &'static str);

impl Parameters {
    /// Reads the parameters of `asb` (absent optional ones take their defaults).
    pub fn of(asb: &Asb) -> Result<Parameters, ParameterError> {
        super::asb::check_parameter_ids(asb, &[PARAM_IV, PARAM_AES_VARIANT, PARAM_WRAPPED_KEY, PARAM_SCOPE])
            .map_err(ParameterError)?;
        let iv = asb
            .parameter(PARAM_IV)
            .ok_or(ParameterError("the IV (parameter 1) is required"))?
            .as_bytes()
            .ok_or(ParameterError("the IV is a byte string"))?;
        if !IV_LEN.contains(&iv.len()) {
            return Err(ParameterError("the IV is 8 to 16 bytes"));
        }
        let variant = match asb.parameter(PARAM_AES_VARIANT) {
            None => AesVariant::A256,
            Some(p) => {
                p.as_uint().and_then(AesVariant::from_code).ok_or(ParameterError("the AES variant is 1 or 3"))?
            }
        };
        let wrapped_key = asb
            .bytes_parameter(PARAM_WRAPPED_KEY, "the wrapped key is a byte string")
            .map_err(ParameterError)?
            .map(<[u8]>::to_vec);
        let scope = asb
            .uint_parameter(PARAM_SCOPE, SCOPE_DEFAULT, "the AAD scope flags are an unsigned integer")
            .map_err(ParameterError)?;
        Ok(Parameters { iv: iv.to_vec(), variant, wrapped_key, scope })
    }

    /// The parameters as a BCB carries them: each given explicitly, in identifier order (as
    /// RFC 9173's examples send them).
    pub fn to_items(&self) -> Vec<SecurityItem> {
        let mut items = alloc::vec![
            SecurityItem::bytes(PARAM_IV, &self.iv),
            SecurityItem::uint(PARAM_AES_VARIANT, self.variant.code()),
        ];
        if let Some(k) = &self.wrapped_key {
            items.push(SecurityItem::bytes(PARAM_WRAPPED_KEY, k));
        }
        items.push(SecurityItem::uint(PARAM_SCOPE, self.scope));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_iv_length_and_key_size_round_trips_and_a_flipped_bit_is_caught() {
        for variant in [AesVariant::A128, AesVariant::A256] {
            let key: Vec<u8> = (0..variant.key_len() as u8).collect();
            for iv_len in IV_LEN {
                let iv = alloc::vec![0x42; iv_len];
                let plain = b"model weights, shard 7".to_vec();
                let mut data = plain.clone();
                let tag = encrypt(variant, &key, &iv, b"aad", &mut data).unwrap();
                assert_ne!(data, plain);
                let mut flipped = data.clone();
                flipped[3] ^= 1;
                assert_eq!(decrypt(variant, &key, &iv, b"aad", &mut flipped, &tag), Err(GcmError::Authentication));
                assert_eq!(decrypt(variant, &key, &iv, b"aaD", &mut data.clone(), &tag), Err(GcmError::Authentication));
                decrypt(variant, &key, &iv, b"aad", &mut data, &tag).unwrap();
                assert_eq!(data, plain);
            }
        }
        let mut data = [0u8; 4];
        assert_eq!(encrypt(AesVariant::A128, &[0; 16], &[0; 7], b"", &mut data), Err(GcmError::IvLength(7)));
        assert_eq!(encrypt(AesVariant::A128, &[0; 16], &[0; 17], b"", &mut data), Err(GcmError::IvLength(17)));
        assert_eq!(encrypt(AesVariant::A256, &[0; 16], &[0; 12], b"", &mut data), Err(GcmError::KeyLength(32)));
        assert_eq!(
            decrypt(AesVariant::A128, &[0; 16], &[0; 12], b"", &mut data, &[0; 15]),
            Err(GcmError::Authentication)
        );
    }
}
