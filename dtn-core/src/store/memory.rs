//! An in-memory [`BundleStore`]: the live state, a log of changes since the last commit and the
//! committed state, so tests can "crash" it ([`MemoryStore::after_crash`]) and rebuild an agent
//! from what a real store would have kept.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::Bytes;

use super::{BundleId, BundleStore, StagedChange as Change, StoreError, StoredBundle};

/// Bundles in memory, with a byte budget and commit semantics: `live` is the current state
/// (what reads see), `log` the changes since the last commit, `committed` what survives a
/// crash. Each mutation is one map operation plus a log entry; a commit replays the log.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    capacity: u64,
    /// Current bytes of every record (metadata is only written, never read back live).
    live: BTreeMap<BundleId, Bytes>,
    log: Vec<(BundleId, Change)>,
    committed: BTreeMap<BundleId, (Bytes, Vec<u8>)>,
    used: u64,
    commits: u64,
}

impl MemoryStore {
    /// A store that holds up to `capacity_bytes` of bundles.
    pub fn new(capacity_bytes: u64) -> Self {
        MemoryStore { capacity: capacity_bytes, ..Default::default() }
    }

    /// What survives a crash: the committed state only.
    #[must_use]
    pub fn after_crash(&self) -> MemoryStore {
        let used = self.committed.values().map(|(b, _)| b.len() as u64).sum();
        MemoryStore {
            capacity: self.capacity,
            live: self.committed.iter().map(|(id, (b, _))| (*id, b.clone())).collect(),
            log: Vec::new(),
            committed: self.committed.clone(),
            used,
            commits: 0,
        }
    }

    /// Number of successful commits (to measure group commit).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Number of records (bundles, tombstones and the agent's own state).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

impl BundleStore for MemoryStore {
    fn insert(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        let needed = bytes.len() as u64;
        let replaced = self.live.get(&id).map_or(0, |b| b.len() as u64);
        let free = self.free_bytes() + replaced;
        if needed > free {
            return Err(StoreError::Full { needed, free });
        }
        self.used = self.used - replaced + needed;
        self.live.insert(id, bytes.clone());
        self.log.push((id, Change::Put(bytes, meta)));
        Ok(())
    }

    fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError> {
        if !self.live.contains_key(&id) {
            return Err(StoreError::Unknown(id));
        }
        self.log.push((id, Change::Meta(meta)));
        Ok(())
    }

    fn remove(&mut self, id: BundleId) -> Result<(), StoreError> {
        let bytes = self.live.remove(&id).ok_or(StoreError::Unknown(id))?;
        self.used -= bytes.len() as u64;
        self.log.push((id, Change::Remove));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.log.is_empty() {
            return Ok(());
        }
        for (id, change) in core::mem::take(&mut self.log) {
            match change {
                Change::Put(bytes, meta) => {
                    self.committed.insert(id, (bytes, meta));
                }
                Change::Meta(meta) => {
                    if let Some(entry) = self.committed.get_mut(&id) {
                        entry.1 = meta;
                    }
                }
                Change::Remove => {
                    self.committed.remove(&id);
                }
            }
        }
        self.commits += 1;
        Ok(())
    }

    fn bytes(&self, id: BundleId) -> Option<Bytes> {
        self.live.get(&id).cloned()
    }

    fn recover(&self) -> Result<Vec<StoredBundle>, StoreError> {
        Ok(self
            .committed
            .iter()
            .map(|(&id, (bytes, meta))| StoredBundle { id, bytes: bytes.clone(), meta: meta.clone() })
            .collect())
    }

    fn used_bytes(&self) -> u64 {
        self.used
    }

    fn capacity_bytes(&self) -> u64 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_changes_survive_only_after_commit() {
        let mut store = MemoryStore::new(100);
        store.insert(1, Bytes::from_static(b"abc"), alloc::vec![1]).unwrap();
        assert!(store.after_crash().is_empty());
        store.commit().unwrap();
        store.update(1, alloc::vec![2]).unwrap();
        store.insert(2, Bytes::from_static(b"de"), alloc::vec![]).unwrap();
        let crashed = store.after_crash();
        assert_eq!(
            crashed.recover().unwrap_or_default(),
            [StoredBundle { id: 1, bytes: Bytes::from_static(b"abc"), meta: alloc::vec![1] }]
        );
        assert_eq!(crashed.used_bytes(), 3);
        store.remove(1).unwrap();
        store.commit().unwrap();
        assert_eq!(store.recover().map(|r| r.len()), Ok(1));
        assert_eq!(store.used_bytes(), 2);
        assert_eq!(store.commits(), 2);
    }

    #[test]
    fn refuses_inserts_beyond_the_budget() {
        let mut store = MemoryStore::new(5);
        store.insert(1, Bytes::from_static(b"abcd"), alloc::vec![]).unwrap();
        assert_eq!(
            store.insert(2, Bytes::from_static(b"xy"), alloc::vec![]),
            Err(StoreError::Full { needed: 2, free: 1 })
        );
        store.remove(1).unwrap();
        store.insert(2, Bytes::from_static(b"xy"), alloc::vec![]).unwrap();
        assert_eq!(store.free_bytes(), 3);
        assert_eq!(store.update(9, alloc::vec![]), Err(StoreError::Unknown(9)));
        assert_eq!(store.remove(9), Err(StoreError::Unknown(9)));
    }
}
