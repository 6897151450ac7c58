//! EID errors.

use crate::cbor::CborError;

/// What is wrong with an EID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EidErrorKind {
    /// The CBOR itself is malformed.
    Cbor(crate::cbor::CborErrorKind),
    /// An EID is a 2-element array `[scheme, ssp]` (RFC 9171 4.2.5.1).
    NotSchemeSspPair,
    /// A `dtn` SSP is the text `//node/demux` or the integer 0 (RFC 9171 4.2.5.1.1).
    InvalidDtnSsp,
    /// An `ipn` SSP is an array of 2 or 3 unsigned integers (RFC 9758 5).
    IpnElementCount,
    /// An `ipn` component is not an unsigned integer.
    IpnComponentNotUnsigned,
    /// An `ipn` component exceeds 32 bits (RFC 9758 4).
    IpnComponentTooLarge,
    /// Text form lacks a known `scheme:` prefix.
    UnknownTextScheme,
    /// A text component is not a decimal number.
    InvalidNumber,
    /// The local-node number (`ipn:!.S`) never appears outside the node (RFC 9758 3.4.2).
    LocalNodeNotAllowed,
}

/// An EID that cannot be decoded or parsed, with where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid EID at byte {offset}: {kind}")]
pub struct EidError {
    /// What is wrong.
    pub kind: EidErrorKind,
    /// Byte offset (in the CBOR input or the text).
    pub offset: usize,
}

impl From<CborError> for EidError {
    fn from(e: CborError) -> Self {
        EidError { kind: EidErrorKind::Cbor(e.kind), offset: e.offset }
    }
}

impl core::fmt::Display for EidErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EidErrorKind::Cbor(kind) => write!(f, "{kind}"),
            EidErrorKind::NotSchemeSspPair => f.write_str("an EID is a [scheme, ssp] array (RFC 9171 4.2.5.1)"),
            EidErrorKind::InvalidDtnSsp => {
                f.write_str("a dtn SSP is \"//node-name/demux\" or 0 for dtn:none (RFC 9171 4.2.5.1.1)")
            }
            EidErrorKind::IpnElementCount => f.write_str("an ipn SSP has 2 or 3 unsigned integers (RFC 9758 5)"),
            EidErrorKind::IpnComponentNotUnsigned => {
                f.write_str("ipn numbers are unsigned integers (RFC 9171 4.2.5.1.2)")
            }
            EidErrorKind::IpnComponentTooLarge => {
                f.write_str("ipn allocator, node and service numbers are at most 2^32-1 (RFC 9758 4)")
            }
            EidErrorKind::UnknownTextScheme => f.write_str("expected \"ipn:\" or \"dtn:\""),
            EidErrorKind::InvalidNumber => f.write_str("expected a decimal number"),
            EidErrorKind::LocalNodeNotAllowed => {
                f.write_str("the local-node ipn number must not leave the node (RFC 9758 3.4.2)")
            }
        }
    }
}
