//! Crash safety: a gateway taking custody of bursts of bundles is killed with SIGKILL at
//! random moments and restarted; every bundle it accepted custody of reaches the application
//! on the far side exactly once, intact.
//!
//! Both neighbours are `dtn-core` agents in this process. The sender (node 100) hands
//! bundles to the gateway with custody and retransmits whatever the gateway did not accept
//! before dying. The application's node (3) connects only once half the kills are done, so
//! the gateway holds accepted bundles through many kills: only what its store committed
//! survives them. `DTN_CRASH_KILLS` sets the
//! number of kills (20 by default; `scripts/crash-test.sh N` runs any number).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, Event, LinkId, NodeConfig, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::cla::tcpcl::SessionConfig;
use dtn_core::custody::CustodyConfig;
use dtn_core::routing::{Priority, StaticRouter};
use dtn_core::store::MemoryStore;
use dtn_core::time::DtnTime;
use gateway::tcpcl::TcpclConfig;
use support::{Gateway, Scratch};

/// SplitMix64, for kill timing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn payload(i: u64) -> Bytes {
    let mut p = format!("adu {i:06} ").into_bytes();
    p.resize(2048, (i % 251) as u8);
    Bytes::from(p)
}

#[test]
fn custody_bundles_survive_sigkill() {
    let kills: u32 = std::env::var("DTN_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let total: u64 = u64::from(kills) * 20 + 100;
    let seed = std::env::var("DTN_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash test: {kills} kills, {total} bundles, seed {seed} (DTN_CRASH_SEED to repeat)");
    let dir = Scratch::new("crash");
    let toml = |port: u16| {
        format!(
            "[node]\nid = 2\n[storage]\npath = \"g.store\"\nbudget = \"256 MiB\"\n\
             [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:{port}\"]\nkeepalive_s = 5\n[custody]\nenabled = true\n\
             [log]\nlevel = \"warn\"\n"
        )
    };
    let first = Gateway::start(&dir.0, "g", &toml(0));
    let addr = first.tcpcl[0];
    std::fs::write(dir.path("g.toml"), toml(addr.port())).unwrap();

    // The killer: SIGKILL at random moments, restart at once on the same port.
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicU32::new(0));
    let killer = {
        let (done, killed) = (done.clone(), killed.clone());
        let (config, log) = (dir.path("g.toml"), dir.path("g.log"));
        std::thread::spawn(move || {
            let mut rng = Rng(seed);
            let mut gw = first;
            for _ in 0..kills {
                std::thread::sleep(Duration::from_millis(100 + rng.next() % 400));
                gw.kill();
                killed.fetch_add(1, Ordering::Relaxed);
                if rng.next().is_multiple_of(4) {
                    std::thread::sleep(Duration::from_millis(rng.next() % 300));
                }
                gw = Gateway::start_file(&config, &log);
            }
            done.store(true, Ordering::Relaxed);
            gw
        })
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (released, got) = runtime.block_on(run_traffic(addr, total, killed.clone(), kills, done.clone()));
    let gw = killer.join().unwrap();
    assert_eq!(killed.load(Ordering::Relaxed), kills);
    assert!(released, "the sender still holds bundles the gateway never took custody of");

    // Every ADU exactly once, intact.
    let mut seen = BTreeSet::new();
    for body in &got {
        let i: u64 = std::str::from_utf8(&body[4..10]).unwrap().parse().unwrap();
        assert_eq!(body, &payload(i), "ADU {i} corrupt");
        assert!(seen.insert(i), "ADU {i} delivered twice");
    }
    let missing: Vec<u64> = (0..total).filter(|i| !seen.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} custody-accepted ADU(s) never delivered, the first: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    drop(gw);
}

/// An agent in this process with one TCPCL session to the gateway, reopened after each kill.
struct Node {
    bpa: Bpa<MemoryStore, StaticRouter>,
    tcpcl: Arc<TcpclConfig>,
    /// Bundles to send, and what arrived (drained by a task of its own, so that a session
    /// handing over a bundle never blocks this node sending one).
    link: Option<(tokio::sync::mpsc::Sender<Bytes>, tokio::sync::mpsc::UnboundedReceiver<Bytes>)>,
    link_no: u32,
}

impl Node {
    fn new(number: u64, custody_to_gateway: bool) -> Node {
        let mut node = NodeConfig::new(number);
        if custody_to_gateway {
            let mut custody = CustodyConfig::with_peers([2]);
            custody.margin_ms = 300;
            custody.default_owlt_ms = 50;
            node.custody = Some(custody);
        }
        let mut router = StaticRouter::new();
        router.set_default(Some(2));
        let tcpcl = Arc::new(TcpclConfig::new(SessionConfig::new(format!("ipn:{number}.0")), None));
        Node { bpa: Bpa::new(node, MemoryStore::new(1 << 30), router), tcpcl, link: None, link_no: 0 }
    }

    /// Connects if need be, carries out the agent's actions, takes in what arrived; returns
    /// the ADUs delivered here.
    async fn step(&mut self, addr: std::net::SocketAddr, connect: bool) -> Vec<Bytes> {
        let mut delivered = Vec::new();
        if self.link.is_none() && connect {
            let opening =
                tokio::time::timeout(Duration::from_secs(2), gateway::tcpcl::connect(addr, self.tcpcl.clone()));
            if let Ok(Ok(l)) = opening.await {
                self.link_no += 1;
                let parts = l.into_parts();
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let mut inbound = parts.inbound;
                tokio::spawn(async move {
                    while let Some(b) = inbound.recv().await {
                        if tx.send(b.bytes).is_err() {
                            break;
                        }
                    }
                });
                self.link = Some((parts.outbound, rx));
                self.bpa.handle(Event::LinkUp { link: LinkId(self.link_no), peer: 2 }, DtnTime::now()).unwrap();
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.bpa.handle_timeout(DtnTime::now()).unwrap();
        let mut lost = false;
        while let Some(action) = self.bpa.poll_action() {
            match action {
                Action::Transmit { link: l, bundle, bytes } => {
                    let ok = match &self.link {
                        Some((outbound, _)) if l == LinkId(self.link_no) => outbound.send(bytes).await.is_ok(),
                        _ => false,
                    };
                    lost |= !ok;
                    // Custody covers what a kill takes: the timer sends it again.
                    self.bpa.handle(Event::Transmitted { link: l, bundle, ok }, DtnTime::now()).unwrap();
                }
                Action::Deliver(d) => delivered.push(d.payload),
                Action::Refused { token, reason } => panic!("submission {token} refused: {reason:?}"),
                _ => {}
            }
        }
        if let Some((_, inbound)) = self.link.as_mut() {
            match tokio::time::timeout(Duration::from_millis(5), inbound.recv()).await {
                Ok(Some(bytes)) => {
                    self.bpa.handle(Event::Received { link: LinkId(self.link_no), bytes }, DtnTime::now()).unwrap();
                }
                Ok(None) => lost = true,
                Err(_) => {}
            }
            if lost {
                self.bpa.handle(Event::LinkDown { link: LinkId(self.link_no) }, DtnTime::now()).unwrap();
                self.link = None;
            }
        }
        delivered
    }
}

/// Node 100 submits `total` ADUs for `ipn:3.1` in bursts, with custody towards the gateway;
/// node 3 (the application's node) connects once half the kills are done. Returns the ADUs
/// node 3's application got, in order, once the sender holds nothing and every ADU arrived
/// (or after a deadline).
async fn run_traffic(
    addr: std::net::SocketAddr,
    total: u64,
    killed: Arc<AtomicU32>,
    kills: u32,
    done: Arc<AtomicBool>,
) -> (bool, Vec<Bytes>) {
    let mut sender = Node::new(100, true);
    let mut receiver = Node::new(3, false);
    receiver
        .bpa
        .handle(
            Event::Register { endpoint: "ipn:3.1".parse().unwrap(), mode: dtn_core::bpa::DeliveryMode::Active },
            DtnTime::now(),
        )
        .unwrap();
    let mut submitted = 0u64;
    let mut got = Vec::new();
    let started = Instant::now();
    let mut last_submit = Instant::now();
    loop {
        // Bursts: the gateway takes custody of a batch at once.
        if submitted < total && last_submit.elapsed() >= Duration::from_millis(200) {
            last_submit = Instant::now();
            for _ in 0..(total - submitted).min(40) {
                let s = Submission {
                    token: submitted,
                    source: Some("ipn:100.1".parse().unwrap()),
                    destination: "ipn:3.1".parse().unwrap(),
                    payload: payload(submitted),
                    lifetime_ms: 3_600_000,
                    flags: BundleFlags::default(),
                    priority: Priority::Normal,
                    reference: None,
                };
                sender.bpa.handle(Event::Submit(s), DtnTime::now()).unwrap();
                submitted += 1;
            }
        }
        sender.step(addr, true).await;
        let receiving = killed.load(Ordering::Relaxed) >= kills / 2;
        got.extend(receiver.step(addr, receiving).await);
        let held = sender.bpa.bundles().count();
        if submitted == total && done.load(Ordering::Relaxed) && held == 0 && got.len() as u64 >= total {
            // A moment more: a duplicate would show now.
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until {
                got.extend(receiver.step(addr, true).await);
            }
            return (true, got);
        }
        if started.elapsed() > Duration::from_secs(180) {
            eprintln!("gave up: sender holds {held}, application got {} of {total}", got.len());
            return (held == 0, got);
        }
    }
}
