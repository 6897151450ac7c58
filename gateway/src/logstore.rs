//! The gateway's default bundle store: an append-only log of segment files in a directory.
//!
//! A commit appends every staged change as checksummed records to the current segment in one
//! write and one `fdatasync`: durability costs one sequential write per batch, whatever the
//! batch holds. Bundles are read back with positioned reads (recently written ones from a
//! small cache). Space comes back from the oldest end: a segment whose bundles are all gone is
//! deleted, and one with few left has them copied forward first. Only the oldest segment is
//! ever deleted, so a removal record never outlives the older segment it cancels a bundle in.
//!
//! Bundles received without custody ([`BundleStore::insert_volatile`]) wait in memory and
//! are written only when held for a while or given a lasting record: a transit bundle that
//! leaves at once (a ground relay with its next hop up) costs no write at all, while every
//! bundle this node took custody of or accepted from an application is on disk before that
//! is acknowledged.
//!
//! Record: `len u32 | crc32c u32 | kind u8 | id u64 | meta_len u32 | meta | bytes` (big-endian;
//! `len` and the CRC cover everything after the CRC). A segment starts with a header record
//! and every commit ends with a commit record (its sequence number, the batch's length and a
//! mark), so recovery knows where each commit ends. It replays the segments in order and
//! applies a commit's records only at its commit record. The last segment may end inside a
//! commit — the crash came mid-write, so that commit never returned — and is cut back to the
//! last whole one, whether the cut fell inside a record or exactly between two. Anything else
//! is corruption: a bad record with a commit after it (a flipped bit mid-segment, not a torn
//! tail), a closed segment that ends inside a commit; the store refuses to open and names the
//! segment and byte. Segments written before commit records existed are read as they were
//! (a bad record ends the last one).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use dtn_core::store::{BundleId, BundleStore, StagedChange as Change, Staging, StoreError, StoredBundle};

/// A segment is closed once it holds this much.
const SEGMENT_BYTES: u64 = 64 << 20;
/// Recently committed bundles kept in memory for their transmission.
const HOT_BYTES: usize = 64 << 20;
/// A bundle received without custody is written once it has been held this long (it waits
/// for a contact); one forwarded sooner never costs a write.
const SPILL_AFTER: std::time::Duration = std::time::Duration::from_millis(250);
/// Record header before the id: length and CRC.
const HEAD: usize = 8;

const PUT: u8 = 0;
const META: u8 = 1;
const REMOVE: u8 = 2;
/// Ends a commit: id = the commit's sequence number, meta = the batch's length and [`MARK`].
const COMMIT: u8 = 3;
/// Starts a segment: meta = [`MARK`].
const HEADER: u8 = 4;
/// The last eight bytes of every commit and header record: found by a search backwards, it
/// tells a torn tail (no commit after a bad record) from corruption (one after it).
const MARK: &[u8; 8] = b"DTNLOGC1";
/// Size of a commit record: head, kind, id, meta length, batch length, mark.
const COMMIT_RECORD: usize = HEAD + 13 + 16;

#[derive(Debug, Clone)]
struct Entry {
    segment: u64,
    /// What its record takes on disk (counted in what lives, whatever the bundle's size: a
    /// zero-byte tombstone or receipt lives too).
    record: u64,
    /// Where the bundle's bytes start in the segment.
    offset: u64,
    len: u64,
    meta: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    file: File,
    size: u64,
    /// Bundles whose latest copy is in this segment.
    live: BTreeSet<BundleId>,
    live_bytes: u64,
}

/// Bundles in an append-only segment log, within a byte budget.
#[derive(Debug)]
pub struct LogStore {
    dir: PathBuf,
    staging: Staging,
    /// Committed bundles.
    index: BTreeMap<BundleId, Entry>,
    segments: BTreeMap<u64, Segment>,
    /// Bundles received without custody, not written yet, with when they came.
    volatile: BTreeMap<BundleId, (Bytes, Vec<u8>, std::time::Instant)>,
    hot: BTreeMap<BundleId, Bytes>,
    hot_order: VecDeque<BundleId>,
    hot_bytes: usize,
    commits: u64,
    segment_bytes: u64,
    /// The next commit's sequence number.
    sequence: u64,
    /// Bytes of live records, all segments together.
    live_total: u64,
    /// The last commit could not be written (the disk is full, or failing): its changes stay
    /// staged and are tried again with the next commit, and new bundles are refused until
    /// one succeeds.
    disk_failed: bool,
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |_| StoreError::Failed(what)
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016}.seg"))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing the store directory"))
}

