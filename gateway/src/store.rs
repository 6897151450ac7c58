//! The gateway's crash-safe bundle store: [`RedbStore`], a [`BundleStore`] in one redb
//! database file.
//!
//! Staged changes go to the file in one write transaction per [`BundleStore::commit`] (group
//! commit: the agent commits once per batch of events), made durable before `commit`
//! returns; after a crash or `kill -9` the file holds exactly the last committed state. The
//! bundles' bytes stay on disk: RAM holds each bundle's size (for the byte budget) and the
//! bytes of bundles staged but not yet committed.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use dtn_core::store::{BundleId, BundleStore, StoreError, StoredBundle};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const BUNDLES: TableDefinition<u64, &[u8]> = TableDefinition::new("bundles");
const META: TableDefinition<u64, &[u8]> = TableDefinition::new("meta");

#[derive(Debug)]
enum Change {
    Put(Bytes, Vec<u8>),
    Meta(Vec<u8>),
    Remove,
}

/// redb's page cache.
const CACHE_BYTES: usize = 32 << 20;

/// Bundles and the agent's records of them in a redb file, within a byte budget.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    capacity: u64,
    used: u64,
    /// Size of every live bundle (committed or staged).
    sizes: BTreeMap<BundleId, u64>,
    /// Bytes of bundles staged since the last commit.
    pending: BTreeMap<BundleId, Bytes>,
    staged: Vec<(BundleId, Change)>,
    commits: u64,
}

fn failed(what: &'static str) -> impl Fn(redb::Error) -> StoreError {
    move |_| StoreError::Failed(what)
}

impl RedbStore {
    /// Opens (or creates) the store at `path` with a budget of `capacity` bytes of bundles.
    pub fn open(path: &Path, capacity: u64) -> Result<Self, StoreError> {
        // redb's page cache defaults to 1 GiB; bundles live on disk and are read once or twice,
        // so a small cache keeps the daemon's memory near its queues (BENCHMARKS.md, RSS).
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| failed("opening the database")(e.into()))?;
        // Create the tables on a new file so that reads find them.
        let txn = db.begin_write().map_err(|e| failed("write transaction")(e.into()))?;
        txn.open_table(BUNDLES).map_err(|e| failed("bundles table")(e.into()))?;
        txn.open_table(META).map_err(|e| failed("meta table")(e.into()))?;
        txn.commit().map_err(|e| failed("commit")(e.into()))?;
        let mut sizes = BTreeMap::new();
        {
            let read = db.begin_read().map_err(|e| failed("read transaction")(e.into()))?;
            let table = read.open_table(BUNDLES).map_err(|e| failed("bundles table")(e.into()))?;
            for row in table.iter().map_err(|e| failed("scanning bundles")(e.into()))? {
                let (id, bytes) = row.map_err(|e| failed("scanning bundles")(e.into()))?;
                sizes.insert(id.value(), bytes.value().len() as u64);
            }
        }
        let used = sizes.values().sum();
        Ok(RedbStore { db, capacity, used, sizes, pending: BTreeMap::new(), staged: Vec::new(), commits: 0 })
    }

    /// Commits done since opening.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Bundles stored (committed or staged).
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    fn read_all(&self) -> Result<Vec<StoredBundle>, redb::Error> {
        let read = self.db.begin_read()?;
        let (bundles, meta) = (read.open_table(BUNDLES)?, read.open_table(META)?);
        let mut all = Vec::with_capacity(self.sizes.len());
        for row in bundles.iter()? {
            let (id, bytes) = row?;
            let id = id.value();
            let record = meta.get(id)?.map(|m| m.value().to_vec()).unwrap_or_default();
            all.push(StoredBundle { id, bytes: Bytes::copy_from_slice(bytes.value()), meta: record });
        }
        Ok(all)
    }

    fn write(&mut self, changes: Vec<(BundleId, Change)>) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut bundles = txn.open_table(BUNDLES)?;
            let mut meta = txn.open_table(META)?;
            for (id, change) in &changes {
                match change {
                    Change::Put(bytes, record) => {
                        bundles.insert(*id, bytes.as_ref())?;
                        meta.insert(*id, record.as_slice())?;
                    }
                    Change::Meta(record) => {
                        meta.insert(*id, record.as_slice())?;
                    }
                    Change::Remove => {
                        bundles.remove(*id)?;
                        meta.remove(*id)?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

impl BundleStore for RedbStore {
    fn insert(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        let needed = bytes.len() as u64;
        let replaced = self.sizes.get(&id).copied().unwrap_or(0);
        let free = self.free_bytes() + replaced;
        if needed > free {
            return Err(StoreError::Full { needed, free });
        }
        self.used = self.used - replaced + needed;
        self.sizes.insert(id, needed);
        self.pending.insert(id, bytes.clone());
        self.staged.push((id, Change::Put(bytes, meta)));
        Ok(())
    }

    fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError> {
        if !self.sizes.contains_key(&id) {
            return Err(StoreError::Unknown(id));
        }
        self.staged.push((id, Change::Meta(meta)));
        Ok(())
    }

    fn remove(&mut self, id: BundleId) -> Result<(), StoreError> {
        let size = self.sizes.remove(&id).ok_or(StoreError::Unknown(id))?;
        self.used -= size;
        self.pending.remove(&id);
        self.staged.push((id, Change::Remove));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.staged);
        self.write(changes).map_err(failed("committing"))?;
        self.pending.clear();
        self.commits += 1;
        Ok(())
    }

    fn bytes(&self, id: BundleId) -> Option<Bytes> {
        if !self.sizes.contains_key(&id) {
            return None;
        }
        if let Some(bytes) = self.pending.get(&id) {
            return Some(bytes.clone());
        }
        let read = self.db.begin_read().ok()?;
        let table = read.open_table(BUNDLES).ok()?;
        let value = table.get(id).ok()??;
        Some(Bytes::copy_from_slice(value.value()))
    }

    fn recover(&self) -> Result<Vec<StoredBundle>, StoreError> {
        self.read_all().map_err(failed("reading the stored bundles"))
    }

    fn used_bytes(&self) -> u64 {
        self.used
    }

    fn capacity_bytes(&self) -> u64 {
        self.capacity
    }
}
