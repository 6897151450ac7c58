//! Parsing and validating a bundle (RFC 9171 4.1-4.4), strict or relaxed.

use alloc::vec::Vec;

use bytes::Bytes;

use super::Bundle;
use super::block::{self, BlockExtent, CanonicalBlock};
use super::error::{BundleError, BundleErrorKind as K};
use super::ext;
use super::flags::{BlockFlags, BundleFlags, block_type};
use super::primary::{self, PrimaryBlock};
use crate::cbor::Reader;
use crate::crc::CrcType;
use crate::parse_mode::{ParseMode, Relaxation, Relaxations};

/// CBOR tag 55799, "self-described CBOR", which the RFC 9171 CDDL allows before a bundle.
const SELF_DESCRIBED_CBOR: [u8; 3] = [0xd9, 0xd9, 0xf7];

impl Bundle {
    /// Parses a buffer that holds exactly one bundle, verifying every CRC.
    pub fn parse(input: Bytes, mode: ParseMode) -> Result<Bundle, BundleError> {
        let (bundle, used) = parse(&input, mode, true)?;
        if used != input.len() {
            return Err(BundleError::new(K::TrailingData, used));
        }
        Ok(bundle)
    }

    /// Parses the bundle at the start of `input` and returns how many bytes it took.
    pub fn parse_prefix(input: Bytes, mode: ParseMode) -> Result<(Bundle, usize), BundleError> {
        parse(&input, mode, true)
    }

    /// Parses a borrowed buffer (copies it once into a [`Bytes`]).
    pub fn parse_slice(input: &[u8], mode: ParseMode) -> Result<Bundle, BundleError> {
        Self::parse(Bytes::copy_from_slice(input), mode)
    }

    /// Parses bytes this crate has just encoded itself, skipping CRC verification.
    pub(crate) fn parse_own(input: Bytes, mode: ParseMode) -> Result<Bundle, BundleError> {
        let (bundle, used) = parse(&input, mode, false)?;
        if used != input.len() {
            return Err(BundleError::new(K::TrailingData, used));
        }
        Ok(bundle)
    }
}

/// Decoded extension-block state gathered while walking the blocks.
#[derive(Default)]
struct Extensions {
    previous_node: Option<crate::eid::Eid>,
    bundle_age_ms: Option<u64>,
    hop_count: Option<ext::HopCount>,
    bib_covers_primary: bool,
}

fn parse(input: &Bytes, mode: ParseMode, verify_crc: bool) -> Result<(Bundle, usize), BundleError> {
    let buf: &[u8] = input;
    let mut r = Reader::with_strictness(buf, mode.is_strict());
    let mut relaxed = Relaxations::default();
    if buf.starts_with(&SELF_DESCRIBED_CBOR) {
        r.tag().map_err(|e| BundleError::from_cbor(e, K::BundleNotIndefiniteArray))?;
    }
    let start = r.position();
    let outer = r.array().map_err(|e| BundleError::from_cbor(e, K::BundleNotIndefiniteArray))?;
    if let Some(n) = outer {
        if mode.is_strict() {
            return Err(BundleError::new(K::BundleNotIndefiniteArray, start));
        }
        relaxed.insert(Relaxation::DefiniteBundleArray);
        if n == 0 {
            return Err(BundleError::new(K::MissingPrimaryBlock, start));
        }
    }
    let (primary, primary_range) = primary::decode(&mut r, mode, &mut relaxed, verify_crc)?;

    let mut blocks: Vec<CanonicalBlock> = Vec::with_capacity(4);
    let mut numbers = BlockNumbers::default();
    let mut exts = Extensions::default();
    let mut remaining = outer.map(|n| n - 1);
    loop {
        match remaining.as_mut() {
            None if r.at_break() => break,
            None if r.is_empty() => return Err(BundleError::new(K::Truncated, r.position())),
            Some(0) => break,
            Some(n) => *n -= 1,
            None => {}
        }
        let extent = block::decode(&mut r, mode, &mut relaxed, verify_crc)?;
        check_block(&extent, &blocks, &mut numbers)?;
        decode_extension(&extent, buf, mode, &mut relaxed, &mut exts)?;
        blocks.push(CanonicalBlock {
            block_type: extent.block_type,
            number: extent.number,
            flags: extent.flags,
            crc_type: extent.crc_type,
            data: input.slice(extent.data),
            raw: input.slice(extent.raw),
        });
    }
    if outer.is_none() {
        r.read_break().map_err(|e| BundleError::from_cbor(e, K::BundleNotIndefiniteArray))?;
    }
    let end = r.position();
    if r.non_canonical_at().is_some() {
        relaxed.insert(Relaxation::NonCanonicalCbor);
    }
    check_payload(input, &blocks, primary_range.end)?;
    check_bundle(&primary, &blocks, &exts, primary_range.start, mode, &mut relaxed)?;
    let bundle = Bundle {
        raw: input.slice(start..end),
        primary_raw: input.slice(primary_range),
        primary,
        blocks,
        previous_node: exts.previous_node,
        bundle_age_ms: exts.bundle_age_ms,
        hop_count: exts.hop_count,
        relaxations: relaxed,
    };
    Ok((bundle, end))
}

