//! Why a bundle was rejected: the rule, the byte offset and the RFC 9171 deletion reason.

use core::fmt;

use crate::admin::ReasonCode;
use crate::cbor::{CborError, CborErrorKind};
use crate::eid::{EidError, EidErrorKind};

/// The rule a bundle broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleErrorKind {
    /// The input ends inside the bundle.
    Truncated,
    /// Bytes follow the bundle's closing break.
    TrailingData,
    /// CBOR that is malformed where no more specific rule applies.
    InvalidCbor(CborErrorKind),
    /// A CBOR head not in shortest form (RFC 9171 4.1 requires deterministic encoding).
    NonCanonicalCbor,
    /// The bundle is not an indefinite-length array.
    BundleNotIndefiniteArray,
    /// The bundle array is empty.
    MissingPrimaryBlock,
    /// The primary block is not an array of 8 to 11 items.
    InvalidPrimaryBlock,
    /// The primary block's version is not 7.
    UnsupportedVersion(u64),
    /// CRC type not 0, 1 or 2.
    InvalidCrcType(u64),
    /// CRC value of the wrong length for its type.
    InvalidCrcLength {
        /// Length the CRC type requires.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A CRC type other than 0 without a CRC value.
    MissingCrcValue,
    /// A CRC value with CRC type 0.
    UnexpectedCrcValue,
    /// The CRC does not match the block.
    CrcMismatch {
        /// The block number (0 for the primary block).
        block: u64,
    },
    /// The primary block has no CRC and no BIB targets it.
    MissingPrimaryCrc,
    /// The fragment flag is set but offset and total length are missing.
    MissingFragmentFields,
    /// Offset and total length are present but the fragment flag is clear.
    UnexpectedFragmentFields,
    /// A canonical block is not an array of 5 or 6 items.
    InvalidBlock,
    /// Block-type-specific data as an indefinite-length byte string.
    IndefiniteLengthBtsd,
    /// Block-type-specific data is not a byte string.
    InvalidBtsdType,
    /// A non-payload block numbered 0 or 1.
    InvalidBlockNumber(u64),
    /// Two blocks with one number.
    DuplicateBlockNumber(u64),
    /// No payload block.
    MissingPayloadBlock,
    /// A block follows the payload block.
    PayloadNotLast,
    /// More than one payload block.
    DuplicatePayloadBlock,
    /// The payload block is not block number 1.
    InvalidPayloadBlockNumber(u64),
    /// A forbidden combination of flags.
    InvalidFlags(&'static str),
    /// Creation time 0 requires a Bundle Age block.
    MissingBundleAge,
    /// More than one Bundle Age block.
    DuplicateBundleAge,
    /// More than one Hop Count block.
    DuplicateHopCount,
    /// More than one Previous Node block.
    DuplicatePreviousNode,
    /// Hop limit outside 1..=255.
    InvalidHopLimit(u64),
    /// Hop count above hop limit (a processing-time rule, not a parse error).
    HopLimitExceeded {
        /// The hop limit.
        limit: u64,
        /// The hop count.
        count: u64,
    },
    /// A malformed EID in the named field.
    InvalidEid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        kind: EidErrorKind,
    },
    /// Lifetime is not an unsigned integer.
    InvalidLifetime,
    /// Creation timestamp is not `[uint, uint]`.
    InvalidCreationTimestamp,
    /// Fragment offset plus payload length exceeds the total ADU length.
    InvalidFragment,
    /// A known extension block whose data does not decode.
    InvalidExtensionBlock {
        /// The block type.
        block_type: u64,
    },
}

