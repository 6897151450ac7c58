//! One store, one daemon: an advisory lock on a file beside the store, held for the life of
//! the gateway. A second gateway started on the same `storage.path` fails at once, naming the
//! holder, instead of appending to the same segments.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process dies: the kernel lets go).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

impl StoreLock {
    /// The lock file for a store at `store`: `LOCK` inside a store directory, `<file>.lock`
    /// beside a single-file store.
    pub fn path_for(store: &Path, directory: bool) -> PathBuf {
        if directory {
            store.join("LOCK")
        } else {
            let mut name = store.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            name.push(".lock");
            store.with_file_name(name)
        }
    }

    /// Takes the lock for the store at `store`, writing this process's ID into it; fails with
    /// the holder's ID when another process (or another gateway in this one) holds it.
    pub fn acquire(store: &Path, directory: bool) -> Result<StoreLock, String> {
        let path = Self::path_for(store, directory);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| format!("store {}: {e}", parent.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("store lock {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                return Err(format!(
                    "store {} is in use by {holder} (lock {}): one store serves one gateway",
                    store.display(),
                    path.display()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(format!("store lock {}: {e}", path.display())),
        }
        let me = format!("gateway pid {}\n", std::process::id());
        let written = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(me.as_bytes()));
        written.map_err(|e| format!("store lock {}: {e}", path.display()))?;
        Ok(StoreLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_id_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("store-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = StoreLock::acquire(&dir, true).unwrap();
        assert_eq!(first.path(), dir.join("LOCK"));
        let err = StoreLock::acquire(&dir, true).unwrap_err();
        assert!(err.contains(&format!("in use by gateway pid {}", std::process::id())), "{err}");
        drop(first);
        let again = StoreLock::acquire(&dir, true).unwrap();
        drop(again);
        let file = dir.join("one.redb");
        assert_eq!(StoreLock::path_for(&file, false), dir.join("one.redb.lock"));
        let _single = StoreLock::acquire(&file, false).unwrap();
        assert!(StoreLock::acquire(&file, false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
