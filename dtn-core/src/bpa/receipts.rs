//! Submission receipts: what makes resubmitting an ADU safe.
//!
//! An application that loses its connection after submitting, but before hearing that the
//! submission was accepted, cannot know whether the bundle exists: it submits again. When the
//! submission carries the application's own reference, the agent keeps a receipt — source,
//! reference, the bundle's creation timestamp — in the store, written in the same commit as
//! the bundle. A second submission with the same source and reference is answered with the
//! first one's acceptance and creates nothing, even after a restart.
//!
//! Receipts are kept per source endpoint, the latest `NodeConfig::receipts_per_source` of
//! them (16,384 by default, about 1 MB of RAM for a busy source): a retry is recognised as
//! long as fewer submissions than that came from the same source in between. One client per
//! source has at most its in-flight quota unanswered, far fewer; several clients sharing a
//! source at a high rate need a larger setting.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::cbor::{Reader, writer};
use crate::eid::Eid;
use crate::store::BundleId;
use crate::time::{CreationTimestamp, DtnTime};

/// Receipts kept per source endpoint unless configured otherwise (the oldest go first).
pub const DEFAULT_RECEIPTS_PER_SOURCE: usize = 16_384;

/// Marks a store record as a receipt (tombstones are 1, bundle records start with an array).
const RECEIPT: u64 = 2;

/// One accepted submission, as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub source: Eid,
    pub reference: u64,
    pub creation: CreationTimestamp,
}

impl Receipt {
    /// Encodes as `2, source, reference, time, sequence` (a CBOR sequence).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        writer::uint(&mut out, RECEIPT);
        self.source.encode(&mut out);
        writer::uint(&mut out, self.reference);
        writer::uint(&mut out, self.creation.time.0);
        writer::uint(&mut out, self.creation.sequence);
        out
    }

    /// Decodes what [`Self::encode`] wrote; `None` if it is not that.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        if r.uint().ok()? != RECEIPT {
            return None;
        }
        let mode = crate::parse_mode::ParseMode::Relaxed;
        let source = Eid::decode(&mut r, mode, &mut crate::parse_mode::Relaxations::default()).ok()?;
        let reference = r.uint().ok()?;
        let creation = CreationTimestamp::new(DtnTime(r.uint().ok()?), r.uint().ok()?);
        r.is_empty().then_some(Receipt { source, reference, creation })
    }
}

/// The receipts of one source, oldest first.
#[derive(Debug, Default)]
struct SourceReceipts {
    by_reference: BTreeMap<u64, (CreationTimestamp, BundleId)>,
    order: VecDeque<u64>,
}

/// Receipts in RAM, with the store records behind them.
#[derive(Debug, Default)]
pub(crate) struct Receipts {
    by_source: BTreeMap<Eid, SourceReceipts>,
}

impl Receipts {
    /// The creation timestamp of the bundle an earlier submission with this source and
    /// reference made.
    pub fn get(&self, source: &Eid, reference: u64) -> Option<CreationTimestamp> {
        self.by_source.get(source)?.by_reference.get(&reference).map(|(c, _)| *c)
    }

    /// Remembers a receipt stored under `record`, keeping at most `per_source` for its
    /// source; returns the records of receipts that no longer fit (to remove from the store).
    pub fn insert(&mut self, receipt: Receipt, record: BundleId, per_source: usize) -> Vec<BundleId> {
        let of = self.by_source.entry(receipt.source).or_default();
        if let Some((_, old)) = of.by_reference.insert(receipt.reference, (receipt.creation, record)) {
            // Only after a damaged store: keep the newer, drop the older record.
            of.order.retain(|r| *r != receipt.reference);
            of.order.push_back(receipt.reference);
            return alloc::vec![old];
        }
        of.order.push_back(receipt.reference);
        let mut evicted = Vec::new();
        while of.order.len() > per_source.max(1) {
            if let Some(oldest) = of.order.pop_front() {
                evicted.extend(of.by_reference.remove(&oldest).map(|(_, id)| id));
            }
        }
        evicted
    }

    /// How many receipts are held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_source.values().map(|s| s.order.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(reference: u64) -> Receipt {
        Receipt { source: Eid::ipn(7, 1), reference, creation: CreationTimestamp::new(DtnTime(5), reference) }
    }

    #[test]
    fn round_trips_and_is_told_apart_from_other_records() {
        let r = Receipt { reference: u64::MAX, ..receipt(3) };
        assert_eq!(Receipt::decode(&r.encode()), Some(r.clone()));
        assert_eq!(super::super::entry::Tombstone::decode(&r.encode()), None);
        assert_eq!(super::super::entry::PersistedMeta::decode(&r.encode()), None);
        let mut trailing = r.encode();
        trailing.push(0);
        assert_eq!(Receipt::decode(&trailing), None);
        assert_eq!(Receipt::decode(&[0x01]), None);
    }

    #[test]
    fn keeps_the_latest_per_source() {
        let mut receipts = Receipts::default();
        for reference in 0..64 {
            assert!(receipts.insert(receipt(reference), 100 + reference, 64).is_empty());
        }
        let other = Receipt { source: Eid::ipn(7, 2), ..receipt(0) };
        assert!(receipts.insert(other, 1, 64).is_empty());
        assert_eq!(receipts.insert(receipt(99_999), 2, 64), alloc::vec![100]);
        assert_eq!(receipts.get(&Eid::ipn(7, 1), 0), None);
        assert_eq!(receipts.get(&Eid::ipn(7, 1), 1), Some(CreationTimestamp::new(DtnTime(5), 1)));
        assert_eq!(receipts.get(&Eid::ipn(7, 2), 0), Some(CreationTimestamp::new(DtnTime(5), 0)));
        assert_eq!(receipts.len(), 64 + 1);
    }
}
