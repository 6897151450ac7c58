//! Deliveries waiting for a passive registration's application: oldest first, and findable
//! by position (a bundle behind one expires) and by identity (the host took it) in
//! logarithmic time — a queue of a hundred thousand deliveries expiring at once costs no
//! more than their number.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::Delivery;
use crate::eid::Eid;
use crate::store::BundleId;
use crate::time::CreationTimestamp;

/// One endpoint's waiting deliveries, each with the stored bundles that make it up.
#[derive(Debug, Default)]
pub(crate) struct PassiveQueue {
    /// The next position handed out (positions only grow: their order is arrival order).
    next: u64,
    entries: BTreeMap<u64, (Delivery, Vec<BundleId>)>,
    /// (source, creation, position) of every entry.
    by_identity: BTreeSet<(Eid, CreationTimestamp, u64)>,
}

impl PassiveQueue {
    /// Queues a delivery last; its position.
    pub(crate) fn push(&mut self, delivery: Delivery, ids: Vec<BundleId>) -> u64 {
        let position = self.next;
        self.next += 1;
        self.by_identity.insert((delivery.source.clone(), delivery.creation, position));
        self.entries.insert(position, (delivery, ids));
        position
    }

    /// Takes the oldest delivery.
    pub(crate) fn pop_front(&mut self) -> Option<(Delivery, Vec<BundleId>)> {
        let position = *self.entries.keys().next()?;
        self.remove(position)
    }

    /// Takes the delivery at `position`, if still queued.
    pub(crate) fn remove(&mut self, position: u64) -> Option<(Delivery, Vec<BundleId>)> {
        let (delivery, ids) = self.entries.remove(&position)?;
        self.by_identity.remove(&(delivery.source.clone(), delivery.creation, position));
        Some((delivery, ids))
    }

    /// Takes the oldest delivery with this identity.
    pub(crate) fn take_identity(
        &mut self,
        source: &Eid,
        creation: CreationTimestamp,
    ) -> Option<(Delivery, Vec<BundleId>)> {
        let from = (source.clone(), creation, 0);
        let &(_, _, position) =
            self.by_identity.range(from..).next().filter(|(s, c, _)| s == source && *c == creation)?;
        self.remove(position)
    }

    /// The deliveries, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Delivery> {
        self.entries.values().map(|(d, _)| d)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn delivery(source: u32, sequence: u64) -> Delivery {
        Delivery {
            endpoint: Eid::ipn(1, 1),
            source: Eid::ipn(source, 1),
            creation: CreationTimestamp::new(crate::time::DtnTime(1), sequence),
            payload: Bytes::new(),
        }
    }

    proptest! {
        /// Against a plain list: pushes, pops, removals by position and takes by identity
        /// leave the same deliveries in the same order.
        #[test]
        fn behaves_as_a_list(ops in proptest::collection::vec((0u8..4, 0u32..4, 0u64..4), 0..200)) {
            let mut queue = PassiveQueue::default();
            let mut model: Vec<(u64, Delivery)> = Vec::new();
            for (op, source, sequence) in ops {
                match op {
                    0 | 1 => {
                        let d = delivery(source, sequence);
                        let position = queue.push(d.clone(), Vec::new());
                        model.push((position, d));
                    }
                    2 => {
                        let got = queue.pop_front().map(|(d, _)| d);
                        let want = (!model.is_empty()).then(|| model.remove(0).1);
                        prop_assert_eq!(got, want);
                    }
                    _ => {
                        let d = delivery(source, sequence);
                        let got = queue.take_identity(&d.source, d.creation).map(|(d, _)| d);
                        let at = model.iter().position(|(_, m)| m.source == d.source && m.creation == d.creation);
                        let want = at.map(|i| model.remove(i).1);
                        prop_assert_eq!(got, want);
                    }
                }
                let now: Vec<&Delivery> = queue.iter().collect();
                let expected: Vec<&Delivery> = model.iter().map(|(_, d)| d).collect();
                prop_assert_eq!(now, expected);
            }
            // Removal by position, of every other one.
            for (position, _) in model.iter().step_by(2) {
                prop_assert!(queue.remove(*position).is_some());
            }
            prop_assert_eq!(queue.iter().count(), model.len() / 2);
        }
    }
}
