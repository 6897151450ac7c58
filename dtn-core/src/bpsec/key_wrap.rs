//! AES key wrap (RFC 3394), which both RFC 9173 contexts use to carry a per-bundle key
//! encrypted under a long-term key-encryption key (KEK): BIB-HMAC-SHA2 parameter 2 and
//! BCB-AES-GCM parameter 3.

use alloc::vec::Vec;

use aes_kw::{KwAes128, KwAes192, KwAes256};
use hmac::KeyInit;

/// Wraps `key` (a multiple of 8 bytes, at least 16) under a 128-, 192- or 256-bit KEK; `None` if a
/// size is wrong.
pub fn wrap_key(kek: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    if key.len() < 16 || !key.len().is_multiple_of(8) {
        return None;
    }
    let mut out = alloc::vec![0u8; key.len() + 8];
    let ok = match kek.len() {
        16 => KwAes128::new_from_slice(kek).ok()?.wrap_key(key, &mut out).is_ok(),
        24 => KwAes192::new_from_slice(kek).ok()?.wrap_key(key, &mut out).is_ok(),
        32 => KwAes256::new_from_slice(kek).ok()?.wrap_key(key, &mut out).is_ok(),
        _ => false,
    };
    ok.then_some(out)
}

/// Unwraps a wrapped key with a 128-, 192- or 256-bit KEK; `None` if the sizes are wrong or the
/// integrity check fails (the wrong KEK, or a tampered key).
pub fn unwrap_key(kek: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    let mut out = alloc::vec![0u8; wrapped.len() - 8];
    let ok = match kek.len() {
        16 => KwAes128::new_from_slice(kek).ok()?.unwrap_key(wrapped, &mut out).is_ok(),
        24 => KwAes192::new_from_slice(kek).ok()?.unwrap_key(wrapped, &mut out).is_ok(),
        32 => KwAes256::new_from_slice(kek).ok()?.unwrap_key(wrapped, &mut out).is_ok(),
        _ => false,
    };
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_unwraps_only_under_its_kek_and_bad_sizes_are_refused() {
        for kek in [[7u8; 16].as_slice(), [8u8; 24].as_slice(), [9u8; 32].as_slice()] {
            for len in [16, 24, 32] {
                let key: Vec<u8> = (0..len as u8).collect();
                let wrapped = wrap_key(kek, &key).unwrap();
                assert_eq!(wrapped.len(), len + 8);
                assert_eq!(unwrap_key(kek, &wrapped), Some(key.clone()));
                let mut other = kek.to_vec();
                other[0] ^= 1;
                assert_eq!(unwrap_key(&other, &wrapped), None);
                let mut tampered = wrapped.clone();
                tampered[len] ^= 0x80;
                assert_eq!(unwrap_key(kek, &tampered), None);
            }
        }
        assert_eq!(wrap_key(&[0; 15], &[0; 16]), None);
        assert_eq!(wrap_key(&[0; 20], &[0; 16]), None);
        assert_eq!(wrap_key(&[0; 16], &[0; 12]), None);
        assert_eq!(unwrap_key(&[0; 16], &[0; 16]), None);
        assert_eq!(unwrap_key(&[0; 16], &[0; 25]), None);
    }
}
