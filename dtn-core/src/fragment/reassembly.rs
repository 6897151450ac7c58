//! Reassembly of an ADU from fragments in any order, with overlaps (RFC 9171 5.9).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::Bytes;

use super::FragmentError;
use crate::bundle::{Bundle, BundleFlags};
use crate::cbor::writer;
use crate::eid::Eid;
use crate::time::CreationTimestamp;

/// Collects the fragments of one ADU until every byte has arrived.
#[derive(Debug, Clone)]
pub struct Reassembly {
    source: Eid,
    creation: CreationTimestamp,
    total: u64,
    /// The fragment at offset 0: its extension blocks go into the reassembled bundle.
    first: Option<Bundle>,
    /// Received payload extents by (offset in the ADU, length): a repeat is found in
    /// log time, not by a scan of every extent (a peer may send 100,000 fragments).
    extents: BTreeMap<(u64, u64), Bytes>,
    /// The ADU ranges covered so far, disjoint and merged: start → end.
    covered: BTreeMap<u64, u64>,
    /// Bytes covered (the sum of `covered`), kept as extents arrive.
    covered_bytes: u64,
}

impl Reassembly {
    /// Starts reassembly with one fragment.
    pub fn new(fragment: Bundle) -> Result<Self, FragmentError> {
        let info = fragment.primary().fragment.ok_or(FragmentError::Mismatch("not a fragment"))?;
        let mut reassembly = Reassembly {
            source: fragment.source().clone(),
            creation: fragment.creation(),
            total: info.total_adu_length,
            first: None,
            extents: BTreeMap::new(),
            covered: BTreeMap::new(),
            covered_bytes: 0,
        };
        reassembly.add(fragment)?;
        Ok(reassembly)
    }

    /// Adds a fragment of the same ADU (same source, creation timestamp and total length).
    pub fn add(&mut self, fragment: Bundle) -> Result<(), FragmentError> {
        let info = fragment.primary().fragment.ok_or(FragmentError::Mismatch("not a fragment"))?;
        if fragment.source() != &self.source || fragment.creation() != self.creation {
            return Err(FragmentError::Mismatch("different source or creation timestamp"));
        }
        if info.total_adu_length != self.total {
            return Err(FragmentError::Mismatch("different total ADU length"));
        }
        let data = fragment.payload().clone();
        let len = data.len() as u64;
        if info.offset.checked_add(len).is_none_or(|end| end > self.total) {
            return Err(FragmentError::Mismatch("extent beyond the total ADU length"));
        }
        if let alloc::collections::btree_map::Entry::Vacant(slot) = self.extents.entry((info.offset, len)) {
            slot.insert(data);
            self.cover(info.offset, info.offset + len);
        }
        if info.offset == 0 && self.first.is_none() {
            self.first = Some(fragment);
        }
        Ok(())
    }

    /// Total ADU length.
    pub fn total_len(&self) -> u64 {
        self.total
    }

    /// Marks `start..end` covered, merging it with the ranges it touches (amortised log
    /// time: each range is merged away at most once).
    fn cover(&mut self, start: u64, end: u64) {
        if end <= start {
            return;
        }
        let (mut from, mut to) = (start, end);
        // A range starting at or before `start` that reaches it.
        if let Some((&s, &e)) = self.covered.range(..=start).next_back()
            && e >= start
        {
            if e >= end {
                return;
            }
            from = s;
            to = to.max(e);
            self.covered.remove(&s);
            self.covered_bytes -= e - s;
        }
        // Ranges starting inside the new one.
        while let Some((&s, &e)) = self.covered.range(from..=to).next() {
            to = to.max(e);
            self.covered.remove(&s);
            self.covered_bytes -= e - s;
        }
        self.covered.insert(from, to);
        self.covered_bytes += to - from;
    }

    /// ADU bytes not yet covered by any fragment.
    pub fn missing(&self) -> u64 {
        self.total - self.covered_bytes.min(self.total)
    }

    /// True when every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.first.is_some() && self.missing() == 0
    }

    /// The reassembled bundle: the offset-0 fragment's blocks and the whole ADU as payload.
    pub fn finish(self) -> Result<Bundle, FragmentError> {
        let missing = self.missing();
        let first = match self.first {
            Some(first) if missing == 0 => first,
            _ => return Err(FragmentError::Incomplete { missing: missing.max(1), total: self.total }),
        };
        let total = usize::try_from(self.total).map_err(|_| FragmentError::Mismatch("ADU too large for memory"))?;
        let mut adu = alloc::vec![0u8; total];
        for (&(offset, _), data) in &self.extents {
            let start = offset as usize;
            if let Some(dst) = adu.get_mut(start..start + data.len()) {
                dst.copy_from_slice(data);
            }
        }
        let mut primary = first.primary().clone();
        primary.fragment = None;
        primary.flags = primary.flags.with(BundleFlags::IS_FRAGMENT, false);
        let mut out = Vec::with_capacity(total + 128);
        writer::indefinite_array(&mut out);
        primary.encode(&mut out);
        let blocks = first.blocks();
        for block in blocks.get(..blocks.len().saturating_sub(1)).unwrap_or(&[]) {
            out.extend_from_slice(block.raw());
        }
        first.payload_block().encode_with_data(&mut out, &adu);
        writer::stop(&mut out);
        Ok(Bundle::parse_own(Bytes::from(out), crate::parse_mode::ParseMode::Relaxed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn empty(total: u64) -> Reassembly {
        Reassembly {
            source: Eid::ipn(1, 1),
            creation: CreationTimestamp::new(crate::time::DtnTime(0), 0),
            total,
            first: None,
            extents: BTreeMap::new(),
            covered: BTreeMap::new(),
            covered_bytes: 0,
        }
    }

    proptest! {
        /// The merged coverage counts exactly the bytes some range covers, whatever the
        /// order and overlaps.
        #[test]
        fn coverage_is_the_union_of_the_ranges(ranges in prop::collection::vec((0u64..300, 0u64..80), 0..40)) {
            let mut r = empty(400);
            let mut bytes = [false; 400];
            for &(start, len) in &ranges {
                r.cover(start, start + len);
                for b in bytes.iter_mut().skip(start as usize).take(len as usize) {
                    *b = true;
                }
            }
            let expected = bytes.iter().filter(|b| **b).count() as u64;
            prop_assert_eq!(r.covered_bytes, expected);
            prop_assert_eq!(r.missing(), 400 - expected);
            // Disjoint and not touching: merged.
            let spans: Vec<(u64, u64)> = r.covered.iter().map(|(s, e)| (*s, *e)).collect();
            for w in spans.windows(2) {
                prop_assert!(w[0].1 < w[1].0, "{:?}", spans);
            }
        }
    }

    #[test]
    #[cfg(feature = "std")]
    fn a_hundred_thousand_extents_are_counted_in_log_time() {
        let mut r = empty(200_000);
        let started = std::time::Instant::now();
        // Every other two-byte extent, then the gaps: the worst case for merging.
        for i in (0..100_000u64).step_by(2) {
            r.cover(2 * i, 2 * i + 2);
        }
        for i in (1..100_000u64).step_by(2) {
            r.cover(2 * i, 2 * i + 2);
        }
        assert_eq!(r.missing(), 0);
        assert_eq!(r.covered.len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
