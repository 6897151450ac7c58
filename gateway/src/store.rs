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
use dtn_core::store::{BundleId, BundleStore, StagedChange, Staging, StoreError, StoredBundle};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const BUNDLES: TableDefinition<u64, &[u8]> = TableDefinition::new("bundles");
const META: TableDefinition<u64, &[u8]> = TableDefinition::new("meta");

/// redb's page cache.
const CACHE_BYTES: usize = 32 << 20;

/// Bundles and the agent's records of them in a redb file, within a byte budget.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    staging: Staging,
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
        Ok(RedbStore { db, staging: Staging::new(capacity, sizes), commits: 0 })
    }

    /// Commits done since opening.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Bundles stored (committed or staged).
    pub fn len(&self) -> usize {
        self.staging.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.staging.is_empty()
    }

    fn read_all(&self) -> Result<Vec<StoredBundle>, redb::Error> {
        let read = self.db.begin_read()?;
        let (bundles, meta) = (read.open_table(BUNDLES)?, read.open_table(META)?);
        let mut all = Vec::with_capacity(self.staging.len());
        for row in bundles.iter()? {
            let (id, bytes) = row?;
            let id = id.value();
            let record = meta.get(id)?.map(|m| m.value().to_vec()).unwrap_or_default();
            all.push(StoredBundle { id, bytes: Bytes::copy_from_slice(bytes.value()), meta: record });
        }
        Ok(all)
    }

    fn write(&mut self, changes: Vec<(BundleId, StagedChange)>) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut bundles = txn.open_table(BUNDLES)?;
            let mut meta = txn.open_table(META)?;
            for (id, change) in &changes {
                match change {
                    StagedChange::Put(bytes, record) => {
                        bundles.insert(*id, bytes.as_ref())?;
                        meta.insert(*id, record.as_slice())?;
                    }
                    StagedChange::Meta(record) => {
                        meta.insert(*id, record.as_slice())?;
                    }
                    StagedChange::Remove => {
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
        self.staging.insert(id, bytes, meta)
    }

    fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError> {
        self.staging.update(id, meta)
    }

    fn remove(&mut self, id: BundleId) -> Result<(), StoreError> {
        self.staging.remove(id)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.staging.is_clean() {
            return Ok(());
        }
        let changes = self.staging.take();
        self.write(changes).map_err(failed("committing"))?;
        self.staging.committed();
        self.commits += 1;
        Ok(())
    }

    fn bytes(&self, id: BundleId) -> Option<Bytes> {
        if !self.staging.contains(id) {
            return None;
        }
        if let Some(bytes) = self.staging.pending(id) {
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
        self.staging.used()
    }

    fn capacity_bytes(&self) -> u64 {
        self.staging.capacity()
    }
}
