//! BPSec (RFC 9172): integrity (BIB) and confidentiality (BCB) blocks.
//!
//! The abstract security block codec (`asb`) every context shares; the two RFC 9173
//! contexts' primitives (`hmac_sha2`, `bcb_aes_gcm`, `key_wrap`: RustCrypto crates, which
//! are no_std, constant-time and pure Rust — nothing to cross-compile for a flight target);
//! the processing rules (`rules`) and the three roles: security source (`source`),
//! verifier and acceptor (`verifier`).

pub mod asb;
pub mod bcb_aes_gcm;
pub mod cose;
pub mod crypto;
mod error;
pub mod hmac_sha2;
pub mod key_wrap;
pub mod numbers;
pub mod policy;
pub mod random;
pub mod rules;
pub mod source;
pub mod verifier;

pub use asb::{Asb, AsbError, SecurityItem};
pub use crypto::{Crypto, RustCrypto};
pub use error::{Failure, SecurityError};
pub use policy::{BundleKind, Context, Inbound, KeyRing, OnFailure, Policy, Protection, Role, Rule, Service};
pub use random::Drbg;
pub use rules::{Security, SecurityBlock};
pub use source::{Encrypt, KeyMaterial, Placement, Sign, encrypt, encrypt_apart, sign};
pub use verifier::{accept_bcb, accept_bcbs, accept_bib, accept_bibs, decrypt_targets, verify_bib};

pub use crate::bundle::block_type::{BCB as BLOCK_TYPE_BCB, BIB as BLOCK_TYPE_BIB};

/// Security context BIB-HMAC-SHA2 (RFC 9173 3).
pub const CONTEXT_BIB_HMAC_SHA2: i64 = 1;
/// Security context BCB-AES-GCM (RFC 9173 4).
pub const CONTEXT_BCB_AES_GCM: i64 = 2;

#[cfg(test)]
mod tests;
