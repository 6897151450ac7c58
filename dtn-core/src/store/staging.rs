//! The bookkeeping every [`super::BundleStore`] shares: live bundle sizes against the byte
//! budget, the bytes staged since the last commit (readable before they are durable) and the
//! staged changes in order, for the store to make durable at once.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::Bytes;

use super::{BundleId, StoreError};

/// One staged mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagedChange {
    /// A new bundle (or a replacement under the same id) with its record.
    Put(Bytes, Vec<u8>),
    /// A new record for a stored bundle.
    Meta(Vec<u8>),
    /// The bundle goes.
    Remove,
}

/// Budget, live sizes and staged changes of a store.
#[derive(Debug, Clone, Default)]
pub struct Staging {
    capacity: u64,
    used: u64,
    /// Size of every live bundle, staged changes included.
    sizes: BTreeMap<BundleId, u64>,
    /// Bytes of bundles staged since the last commit.
    pending: BTreeMap<BundleId, Bytes>,
    changes: Vec<(BundleId, StagedChange)>,
}

impl Staging {
    /// Bookkeeping for a store of `capacity` bytes already holding `committed` (id, size).
    pub fn new(capacity: u64, committed: impl IntoIterator<Item = (BundleId, u64)>) -> Self {
        let sizes: BTreeMap<BundleId, u64> = committed.into_iter().collect();
        let used = sizes.values().sum();
        Staging { capacity, used, sizes, pending: BTreeMap::new(), changes: Vec::new() }
    }

    /// Stages a bundle, within the budget.
    pub fn insert(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        let needed = bytes.len() as u64;
        let replaced = self.sizes.get(&id).copied().unwrap_or(0);
        let free = self.capacity.saturating_sub(self.used) + replaced;
        if needed > free {
            return Err(StoreError::Full { needed, free });
        }
        self.used = self.used - replaced + needed;
        self.sizes.insert(id, needed);
        self.pending.insert(id, bytes.clone());
        self.changes.push((id, StagedChange::Put(bytes, meta)));
        Ok(())
    }

    /// Counts a bundle against the budget without staging a change (a store keeping it in
    /// memory for now; [`Staging::put`] stages its write later).
    pub fn reserve(&mut self, id: BundleId, len: u64) -> Result<(), StoreError> {
        let replaced = self.sizes.get(&id).copied().unwrap_or(0);
        let free = self.capacity.saturating_sub(self.used) + replaced;
        if len > free {
            return Err(StoreError::Full { needed: len, free });
        }
        self.used = self.used - replaced + len;
        self.sizes.insert(id, len);
        Ok(())
    }

    /// Stages the write of a bundle already counted with [`Staging::reserve`].
    pub fn put(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) {
        self.pending.insert(id, bytes.clone());
        self.changes.push((id, StagedChange::Put(bytes, meta)));
    }

    /// Stops counting a bundle that was never written, without staging a removal.
    pub fn forget(&mut self, id: BundleId) {
        if let Some(size) = self.sizes.remove(&id) {
            self.used -= size;
        }
        self.pending.remove(&id);
    }

    /// Stages a new record for a live bundle.
    pub fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError> {
        if !self.sizes.contains_key(&id) {
            return Err(StoreError::Unknown(id));
        }
        self.changes.push((id, StagedChange::Meta(meta)));
        Ok(())
    }

    /// Stages a removal.
    pub fn remove(&mut self, id: BundleId) -> Result<(), StoreError> {
        let size = self.sizes.remove(&id).ok_or(StoreError::Unknown(id))?;
        self.used -= size;
        self.pending.remove(&id);
        self.changes.push((id, StagedChange::Remove));
        Ok(())
    }

    /// The changes staged since the last commit, in order (empty when there are none). Their
    /// bytes stay readable until [`Staging::committed`].
    pub fn take(&mut self) -> Vec<(BundleId, StagedChange)> {
        core::mem::take(&mut self.changes)
    }

    /// Puts back changes [`Self::take`] returned whose commit failed (before anything
    /// staged since): the next commit tries them again.
    pub fn restore(&mut self, mut changes: Vec<(BundleId, StagedChange)>) {
        changes.append(&mut self.changes);
        self.changes = changes;
    }

    /// The changes taken are durable now.
    pub fn committed(&mut self) {
        self.pending.clear();
    }

    /// True when nothing is staged.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }

    /// The bytes of a bundle staged since the last commit.
    pub fn pending(&self, id: BundleId) -> Option<&Bytes> {
        self.pending.get(&id)
    }

    /// Whether a bundle is live (committed or staged, not removed).
    pub fn contains(&self, id: BundleId) -> bool {
        self.sizes.contains_key(&id)
    }

    /// Live bundles.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// True when no bundle is live.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Bytes of live bundles.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The budget.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_and_order() {
        let mut s = Staging::new(10, [(7, 4)]);
        assert_eq!(s.used(), 4);
        assert!(matches!(s.insert(1, Bytes::from_static(b"1234567"), alloc::vec![]), Err(StoreError::Full { .. })));
        s.insert(1, Bytes::from_static(b"123456"), alloc::vec![1]).unwrap();
        s.update(1, alloc::vec![2]).unwrap();
        assert_eq!(s.update(9, alloc::vec![]), Err(StoreError::Unknown(9)));
        s.remove(7).unwrap();
        assert_eq!(s.pending(1), Some(&Bytes::from_static(b"123456")));
        let changes = s.take();
        assert_eq!(changes.len(), 3);
        assert!(matches!(changes[2], (7, StagedChange::Remove)));
        s.committed();
        assert_eq!(s.pending(1), None);
        assert_eq!((s.used(), s.len()), (6, 1));
    }
}
