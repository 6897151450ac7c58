//! BPSec (RFC 9172): integrity (BIB) and confidentiality (BCB) blocks.
//!
//! This first part is the abstract security block codec (`asb`), which every security
//! context shares; the RFC 9173 contexts, the processing rules and policy build on it.

pub mod asb;

pub use asb::{Asb, AsbError, SecurityItem};

pub use crate::bundle::block_type::{BCB as BLOCK_TYPE_BCB, BIB as BLOCK_TYPE_BIB};

/// Security context BIB-HMAC-SHA2 (RFC 9173 3).
pub const CONTEXT_BIB_HMAC_SHA2: i64 = 1;
/// Security context BCB-AES-GCM (RFC 9173 4).
pub const CONTEXT_BCB_AES_GCM: i64 = 2;
