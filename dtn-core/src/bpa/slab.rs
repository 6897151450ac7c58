//! The agent's bundle table: entries in a vector indexed by bundle id, with freed ids reused.
//! Ids are small and dense, so this costs one entry per live bundle plus vector slack — about
//! half of what a B-tree keyed by ever-growing ids would take.

use alloc::vec::Vec;

use super::entry::BundleEntry;
use crate::store::BundleId;

/// Bundle entries by id. Id 0 is never handed out (the store keeps the node's state there).
#[derive(Debug, Default)]
pub struct Slab {
    entries: Vec<Option<BundleEntry>>,
    free: Vec<BundleId>,
}

impl Slab {
    /// An id for a new entry: a freed one if any.
    pub fn allocate(&mut self) -> BundleId {
        while let Some(id) = self.free.pop() {
            if self.entries.get(id as usize).is_some_and(Option::is_none) {
                return id;
            }
        }
        (self.entries.len() as BundleId).max(1)
    }

    /// Gives back an id from [`Self::allocate`] that was not used.
    pub fn release(&mut self, id: BundleId) {
        if self.entries.get(id as usize).is_none_or(Option::is_none) && id != 0 {
            self.free.push(id);
        }
    }

    /// Puts an entry under `id` (growing the table as needed).
    pub fn insert(&mut self, id: BundleId, entry: BundleEntry) {
        let index = id as usize;
        if self.entries.len() <= index {
            let old = self.entries.len().max(1) as BundleId;
            // Grow by an eighth, not double: the table is most of the agent's RAM per bundle.
            let wanted = index + 1 - self.entries.len();
            if self.entries.capacity() < index + 1 {
                self.entries.reserve_exact(wanted.max(self.entries.len() / 8).max(64));
            }
            self.entries.resize_with(index + 1, || None);
            self.free.extend(old..id);
        }
        if let Some(slot) = self.entries.get_mut(index) {
            *slot = Some(entry);
        }
    }

    /// Removes an entry, freeing its id.
    pub fn remove(&mut self, id: &BundleId) -> Option<BundleEntry> {
        let entry = self.entries.get_mut(*id as usize)?.take()?;
        self.free.push(*id);
        Some(entry)
    }

    /// The entry under `id`.
    pub fn get(&self, id: &BundleId) -> Option<&BundleEntry> {
        self.entries.get(*id as usize)?.as_ref()
    }

    /// The entry under `id`, mutably.
    pub fn get_mut(&mut self, id: &BundleId) -> Option<&mut BundleEntry> {
        self.entries.get_mut(*id as usize)?.as_mut()
    }

    /// Live entries with ids from `first` on, in id order.
    pub fn iter_from(&self, first: BundleId) -> impl Iterator<Item = (BundleId, &BundleEntry)> {
        let start = usize::try_from(first).unwrap_or(usize::MAX).min(self.entries.len());
        self.entries.iter().enumerate().skip(start).filter_map(|(i, e)| e.as_ref().map(|e| (i as BundleId, e)))
    }

    /// Live entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (BundleId, &BundleEntry)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| e.as_ref().map(|e| (i as BundleId, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpa::entry::BundleState;
    use crate::routing::Priority;
    use crate::time::DtnTime;

    fn entry() -> BundleEntry {
        BundleEntry {
            destination: None,
            expiry: DtnTime(0),
            size: 0,
            received_at: DtnTime(0),
            previous_hop: None,
            priority: Priority::Normal,
            state: BundleState::Waiting,
            booking: None,
            custody: None,
            reports_forwarding: false,
            next_hop: None,
            failures: 0,
        }
    }

    #[test]
    fn reuses_freed_ids_and_never_hands_out_zero() {
        let mut slab = Slab::default();
        let a = slab.allocate();
        assert_eq!(a, 1);
        slab.insert(a, entry());
        let b = slab.allocate();
        slab.insert(b, entry());
        assert_eq!((a, b), (1, 2));
        assert!(slab.remove(&a).is_some());
        assert_eq!(slab.allocate(), 1);
        slab.insert(7, entry());
        assert_eq!(slab.iter().count(), 2);
        let mut seen = alloc::vec::Vec::new();
        for _ in 0..5 {
            let id = slab.allocate();
            seen.push(id);
            slab.insert(id, entry());
        }
        assert!(!seen.contains(&0) && !seen.contains(&2) && !seen.contains(&7));
        assert_eq!(slab.iter().count(), 7);
    }
}
