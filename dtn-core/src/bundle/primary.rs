//! The primary bundle block (RFC 9171 4.3.1).

use alloc::vec::Vec;
use core::ops::Range;

use super::error::{BundleError, BundleErrorKind as K};
use super::flags::BundleFlags;
use crate::cbor::{Reader, writer};
use crate::crc::CrcType;
use crate::eid::Eid;
use crate::parse_mode::{ParseMode, Relaxations};
use crate::time::{CreationTimestamp, DtnTime};

/// The only bundle protocol version this crate speaks.
pub const BP_VERSION: u64 = 7;

/// Fragment offset and total application data unit length of a fragment (RFC 9171 4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Offset of this fragment's payload within the original ADU.
    pub offset: u64,
    /// Length of the original ADU.
    pub total_adu_length: u64,
}

/// The primary block: everything a node needs to route, identify and expire the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryBlock {
    /// Bundle processing control flags.
    pub flags: BundleFlags,
    /// CRC protecting the primary block.
    pub crc_type: CrcType,
    /// Destination endpoint.
    pub destination: Eid,
    /// Source node ID, or the null EID for an anonymous bundle.
    pub source: Eid,
    /// Where status reports go.
    pub report_to: Eid,
    /// Creation timestamp.
    pub creation: CreationTimestamp,
    /// Milliseconds after creation at which the bundle expires.
    pub lifetime_ms: u64,
    /// Present exactly when the bundle is a fragment.
    pub fragment: Option<FragmentInfo>,
}

impl PrimaryBlock {
    /// Appends the canonical encoding (definite-length array, CRC computed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let items = 8 + if self.fragment.is_some() { 2 } else { 0 } + u64::from(self.crc_type != CrcType::None);
        writer::array(out, items);
        writer::uint(out, BP_VERSION);
        writer::uint(out, self.flags.0);
        writer::uint(out, self.crc_type.code());
        self.destination.encode(out);
        self.source.encode(out);
        self.report_to.encode(out);
        writer::array(out, 2);
        writer::uint(out, self.creation.time.0);
        writer::uint(out, self.creation.sequence);
        writer::uint(out, self.lifetime_ms);
        if let Some(frag) = self.fragment {
            writer::uint(out, frag.offset);
            writer::uint(out, frag.total_adu_length);
        }
        append_crc(out, start, self.crc_type);
    }

    /// The canonical encoding as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out);
        out
    }

    /// When the bundle expires by the clock, or `None` without a creation time.
    pub fn expiry(&self) -> Option<DtnTime> {
        (!self.creation.time.is_unknown()).then(|| self.creation.time.saturating_add_millis(self.lifetime_ms))
    }
}

/// Appends a CRC value of `crc_type` to the block that starts at `start` and fills it in.
pub(crate) fn append_crc(out: &mut Vec<u8>, start: usize, crc_type: CrcType) {
    if crc_type == CrcType::None {
        return;
    }
    let len = crc_type.value_len();
    writer::head(out, crate::cbor::Major::Bytes, len as u64);
    let hole_start = out.len();
    out.resize(hole_start + len, 0);
    let block = out.get(start..).unwrap_or(&[]);
    let crc = crc_type.compute(block, hole_start - start..hole_start - start + len);
    if let Some(value) = out.get_mut(hole_start..) {
        crc_type.write_value(crc, value);
    }
}

/// Reads the CRC type code.
pub(crate) fn read_crc_type(r: &mut Reader<'_>) -> Result<CrcType, BundleError> {
    let at = r.position();
    let code = r.uint().map_err(|e| BundleError::from_cbor(e, K::InvalidCrcType(u64::MAX)))?;
    CrcType::from_code(code).ok_or(BundleError::new(K::InvalidCrcType(code), at))
}

/// Reads a CRC value and checks it against the block that started at `block_start`.
/// Returns the end of the value.
pub(crate) fn read_and_check_crc(
    r: &mut Reader<'_>,
    crc_type: CrcType,
    block_start: usize,
    block_end_extra: usize,
    block_number: u64,
    verify: bool,
) -> Result<Range<usize>, BundleError> {
    let at = r.position();
    let value = r.bytes_range().map_err(|e| BundleError::from_cbor(e, K::MissingCrcValue))?;
    if value.len() != crc_type.value_len() {
        return Err(BundleError::new(K::InvalidCrcLength { expected: crc_type.value_len(), found: value.len() }, at));
    }
    if verify {
        let block_end = value.end + block_end_extra;
        let block = r.input().get(block_start..block_end).ok_or(BundleError::new(K::Truncated, at))?;
        let found = CrcType::read_value(r.input().get(value.clone()).unwrap_or(&[]));
        let hole = value.start - block_start..value.end - block_start;
        if crc_type.compute(block, hole) != found {
            return Err(BundleError::new(K::CrcMismatch { block: block_number }, block_start));
        }
    }
    Ok(value)
}