impl BundleErrorKind {
    /// The error's class name, e.g. `"CrcMismatch"`.
    pub fn name(&self) -> &'static str {
        use BundleErrorKind::*;
        match self {
            Truncated => "Truncated",
            TrailingData => "TrailingData",
            InvalidCbor(_) => "InvalidCbor",
            NonCanonicalCbor => "NonCanonicalCbor",
            BundleNotIndefiniteArray => "BundleNotIndefiniteArray",
            MissingPrimaryBlock => "MissingPrimaryBlock",
            InvalidPrimaryBlock => "InvalidPrimaryBlock",
            UnsupportedVersion(_) => "UnsupportedVersion",
            InvalidCrcType(_) => "InvalidCrcType",
            InvalidCrcLength { .. } => "InvalidCrcLength",
            MissingCrcValue => "MissingCrcValue",
            UnexpectedCrcValue => "UnexpectedCrcValue",
            CrcMismatch { .. } => "CrcMismatch",
            MissingPrimaryCrc => "MissingPrimaryCrc",
            MissingFragmentFields => "MissingFragmentFields",
            UnexpectedFragmentFields => "UnexpectedFragmentFields",
            InvalidBlock => "InvalidBlock",
            IndefiniteLengthBtsd => "IndefiniteLengthBtsd",
            InvalidBtsdType => "InvalidBtsdType",
            InvalidBlockNumber(_) => "InvalidBlockNumber",
            DuplicateBlockNumber(_) => "DuplicateBlockNumber",
            MissingPayloadBlock => "MissingPayloadBlock",
            PayloadNotLast => "PayloadNotLast",
            DuplicatePayloadBlock => "DuplicatePayloadBlock",
            InvalidPayloadBlockNumber(_) => "InvalidPayloadBlockNumber",
            InvalidFlags(_) => "InvalidFlags",
            MissingBundleAge => "MissingBundleAge",
            DuplicateBundleAge => "DuplicateBundleAge",
            DuplicateHopCount => "DuplicateHopCount",
            DuplicatePreviousNode => "DuplicatePreviousNode",
            InvalidHopLimit(_) => "InvalidHopLimit",
            HopLimitExceeded { .. } => "HopLimitExceeded",
            InvalidEid { .. } => "InvalidEid",
            InvalidLifetime => "InvalidLifetime",
            InvalidCreationTimestamp => "InvalidCreationTimestamp",
            InvalidFragment => "InvalidFragment",
            InvalidExtensionBlock { .. } => "InvalidExtensionBlock",
        }
    }

    /// The section of RFC 9171 (or 8949/9758) that states the rule.
    pub fn rule(&self) -> &'static str {
        use BundleErrorKind::*;
        match self {
            Truncated | TrailingData | BundleNotIndefiniteArray | MissingPrimaryBlock => "RFC 9171 4.1",
            InvalidCbor(_) | NonCanonicalCbor => "RFC 9171 4.1 / RFC 8949 4.2.1",
            InvalidPrimaryBlock
            | UnsupportedVersion(_)
            | MissingFragmentFields
            | UnexpectedFragmentFields
            | InvalidLifetime
            | MissingPrimaryCrc => "RFC 9171 4.3.1",
            InvalidCrcType(_) | InvalidCrcLength { .. } | MissingCrcValue | UnexpectedCrcValue | CrcMismatch { .. } => {
                "RFC 9171 4.2.1"
            }
            InvalidBlock | IndefiniteLengthBtsd | InvalidBtsdType => "RFC 9171 4.3.2",
            InvalidBlockNumber(_)
            | DuplicateBlockNumber(_)
            | MissingPayloadBlock
            | PayloadNotLast
            | DuplicatePayloadBlock
            | InvalidPayloadBlockNumber(_) => "RFC 9171 4.1, 4.3.3",
            InvalidFlags(_) => "RFC 9171 4.2.3, 4.2.4",
            MissingBundleAge | DuplicateBundleAge => "RFC 9171 4.4.2",
            DuplicateHopCount | InvalidHopLimit(_) | HopLimitExceeded { .. } => "RFC 9171 4.4.3",
            DuplicatePreviousNode => "RFC 9171 4.4.1",
            InvalidEid { .. } => "RFC 9171 4.2.5.1, RFC 9758",
            InvalidCreationTimestamp => "RFC 9171 4.2.7",
            InvalidFragment => "RFC 9171 5.8",
            InvalidExtensionBlock { .. } => "RFC 9171 4.4",
        }
    }
}

