//! Extension blocks this crate interprets (RFC 9171 4.4): Previous Node, Bundle Age and Hop
//! Count, plus the target list of a BIB (RFC 9172 3.6), which decides whether a primary block
//! may go without a CRC.

use alloc::vec::Vec;

use super::error::{BundleError, BundleErrorKind as K};
use crate::cbor::{Reader, writer};
use crate::eid::Eid;
use crate::parse_mode::{ParseMode, Relaxation, Relaxations};

/// The Hop Count block's content: `[hop limit, hop count]` (RFC 9171 4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HopCount {
    /// Hop limit, 1..=255.
    pub limit: u64,
    /// Hops taken so far.
    pub count: u64,
}

impl HopCount {
    /// True when the bundle has taken more hops than its limit allows.
    pub fn exceeded(&self) -> bool {
        self.count > self.limit
    }

    /// The block data.
    pub fn to_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4);
        writer::array(&mut out, 2);
        writer::uint(&mut out, self.limit);
        writer::uint(&mut out, self.count);
        out
    }
}

/// Block data of a Bundle Age block: milliseconds since creation.
pub fn bundle_age_data(age_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    writer::uint(&mut out, age_ms);
    out
}

/// Block data of a Previous Node block.
pub fn previous_node_data(node: &Eid) -> Vec<u8> {
    node.to_cbor()
}

fn reader(data: &[u8], mode: ParseMode) -> Reader<'_> {
    Reader::with_strictness(data, mode.is_strict())
}

fn finish(r: &Reader<'_>, relaxed: &mut Relaxations, block_type: u64, base: usize) -> Result<(), BundleError> {
    if !r.is_empty() {
        return Err(BundleError::new(K::InvalidExtensionBlock { block_type }, base + r.position()));
    }
    if r.non_canonical_at().is_some() {
        relaxed.insert(Relaxation::NonCanonicalCbor);
    }
    Ok(())
}

/// Decodes Previous Node block data; `base` is its offset in the bundle.
pub(crate) fn decode_previous_node(
    data: &[u8],
    base: usize,
    mode: ParseMode,
    relaxed: &mut Relaxations,
) -> Result<Eid, BundleError> {
    let mut r = reader(data, mode);
    let eid =
        Eid::decode(&mut r, mode, relaxed).map_err(|e| BundleError::from_eid(e, "previous node").at_base(base))?;
    finish(&r, relaxed, super::flags::block_type::PREVIOUS_NODE, base)?;
    Ok(eid)
}

/// Decodes Bundle Age block data.
pub(crate) fn decode_bundle_age(
    data: &[u8],
    base: usize,
    mode: ParseMode,
    relaxed: &mut Relaxations,
) -> Result<u64, BundleError> {
    let block_type = super::flags::block_type::BUNDLE_AGE;
    let mut r = reader(data, mode);
    let age = r.uint().map_err(|e| BundleError::from_cbor(e, K::InvalidExtensionBlock { block_type }).at_base(base))?;
    finish(&r, relaxed, block_type, base)?;
    Ok(age)
}

/// Decodes Hop Count block data and checks the limit is 1..=255.
pub(crate) fn decode_hop_count(
    data: &[u8],
    base: usize,
    mode: ParseMode,
    relaxed: &mut Relaxations,
) -> Result<HopCount, BundleError> {
    let block_type = super::flags::block_type::HOP_COUNT;
    let bad = |e| BundleError::from_cbor(e, K::InvalidExtensionBlock { block_type }).at_base(base);
    let mut r = reader(data, mode);
    if r.array().map_err(bad)? != Some(2) {
        return Err(BundleError::new(K::InvalidExtensionBlock { block_type }, base));
    }
    let limit_at = base + r.position();
    let limit = r.uint().map_err(bad)?;
    let count = r.uint().map_err(bad)?;
    finish(&r, relaxed, block_type, base)?;
    if !(1..=255).contains(&limit) {
        return Err(BundleError::new(K::InvalidHopLimit(limit), limit_at));
    }
    Ok(HopCount { limit, count })
}

/// True when BIB data (an abstract security block) lists block 0 among its targets. Malformed
/// BIB data answers `false`: BPSec processing, not the codec, rejects it.
pub(crate) fn bib_targets_primary(data: &[u8]) -> bool {
    asb_targets_any(data, |t| t == 0)
}

/// Whether a security block's data (an abstract security block) lists a target `pick` takes.
pub(crate) fn asb_targets_any(data: &[u8], mut pick: impl FnMut(u64) -> bool) -> bool {
    let mut r = Reader::with_strictness(data, false);
    let Ok(Some(n)) = r.array() else { return false };
    // Stop at the first unreadable target: a claimed count of billions in 7 bytes must not
    // cost billions of steps.
    for _ in 0..n {
        match r.uint() {
            Ok(t) if pick(t) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}
