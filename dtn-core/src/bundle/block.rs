//! Canonical bundle blocks (RFC 9171 4.3.2): header, block-type-specific data and CRC.

use alloc::vec::Vec;

use bytes::Bytes;

use super::error::{BundleError, BundleErrorKind as K};
use super::flags::BlockFlags;
use super::primary::{append_crc, read_and_check_crc, read_crc_type};
use crate::cbor::{CborErrorKind, Major, Reader, writer};
use crate::crc::CrcType;
use crate::parse_mode::{ParseMode, Relaxation, Relaxations};

/// CBOR tag 24, "encoded CBOR data item" (tolerated around block data in relaxed mode).
const TAG_ENCODED_CBOR: u64 = 24;

/// A canonical block. `data` and `raw` are slices of the bundle they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalBlock {
    /// Block type code (see [`super::flags::block_type`]).
    pub block_type: u64,
    /// Block number, unique in the bundle; 1 is the payload.
    pub number: u64,
    /// Block processing control flags.
    pub flags: BlockFlags,
    /// CRC protecting the block.
    pub crc_type: CrcType,
    /// Block-type-specific data (the content of the byte string).
    pub data: Bytes,
    /// The whole encoded block as received (or as last encoded).
    pub(crate) raw: Bytes,
}

impl CanonicalBlock {
    /// A block to be encoded; `raw` is filled in when it is.
    pub fn new(block_type: u64, number: u64, flags: BlockFlags, crc_type: CrcType, data: Bytes) -> Self {
        CanonicalBlock { block_type, number, flags, crc_type, data, raw: Bytes::new() }
    }

    /// The encoded block exactly as it appears in the bundle.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Appends the canonical encoding of this block (CRC computed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with_data(out, &self.data);
    }

    /// Appends this block's header with other data (used for fragments and reassembly).
    pub fn encode_with_data(&self, out: &mut Vec<u8>, data: &[u8]) {
        encode_block(out, self.block_type, self.number, self.flags, self.crc_type, data);
    }
}

/// Appends a canonical block with the given header and data.
pub(crate) fn encode_block(
    out: &mut Vec<u8>,
    block_type: u64,
    number: u64,
    flags: BlockFlags,
    crc_type: CrcType,
    data: &[u8],
) {
    let start = out.len();
    writer::array(out, if crc_type == CrcType::None { 5 } else { 6 });
    writer::uint(out, block_type);
    writer::uint(out, number);
    writer::uint(out, flags.0);
    writer::uint(out, crc_type.code());
    writer::bytes(out, data);
    append_crc(out, start, crc_type);
}

/// Where a decoded block lies in the input.
#[derive(Debug, Clone)]
pub(crate) struct BlockExtent {
    pub block_type: u64,
    pub number: u64,
    pub flags: BlockFlags,
    pub crc_type: CrcType,
    pub data: core::ops::Range<usize>,
    pub raw: core::ops::Range<usize>,
}

/// Decodes one canonical block at the reader's position.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    mode: ParseMode,
    relaxed: &mut Relaxations,
    verify_crc: bool,
) -> Result<BlockExtent, BundleError> {
    let start = r.position();
    let items = r.array().map_err(|e| BundleError::from_cbor(e, K::InvalidBlock))?;
    if let Some(n) = items
        && !(5..=6).contains(&n)
    {
        return Err(BundleError::new(K::InvalidBlock, start));
    }
    let header = |e| BundleError::from_cbor(e, K::InvalidBlock);
    let block_type = r.uint().map_err(header)?;
    let number = r.uint().map_err(header)?;
    let flags = BlockFlags(r.uint().map_err(header)?);
    let crc_type = read_crc_type(r)?;
    match (items, crc_type) {
        (Some(5), CrcType::Crc16 | CrcType::Crc32c) => return Err(BundleError::new(K::MissingCrcValue, start)),
        (Some(6), CrcType::None) => return Err(BundleError::new(K::UnexpectedCrcValue, start)),
        _ => {}
    }
    let data = read_block_data(r, mode, relaxed)?;
    let indefinite = items.is_none();
    if crc_type != CrcType::None {
        if indefinite && r.at_break() {
            return Err(BundleError::new(K::MissingCrcValue, r.position()));
        }
        read_and_check_crc(r, crc_type, start, usize::from(indefinite), number, verify_crc)?;
    }
    if indefinite {
        if !r.at_break() {
            let kind = if crc_type == CrcType::None { K::UnexpectedCrcValue } else { K::InvalidBlock };
            return Err(BundleError::new(kind, r.position()));
        }
        r.read_break().map_err(header)?;
    }
    Ok(BlockExtent { block_type, number, flags, crc_type, data, raw: start..r.position() })
}

fn read_block_data(
    r: &mut Reader<'_>,
    mode: ParseMode,
    relaxed: &mut Relaxations,
) -> Result<core::ops::Range<usize>, BundleError> {
    let at = r.position();
    let mut peek = r.clone();
    let head = peek.head().map_err(|e| BundleError::from_cbor(e, K::InvalidBtsdType))?;
    match head.major {
        Major::Bytes if head.arg.is_none() => Err(BundleError::new(K::IndefiniteLengthBtsd, at)),
        Major::Bytes => r.bytes_range().map_err(|e| BundleError::from_cbor(e, K::InvalidBtsdType)),
        Major::Tag if head.arg == Some(TAG_ENCODED_CBOR) && !mode.is_strict() => {
            r.tag().map_err(|e| BundleError::from_cbor(e, K::InvalidBtsdType))?;
            relaxed.insert(Relaxation::Tag24BlockData);
            r.bytes_range().map_err(|e| match e.kind {
                CborErrorKind::IndefiniteLength => BundleError::new(K::IndefiniteLengthBtsd, e.offset),
                _ => BundleError::from_cbor(e, K::InvalidBtsdType),
            })
        }
        _ => Err(BundleError::new(K::InvalidBtsdType, at)),
    }
}
