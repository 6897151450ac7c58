//! Delivery into a directory: one file per ADU, named by the bundle's source and creation
//! timestamp, written to a temporary name, synced and renamed. The name identifies the ADU,
//! so a delivery repeated after a crash finds its file and is not written twice.

use std::io::Write;
use std::path::{Path, PathBuf};

use dtn_core::bpa::Delivery;

/// Characters of a non-`ipn` source kept readable in a file name.
const PREFIX_CHARS: usize = 64;

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

    /// The file name of a delivery, unique per ADU and at most 200 bytes (file systems take
    /// 255). An `ipn` source maps one to one: `ipn_<node>.<service>_<creation ms>_<seq>.adu`.
    /// Any other source (a `dtn` URI may hold any character and any length) is shortened to a
    /// readable prefix and followed by a SHA-256 digest of the whole EID, so neither a long
    /// name nor two sources that read alike (`dtn://a/b-c`, `dtn://a/b_c`) can block or drop an
    /// ADU: `<prefix>_<creation ms>_<seq>_<digest>.adu`.
    pub fn file_name(d: &Delivery) -> String {
        let (time, seq) = (d.creation.time.0, d.creation.sequence);
        if let dtn_core::eid::Eid::Ipn(_) = d.source {
            // Digits, a dot and the scheme: nothing to escape, nothing to collide.
            let source = d.source.to_string().replacen(':', "_", 1);
            return format!("{source}_{time}_{seq}.adu");
        }
        let full = d.source.to_string();
        let prefix: String = full
            .chars()
            .take(PREFIX_CHARS)
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
            .collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, full.as_bytes());
        let hex: String = digest.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{prefix}_{time}_{seq}_{hex}.adu")
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

    fn from(source: &str, payload: &'static [u8]) -> Delivery {
        Delivery {
            endpoint: "ipn:2.1".parse().unwrap(),
            source: source.parse().unwrap(),
            creation: CreationTimestamp::new(DtnTime(5), 7),
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn long_sources_and_sources_that_read_alike_neither_block_nor_drop_an_adu() {
        let dir = std::env::temp_dir().join(format!("dtn-deliver-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let w = DirWriter::open(&dir).unwrap();
        let long = format!("dtn://{}/app", "n".repeat(1_000));
        let deliveries = [from(&long, b"long"), from("dtn://a/b-c", b"dash"), from("dtn://a/b_c", b"underscore")];
        for d in &deliveries {
            let name = DirWriter::file_name(d);
            assert!(name.len() <= 200, "{} bytes", name.len());
            assert!(w.write_file(d).unwrap(), "{name} written");
        }
        w.sync().unwrap();
        let mut names: Vec<String> = deliveries.iter().map(DirWriter::file_name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 3, "unique names");
        for d in &deliveries {
            assert_eq!(std::fs::read(dir.join(DirWriter::file_name(d))).unwrap(), &d.payload[..]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
