//! `link-sim run` on the repository's small scenario, as the README runs it: a summary, a
//! report and the four plots.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn run_writes_report_and_plots() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("link-sim-cli-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_link-sim"))
        .current_dir(&root)
        .args(["run", "examples/small.toml", "--seed", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("0 silently lost"), "{stdout}");
    assert!(stdout.contains("trace hash: "), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["seed"], 2);
    assert!(report["bundles"]["delivered"].as_u64().unwrap() > 0);
    for plot in ["latency.svg", "contacts.svg", "utilisation.svg", "custody.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"), "{plot}");
        assert!(!svg.contains("no data"), "{plot} is empty");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn missing_scenario_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_link-sim")).args(["run", "no/such.toml"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no/such.toml"), "{stderr}");
}

/// `link-sim proxy` on the shared small plan, as the README runs it: the GEO relay's link to a
/// ground station (always in view), datagrams through it and back.
#[test]
fn proxy_carries_datagrams_over_a_plan_link() {
    use std::io::{BufRead, BufReader};
    use std::net::UdpSocket;

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_link-sim"))
            .current_dir(&root)
            .args(["proxy", "--plan", "../shared/scenarios/small.csv", "--link", "201-102", "--udp"])
            .args(["--listen", "127.0.0.1:0", "--to", &far.local_addr().unwrap().to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut banner = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    // "proxy 201-102 (udp) on 127.0.0.1:PORT -> ..."
    let listen = banner.split(" on ").nth(1).and_then(|s| s.split(' ').next()).unwrap_or_default().to_string();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    far.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let sent = std::time::Instant::now();
    client.send_to(b"to the ground", &listen).unwrap();
    let mut buf = [0u8; 32];
    let (n, proxy_side) = far.recv_from(&mut buf).unwrap();
    let one_way = sent.elapsed();
    far.send_to(b"ack", proxy_side).unwrap();
    let m = client.recv(&mut buf[n..]).unwrap();
    drop(child);
    assert_eq!(&buf[..n], b"to the ground", "{banner}");
    assert_eq!(&buf[n..n + m], b"ack");
    // GEO to ground: 0.129 s of light time each way.
    assert!(one_way.as_secs_f64() > 0.128, "{one_way:?}: {banner}");
}

/// The proxy runs until stopped: stop it however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