/// The block numbers seen so far: a short list scanned as it is (bundles have a handful of
/// blocks), a set once it grows, so a bundle of 100,000 one-byte blocks costs a parse
/// linear in its size, not 10^10 comparisons.
#[derive(Default)]
struct BlockNumbers {
    few: Vec<u64>,
    many: alloc::collections::BTreeSet<u64>,
}

impl BlockNumbers {
    const FEW: usize = 16;

    /// Records `number`; false if it was there already.
    fn insert(&mut self, number: u64) -> bool {
        if self.few.contains(&number) {
            return false;
        }
        if self.few.len() < Self::FEW {
            self.few.push(number);
            return true;
        }
        self.many.insert(number)
    }
}

/// Block-number and payload-position rules that can be checked as each block arrives.
fn check_block(block: &BlockExtent, earlier: &[CanonicalBlock], numbers: &mut BlockNumbers) -> Result<(), BundleError> {
    let at = block.raw.start;
    if block.number == 0 {
        return Err(BundleError::new(K::InvalidBlockNumber(0), at));
    }
    if let Some(last) = earlier.last()
        && last.block_type == block_type::PAYLOAD
    {
        let kind = if block.block_type == block_type::PAYLOAD { K::DuplicatePayloadBlock } else { K::PayloadNotLast };
        return Err(BundleError::new(kind, at));
    }
    if !numbers.insert(block.number) {
        return Err(BundleError::new(K::DuplicateBlockNumber(block.number), at));
    }
    Ok(())
}

fn decode_extension(
    block: &BlockExtent,
    buf: &[u8],
    mode: ParseMode,
    relaxed: &mut Relaxations,
    exts: &mut Extensions,
) -> Result<(), BundleError> {
    let data = buf.get(block.data.clone()).unwrap_or(&[]);
    let base = block.data.start;
    let at = block.raw.start;
    match block.block_type {
        block_type::PREVIOUS_NODE => {
            if exts.previous_node.is_some() {
                return Err(BundleError::new(K::DuplicatePreviousNode, at));
            }
            exts.previous_node = Some(ext::decode_previous_node(data, base, mode, relaxed)?);
        }
        block_type::BUNDLE_AGE => {
            if exts.bundle_age_ms.is_some() {
                return Err(BundleError::new(K::DuplicateBundleAge, at));
            }
            exts.bundle_age_ms = Some(ext::decode_bundle_age(data, base, mode, relaxed)?);
        }
        block_type::HOP_COUNT => {
            if exts.hop_count.is_some() {
                return Err(BundleError::new(K::DuplicateHopCount, at));
            }
            exts.hop_count = Some(ext::decode_hop_count(data, base, mode, relaxed)?);
        }
        block_type::BIB => exts.bib_covers_primary |= ext::bib_targets_primary(data),
        _ => {}
    }
    Ok(())
}

