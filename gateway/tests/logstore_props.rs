//! Property test of the segment-log store against a model: any sequence of inserts, updates,
//! removals, commits and crashes (reopening without committing) leaves exactly the committed
//! state, with small segments so that rolling, deletion and copying forward all happen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bytes::Bytes;
use dtn_core::store::BundleStore;
use gateway::logstore::LogStore;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, usize, u8),
    InsertVolatile(u64, usize, u8),
    Update(u64, u8),
    Remove(u64),
    Commit,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12u64, 0..3000usize, any::<u8>()).prop_map(|(id, len, b)| Op::Insert(id, len, b)),
        2 => (0..12u64, 0..3000usize, any::<u8>()).prop_map(|(id, len, b)| Op::InsertVolatile(id, len, b)),
        2 => (0..12u64, any::<u8>()).prop_map(|(id, m)| Op::Update(id, m)),
        3 => (0..12u64).prop_map(Op::Remove),
        3 => Just(Op::Commit),
        1 => Just(Op::Crash),
    ]
}

/// id → (bytes, meta, volatile: may be lost in a crash).
type Model = BTreeMap<u64, (Vec<u8>, Vec<u8>, bool)>;

/// What a reopened store holds, checked against the committed model: every lasting bundle
/// exactly; a volatile one either not at all or exactly (it may have been written).
fn survivors(store: &LogStore, committed: &Model) -> Result<Model, TestCaseError> {
    let got: Model = store.recover().unwrap().into_iter().map(|b| (b.id, (b.bytes.to_vec(), b.meta, false))).collect();
    for (id, (bytes, meta, volatile)) in committed {
        match got.get(id) {
            Some((b, m, _)) => {
                prop_assert_eq!(b, bytes);
                prop_assert_eq!(m, meta);
            }
            None => prop_assert!(*volatile, "lasting bundle {} lost", id),
        }
    }
    for id in got.keys() {
        prop_assert!(committed.contains_key(id), "bundle {} came back from the dead", id);
    }
    Ok(got)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn committed_state_survives_any_crash(ops in proptest::collection::vec(op(), 1..120), case in any::<u32>()) {
        let dir = std::env::temp_dir().join(format!("dtn-logprop-{}-{case}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = || LogStore::open_with_segments(&dir, 1 << 30, 8 * 1024).unwrap();
        let mut store = open();
        let mut committed: Model = BTreeMap::new();
        let mut staged: Model = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(id, len, b) => {
                    if store.insert(id, Bytes::from(vec![b; len]), vec![b]).is_ok() {
                        staged.insert(id, (vec![b; len], vec![b], false));
                    }
                }
                Op::InsertVolatile(id, len, b) => {
                    if store.insert_volatile(id, Bytes::from(vec![b; len]), vec![b]).is_ok() {
                        staged.insert(id, (vec![b; len], vec![b], true));
                    }
                }
                Op::Update(id, m) => {
                    let ok = store.update(id, vec![m]).is_ok();
                    prop_assert_eq!(ok, staged.contains_key(&id));
                    if let Some(e) = staged.get_mut(&id) {
                        e.1 = vec![m];
                        e.2 = false;
                    }
                }
                Op::Remove(id) => {
                    let ok = store.remove(id).is_ok();
                    prop_assert_eq!(ok, staged.remove(&id).is_some());
                }
                Op::Commit => {
                    store.commit().unwrap();
                    committed = staged.clone();
                }
                Op::Crash => {
                    drop(store);
                    store = open();
                    committed = survivors(&store, &committed)?;
                    staged = committed.clone();
                }
            }
            for (id, (bytes, _, _)) in &staged {
                prop_assert_eq!(store.bytes(*id).map(|b| b.to_vec()), Some(bytes.clone()));
            }
        }
        drop(store);
        let store = open();
        let got = survivors(&store, &committed)?;
        prop_assert_eq!(store.used_bytes(), got.values().map(|(b, _, _)| b.len() as u64).sum::<u64>());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
