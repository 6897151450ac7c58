//! The redb store keeps the durable-commit contract across reopening the file (what a
//! `kill -9` leaves), enforces its budget, and carries an agent's bundles over a restart.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, Event, LinkId, NodeConfig, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use dtn_core::routing::{Priority, StaticRouter};
use dtn_core::store::{BundleStore, StoreError};
use dtn_core::time::DtnTime;
use gateway::store::RedbStore;

/// A fresh directory for one test (removed when dropped).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dtn-redb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("store.redb")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn only_committed_changes_survive_reopening() {
    let dir = Scratch::new("commit");
    {
        let mut store = RedbStore::open(&dir.file(), 1 << 20).unwrap();
        store.insert(1, Bytes::from_static(b"kept"), vec![1]).unwrap();
        store.insert(2, Bytes::from_static(b"removed"), vec![2]).unwrap();
        store.commit().unwrap();
        store.update(1, vec![9]).unwrap();
        store.remove(2).unwrap();
        store.commit().unwrap();
        // Staged, never committed: gone after the "crash".
        store.insert(3, Bytes::from_static(b"lost"), vec![3]).unwrap();
        store.update(1, vec![7]).unwrap();
        assert_eq!(store.bytes(3), Some(Bytes::from_static(b"lost")), "staged bytes are readable");
    }
    let store = RedbStore::open(&dir.file(), 1 << 20).unwrap();
    let all = store.recover().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].id, all[0].bytes.as_ref(), all[0].meta.as_slice()), (1, &b"kept"[..], &[9u8][..]));
    assert_eq!(store.bytes(1), Some(Bytes::from_static(b"kept")));
    assert_eq!(store.used_bytes(), 4);
}

#[test]
fn the_budget_is_enforced_and_counted_after_reopening() {
    let dir = Scratch::new("budget");
    let mut store = RedbStore::open(&dir.file(), 100).unwrap();
    store.insert(1, Bytes::from(vec![0u8; 60]), Vec::new()).unwrap();
    assert_eq!(store.insert(2, Bytes::from(vec![0u8; 60]), Vec::new()), Err(StoreError::Full { needed: 60, free: 40 }));
    store.commit().unwrap();
    drop(store);
    let mut store = RedbStore::open(&dir.file(), 100).unwrap();
    assert_eq!(store.free_bytes(), 40);
    assert!(matches!(store.insert(2, Bytes::from(vec![0u8; 41]), Vec::new()), Err(StoreError::Full { .. })));
    assert_eq!(store.remove(7), Err(StoreError::Unknown(7)));
}

#[test]
fn an_agent_resumes_its_queue_from_the_file() {
    let dir = Scratch::new("agent");
    let t0 = DtnTime(757_382_400_000);
    let agent = |store| {
        let mut router = StaticRouter::new();
        router.add(2, 2);
        (NodeConfig::new(1), store, router)
    };
    {
        let (config, store, router) = agent(RedbStore::open(&dir.file(), 1 << 20).unwrap());
        let mut a = Bpa::new(config, store, router);
        let submit = Submission {
            token: 7,
            source: None,
            destination: Eid::ipn(2, 1),
            payload: Bytes::from_static(b"survives kill -9"),
            lifetime_ms: 3_600_000,
            flags: BundleFlags::default(),
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        };
        a.handle(Event::Submit(submit), t0).unwrap();
        let actions: Vec<Action> = core::iter::from_fn(|| a.poll_action()).collect();
        assert!(actions.iter().any(|x| matches!(x, Action::Accepted { token: 7, .. })), "acknowledged once durable");
        // Dropped without any shutdown: what the file holds is all that is left.
    }
    let (config, store, router) = agent(RedbStore::open(&dir.file(), 1 << 20).unwrap());
    let mut a = Bpa::recover(config, store, router, t0).unwrap();
    a.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, t0).unwrap();
    let sent: Vec<Bytes> = core::iter::from_fn(|| a.poll_action())
        .filter_map(|x| if let Action::Transmit { bytes, .. } = x { Some(bytes) } else { None })
        .collect();
    assert_eq!(sent.len(), 1);
    let bundle = dtn_core::Bundle::parse(sent[0].clone(), dtn_core::ParseMode::Strict).unwrap();
    assert_eq!(bundle.payload().as_ref(), b"survives kill -9");
}
