//! Running real `dtn gateway` processes in tests: a scratch directory per test, the config
//! written there, the process started and its `ready` line read for the bound addresses.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A directory for one test, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dtn-gw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gateway process.
pub struct Gateway {
    pub child: Child,
    pub tcpcl: Vec<SocketAddr>,
    pub mtcp: Vec<SocketAddr>,
    pub quic: Vec<SocketAddr>,
    pub ltp: Vec<SocketAddr>,
    pub app: Vec<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub config: PathBuf,
}

/// The `dtn` binary under test.
pub fn dtn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dtn"))
}

impl Gateway {
    /// Writes `toml` to `dir/name.toml` and starts a gateway on it.
    pub fn start(dir: &Path, name: &str, toml: &str) -> Gateway {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, toml).unwrap();
        Self::start_file(&config, &dir.join(format!("{name}.log")))
    }

    /// Starts a gateway on an existing config file, logging to `log`.
    pub fn start_file(config: &Path, log: &Path) -> Gateway {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = dtn()
            .args(["gateway", "run", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        assert!(line.starts_with("ready "), "gateway {} did not start: {line:?}", config.display());
        let field = |key: &str| -> Vec<SocketAddr> {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(key))
                .map(|v| v.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect())
                .unwrap_or_default()
        };
        let tcpcl = field("tcpcl=");
        let mtcp = field("mtcp=");
        let quic = field("quic=");
        let ltp = field("ltp=");
        let app = field("app=");
        let admin = field("admin=").first().copied();
        Gateway { child, tcpcl, mtcp, quic, ltp, app, admin, config: config.to_path_buf() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (at most `within`) for a clean exit.
    pub fn terminate(mut self, within: Duration) -> std::process::ExitStatus {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < within, "gateway did not stop within {within:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET on the admin API (plain HTTP/1.0 over a TCP stream).
    pub fn get(&self, path: &str) -> String {
        http_get(self.admin.expect("admin API configured"), path)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dtn cert ca` into `dir/ca` (once), then a certificate naming `uri` as `dir/name`
/// (replacing one of that name).
pub fn issue(dir: &Path, name: &str, uri: &str) {
    issue_naming(dir, name, &[uri]);
}

/// As [`issue`], for a certificate naming every one of `uris`.
pub fn issue_naming(dir: &Path, name: &str, uris: &[&str]) {
    if !dir.join("ca.pem").exists() {
        let out = dtn().args(["cert", "ca", "--out"]).arg(dir.join("ca")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut command = dtn();
    command.args(["cert", "issue", "--force", "--ca"]).arg(dir.join("ca"));
    for uri in uris {
        command.args(["--node", uri]);
    }
    let out = command.arg("--out").arg(dir.join(name)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// TLS material from `dir/name.pem`, `dir/name.key` and the anchors `dir/ca.pem` (files
/// `issue` wrote).
pub fn tls(dir: &Path, name: &str, ca: &str) -> gateway::tcpcl::TlsSetup {
    gateway::tcpcl::TlsSetup::from_pem_files(
        &dir.join(format!("{name}.pem")),
        &dir.join(format!("{name}.key")),
        &dir.join(format!("{ca}.pem")),
        gateway::tcpcl::NodeIdPolicy::None,
    )
    .unwrap()
}

/// The `[app]` section of a ground gateway whose certificate is `ground` (see `issue`).
pub fn app_section() -> &'static str {
    "[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"ground.pem\"\nkey = \"ground.key\"\nca = \"ca.pem\"\n"
}

/// A ground gateway (node 2) with the application bridge, holding `budget`, with `extra`
/// lines for its `[app]` section.
pub fn app_ground(dir: &Path, budget: &str, extra: &str) -> Gateway {
    Gateway::start(
        dir,
        "ground",
        &format!("[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"{budget}\"\n{}{extra}", app_section()),
    )
}

/// A minimal HTTP GET: the response body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    body.to_string()
}

/// Waits until `f` holds, polling; false after `within`.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A counter from `/counters` JSON.
pub fn counter(gw: &Gateway, name: &str) -> u64 {
    let body = gw.get("/counters");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// A small tmpfs at a fresh directory, unmounted on drop. Mounting needs root (CI runs as
/// root); elsewhere a test using it fails saying so rather than passing untested.
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub fn new(name: &str, size: &str) -> SmallDisk {
        let d = std::env::temp_dir().join(format!("dtn-disk-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&d)
            .status()
            .is_ok_and(|s| s.success());
        assert!(mounted, "this test mounts a {size} tmpfs at {} and needs root for that", d.display());
        SmallDisk(d)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A memory figure of a process from `/proc/PID/status`, KiB: `VmRSS` (resident now) or
/// `VmHWM` (the most it was resident); 0 if the process is gone.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends 2,000 bundles of 1 KiB and 20 of 1 MiB into `a` over TCPCL for node 4,000,000, which
/// `a` routes to `b`, and takes them off `b` (TCPCL): every one must arrive.
pub fn load_through(a: &Gateway, b: &Gateway) {
    use gateway::loadgen::{self, LoadSpec};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for (size, count) in [(1024usize, 2000u64), (1 << 20, 20)] {
        let spec = LoadSpec {
            to: a.tcpcl[0],
            back: Some(b.tcpcl[0]),
            node: 4_000_000,
            destination: None,
            size,
            count,
            window: 500,
            tls: None,
            timeout: Duration::from_secs(60),
            expect_return: true,
        };
        let report = runtime.block_on(loadgen::run(spec)).unwrap();
        assert_eq!(report.received, count, "{report}");
    }
    assert!(counter(a, "transmissions_ok") >= 2020);
}
