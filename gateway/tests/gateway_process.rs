//! Real `dtn gateway` processes on loopback: two gateways exchanging bundles over TCPCLv4 with
//! TLS (certificates made here), a certificate naming the wrong node refused, configuration
//! errors with their line, plan reload on SIGHUP, shutdown on SIGTERM, and peers that send
//! garbage, oversize transfers or nothing at all while the daemon keeps serving others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dtn_core::cla::tcpcl::{
    EXT_TRANSFER_LENGTH, ExtItem, Limits, Message, SegmentFlags, SessInit, SessionConfig, frame_len,
};
use gateway::loadgen::{self, LoadSpec};
use gateway::tcpcl::{NodeIdPolicy, TcpclConfig, TlsSetup};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, string::Ia5String};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::{Gateway, Scratch, counter, dtn, eventually};

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    cert: rcgen::Certificate,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Ca { params, key, cert }
}

/// Writes `<name>.pem`, `<name>.key` (naming `uri`) and `ca.pem` into `dir`; returns the
/// material for in-process use too.
fn issue(ca: &Ca, dir: &Path, name: &str, uri: &str) -> TlsSetup {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::URI(Ia5String::try_from(uri).unwrap())];
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).unwrap();
    TlsSetup {
        chain: vec![cert.der().clone()],
        key: Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))),
        roots: vec![CertificateDer::from(ca.cert.der().to_vec())],
        policy: NodeIdPolicy::Require,
    }
}

fn tls_section(name: &str) -> String {
    format!("[tcpcl.tls]\ncert = \"{name}.pem\"\nkey = \"{name}.key\"\nca = \"ca.pem\"\nnode_id_policy = \"require\"\n")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn load(
    to: std::net::SocketAddr,
    back: std::net::SocketAddr,
    count: u64,
    size: usize,
    tls: Option<TlsSetup>,
) -> loadgen::LoadReport {
    let spec = LoadSpec {
        to,
        back: Some(back),
        node: 4_000_000,
        destination: None,
        size,
        count,
        window: 1000,
        tls,
        timeout: Duration::from_secs(30),
        expect_return: true,
    };
    runtime().block_on(loadgen::run(spec)).unwrap()
}

#[test]
fn two_gateways_exchange_over_tls_and_refuse_a_wrong_node_id() {
    let dir = Scratch::new("tls");
    let ca = ca();
    issue(&ca, &dir.0, "b", "ipn:2.0");
    issue(&ca, &dir.0, "a", "ipn:1.0");
    issue(&ca, &dir.0, "c", "ipn:9.0");
    let bench_tls = issue(&ca, &dir.0, "bench", "ipn:4000000.0");
    let b = Gateway::start(
        &dir.0,
        "b",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n{}\
             [[route]]\ndest = 4000000\nvia = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            tls_section("b")
        ),
    );
    let b_addr = b.tcpcl[0];
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"256 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n{}\
             [[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"{b_addr}\"\n\
             [[route]]\ndest = 4000000\nvia = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            tls_section("a")
        ),
    );
    assert!(eventually(Duration::from_secs(20), || a.get("/links").contains("\"peer\":2")), "A never reached B");
    assert!(a.get("/links").contains("\"tls\":true"), "{}", a.get("/links"));

    // A → B, then B → A, each a few hundred bundles and a 1 MiB one, over TLS.
    let report = load(a.tcpcl[0], b_addr, 300, 2048, Some(bench_tls.clone()));
    assert_eq!(report.received, 300, "{report}");
    assert!(report.tls);
    let report = load(b_addr, a.tcpcl[0], 300, 2048, Some(bench_tls.clone()));
    assert_eq!(report.received, 300, "{report}");
    let report = load(a.tcpcl[0], b_addr, 3, 1 << 20, Some(bench_tls));
    assert_eq!(report.received, 3, "{report}");

    // Node 3 presents a certificate naming ipn:9.0: B refuses it.
    let failures_before = counter(&b, "session_failures");
    let c = Gateway::start(
        &dir.0,
        "c",
        &format!(
            "[node]\nid = 3\n[storage]\npath = \"c.store\"\nbudget = \"16 MiB\"\n[tcpcl]\n{}\
             [[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"{b_addr}\"\n",
            tls_section("c")
        ),
    );
    assert!(
        eventually(Duration::from_secs(20), || counter(&b, "session_failures") > failures_before),
        "B did not refuse node 3"
    );
    assert!(!b.get("/links").contains("\"peer\":3"), "{}", b.get("/links"));
    drop(c);
    assert!(a.terminate(Duration::from_secs(15)).success());
    assert!(b.terminate(Duration::from_secs(15)).success());
}

