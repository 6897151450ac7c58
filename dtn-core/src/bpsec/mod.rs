//! BPSec (RFC 9172): integrity (BIB) and confidentiality (BCB) blocks.
//!
//! So far: the abstract security block codec (`asb`), which every security context shares,
//! and the BIB-HMAC-SHA2 context's IPPT and MAC (`hmac_sha2`, RustCrypto: no_std, the same
//! generation as the rest of the tree); BCB-AES-GCM, the processing rules and policy build
//! on them.

pub mod asb;
pub mod hmac_sha2;

pub use asb::{Asb, AsbError, SecurityItem};

pub use crate::bundle::block_type::{BCB as BLOCK_TYPE_BCB, BIB as BLOCK_TYPE_BIB};

/// Security context BIB-HMAC-SHA2 (RFC 9173 3).
pub const CONTEXT_BIB_HMAC_SHA2: i64 = 1;
/// Security context BCB-AES-GCM (RFC 9173 4).
pub const CONTEXT_BCB_AES_GCM: i64 = 2;