impl fmt::Display for BundleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BundleErrorKind::*;
        match self {
            Truncated => f.write_str("input ends inside the bundle"),
            TrailingData => f.write_str("bytes follow the end of the bundle"),
            InvalidCbor(kind) => write!(f, "{kind}"),
            NonCanonicalCbor => f.write_str("integer or length not in shortest CBOR form"),
            BundleNotIndefiniteArray => f.write_str("a bundle is an indefinite-length CBOR array"),
            MissingPrimaryBlock => f.write_str("bundle has no primary block"),
            InvalidPrimaryBlock => f.write_str("the primary block is an array of 8 to 11 items"),
            UnsupportedVersion(v) => write!(f, "bundle protocol version {v}, only 7 is supported"),
            InvalidCrcType(t) => write!(f, "CRC type {t} is not 0, 1 or 2"),
            InvalidCrcLength { expected, found } => {
                write!(f, "CRC value is {found} bytes, its type needs {expected}")
            }
            MissingCrcValue => f.write_str("CRC type set but no CRC value"),
            UnexpectedCrcValue => f.write_str("CRC value present with CRC type 0"),
            CrcMismatch { block } => write!(f, "CRC of block {block} does not match"),
            MissingPrimaryCrc => f.write_str("primary block has no CRC and no BIB targets it"),
            MissingFragmentFields => f.write_str("fragment flag set without fragment offset and total length"),
            UnexpectedFragmentFields => f.write_str("fragment offset and total length without the fragment flag"),
            InvalidBlock => f.write_str("a canonical block is an array of 5 or 6 items"),
            IndefiniteLengthBtsd => f.write_str("block data is an indefinite-length byte string"),
            InvalidBtsdType => f.write_str("block data is not a byte string"),
            InvalidBlockNumber(n) => write!(f, "block number {n} is reserved (0 primary, 1 payload)"),
            DuplicateBlockNumber(n) => write!(f, "block number {n} is used twice"),
            MissingPayloadBlock => f.write_str("no payload block"),
            PayloadNotLast => f.write_str("payload block is not the last block"),
            DuplicatePayloadBlock => f.write_str("more than one payload block"),
            InvalidPayloadBlockNumber(n) => write!(f, "payload block numbered {n}, must be 1"),
            InvalidFlags(why) => write!(f, "forbidden flags: {why}"),
            MissingBundleAge => f.write_str("creation time 0 requires a bundle age block"),
            DuplicateBundleAge => f.write_str("more than one bundle age block"),
            DuplicateHopCount => f.write_str("more than one hop count block"),
            DuplicatePreviousNode => f.write_str("more than one previous node block"),
            InvalidHopLimit(l) => write!(f, "hop limit {l} outside 1..=255"),
            HopLimitExceeded { limit, count } => write!(f, "hop count {count} exceeds hop limit {limit}"),
            InvalidEid { field, kind } => write!(f, "{field}: {kind}"),
            InvalidLifetime => f.write_str("lifetime is not an unsigned integer"),
            InvalidCreationTimestamp => f.write_str("creation timestamp is not [time, sequence]"),
            InvalidFragment => f.write_str("fragment offset + payload length exceeds total ADU length"),
            InvalidExtensionBlock { block_type } => {
                write!(
                    f,
                    "{} block (type {block_type}) data does not decode",
                    super::flags::block_type::name(*block_type)
                )
            }
        }
    }
}

/// A rejected bundle: the rule broken and the byte offset of the item at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} ({rule}) at byte {offset}", rule = kind.rule())]
pub struct BundleError {
    /// The rule broken.
    pub kind: BundleErrorKind,
    /// Offset from the start of the input.
    pub offset: usize,
}

impl BundleError {
    pub(crate) fn new(kind: BundleErrorKind, offset: usize) -> Self {
        BundleError { kind, offset }
    }

    /// The status-report reason a BPA cites when it deletes the bundle for this error
    /// (RFC 9171 5.6 step 3: "block unintelligible"; 4.4.3: "hop limit exceeded").
    pub fn reason_code(&self) -> Option<ReasonCode> {
        match self.kind {
            BundleErrorKind::HopLimitExceeded { .. } => Some(ReasonCode::HopLimitExceeded),
            _ => Some(ReasonCode::BlockUnintelligible),
        }
    }

    /// Maps a CBOR error: truncation and non-shortest heads keep their own class, anything else
    /// becomes `otherwise`.
    pub(crate) fn from_cbor(e: CborError, otherwise: BundleErrorKind) -> Self {
        let kind = match e.kind {
            CborErrorKind::Truncated => BundleErrorKind::Truncated,
            CborErrorKind::NonShortest => BundleErrorKind::NonCanonicalCbor,
            _ => otherwise,
        };
        BundleError::new(kind, e.offset)
    }

    pub(crate) fn from_eid(e: EidError, field: &'static str) -> Self {
        let kind = match e.kind {
            EidErrorKind::Cbor(CborErrorKind::Truncated) => BundleErrorKind::Truncated,
            EidErrorKind::Cbor(CborErrorKind::NonShortest) => BundleErrorKind::NonCanonicalCbor,
            kind => BundleErrorKind::InvalidEid { field, kind },
        };
        BundleError::new(kind, e.offset)
    }

    /// Shifts the offset (for errors found in a sub-slice).
    pub(crate) fn at_base(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }
}