#[test]
fn configuration_errors_name_the_line() {
    let dir = Scratch::new("config");
    let cases = [
        ("[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = \"12 parsecs\"\n", ":5:", "unknown unit"),
        (
            "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = 1000\n[[peer]]\nnode = 3\ncla = \"udp\"\n",
            ":8:",
            "cla",
        ),
        ("[node]\nid = 2\nnmae = \"x\"\n[storage]\npath = \"s.store\"\nbudget = 1000\n", ":3:", "unknown field"),
        (
            "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = 1000\n[[endpoint]]\neid = \"ipn:3.1\"\ndeliver = \"sink\"\n",
            ":7:",
            "not on node 2",
        ),
        (
            "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = 1000\n[tcpcl]\nlisten = [\"nowhere\"]\n",
            ":7:",
            "listen",
        ),
        (
            "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = 1000\n[ltp]\nlisten = [\"127.0.0.1:0\"]\ngreen = [\"ipn:*.7\", \"ipn:1.x\"]\n",
            ":8:28",
            "green = \"ipn:1.x\": invalid EID pattern at byte 6",
        ),
    ];
    for (text, line, words) in cases {
        let path = dir.path("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = dtn().args(["gateway", "check-config", "--config"]).arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        assert!(err.contains(line) && err.contains(words), "expected {line} and {words:?} in {err:?}");
    }
    // The documented examples stay valid.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let configs = ["gateway", "ltp"].iter().flat_map(|d| std::fs::read_dir(examples.join(d)).unwrap());
    for entry in configs {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = dtn().args(["gateway", "check-config", "--config"]).arg(&path).output().unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }
    let good = dir.path("good.toml");
    std::fs::write(&good, "[node]\nid = 2\n[storage]\npath = \"s.store\"\nbudget = \"1 GiB\"\n").unwrap();
    let out = dtn().args(["gateway", "check-config", "--config"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
}

#[test]
fn sighup_reloads_the_plan_and_sigterm_stops_cleanly() {
    let dir = Scratch::new("reload");
    let plan = dir.path("plan.rc");
    std::fs::write(&plan, "a contact +0 +86400 2 7 1000000\na range +0 +86400 2 7 1\n").unwrap();
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"16 MiB\"\n[plans]\nfiles = [\"plan.rc\"]\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    let contacts = gw.get("/contacts");
    assert!(contacts.contains("\"to\":7") && !contacts.contains("\"to\":8"), "{contacts}");
    std::fs::write(&plan, "a contact +0 +86400 2 8 1000000\na range +0 +86400 2 8 1\n").unwrap();
    gw.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || gw.get("/contacts").contains("\"to\":8")),
        "{}",
        gw.get("/contacts")
    );
    assert!(!gw.get("/contacts").contains("\"to\":7"));
    assert_eq!(counter(&gw, "plan_reloads"), 1);
    // A broken plan is refused and the old one stays.
    std::fs::write(&plan, "a contact +0 banana 2 9 1\n").unwrap();
    gw.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(gw.get("/contacts").contains("\"to\":8"));
    let status = gw.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

/// `count` 1 KiB bundles through the echo endpoint `ipn:2.7` (of the gateway at `addr`, or
/// one it routes to); all must come back. The seconds it took.
fn echo_round_trips(addr: std::net::SocketAddr, count: u64) -> f64 {
    let spec = LoadSpec {
        to: addr,
        back: None,
        node: 4_000_000,
        destination: Some("ipn:2.7".parse().unwrap()),
        size: 1024,
        count,
        window: 50,
        tls: None,
        timeout: Duration::from_secs(30),
        expect_return: true,
    };
    let report = runtime().block_on(loadgen::run(spec)).unwrap();
    assert_eq!(report.received, count, "{report}");
    report.seconds
}

/// Raw TCP to the gateway: what it answers to garbage.
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

/// Contact header, SESS_INIT, then the start of a 200 kB transfer; what the gateway says.
fn oversize_transfer(addr: std::net::SocketAddr) -> Vec<Message> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut out = b"dtn!\x04\x00".to_vec();
    let init = SessInit {
        keepalive_s: 0,
        segment_mru: 1 << 20,
        transfer_mru: 1 << 20,
        node_id: "ipn:6.0".into(),
        extensions: Vec::new(),
    };
    out.extend(Message::SessInit(init).encode());
    let length = ExtItem {
        critical: false,
        item_type: EXT_TRANSFER_LENGTH,
        value: Bytes::copy_from_slice(&200_000u64.to_be_bytes()),
    };
    out.extend(
        Message::XferSegment {
            flags: SegmentFlags { start: true, end: false },
            transfer_id: 1,
            extensions: vec![length],
            data: Bytes::from(vec![0u8; 1000]),
        }
        .encode(),
    );
    s.write_all(&out).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let mut messages = Vec::new();
    let mut rest = Bytes::from(got).slice(6..);
    let limits = Limits::default();
    while let Ok(Some(len)) = frame_len(&rest, &limits) {
        messages.push(Message::parse(&rest.slice(..len), &limits).unwrap());
        rest = rest.slice(len..);
    }
    messages
}

#[test]
fn misbehaving_peers_do_not_stop_the_daemon() {
    let dir = Scratch::new("misbehave");
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"64 MiB\"\n\
         [[endpoint]]\neid = \"ipn:2.7\"\ndeliver = \"echo\"\n\
         [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\nkeepalive_s = 1\ntransfer_mru = \"64 KiB\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    let addr = gw.tcpcl[0];
    // Not TCPCL at all: closed without a word (RFC 9174 4.3).
    let answer = raw_exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with(b"dtn!") || answer.is_empty(), "{answer:?}");
    // Version 3: SESS_TERM "version mismatch" after our contact header.
    let answer = raw_exchange(addr, b"dtn!\x03\x00");
    assert!(answer.windows(2).any(|w| w == [0x05, 0x00]), "no SESS_TERM in {answer:?}");

    // A transfer declared above the gateway's 64 KiB transfer MRU: XFER_REFUSE, and the
    // session lives on.
    let refused = oversize_transfer(addr);
    assert!(
        refused.iter().any(|m| matches!(m, Message::XferRefuse { transfer_id: 1, .. })),
        "no XFER_REFUSE in {refused:?}"
    );
    assert!(!refused.iter().any(|m| matches!(m, Message::SessTerm { .. })), "session ended: {refused:?}");

    let rt = runtime();
    rt.block_on(async {
        let config = Arc::new(TcpclConfig::new(SessionConfig::new("ipn:5.0"), None));
        let link = gateway::tcpcl::connect(addr, config.clone()).await.unwrap();
        let mut parts = link.into_parts();
        // A bundle that is not one: received by TCPCL, rejected by the agent.
        parts.outbound.send(Bytes::from_static(b"\x9f\x00not a bundle")).await.unwrap();
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(10), parts.outcomes.recv()).await.unwrap(),
            Some((0, true))
        );
        drop(parts.outbound);
        // A peer that sends its contact header and then nothing is dropped.
        let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stalled.write_all(b"dtn!\x04\x00").await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut sink)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(20), "stalled peer kept {:?}", started.elapsed());
    });
    assert!(eventually(Duration::from_secs(5), || counter(&gw, "bundles_rejected") == 1));
    // Still serving: bundles to its echo endpoint come back.
    echo_round_trips(addr, 200);
    assert!(gw.terminate(Duration::from_secs(10)).success());
}

