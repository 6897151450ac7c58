//! Custody transfer over BIBE (draft-ietf-dtn-bibect): what the agent needs besides the codec
//! in [`crate::admin`] — configuration, transmission-ID allocation that survives restarts, and
//! the aggregation of dispositions into custody signals.
//!
//! A custodian sends a bundle to a custodial peer inside a BIBE PDU with a fresh transmission
//! ID and keeps it (durably) until a custody signal for that ID says "accepted" or "redundant".
//! If no signal comes by the retransmission time (two light times plus a margin, taken from the
//! contact plan, and paused while the link is down) it forwards the bundle again under a new ID;
//! a refusal makes it route again. The receiving peer acknowledges custody only once the bundle
//! is committed to its store.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::admin::{CustodyCodes, CustodySignal, Disposition};
use crate::routing::NodeId;

/// How a node takes part in custody transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyConfig {
    /// Administrative record type codes (draft 3/4 by default, ION 7/8).
    pub codes: CustodyCodes,
    /// Next hops to which this node hands bundles with custody (BIBE peers).
    pub peers: BTreeSet<NodeId>,
    /// Added to two one-way light times for the retransmission timer (ms).
    pub margin_ms: u64,
    /// One-way light time to assume when the plan does not say (ms).
    pub default_owlt_ms: u64,
}

impl CustodyConfig {
    /// Custody towards `peers`, with draft codes, a 2 s margin and 1 s default light time.
    pub fn with_peers(peers: impl IntoIterator<Item = NodeId>) -> Self {
        CustodyConfig {
            codes: CustodyCodes::DRAFT,
            peers: peers.into_iter().collect(),
            margin_ms: 2_000,
            default_owlt_ms: 1_000,
        }
    }
}

/// Transmission IDs are handed out from blocks reserved in the store, so an ID is never reused
/// after a restart (a late signal for an old ID must never release another bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmissionIds {
    next: u64,
    reserved_until: u64,
}

impl Default for TransmissionIds {
    /// Numbering from 1: ID 0 means "no custody requested" on the wire.
    fn default() -> Self {
        Self::resume(0)
    }
}

/// IDs reserved per store write.
pub const ID_BLOCK: u64 = 4096;

impl TransmissionIds {
    /// Resumes after the highest reservation a store recorded.
    pub fn resume(reserved_until: u64) -> Self {
        TransmissionIds { next: reserved_until.max(1), reserved_until: reserved_until.max(1) }
    }

    /// The next ID, and the new reservation mark to persist first if one is needed.
    pub fn allocate(&mut self) -> (u64, Option<u64>) {
        let id = self.next;
        self.next += 1;
        if id < self.reserved_until {
            return (id, None);
        }
        self.reserved_until = id + ID_BLOCK;
        (id, Some(self.reserved_until))
    }
}

/// Dispositions waiting to be signalled, per custodian and disposition.
#[derive(Debug, Clone, Default)]
pub struct SignalBatch {
    pending: BTreeMap<(NodeId, Disposition), Vec<u64>>,
}

impl SignalBatch {
    /// Records a disposition for a custodian's transmission ID.
    pub fn add(&mut self, custodian: NodeId, disposition: Disposition, transmission_id: u64) {
        self.pending.entry((custodian, disposition)).or_default().push(transmission_id);
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The aggregated refusals that promise nothing about this node's store (every
    /// disposition but "accepted" and "redundant"), taken out; the rest stay for the commit
    /// that makes them true.
    pub fn drain_refusals(&mut self) -> Vec<(NodeId, CustodySignal)> {
        let promises = |d: &Disposition| matches!(d, Disposition::Accepted | Disposition::Redundant);
        let (keep, refusals) = core::mem::take(&mut self.pending).into_iter().partition(|((_, d), _)| promises(d));
        self.pending = keep;
        refusals.into_iter().map(|((custodian, d), ids)| (custodian, CustodySignal::aggregate(d, ids))).collect()
    }

    /// The aggregated signals, one per custodian and disposition.
    pub fn drain(&mut self) -> Vec<(NodeId, CustodySignal)> {
        core::mem::take(&mut self.pending)
            .into_iter()
            .map(|((custodian, disposition), ids)| (custodian, CustodySignal::aggregate(disposition, ids)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reserved_in_blocks_and_never_reused() {
        let mut ids = TransmissionIds::resume(0);
        let (first, mark) = ids.allocate();
        assert_eq!((first, mark), (1, Some(1 + ID_BLOCK)));
        let (second, mark) = ids.allocate();
        assert_eq!((second, mark), (2, None));
        // After a restart, numbering continues past the persisted reservation.
        let mut resumed = TransmissionIds::resume(1 + ID_BLOCK);
        assert!(resumed.allocate().0 > second);
    }

    #[test]
    fn batches_aggregate_per_custodian_and_disposition() {
        let mut batch = SignalBatch::default();
        for id in [5, 3, 4] {
            batch.add(7, Disposition::Accepted, id);
        }
        batch.add(7, Disposition::Redundant, 9);
        batch.add(8, Disposition::Accepted, 1);
        let mut copy = batch.clone();
        let refusals = copy.drain_refusals();
        assert!(refusals.is_empty(), "redundant promises the bundle is held: {refusals:?}");
        copy.add(7, Disposition::DepletedStorage, 11);
        assert_eq!(
            copy.drain_refusals(),
            alloc::vec![(7, CustodySignal { disposition: Disposition::DepletedStorage, ranges: alloc::vec![(11, 1)] })]
        );
        assert_eq!(copy.drain(), batch.clone().drain(), "the rest stays");
        let signals = batch.drain();
        assert_eq!(signals.len(), 3);
        assert_eq!(signals[0], (7, CustodySignal { disposition: Disposition::Accepted, ranges: alloc::vec![(3, 3)] }));
        assert!(batch.is_empty());
    }
}
