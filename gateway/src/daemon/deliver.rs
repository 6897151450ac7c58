//! Delivery into a directory: one file per ADU, named by the bundle's source and creation
//! timestamp, written to a temporary name, synced and renamed. The name identifies the ADU,
//! so a delivery repeated after a crash finds its file and is not written twice.

use std::io::Write;
use std::path::{Path, PathBuf};

use dtn_core::bpa::Delivery;

/// Writes deliveries for one endpoint.
#[derive(Debug)]
pub struct DirWriter {
    dir: PathBuf,
}

impl DirWriter {
    /// Creates the directory if needed.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(DirWriter { dir: dir.to_path_buf() })
    }

    /// The file name of a delivery: `<source>_<creation ms>_<sequence>.adu`, with the
    /// source's `:` and `/` made safe.
    pub fn file_name(d: &Delivery) -> String {
        let source: String =
            d.source.to_string().chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
        format!("{source}_{}_{}.adu", d.creation.time.0, d.creation.sequence)
    }

    /// Writes a delivery's file (synced) and renames it into place; durable once
    /// [`DirWriter::sync`] returns (the renames are in the directory). `Ok(false)`: it was
    /// written before.
    pub fn write_file(&self, d: &Delivery) -> std::io::Result<bool> {
        let path = self.dir.join(Self::file_name(d));
        if path.exists() {
            return Ok(false);
        }
        let tmp = self.dir.join(format!(".{}.part", Self::file_name(d)));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&d.payload)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        Ok(true)
    }

    /// Makes the renames so far reach the disk (before the agent forgets the bundles).
    pub fn sync(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use dtn_core::time::{CreationTimestamp, DtnTime};

    #[test]
    fn a_delivery_is_written_once() {
        let dir = std::env::temp_dir().join(format!("dtn-deliver-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let w = DirWriter::open(&dir).unwrap();
        let d = Delivery {
            endpoint: "ipn:2.1".parse().unwrap(),
            source: "ipn:100.1".parse().unwrap(),
            creation: CreationTimestamp::new(DtnTime(5), 7),
            payload: Bytes::from_static(b"hello"),
        };
        assert!(w.write_file(&d).unwrap());
        w.sync().unwrap();
        assert!(!w.write_file(&d).unwrap(), "a repeat is not written again");
        assert_eq!(std::fs::read(dir.join("ipn_100.1_5_7.adu")).unwrap(), b"hello");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
