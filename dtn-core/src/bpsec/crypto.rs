//! The primitives the security operations run on, behind a trait: `dtn-core` brings
//! RustCrypto's (no_std, pure Rust), and a host with a faster library (the gateway has
//! `ring`) can hand the operations its own.

use alloc::vec::Vec;

use super::bcb_aes_gcm::{self, AesVariant, GcmError, TAG_LEN};
use super::hmac_sha2::{self, ShaVariant};

/// HMAC-SHA2 and AES-GCM.
pub trait Crypto: core::fmt::Debug {
    /// The HMAC of the concatenation of `parts`.
    fn hmac(&self, variant: ShaVariant, key: &[u8], parts: &[&[u8]]) -> Vec<u8>;
    /// Encrypts `data` in place and returns the tag.
    fn seal(
        &self,
        variant: AesVariant,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; TAG_LEN], GcmError>;
    /// Decrypts `data` in place if `tag` authenticates it (on failure `data` may hold
    /// anything; callers discard it).
    fn open(
        &self,
        variant: AesVariant,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), GcmError>;
}

/// The RustCrypto primitives (`hmac`, `sha2`, `aes-gcm`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl Crypto for RustCrypto {
    fn hmac(&self, variant: ShaVariant, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        hmac_sha2::mac_parts(variant, key, parts)
    }

    fn seal(
        &self,
        variant: AesVariant,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; TAG_LEN], GcmError> {
        bcb_aes_gcm::encrypt(variant, key, iv, aad, data)
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
        bcb_aes_gcm::decrypt(variant, key, iv, aad, data, tag)
    }
}