#[test]
fn links_follow_the_plan_and_its_rate() {
    let dir = Scratch::new("plan-links");
    let b = Gateway::start(
        &dir.0,
        "b",
        "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"64 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n",
    );
    // Node 1 may send to node 2 from 3 s after it starts, at 500 kB/s.
    std::fs::write(dir.path("plan.rc"), "a contact +3 +3600 1 2 500000\na range +0 +3600 1 2 1\n").unwrap();
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"64 MiB\"\n[plans]\nfiles = [\"plan.rc\"]\n\
             [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n[[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"{}\"\n\
             [[route]]\ndest = 4000000\nvia = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            b.tcpcl[0]
        ),
    );
    let started = std::time::Instant::now();
    assert!(!a.get("/links").contains("\"peer\":2"), "dialled before the contact: {}", a.get("/links"));
    assert!(a.get("/contacts").contains("\"active\":false"), "{}", a.get("/contacts"));
    assert!(eventually(Duration::from_secs(15), || a.get("/links").contains("\"peer\":2")));
    assert!(started.elapsed() >= Duration::from_millis(2500), "link up after {:?}", started.elapsed());
    assert!(a.get("/contacts").contains("\"active\":true"));
    // 1 MB through the outduct at 500 kB/s: about 2 s.
    let spec = LoadSpec {
        to: a.tcpcl[0],
        back: Some(b.tcpcl[0]),
        node: 4_000_000,
        destination: None,
        size: 25_000,
        count: 40,
        window: 40,
        tls: None,
        timeout: Duration::from_secs(30),
        expect_return: true,
    };
    let report = runtime().block_on(loadgen::run(spec)).unwrap();
    assert_eq!(report.received, 40, "{report}");
    assert!((1.5..6.0).contains(&report.seconds), "1 MB at 500 kB/s took {} s", report.seconds);
}