/// Exactly one payload block, numbered 1, last (RFC 9171 4.1, 4.3.3).
fn check_payload(input: &Bytes, blocks: &[CanonicalBlock], after_primary: usize) -> Result<(), BundleError> {
    let Some(last) = blocks.last().filter(|b| b.block_type == block_type::PAYLOAD) else {
        return Err(BundleError::new(K::MissingPayloadBlock, after_primary));
    };
    if last.number != 1 {
        return Err(BundleError::new(K::InvalidPayloadBlockNumber(last.number), super::offset_in(input, &last.raw)));
    }
    Ok(())
}

/// Whether a BCB encrypts a BIB, which may cover the primary block unseen (RFC 9171 4.3.1
/// lets a primary block under a BIB go without a CRC; encrypting that BIB must not make the
/// bundle invalid).
fn bib_encrypted(blocks: &[CanonicalBlock]) -> bool {
    let mut bibs: Vec<u64> = blocks.iter().filter(|b| b.block_type == block_type::BIB).map(|b| b.number).collect();
    if bibs.is_empty() {
        return false;
    }
    bibs.sort_unstable();
    blocks
        .iter()
        .filter(|b| b.block_type == block_type::BCB)
        .any(|b| ext::asb_targets_any(&b.data, |t| bibs.binary_search(&t).is_ok()))
}

/// Whole-bundle rules: flag combinations, clockless sources, fragments and the primary CRC.
fn check_bundle(
    primary: &PrimaryBlock,
    blocks: &[CanonicalBlock],
    exts: &Extensions,
    at: usize,
    mode: ParseMode,
    relaxed: &mut Relaxations,
) -> Result<(), BundleError> {
    let flags = primary.flags;
    let anonymous = primary.source.is_null();
    let invalid = |why| Err(BundleError::new(K::InvalidFlags(why), at));
    if anonymous && !flags.contains(BundleFlags::MUST_NOT_FRAGMENT) {
        return invalid("an anonymous bundle (null source) must set must-not-fragment (RFC 9171 4.2.3)");
    }
    if anonymous && flags.intersects(BundleFlags::ANY_REPORT) {
        return invalid("an anonymous bundle (null source) cannot request status reports (RFC 9171 4.2.3)");
    }
    if flags.contains(BundleFlags::ADMIN_RECORD) && flags.intersects(BundleFlags::ANY_REPORT) {
        return invalid("an administrative record cannot request status reports (RFC 9171 4.2.3)");
    }
    if (anonymous || flags.contains(BundleFlags::ADMIN_RECORD))
        && blocks.iter().any(|b| b.flags.contains(BlockFlags::REPORT_IF_UNPROCESSABLE))
    {
        return invalid("anonymous bundles and admin records cannot flag a block for status reports (RFC 9171 4.2.4)");
    }
    if primary.creation.time.is_unknown() && exts.bundle_age_ms.is_none() {
        if mode.is_strict() {
            return Err(BundleError::new(K::MissingBundleAge, at));
        }
        relaxed.insert(Relaxation::MissingBundleAge);
    }
    if let (Some(frag), Some(payload)) = (primary.fragment, blocks.last()) {
        let len = payload.data.len() as u64;
        if frag.offset.checked_add(len).is_none_or(|end| end > frag.total_adu_length) {
            return Err(BundleError::new(K::InvalidFragment, at));
        }
    }
    if primary.crc_type == CrcType::None && !exts.bib_covers_primary && !bib_encrypted(blocks) {
        if mode.is_strict() {
            return Err(BundleError::new(K::MissingPrimaryCrc, at));
        }
        relaxed.insert(Relaxation::MissingPrimaryCrc);
    }
    Ok(())
}
