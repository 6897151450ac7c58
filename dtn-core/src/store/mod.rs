//! Bundle storage: the [`BundleStore`] trait the agent keeps bundles and their state in, and
//! [`MemoryStore`], an in-memory implementation with a byte budget.
//!
//! # Durable-commit contract
//!
//! Mutations (`insert`, `update`, `remove`) are *staged*; [`BundleStore::commit`] makes every
//! staged mutation durable at once (group commit), and returns only when it has. After a crash,
//! a store holds exactly the state of its last successful commit. The agent relies on this:
//!
//! - it acknowledges an application's submit only after the bundle's `insert` was committed;
//! - it accepts custody of a bundle (sends a custody signal saying "accepted") only after the
//!   bundle and its custody record were committed;
//! - it releases a bundle it holds in custody (`remove`) only after downstream acceptance, and
//!   a crash before that commit merely makes it retransmit, which the receiver deduplicates.
//!
//! A store refuses an `insert` that would exceed its byte budget with
//! [`StoreError::Full`]; the agent then refuses custody with "depleted storage". Stores never
//! evict on their own.

mod memory;
mod staging;

use alloc::vec::Vec;

use bytes::Bytes;

pub use memory::MemoryStore;
pub use staging::{StagedChange, Staging};

/// The agent's identifier of a stored bundle (local to the node).
pub type BundleId = u64;

/// Why a store operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The byte budget would be exceeded.
    #[error("storage budget exhausted: {needed} bytes needed, {free} free")]
    Full {
        /// Bytes the operation needs.
        needed: u64,
        /// Bytes left in the budget.
        free: u64,
    },
    /// No bundle with that id.
    #[error("no stored bundle {0}")]
    Unknown(BundleId),
    /// The medium failed (disk error, database corruption).
    #[error("storage failure: {0}")]
    Failed(&'static str),
    /// Stored data is damaged where no crash could have left it: the store refuses to open
    /// rather than drop what follows.
    #[error("store corrupt: {what} in file {file} at byte {offset}")]
    Corrupt {
        /// What is wrong.
        what: &'static str,
        /// The file (a segment number).
        file: u64,
        /// Where in it.
        offset: u64,
    },
}

/// One stored bundle as recovered after a restart: its bytes and the agent's record of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBundle {
    /// The agent's id for it.
    pub id: BundleId,
    /// The encoded bundle.
    pub bytes: Bytes,
    /// The agent's state for it, opaque to the store.
    pub meta: Vec<u8>,
}

/// Durable storage for bundles and the agent's per-bundle state (see the module docs for the
/// commit contract). `meta` is opaque to the store: the agent encodes it.
pub trait BundleStore {
    /// Stages a new bundle.
    fn insert(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError>;

    /// Stages a bundle whose loss in a crash nobody relies on: one received without custody,
    /// which no custody signal or acknowledgement has promised to keep. A store may hold it in
    /// memory and write it only if it stays a while, or once [`BundleStore::update`] gives it
    /// a record that must last (this node took custody of it); one forwarded and removed
    /// quickly then never costs a write. By default it is simply inserted.
    fn insert_volatile(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        self.insert(id, bytes, meta)
    }

    /// Stages a new record for a stored bundle.
    fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError>;

    /// Stages the removal of a bundle.
    fn remove(&mut self, id: BundleId) -> Result<(), StoreError>;

    /// Makes every staged change durable; returns only once it is.
    fn commit(&mut self) -> Result<(), StoreError>;

    /// The bytes of a stored bundle (staged or committed).
    fn bytes(&self, id: BundleId) -> Option<Bytes>;

    /// Every committed bundle, for recovery after a restart; an error when the medium cannot
    /// be read (never an empty list in its place: that would lose every bundle quietly).
    fn recover(&self) -> Result<Vec<StoredBundle>, StoreError>;

    /// Every committed bundle's id and record without its bytes, which recovery then reads
    /// one at a time ([`BundleStore::bytes`]): a store that can list its index without reading
    /// every bundle lets a node start with RAM for the index, not for every stored byte.
    fn recover_index(&self) -> Result<Vec<(BundleId, Vec<u8>)>, StoreError> {
        Ok(self.recover()?.into_iter().map(|b| (b.id, b.meta)).collect())
    }

    /// Bytes in use (committed and staged).
    fn used_bytes(&self) -> u64;

    /// The byte budget.
    fn capacity_bytes(&self) -> u64;

    /// Bytes still free in the budget.
    fn free_bytes(&self) -> u64 {
        self.capacity_bytes().saturating_sub(self.used_bytes())
    }
}