#[test]
fn idle_links_stay_up_and_a_link_down_says_why() {
    let dir = Scratch::new("idle-links");
    let b = Gateway::start(
        &dir.0,
        "b",
        "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"16 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
         keepalive_s = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"16 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
             keepalive_s = 1\n[[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            b.tcpcl[0]
        ),
    );
    assert!(eventually(Duration::from_secs(10), || a.get("/links").contains("\"peer\":2")));
    // Five keepalive intervals of an idle link: it stays the one session.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(counter(&a, "sessions_established"), 1, "the idle link flapped");
    assert_eq!(counter(&b, "sessions_established"), 1, "the idle link flapped");
    // Node 2 goes away: node 1 logs the link's end with the reason.
    b.kill();
    let log = dir.path("a.log");
    let said = eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("link down") && l.contains("reason"))
    });
    assert!(said, "{}", std::fs::read_to_string(&log).unwrap_or_default());
}

#[test]
fn a_peer_that_restarts_is_dialled_again_at_once_after_a_session_that_carried_bundles() {
    let dir = Scratch::new("redial");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let b_toml = format!(
        "[node]\nid = 2\n[storage]\npath = \"b.store\"\nbudget = \"16 MiB\"\n\
         [[endpoint]]\neid = \"ipn:2.7\"\ndeliver = \"echo\"\n\
         [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:{port}\"]\n[[route]]\ndest = 4000000\nvia = 1\n"
    );
    let mut b = Gateway::start(&dir.0, "b", &b_toml);
    let a = Gateway::start(
        &dir.0,
        "a",
        &format!(
            "[node]\nid = 1\n[storage]\npath = \"a.store\"\nbudget = \"16 MiB\"\n[tcpcl]\nunauthenticated = \"trusted\"\n\
             listen = [\"127.0.0.1:0\"]\n[[peer]]\nnode = 2\ncla = \"tcpcl\"\naddress = \"127.0.0.1:{port}\"\n"
        ),
    );
    // B crashes and comes back six times, each session carrying bundles but lasting less
    // than the dialer's five seconds: a reachable peer all the same.
    for _ in 0..6 {
        echo_round_trips(a.tcpcl[0], 5);
        b.kill();
        b = Gateway::start_file(&dir.path("b.toml"), &dir.path("b.log"));
    }
    // The seventh time A is back within moments, not after a backoff doubled six times
    // (12.8 s).
    let took = echo_round_trips(a.tcpcl[0], 5);
    assert!(took < 4.0, "A took {took:.1} s to reach B again");
    drop(b);
}

