//! Fragmentation (RFC 9171 5.8) and reassembly (5.9).
//!
//! A fragment keeps the source and creation timestamp of the original, sets the "is a fragment"
//! flag and carries its offset within the original application data unit and the ADU's total
//! length. The fragment at offset 0 carries every extension block; the others carry only the
//! blocks flagged "replicate in every fragment" (and the Bundle Age block when the source has
//! no clock, since every such bundle needs one). Fragmenting a fragment keeps offsets relative
//! to the original ADU. Unchanged blocks are copied byte for byte; only the primary block and
//! the payload block are encoded anew.

mod reassembly;

use alloc::vec::Vec;
use core::ops::Range;

use bytes::Bytes;

pub use reassembly::Reassembly;

use crate::bundle::{BlockFlags, Bundle, BundleError, BundleFlags, FragmentInfo};
use crate::cbor::writer;

/// Why a bundle could not be fragmented or reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// The bundle's "must not fragment" flag is set.
    #[error("the bundle must not be fragmented (flag 0x04)")]
    MustNotFragment,
    /// A split point outside the payload.
    #[error("split offset {offset} is not inside the {len}-byte payload")]
    InvalidOffset {
        /// Requested split point.
        offset: u64,
        /// Payload length.
        len: u64,
    },
    /// The size limit cannot hold even the blocks every fragment must carry plus one byte.
    #[error("a fragment needs at least {min} bytes, the limit is {limit}")]
    LimitTooSmall {
        /// Smallest workable limit.
        min: usize,
        /// The limit given.
        limit: usize,
    },
    /// A fragment does not belong to this ADU or contradicts the others.
    #[error("fragment does not match the ADU being reassembled: {0}")]
    Mismatch(&'static str),
    /// Not every byte of the ADU has arrived.
    #[error("reassembly incomplete: {missing} of {total} bytes missing")]
    Incomplete {
        /// Bytes not covered by any fragment.
        missing: u64,
        /// ADU length.
        total: u64,
    },
    /// The result failed validation.
    #[error("fragment encoding failed: {0}")]
    Bundle(#[from] BundleError),
}

/// Splits `bundle` into two fragments: payload bytes `[0, offset)` and `[offset, len)`.
pub fn fragment_at(bundle: &Bundle, offset: u64) -> Result<(Bundle, Bundle), FragmentError> {
    check_may_fragment(bundle)?;
    let len = bundle.payload().len() as u64;
    if offset == 0 || offset >= len {
        return Err(FragmentError::InvalidOffset { offset, len });
    }
    let split = usize::try_from(offset).map_err(|_| FragmentError::InvalidOffset { offset, len })?;
    let first = make_fragment(bundle, 0..split)?;
    let second = make_fragment(bundle, split..bundle.payload().len())?;
    Ok((first, second))
}

/// Splits off the head of `bundle` as a fragment of at most `max_len` encoded bytes, and the
/// rest of the payload as a second fragment (of any size): what proactive fragmentation for one
/// contact needs, since the rest may find a bigger contact later.
pub fn split_to_fit(bundle: &Bundle, max_len: usize) -> Result<(Bundle, Bundle), FragmentError> {
    check_may_fragment(bundle)?;
    let (first_overhead, _) = overheads(bundle);
    let len = bundle.payload().len() as u64;
    let head = max_len
        .checked_sub(first_overhead)
        .filter(|&h| h > 0)
        .ok_or(FragmentError::LimitTooSmall { min: first_overhead + 1, limit: max_len })?;
    fragment_at(bundle, (head as u64).min(len.saturating_sub(1)).max(1))
}

/// Worst-case encoded overheads of the first and of a later fragment: offsets as large as the
/// ADU, a 9-byte payload length head.
fn overheads(bundle: &Bundle) -> (usize, usize) {
    let payload_len = bundle.payload().len();
    let first = encode_fragment(bundle, payload_len..payload_len, true).len() + 8;
    let rest = encode_fragment(bundle, payload_len..payload_len, false).len() + 8;
    (first, rest)
}

/// Splits `bundle` into fragments of at most `max_len` encoded bytes each. A bundle that
/// already fits is returned unchanged.
pub fn fragment_by_size(bundle: &Bundle, max_len: usize) -> Result<Vec<Bundle>, FragmentError> {
    if bundle.raw().len() <= max_len {
        return Ok(alloc::vec![bundle.clone()]);
    }
    check_may_fragment(bundle)?;
    let payload_len = bundle.payload().len();
    let (first_overhead, rest_overhead) = overheads(bundle);
    let min = first_overhead.max(rest_overhead) + 1;
    if max_len < min {
        return Err(FragmentError::LimitTooSmall { min, limit: max_len });
    }
    let mut fragments = Vec::new();
    let mut start = 0;
    while start < payload_len {
        let overhead = if start == 0 { first_overhead } else { rest_overhead };
        let end = payload_len.min(start + (max_len - overhead));
        fragments.push(make_fragment(bundle, start..end)?);
        start = end;
    }
    Ok(fragments)
}

fn check_may_fragment(bundle: &Bundle) -> Result<(), FragmentError> {
    if bundle.flags().contains(BundleFlags::MUST_NOT_FRAGMENT) {
        return Err(FragmentError::MustNotFragment);
    }
    Ok(())
}

/// The fragment holding `range` of this bundle's payload.
fn make_fragment(bundle: &Bundle, range: Range<usize>) -> Result<Bundle, FragmentError> {
    let first = range.start == 0;
    Ok(Bundle::parse_own(Bytes::from(encode_fragment(bundle, range, first)), crate::parse_mode::ParseMode::Relaxed)?)
}

fn encode_fragment(bundle: &Bundle, range: Range<usize>, carries_all_blocks: bool) -> Vec<u8> {
    let payload = bundle.payload_block();
    let data = payload.data.get(range.clone()).unwrap_or(&[]);
    let mut primary = bundle.primary().clone();
    let (base, total) = match primary.fragment {
        Some(f) => (f.offset, f.total_adu_length),
        None => (0, payload.data.len() as u64),
    };
    primary.fragment = Some(FragmentInfo { offset: base + range.start as u64, total_adu_length: total });
    primary.flags = primary.flags.with(BundleFlags::IS_FRAGMENT, true);
    let mut out = Vec::with_capacity(data.len() + 128);
    writer::indefinite_array(&mut out);
    primary.encode(&mut out);
    let blocks = bundle.blocks();
    // Without a creation clock every bundle, each fragment included, needs its Bundle Age
    // block (RFC 9171 4.2.7), whatever that block's replicate flag says.
    let clockless = bundle.creation().time.is_unknown();
    for block in blocks.get(..blocks.len().saturating_sub(1)).unwrap_or(&[]) {
        // A BIB or BCB over the payload goes into every fragment (RFC 9172 3.9), flag or no
        // flag: without it no fragment's payload could be opened or checked after reassembly.
        let security_over_payload =
            matches!(block.block_type, crate::bundle::block_type::BIB | crate::bundle::block_type::BCB)
                && crate::bundle::ext::asb_targets_any(&block.data, |t| t == 1);
        let needed = security_over_payload || (clockless && block.block_type == crate::bundle::block_type::BUNDLE_AGE);
        if carries_all_blocks || needed || block.flags.contains(BlockFlags::REPLICATE) {
            out.extend_from_slice(block.raw());
        }
    }
    crate::bundle::CanonicalBlock::new(
        payload.block_type,
        payload.number,
        payload.flags,
        payload.crc_type,
        Bytes::new(),
    )
    .encode_with_data(&mut out, data);
    writer::stop(&mut out);
    out
}

#[cfg(test)]
mod tests;