/// Whether a whole commit record lies after offset `at` (found by its mark): then a bad
/// record at `at` is not the torn tail of the last commit but damage before a later one.
fn commit_after(buf: &[u8], at: usize) -> bool {
    let Some(rest) = buf.get(at..) else { return false };
    rest.windows(MARK.len()).enumerate().rev().filter(|(_, w)| *w == MARK).any(|(i, _)| {
        let end = at + i + MARK.len();
        end.checked_sub(COMMIT_RECORD)
            .and_then(|start| decode(buf, start))
            .is_some_and(|r| r.kind == COMMIT && r.end == end)
    })
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)?.try_into().ok().map(u32::from_be_bytes)
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)?.try_into().ok().map(u64::from_be_bytes)
}

/// Appends one record; returns the offset of its bytes within `out`.
fn encode(out: &mut Vec<u8>, kind: u8, id: BundleId, meta: &[u8], bytes: &[u8]) -> usize {
    let start = out.len();
    let body_len = 1 + 8 + 4 + meta.len() + bytes.len();
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(meta);
    let bytes_at = out.len();
    out.extend_from_slice(bytes);
    let crc = crc32c::crc32c(out.get(start + HEAD..).unwrap_or_default());
    if let Some(slot) = out.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
    bytes_at
}

/// One decoded record: kind, id, meta, and where its bytes lie in the buffer.
struct Record<'a> {
    kind: u8,
    id: BundleId,
    meta: &'a [u8],
    bytes: std::ops::Range<usize>,
    /// Offset just past the record.
    end: usize,
}

fn decode(buf: &[u8], at: usize) -> Option<Record<'_>> {
    let len = be_u32(buf, at)? as usize;
    let crc = be_u32(buf, at + 4)?;
    let body = buf.get(at + HEAD..at + HEAD + len)?;
    if crc32c::crc32c(body) != crc || len < 13 {
        return None;
    }
    let kind = *body.first()?;
    let id = be_u64(body, 1)?;
    let meta_len = be_u32(body, 9)? as usize;
    let meta = body.get(13..13 + meta_len)?;
    let bytes = at + HEAD + 13 + meta_len..at + HEAD + len;
    Some(Record { kind, id, meta, bytes, end: at + HEAD + len })
}

impl LogStore {
    /// Opens (or creates) the store in directory `dir` with a budget of `capacity` bytes of
    /// bundles, replaying its segments.
    pub fn open(dir: &Path, capacity: u64) -> Result<Self, StoreError> {
        Self::open_with_segments(dir, capacity, SEGMENT_BYTES)
    }