#[test]
fn a_second_gateway_on_the_same_store_is_refused_naming_the_first() {
    let dir = Scratch::new("store-lock");
    let toml = "[node]\nid = 2\n[storage]\npath = \"shared.store\"\nbudget = \"16 MiB\"\n";
    let first = Gateway::start(&dir.0, "first", toml);
    std::fs::write(dir.path("second.toml"), toml).unwrap();
    let second = dtn().args(["gateway", "run", "--config"]).arg(dir.path("second.toml")).output().unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains(&format!("is in use by gateway pid {}", first.pid())), "{said}");
    // Once the first is gone (even killed), the store opens again.
    first.kill();
    let again = Gateway::start(&dir.0, "again", toml);
    let status = again.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_unauthenticated_session_gets_no_bundles_for_the_node_it_claims() {
    let dir = Scratch::new("unauthenticated");
    // Node 2 holds bundles for node 7 (a configured peer it dials at a dead address); a
    // stranger opens a session without TLS claiming to be node 7.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gw = Gateway::start(
        &dir.0,
        "g",
        &format!(
            "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"16 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
             [[peer]]\nnode = 7\ncla = \"tcpcl\"\naddress = \"{dead}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
        ),
    );
    let spec = |count| LoadSpec {
        to: gw.tcpcl[0],
        back: None,
        node: 7,
        destination: Some("ipn:7.1".parse().unwrap()),
        size: 100,
        count,
        window: count,
        tls: None,
        timeout: Duration::from_secs(3),
        expect_return: true,
    };
    // The claimant's own bundles are taken in (acknowledged), but none come back to it.
    let report = runtime().block_on(loadgen::run(spec(5))).unwrap();
    assert_eq!(report.received, 0, "{report}");
    assert!(
        eventually(Duration::from_secs(5), || gw.get("/bundles").matches("\"destination_node\":7").count() == 5),
        "{}",
        gw.get("/bundles")
    );
    let log = std::fs::read_to_string(dir.path("g.log")).unwrap();
    assert!(log.contains("unauthenticated session"), "{log}");
}

#[test]
fn a_thousand_idle_connections_do_not_stop_the_daemon_and_idle_ones_are_closed() {
    let dir = Scratch::new("idle-flood");
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"64 MiB\"\n\
         [[endpoint]]\neid = \"ipn:2.7\"\ndeliver = \"echo\"\n\
         [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:0\"]\n[mtcp]\nlisten = [\"127.0.0.1:0\"]\n\
         [limits]\nmtcp_idle_s = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    // 500 connections to each listener that never say a word.
    let idle: Vec<std::net::TcpStream> = (0..1_000)
        .map(|i| std::net::TcpStream::connect(if i % 2 == 0 { gw.tcpcl[0] } else { gw.mtcp[0] }).unwrap())
        .collect();
    // The daemon serves on: its admin API answers and bundles through its echo come back.
    assert!(gw.get("/node").contains("\"node\":2"));
    echo_round_trips(gw.tcpcl[0], 200);
    // The silent MTCP connections are closed after the idle timeout (2 s here).
    use std::io::Read;
    let mut mtcp = idle.into_iter().skip(1).step_by(2).next().unwrap();
    mtcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut sink = [0u8; 16];
    assert_eq!(mtcp.read(&mut sink).unwrap(), 0, "closed by the gateway");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(gw.terminate(Duration::from_secs(10)).success());
}

#[test]
fn connections_beyond_the_session_cap_are_closed_at_once() {
    let dir = Scratch::new("session-cap");
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"16 MiB\"\n[mtcp]\nlisten = [\"127.0.0.1:0\"]\n\
         [limits]\nmax_sessions = 4\n",
    );
    let held: Vec<std::net::TcpStream> = (0..4).map(|_| std::net::TcpStream::connect(gw.mtcp[0]).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    use std::io::Read;
    let mut fifth = std::net::TcpStream::connect(gw.mtcp[0]).unwrap();
    fifth.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sink = [0u8; 16];
    assert_eq!(fifth.read(&mut sink).unwrap(), 0, "the fifth is closed");
    // One of the four goes; a new connection is served again (it stays open).
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut again = std::net::TcpStream::connect(gw.mtcp[0]).unwrap();
    again.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let err = again.read(&mut sink).unwrap_err();
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
}