/// Decodes the primary block at the reader's position.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    mode: ParseMode,
    relaxed: &mut Relaxations,
    verify_crc: bool,
) -> Result<(PrimaryBlock, Range<usize>), BundleError> {
    let start = r.position();
    if r.at_break() {
        return Err(BundleError::new(K::MissingPrimaryBlock, start));
    }
    let items = r.array().map_err(|e| BundleError::from_cbor(e, K::InvalidPrimaryBlock))?;
    if let Some(n) = items
        && !(8..=11).contains(&n)
    {
        return Err(BundleError::new(K::InvalidPrimaryBlock, start));
    }
    let at = r.position();
    let version = r.uint().map_err(|e| BundleError::from_cbor(e, K::InvalidPrimaryBlock))?;
    if version != BP_VERSION {
        return Err(BundleError::new(K::UnsupportedVersion(version), at));
    }
    let flags = BundleFlags(r.uint().map_err(|e| BundleError::from_cbor(e, K::InvalidPrimaryBlock))?);
    let crc_type = read_crc_type(r)?;
    let is_fragment = flags.contains(BundleFlags::IS_FRAGMENT);
    if let Some(n) = items {
        check_item_count(n, is_fragment, crc_type, start)?;
    }
    let destination = Eid::decode(r, mode, relaxed).map_err(|e| BundleError::from_eid(e, "destination"))?;
    let source = Eid::decode(r, mode, relaxed).map_err(|e| BundleError::from_eid(e, "source"))?;
    let report_to = Eid::decode(r, mode, relaxed).map_err(|e| BundleError::from_eid(e, "report-to"))?;
    let creation = read_creation_timestamp(r)?;
    let lifetime_ms = r.uint().map_err(|e| BundleError::from_cbor(e, K::InvalidLifetime))?;
    let indefinite = items.is_none();
    let fragment = if is_fragment {
        if indefinite && r.at_break() {
            return Err(BundleError::new(K::MissingFragmentFields, r.position()));
        }
        let offset = r.uint().map_err(|e| BundleError::from_cbor(e, K::MissingFragmentFields))?;
        let total_adu_length = r.uint().map_err(|e| BundleError::from_cbor(e, K::MissingFragmentFields))?;
        Some(FragmentInfo { offset, total_adu_length })
    } else {
        None
    };
    if crc_type != CrcType::None {
        if indefinite && r.at_break() {
            return Err(BundleError::new(K::MissingCrcValue, r.position()));
        }
        read_and_check_crc(r, crc_type, start, usize::from(indefinite), 0, verify_crc)?;
    }
    if indefinite {
        if !r.at_break() {
            let kind = if crc_type == CrcType::None { K::UnexpectedCrcValue } else { K::InvalidPrimaryBlock };
            return Err(BundleError::new(kind, r.position()));
        }
        r.read_break().map_err(|e| BundleError::from_cbor(e, K::InvalidPrimaryBlock))?;
    }
    let primary = PrimaryBlock { flags, crc_type, destination, source, report_to, creation, lifetime_ms, fragment };
    Ok((primary, start..r.position()))
}

fn check_item_count(n: u64, is_fragment: bool, crc_type: CrcType, start: usize) -> Result<(), BundleError> {
    let frag_items = if is_fragment { 2 } else { 0 };
    let crc_items = u64::from(crc_type != CrcType::None);
    let expected = 8 + frag_items + crc_items;
    let kind = if n == expected {
        return Ok(());
    } else if n > expected {
        if !is_fragment && n >= 10 { K::UnexpectedFragmentFields } else { K::UnexpectedCrcValue }
    } else if is_fragment && n < 10 {
        K::MissingFragmentFields
    } else {
        K::MissingCrcValue
    };
    Err(BundleError::new(kind, start))
}

fn read_creation_timestamp(r: &mut Reader<'_>) -> Result<CreationTimestamp, BundleError> {
    let at = r.position();
    let bad = |e| BundleError::from_cbor(e, K::InvalidCreationTimestamp);
    if r.array().map_err(bad)? != Some(2) {
        return Err(BundleError::new(K::InvalidCreationTimestamp, at));
    }
    let time = DtnTime(r.uint().map_err(bad)?);
    let sequence = r.uint().map_err(bad)?;
    Ok(CreationTimestamp { time, sequence })
}