    /// [`LogStore::open`] with segments closed at `segment_bytes` (tests use small ones).
    pub fn open_with_segments(dir: &Path, capacity: u64, segment_bytes: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(io("creating the store directory"))?;
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)
            .map_err(io("listing the store directory"))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        let mut store = LogStore {
            dir: dir.to_path_buf(),
            staging: Staging::new(capacity, []),
            index: BTreeMap::new(),
            segments: BTreeMap::new(),
            volatile: BTreeMap::new(),
            hot: BTreeMap::new(),
            hot_order: VecDeque::new(),
            hot_bytes: 0,
            commits: 0,
            segment_bytes: segment_bytes.max(1),
            sequence: 0,
            live_total: 0,
            disk_failed: false,
        };
        let last = numbers.last().copied();
        for n in numbers {
            store.replay(n, Some(n) == last)?;
        }
        if store.segments.is_empty() {
            store.new_segment(0)?;
        }
        store.staging = Staging::new(capacity, store.index.iter().map(|(id, e)| (*id, e.len)));
        Ok(store)
    }

    fn replay(&mut self, n: u64, last: bool) -> Result<(), StoreError> {
        let path = segment_path(&self.dir, n);
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io("opening a segment"))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io("reading a segment"))?;
        self.segments.insert(n, Segment { file, size: 0, live: BTreeSet::new(), live_bytes: 0 });
        let corrupt = |what: &'static str, at: usize| StoreError::Corrupt { what, file: n, offset: at as u64 };
        // A framed segment (header record first) applies a commit's records at its commit
        // record; an older one applies each record as it is read.
        let framed = decode(&buf, 0).is_some_and(|r| r.kind == HEADER);
        let mut batch: Vec<(u8, BundleId, Vec<u8>, std::ops::Range<usize>)> = Vec::new();
        let mut committed = 0;
        let mut at = 0;
        while at < buf.len() {
            let Some(r) = decode(&buf, at) else {
                if !last || commit_after(&buf, at) {
                    return Err(corrupt("a bad record", at));
                }
                // The tail of an interrupted commit: it never returned, so nothing relied on it.
                let cut = if framed { committed } else { at };
                self.cut(n, cut)?;
                return Ok(());
            };
            match r.kind {
                PUT | META | REMOVE if framed => batch.push((r.kind, r.id, r.meta.to_vec(), r.bytes.clone())),
                PUT | META | REMOVE => self.apply(n, r.kind, r.id, r.meta.to_vec(), r.bytes.clone()),
                COMMIT if r.meta.ends_with(MARK) => {
                    for (kind, id, meta, bytes) in batch.drain(..) {
                        self.apply(n, kind, id, meta, bytes);
                    }
                    self.sequence = self.sequence.max(r.id.saturating_add(1));
                    committed = r.end;
                }
                HEADER if at == 0 => committed = r.end,
                _ => return Err(corrupt("an unknown or misplaced record", at)),
            }
            at = r.end;
        }
        if framed && !batch.is_empty() {
            if !last {
                return Err(corrupt("a closed segment ending inside a commit", committed));
            }
            // Cut exactly between two records of a commit that never returned.
            self.cut(n, committed)?;
            return Ok(());
        }
        if let Some(seg) = self.segments.get_mut(&n) {
            seg.size = at as u64;
        }
        Ok(())
    }

    /// Applies one replayed record of segment `n`.
    fn apply(&mut self, n: u64, kind: u8, id: BundleId, meta: Vec<u8>, bytes: std::ops::Range<usize>) {
        match kind {
            PUT => {
                let len = bytes.len() as u64;
                let record = (HEAD + 13 + meta.len()) as u64 + len;
                self.place(id, Entry { segment: n, record, offset: bytes.start as u64, len, meta });
            }
            META => {
                if let Some(e) = self.index.get_mut(&id) {
                    e.meta = meta;
                }
            }
            _ => self.unplace(id),
        }
    }

    /// Cuts segment `n` back to `at` bytes (a torn commit at the end of the last segment).
    fn cut(&mut self, n: u64, at: usize) -> Result<(), StoreError> {
        let seg = self.segments.get_mut(&n).ok_or(StoreError::Failed("segment"))?;
        seg.file.set_len(at as u64).map_err(io("cutting a torn commit"))?;
        seg.file.sync_all().map_err(io("cutting a torn commit"))?;
        seg.size = at as u64;
        Ok(())
    }

    /// Records that `id`'s latest copy is at `entry`.
    fn place(&mut self, id: BundleId, entry: Entry) {
        self.unplace(id);
        if let Some(seg) = self.segments.get_mut(&entry.segment) {
            seg.live.insert(id);
            seg.live_bytes += entry.record;
            self.live_total += entry.record;
        }
        self.index.insert(id, entry);
    }

    fn unplace(&mut self, id: BundleId) {
        if let Some(old) = self.index.remove(&id)
            && let Some(seg) = self.segments.get_mut(&old.segment)
        {
            seg.live.remove(&id);
            seg.live_bytes -= old.record;
            self.live_total -= old.record;
        }
    }

    fn new_segment(&mut self, n: u64) -> Result<(), StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(segment_path(&self.dir, n))
            .map_err(io("creating a segment"))?;
        let mut header = Vec::with_capacity(COMMIT_RECORD);
        encode(&mut header, HEADER, 0, MARK, &[]);
        file.write_all_at(&header, 0).map_err(io("writing a segment header"))?;
        file.sync_data().map_err(io("writing a segment header"))?;
        sync_dir(&self.dir)?;
        let size = header.len() as u64;
        self.segments.insert(n, Segment { file, size, live: BTreeSet::new(), live_bytes: 0 });
        Ok(())
    }

    fn current(&self) -> u64 {
        self.segments.keys().next_back().copied().unwrap_or(0)
    }

    /// Commits done since opening.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Bundles held (committed).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no bundle is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes the segment files take on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    fn read(&self, entry: &Entry) -> Option<Bytes> {
        let seg = self.segments.get(&entry.segment)?;
        let mut buf = vec![0u8; usize::try_from(entry.len).ok()?];
        seg.file.read_exact_at(&mut buf, entry.offset).ok()?;
        Some(Bytes::from(buf))
    }

    fn keep_hot(&mut self, id: BundleId, bytes: Bytes) {
        self.hot_bytes += bytes.len();
        if let Some(old) = self.hot.insert(id, bytes) {
            self.hot_bytes -= old.len();
        }
        self.hot_order.push_back(id);
        // Bundles removed before they aged out leave their ids behind: sweep now and then.
        if self.hot_order.len() > 2 * self.hot.len() + 1024 {
            let hot = &self.hot;
            self.hot_order.retain(|id| hot.contains_key(id));
        }
        while self.hot_bytes > HOT_BYTES {
            let Some(old) = self.hot_order.pop_front() else { break };
            if let Some(b) = self.hot.remove(&old) {
                self.hot_bytes -= b.len();
            }
        }
    }

    fn forget_hot(&mut self, id: BundleId) {
        if let Some(b) = self.hot.remove(&id) {
            self.hot_bytes -= b.len();
        }
    }

    /// Writes `changes` as one append and one sync.
    fn append(&mut self, changes: Vec<(BundleId, Change)>) -> Result<(), StoreError> {
        let mut buf = Vec::with_capacity(
            changes.iter().map(|(_, c)| if let Change::Put(b, m) = c { b.len() + m.len() + 32 } else { 64 }).sum(),
        );
        let mut placed = Vec::with_capacity(changes.len());
        for (id, change) in &changes {
            match change {
                Change::Put(bytes, meta) => placed.push(encode(&mut buf, PUT, *id, meta, bytes)),
                Change::Meta(meta) => {
                    encode(&mut buf, META, *id, meta, &[]);
                }
                Change::Remove => {
                    encode(&mut buf, REMOVE, *id, &[], &[]);
                }
            }
        }
        // The commit record closes the batch: recovery applies the batch only with it.
        let mut mark = Vec::with_capacity(16);
        mark.extend_from_slice(&(buf.len() as u64).to_be_bytes());
        mark.extend_from_slice(MARK);
        encode(&mut buf, COMMIT, self.sequence, &mark, &[]);
        self.sequence += 1;
        let mut n = self.current();
        let header = COMMIT_RECORD as u64 - 8;
        if self.segments.get(&n).is_some_and(|s| s.size > header && s.size + buf.len() as u64 > self.segment_bytes) {
            n += 1;
            self.new_segment(n)?;
        }
        let seg = self.segments.get_mut(&n).ok_or(StoreError::Failed("no current segment"))?;
        let base = seg.size;
        seg.file.write_all_at(&buf, base).map_err(io("writing a segment"))?;
        seg.file.sync_data().map_err(io("syncing a segment"))?;
        seg.size += buf.len() as u64;
        let mut offsets = placed.into_iter();
        for (id, change) in changes {
            match change {
                Change::Put(bytes, meta) => {
                    let at = offsets.next().unwrap_or(0) as u64;
                    let len = bytes.len() as u64;
                    let record = (HEAD + 13 + meta.len()) as u64 + len;
                    self.place(id, Entry { segment: n, record, offset: base + at, len, meta });
                    self.keep_hot(id, bytes);
                }
                Change::Meta(meta) => {
                    if let Some(e) = self.index.get_mut(&id) {
                        e.meta = meta;
                    }
                }
                Change::Remove => {
                    self.unplace(id);
                    self.forget_hot(id);
                }
            }
        }
        Ok(())
    }

    /// Refuses a new bundle while commits cannot be written.
    fn refuse_while_failing(&self, len: usize) -> Result<(), StoreError> {
        if self.disk_failed { Err(StoreError::Full { needed: len as u64, free: 0 }) } else { Ok(()) }
    }

    /// Cuts what a failed commit may have left past the current segment's end.
    fn rewind(&mut self) {
        for seg in self.segments.values() {
            let _ = seg.file.set_len(seg.size);
        }
    }

    /// Deletes the oldest segments once nothing lives in them; copies the few bundles left in
    /// the oldest segment forward first once the files hold more than twice what lives.
    fn reclaim(&mut self) -> Result<(), StoreError> {
        // Each turn deletes the oldest segment or moves what lives in it: at most one pass
        // over the segments there are, so a reclaim ends whatever the accounting says.
        for _ in 0..=self.segments.len() {
            let current = self.current();
            let Some((&oldest, seg)) = self.segments.iter().next() else { return Ok(()) };
            if oldest == current {
                return Ok(());
            }
            if !seg.live.is_empty() {
                // Copy the survivors forward once the files hold more than twice what lives
                // (plus two segments of slack), however much of the oldest segment is alive:
                // bundles waiting for a contact must not pin every later segment on disk.
                // What lives is counted in records, so zero-byte ones (tombstones, receipts)
                // count too: counted as nothing, they were copied round for ever.
                let worth_it = self.disk_bytes() > 2 * self.live_total + 2 * self.segment_bytes;
                if !worth_it {
                    return Ok(());
                }
                let ids: Vec<BundleId> = seg.live.iter().copied().collect();
                let mut moves = Vec::with_capacity(ids.len());
                for id in ids {
                    let entry = self.index.get(&id).cloned().ok_or(StoreError::Failed("index"))?;
                    let bytes = self.read(&entry).ok_or(StoreError::Failed("reading a bundle to move it"))?;
                    moves.push((id, Change::Put(bytes, entry.meta)));
                }
                self.append(moves)?;
                continue;
            }
            self.segments.remove(&oldest);
            std::fs::remove_file(segment_path(&self.dir, oldest)).map_err(io("deleting a segment"))?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

impl BundleStore for LogStore {
    fn insert(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        self.refuse_while_failing(bytes.len())?;
        self.volatile.remove(&id);
        self.staging.insert(id, bytes, meta)
    }

    fn insert_volatile(&mut self, id: BundleId, bytes: Bytes, meta: Vec<u8>) -> Result<(), StoreError> {
        // Held in memory (within the budget) while the disk refuses commits: nobody relies on
        // it surviving a crash, so it need not wait for the disk — a custody refusal ("depleted
        // storage") still reaches the custodian, and bundles without custody still pass.
        if self.staging.contains(id) && !self.volatile.contains_key(&id) {
            // Replacing a written bundle: the replacement must be written too.
            return self.insert(id, bytes, meta);
        }
        self.staging.reserve(id, bytes.len() as u64)?;
        self.volatile.insert(id, (bytes, meta, std::time::Instant::now()));
        Ok(())
    }

    fn update(&mut self, id: BundleId, meta: Vec<u8>) -> Result<(), StoreError> {
        // A record that must last: the bundle is written with it.
        if let Some((bytes, _, _)) = self.volatile.remove(&id) {
            self.staging.put(id, bytes, meta);
            return Ok(());
        }
        self.staging.update(id, meta)
    }

    fn remove(&mut self, id: BundleId) -> Result<(), StoreError> {
        if self.volatile.remove(&id).is_some() {
            self.staging.forget(id);
            return Ok(());
        }
        self.staging.remove(id)
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        // Bundles held a while are written now.
        let now = std::time::Instant::now();
        let due: Vec<BundleId> = self
            .volatile
            .iter()
            .filter(|(_, (_, _, at))| now.duration_since(*at) >= SPILL_AFTER)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some((bytes, meta, _)) = self.volatile.remove(&id) {
                self.staging.put(id, bytes, meta);
            }
        }
        if self.staging.is_clean() {
            return Ok(());
        }
        let changes = self.staging.take();
        if let Err(e) = self.append(changes.clone()) {
            // Nothing of this commit counts: its tail is cut off the segment, its changes go
            // back to be written with the next commit, and until one succeeds new bundles are
            // refused ("depleted storage") rather than the daemon failing over and over.
            self.staging.restore(changes);
            self.rewind();
            if !self.disk_failed {
                tracing::error!(error = %e, "store: a commit could not be written; refusing new bundles until one can");
            }
            self.disk_failed = true;
            return Err(StoreError::Full { needed: self.staging.used(), free: 0 });
        }
        if std::mem::take(&mut self.disk_failed) {
            tracing::warn!("store: commits are written again; taking bundles again");
        }
        self.staging.committed();
        self.commits += 1;
        self.reclaim()
    }

    fn bytes(&self, id: BundleId) -> Option<Bytes> {
        if !self.staging.contains(id) {
            return None;
        }
        let volatile = self.volatile.get(&id).map(|(b, _, _)| b);
        if let Some(b) = self.staging.pending(id).or(volatile).or_else(|| self.hot.get(&id)) {
            return Some(b.clone());
        }
        self.read(self.index.get(&id)?)
    }

    fn recover(&self) -> Result<Vec<StoredBundle>, StoreError> {
        self.index
            .iter()
            .map(|(&id, e)| {
                let bytes = self.read(e).ok_or(StoreError::Failed("reading a stored bundle"))?;
                Ok(StoredBundle { id, bytes, meta: e.meta.clone() })
            })
            .collect()
    }

    fn recover_index(&self) -> Result<Vec<(BundleId, Vec<u8>)>, StoreError> {
        Ok(self.index.iter().map(|(&id, e)| (id, e.meta.clone())).collect())
    }

    fn used_bytes(&self) -> u64 {
        self.staging.used()
    }

    fn capacity_bytes(&self) -> u64 {
        self.staging.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("dtn-logstore-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ids(store: &LogStore) -> Vec<(BundleId, Vec<u8>, Vec<u8>)> {
        store.recover().unwrap().into_iter().map(|b| (b.id, b.bytes.to_vec(), b.meta)).collect()
    }

    #[test]
    fn only_committed_changes_survive_reopening() {
        let dir = Dir::new("commit");
        {
            let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
            s.insert(1, Bytes::from_static(b"kept"), vec![1]).unwrap();
            s.insert(2, Bytes::from_static(b"removed"), vec![2]).unwrap();
            s.commit().unwrap();
            s.update(1, vec![9]).unwrap();
            s.remove(2).unwrap();
            s.commit().unwrap();
            s.insert(3, Bytes::from_static(b"lost"), vec![3]).unwrap();
            assert_eq!(s.bytes(3), Some(Bytes::from_static(b"lost")));
        }
        let s = LogStore::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(ids(&s), vec![(1, b"kept".to_vec(), vec![9])]);
        assert_eq!(s.used_bytes(), 4);
    }

    #[test]
    fn a_torn_tail_is_cut_and_earlier_corruption_refused() {
        let dir = Dir::new("torn");
        {
            let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
            s.insert(1, Bytes::from_static(b"one"), vec![]).unwrap();
            s.commit().unwrap();
            s.insert(2, Bytes::from_static(b"two"), vec![]).unwrap();
            s.commit().unwrap();
        }
        let seg = segment_path(&dir.0, 0);
        let len = std::fs::metadata(&seg).unwrap().len();
        // The second commit's record, half written.
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
        let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(ids(&s), vec![(1, b"one".to_vec(), vec![])]);
        // Writing goes on after the cut.
        s.insert(3, Bytes::from_static(b"three"), vec![]).unwrap();
        s.commit().unwrap();
        drop(s);
        let s = LogStore::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(ids(&s).len(), 2);
        drop(s);
        // A flipped bit in a closed segment is corruption, not a tail.
        std::fs::write(segment_path(&dir.0, 1), b"").unwrap();
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&seg, bytes).unwrap();
        assert!(LogStore::open(&dir.0, 1 << 20).is_err());
    }

    #[test]
    fn a_bad_record_before_a_later_commit_is_corruption_even_in_the_newest_segment() {
        let dir = Dir::new("mid-corrupt");
        {
            let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
            for (id, text) in [(1, &b"one"[..]), (2, b"two"), (3, b"three")] {
                s.insert(id, Bytes::from_static(text), vec![]).unwrap();
                s.commit().unwrap();
            }
        }
        let seg = segment_path(&dir.0, 0);
        let mut bytes = std::fs::read(&seg).unwrap();
        // Damage the second commit's bundle: a torn tail it is not, a commit follows it.
        let at = bytes.windows(3).position(|w| w == b"two").unwrap();
        bytes[at] ^= 1;
        std::fs::write(&seg, &bytes).unwrap();
        match LogStore::open(&dir.0, 1 << 20) {
            Err(StoreError::Corrupt { what, file: 0, offset }) => {
                assert_eq!(what, "a bad record");
                assert!(offset < at as u64 && at as u64 - offset < 64, "record at {offset}, damage at {at}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_exactly_between_two_records_of_a_commit_drops_the_whole_commit() {
        let dir = Dir::new("boundary");
        {
            let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
            s.insert(1, Bytes::from_static(b"first"), vec![]).unwrap();
            s.commit().unwrap();
            s.insert(2, Bytes::from_static(b"second"), vec![]).unwrap();
            s.insert(3, Bytes::from_static(b"third"), vec![]).unwrap();
            s.commit().unwrap();
        }
        let seg = segment_path(&dir.0, 0);
        let bytes = std::fs::read(&seg).unwrap();
        // Up to the end of bundle 2's record: its commit's other record and commit record gone.
        let end = bytes.windows(6).position(|w| w == b"second").unwrap() + 6;
        std::fs::write(&seg, &bytes[..end]).unwrap();
        let s = LogStore::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(ids(&s), vec![(1, b"first".to_vec(), vec![])], "half a commit is no commit");
        drop(s);
        // The same cut in a closed segment is corruption.
        std::fs::write(&seg, &bytes[..end]).unwrap();
        std::fs::write(segment_path(&dir.0, 1), b"").unwrap();
        assert!(matches!(LogStore::open(&dir.0, 1 << 20), Err(StoreError::Corrupt { file: 0, .. })));
    }

    #[test]
    fn reclaim_ends_when_what_lives_is_zero_byte_records() {
        let dir = Dir::new("tombstones");
        let store = LogStore::open_with_segments(&dir.0, 1 << 30, 4096);
        let mut s = store.unwrap();
        // Records that hold no bundle bytes (tombstones, receipts): 40,000 of them, kept.
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            for batch in 0..400u64 {
                for i in 0..100u64 {
                    s.insert(batch * 100 + i + 1, Bytes::new(), vec![7; 24]).unwrap();
                }
                s.commit().unwrap();
            }
            tx.send((s.disk_bytes(), s.len())).unwrap();
        });
        let (disk, held) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("reclaim looped");
        worker.join().unwrap();
        assert_eq!(held, 40_000);
        // What lives is some 2 MB of records; the files hold about that, not a copy per commit.
        assert!(disk < 8 << 20, "{disk} bytes on disk");
    }

    /// A 1 MiB tmpfs at a fresh directory, unmounted on drop (mounting needs root: CI runs
    /// as root; elsewhere the test fails saying so rather than pass untested).
    struct SmallDisk(PathBuf);

    impl SmallDisk {
        fn new(name: &str) -> SmallDisk {
            let d = std::env::temp_dir().join(format!("dtn-logstore-{name}-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&d);
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
                .arg(&d)
                .status()
                .is_ok_and(|s| s.success());
            assert!(mounted, "this test mounts a 1 MiB tmpfs at {} and needs root for that", d.display());
            SmallDisk(d)
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_full_disk_mid_commit_refuses_new_bundles_loses_nothing_and_resumes_when_space_frees() {
        let disk = SmallDisk::new("enospc");
        let store_dir = disk.0.join("store");
        let ballast = disk.0.join("ballast");
        std::fs::write(&ballast, vec![0u8; 512 << 10]).unwrap();
        let mut s = LogStore::open_with_segments(&store_dir, 64 << 20, 128 << 10).unwrap();
        let bundle = |i: u64| Bytes::from(vec![i as u8; 100 << 10]);
        let mut committed = Vec::new();
        let mut refused_at = None;
        for i in 1..20u64 {
            s.insert(i, bundle(i), vec![i as u8]).unwrap();
            match s.commit() {
                Ok(()) => committed.push(i),
                Err(StoreError::Full { .. }) => {
                    refused_at = Some(i);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let pending = refused_at.expect("the disk filled up");
        // Meanwhile new bundles are refused, not taken and lost.
        assert!(matches!(s.insert(100, bundle(100), vec![]), Err(StoreError::Full { .. })));
        assert!(matches!(s.commit(), Err(StoreError::Full { .. })), "still no room");
        // Space frees: the pending commit goes through by itself, and bundles are taken again.
        std::fs::remove_file(&ballast).unwrap();
        s.commit().unwrap();
        committed.push(pending);
        s.insert(101, Bytes::from_static(b"after"), vec![]).unwrap();
        s.commit().unwrap();
        drop(s);
        let s = LogStore::open_with_segments(&store_dir, 64 << 20, 128 << 10).unwrap();
        let held: Vec<u64> = ids(&s).into_iter().map(|(id, _, _)| id).collect();
        committed.push(101);
        assert_eq!(held, committed, "every committed bundle, the refused one's commit included");
        for (id, bytes, meta) in ids(&s).into_iter().filter(|(id, _, _)| *id != 101) {
            assert_eq!((bytes, meta), (bundle(id).to_vec(), vec![id as u8]));
        }
    }

    #[test]
    fn segments_roll_and_dead_ones_go() {
        let dir = Dir::new("reclaim");
        let mut s = LogStore::open(&dir.0, 1 << 40).unwrap();
        let big = Bytes::from(vec![7u8; 8 << 20]);
        // A long-lived bundle in the first segment, then churn.
        s.insert(0, Bytes::from_static(b"old"), vec![]).unwrap();
        s.commit().unwrap();
        for id in 1..60u64 {
            s.insert(id, big.clone(), vec![]).unwrap();
            s.commit().unwrap();
            if id > 1 {
                s.remove(id - 1).unwrap();
                s.commit().unwrap();
            }
        }
        // 59 × 8 MiB written; only ~8 MiB live: the files stay near that.
        assert!(s.disk_bytes() < 4 * SEGMENT_BYTES, "{} bytes on disk", s.disk_bytes());
        assert_eq!(s.bytes(0), Some(Bytes::from_static(b"old")));
        drop(s);
        let s = LogStore::open(&dir.0, 1 << 40).unwrap();
        let got = ids(&s);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (0, b"old".to_vec(), vec![]));
    }

    #[test]
    fn volatile_bundles_are_written_only_if_they_stay_or_gain_a_lasting_record() {
        let dir = Dir::new("volatile");
        {
            let mut s = LogStore::open(&dir.0, 1 << 20).unwrap();
            let empty = s.disk_bytes();
            s.insert_volatile(1, Bytes::from_static(b"passing through"), vec![1]).unwrap();
            s.insert_volatile(2, Bytes::from_static(b"custody taken later"), vec![2]).unwrap();
            s.insert_volatile(3, Bytes::from_static(b"waits for a contact"), vec![3]).unwrap();
            assert_eq!(s.used_bytes(), 15 + 19 + 19);
            assert_eq!(s.bytes(1), Some(Bytes::from_static(b"passing through")));
            s.commit().unwrap();
            assert_eq!(s.disk_bytes(), empty, "nothing written yet (the segment holds its header)");
            s.remove(1).unwrap();
            s.update(2, vec![22]).unwrap();
            s.commit().unwrap();
            std::thread::sleep(SPILL_AFTER);
            s.commit().unwrap();
            assert_eq!(s.used_bytes(), 38);
        }
        let s = LogStore::open(&dir.0, 1 << 20).unwrap();
        assert_eq!(
            ids(&s),
            vec![(2, b"custody taken later".to_vec(), vec![22]), (3, b"waits for a contact".to_vec(), vec![3])]
        );
    }

    #[test]
    fn long_lived_bundles_do_not_pin_the_disk() {
        let dir = Dir::new("pinned");
        let mut s = LogStore::open_with_segments(&dir.0, 1 << 40, 1 << 20).unwrap();
        let chunk = Bytes::from(vec![3u8; 100_000]);
        // Four bundles that wait for a contact: 40 % of the first segment stays alive.
        for id in 0..4u64 {
            s.insert(id, chunk.clone(), vec![]).unwrap();
            s.commit().unwrap();
        }
        for id in 10..400u64 {
            s.insert(id, chunk.clone(), vec![]).unwrap();
            s.commit().unwrap();
            s.remove(id).unwrap();
            s.commit().unwrap();
        }
        let live = s.used_bytes();
        assert_eq!(live, 400_000);
        assert!(s.disk_bytes() <= 2 * live + 3 * (1 << 20), "{} bytes on disk for {live} live", s.disk_bytes());
        drop(s);
        let s = LogStore::open_with_segments(&dir.0, 1 << 40, 1 << 20).unwrap();
        assert_eq!(ids(&s).len(), 4);
    }

    #[test]
    fn the_budget_holds() {
        let dir = Dir::new("budget");
        let mut s = LogStore::open(&dir.0, 10).unwrap();
        s.insert(1, Bytes::from_static(b"12345678"), vec![]).unwrap();
        assert!(matches!(s.insert(2, Bytes::from_static(b"123"), vec![]), Err(StoreError::Full { .. })));
        s.commit().unwrap();
        drop(s);
        let mut s = LogStore::open(&dir.0, 10).unwrap();
        assert_eq!(s.free_bytes(), 2);
        s.remove(1).unwrap();
        s.insert(2, Bytes::from_static(b"123"), vec![]).unwrap();
    }
}