/// One HTTP request: the status code and the body.
fn http(addr: std::net::SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

fn ids(page: &str) -> Vec<u64> {
    let list: Vec<serde_json::Value> = serde_json::from_str(page).unwrap();
    list.iter().map(|b| b["id"].as_u64().unwrap()).collect()
}

#[test]
fn the_operator_pages_through_bundles_and_deletes_one_with_the_token() {
    let dir = Scratch::new("admin-delete");
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"16 MiB\"\n[tcpcl]\nlisten = [\"127.0.0.1:0\"]\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"s3cret\"\n",
    );
    // 30 bundles for node 7, which this node cannot reach: they stay.
    let spec = LoadSpec {
        to: gw.tcpcl[0],
        back: None,
        node: 4_000_000,
        destination: Some("ipn:7.1".parse().unwrap()),
        size: 100,
        count: 30,
        window: 30,
        tls: None,
        timeout: Duration::from_secs(10),
        expect_return: false,
    };
    runtime().block_on(loadgen::run(spec)).unwrap();
    let admin = gw.admin.unwrap();
    assert!(eventually(Duration::from_secs(5), || ids(&http(admin, "GET", "/bundles", None).1).len() == 30));
    // Pages of 10 in id order, each after the last of the one before.
    let first = ids(&http(admin, "GET", "/bundles?limit=10", None).1);
    let second = ids(&http(admin, "GET", &format!("/bundles?after={}&limit=10", first[9]), None).1);
    assert_eq!((first.len(), second.len()), (10, 10));
    assert!(first.windows(2).all(|w| w[0] < w[1]) && first[9] < second[0]);
    assert_eq!(http(admin, "GET", "/bundles?limit=ten", None).0, 400);
    // Deleting needs the token.
    let victim = format!("/bundles/{}", first[0]);
    assert_eq!(http(admin, "DELETE", &victim, None).0, 401);
    assert_eq!(http(admin, "DELETE", &victim, Some("guess")).0, 401);
    assert_eq!(http(admin, "DELETE", &victim, Some("s3cret")).0, 200);
    assert_eq!(http(admin, "DELETE", &victim, Some("s3cret")).0, 404, "gone");
    assert_eq!(ids(&http(admin, "GET", "/bundles", None).1).len(), 29);
    assert!(gw.get("/queues").contains("\"Waiting\":29"), "{}", gw.get("/queues"));
}

#[test]
fn without_a_configured_token_changes_are_refused() {
    let dir = Scratch::new("admin-no-token");
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"16 MiB\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    let (status, body) = http(gw.admin.unwrap(), "DELETE", "/bundles/1", Some("anything"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no [admin] token"), "{body}");
}

#[test]
fn start_up_reads_the_index_not_every_stored_byte() {
    use dtn_core::bpa::{Bpa, Event, NodeConfig, Submission};
    use dtn_core::routing::{Priority, StaticRouter};
    let dir = Scratch::new("startup-ram");
    // 300 MiB of bundles for a node this one cannot reach, stored by an agent on the log store.
    {
        let store = gateway::logstore::LogStore::open(&dir.path("g.store"), 1 << 30).unwrap();
        let mut agent = Bpa::new(NodeConfig::new(2), store, StaticRouter::new());
        for token in 0..300u64 {
            let adu = Submission {
                token,
                source: None,
                destination: "ipn:7.1".parse().unwrap(),
                payload: Bytes::from(vec![token as u8; 1 << 20]),
                lifetime_ms: 3_600_000,
                flags: Default::default(),
                priority: Priority::Normal,
                reference: None,
                protection: Default::default(),
            };
            agent.handle(Event::Submit(adu), dtn_core::time::DtnTime::now()).unwrap();
        }
    }
    let gw = Gateway::start(
        &dir.0,
        "g",
        "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"1 GiB\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
    );
    assert!(gw.get("/queues").contains("\"Waiting\":300"), "{}", gw.get("/queues"));
    // Reading every bundle into memory at once took more than the 300 MiB stored.
    let peak = support::memory_kib(gw.pid(), "VmHWM");
    assert!(peak < 150 << 10, "peak RSS {} MiB for a 300 MiB store", peak >> 10);
}
