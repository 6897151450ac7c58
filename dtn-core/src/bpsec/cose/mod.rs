//! The COSE security context (draft-ietf-dtn-bpsec-cose, revision 17 — its layouts checked
//! byte for byte against the draft's Appendix A vectors; context ID 3): BIBs carry a
//! COSE_Mac0 (HMAC) or COSE_Sign1 (ECDSA P-256/P-384, Ed25519) per target and BCBs a
//! COSE_Encrypt0 (AES-GCM) per target, each untagged in a byte string, payload detached.
//!
//! Asymmetric signatures are what this context is for: a flight node that holds only the
//! ground's public key can check a command but cannot be made to sign one. Keys are COSE_Key
//! encodings ([`key`]); the external AAD ([`aad`]) covers the security source, the AAD-scope
//! map's blocks and the additional protected header.
//!
//! Algorithms: HMAC 256/256 (5), 384/384 (6), 512/512 (7); ESP256 (-9, ES256 -7 accepted),
//! ESP384 (-51, ES384 -35 accepted), Ed25519 (-19, EdDSA -8 accepted); A128GCM (1), A256GCM
//! (3). The draft's interoperability profile asks for HMAC 384/512, ESP384/512 and A256GCM;
//! ESP256 and Ed25519 are here for the small flight processors that have them in hardware.
//! Not here: two-layer messages (COSE_Sign, COSE_Mac, COSE_Encrypt with recipients), RSA,
//! ML-DSA and certificates (x5chain/x5t).

pub mod aad;
pub mod key;
pub mod message;
mod ops;
pub mod signature;

pub use aad::AadScope;
pub use key::{CoseKey, KeyKind};
pub use ops::{CoseEncrypt, CoseSign, TargetOpening, encrypt, open_plan, sign, verify_bib};
pub use signature::{GenerateKind, generate};

use super::bcb_aes_gcm::AesVariant;
use super::hmac_sha2::ShaVariant;

/// The context's ID (draft-ietf-dtn-bpsec-cose 7.1).
pub const CONTEXT_COSE: i64 = 3;
/// Parameter: additional protected header map (an encoded map in a byte string).
pub const PARAM_ADDITIONAL_PROTECTED: u64 = 3;
/// Parameter: additional unprotected header map.
pub const PARAM_ADDITIONAL_UNPROTECTED: u64 = 4;
/// Parameter: the AAD scope map.
pub const PARAM_AAD_SCOPE: u64 = 5;
/// Result: a COSE_Encrypt0.
pub const RESULT_ENCRYPT0: u64 = 16;
/// Result: a COSE_Mac0.
pub const RESULT_MAC0: u64 = 17;
/// Result: a COSE_Sign1.
pub const RESULT_SIGN1: u64 = 18;

/// An ECDSA curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-256 with SHA-256.
    P256,
    /// P-384 with SHA-384.
    P384,
}

/// A COSE algorithm this context runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// HMAC with SHA-2, the tag the hash's length.
    Hmac(ShaVariant),
    /// AES-GCM, 128-bit tag.
    Gcm(AesVariant),
    /// ECDSA.
    Ecdsa(Curve),
    /// Ed25519 (pure EdDSA).
    Ed25519,
}

impl Alg {
    /// From its COSE code.
    pub fn from_code(code: i64) -> Option<Alg> {
        Some(match code {
            5 => Alg::Hmac(ShaVariant::Sha256),
            6 => Alg::Hmac(ShaVariant::Sha384),
            7 => Alg::Hmac(ShaVariant::Sha512),
            1 => Alg::Gcm(AesVariant::A128),
            3 => Alg::Gcm(AesVariant::A256),
            -7 | -9 => Alg::Ecdsa(Curve::P256),
            -35 | -51 => Alg::Ecdsa(Curve::P384),
            -8 | -19 => Alg::Ed25519,
            _ => return None,
        })
    }

    /// The code this node sends (the fully specified one, RFC 9864, where there are two).
    pub fn code(self) -> i64 {
        match self {
            Alg::Hmac(ShaVariant::Sha256) => 5,
            Alg::Hmac(ShaVariant::Sha384) => 6,
            Alg::Hmac(ShaVariant::Sha512) => 7,
            Alg::Gcm(AesVariant::A128) => 1,
            Alg::Gcm(AesVariant::A256) => 3,
            Alg::Ecdsa(Curve::P256) => -9,
            Alg::Ecdsa(Curve::P384) => -51,
            Alg::Ed25519 => -19,
        }
    }

    /// Whether it protects integrity (a BIB) rather than confidentiality.
    pub fn is_integrity(self) -> bool {
        !matches!(self, Alg::Gcm(_))
    }

    /// The result ID of its message.
    pub fn result_id(self) -> u64 {
        match self {
            Alg::Hmac(_) => RESULT_MAC0,
            Alg::Gcm(_) => RESULT_ENCRYPT0,
            Alg::Ecdsa(_) | Alg::Ed25519 => RESULT_SIGN1,
        }
    }
}

#[cfg(test)]
mod tests;
