//! Reassembly of an ADU from fragments in any order, with overlaps (RFC 9171 5.9).

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
    /// Received payload extents: (offset in the ADU, bytes).
    extents: Vec<(u64, Bytes)>,
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
            extents: Vec::new(),
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
        if !self.extents.iter().any(|(o, d)| *o == info.offset && d.len() as u64 == len) {
            self.extents.push((info.offset, data));
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

    /// ADU bytes not yet covered by any fragment.
    pub fn missing(&self) -> u64 {
        let mut spans: Vec<(u64, u64)> = self.extents.iter().map(|(o, d)| (*o, *o + d.len() as u64)).collect();
        spans.sort_unstable();
        let mut covered = 0u64;
        let mut reach = 0u64;
        for (start, end) in spans {
            let from = start.max(reach);
            if end > from {
                covered += end - from;
                reach = end;
            }
        }
        self.total - covered.min(self.total)
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
        for (offset, data) in &self.extents {
            let start = *offset as usize;
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
