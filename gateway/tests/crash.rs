//! Crash safety in a three-gateway chain: an application hands ADUs to gateway A (node 1),
//! A passes them with custody to gateway B (node 2), B with custody to gateway C (node 3),
//! whose application takes them. B is killed with SIGKILL at random moments and restarted;
//! every ADU that A accepted reaches C's application exactly once, intact.
//!
//! C starts only once half the kills are done, so B holds custody of a growing store through
//! many kills (only what its store committed survives them); in the second half B passes
//! custody on to C while it keeps dying. `DTN_CRASH_KILLS` sets the number of kills (20 by
//! default; `scripts/crash-test.sh N` runs any number), `DTN_CRASH_SEED` repeats a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::app::client::{AppClient, Outgoing};
use support::{Gateway, Scratch, issue, tls};

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

/// A free loopback port (bound and released: the gateway binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A gateway's config: node `id`, custody on, a TCPCL listener on `port`, custody peers
/// `peers` (node, port) and, with `app`, the application bridge on the certificate `app`.
fn config(id: u64, port: u16, peers: &[(u64, u16)], app: Option<&str>) -> String {
    let mut toml = format!(
        "[node]\nid = {id}\n[storage]\npath = \"n{id}.store\"\nbudget = \"256 MiB\"\n\
         [tcpcl]\nunauthenticated = \"trusted\"\nlisten = [\"127.0.0.1:{port}\"]\nkeepalive_s = 5\n\
         [custody]\nenabled = true\nmargin_ms = 500\ndefault_owlt_ms = 50\n[log]\nlevel = \"warn\"\n"
    );
    for (node, port) in peers {
        toml += &format!("[[peer]]\nnode = {node}\ncla = \"tcpcl\"\naddress = \"127.0.0.1:{port}\"\ncustody = true\n");
    }
    if peers.iter().any(|(n, _)| *n == 2) {
        toml += "[[route]]\ndest = 3\nvia = 2\n";
    }
    if let Some(cert) = app {
        toml += &format!(
            "[app]\nlisten = [\"127.0.0.1:0\"]\ncert = \"{cert}.pem\"\nkey = \"{cert}.key\"\nca = \"ca.pem\"\n"
        );
    }
    toml
}

#[test]
fn custody_bundles_survive_sigkill_in_a_three_gateway_chain() {
    let kills: u32 = std::env::var("DTN_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let total: u64 = u64::from(kills) * 20 + 100;
    let seed = std::env::var("DTN_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash test: {kills} kills of B in A → B → C, {total} ADUs, seed {seed} (DTN_CRASH_SEED to repeat)");
    let dir = Scratch::new("crash-chain");
    issue(&dir.0, "a", "ipn:1.0");
    issue(&dir.0, "c", "ipn:3.0");
    issue(&dir.0, "sender", "ipn:1.5");
    issue(&dir.0, "receiver", "ipn:3.1");
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path("c.toml"), config(3, pc, &[], Some("c"))).unwrap();
    let a = Gateway::start(&dir.0, "a", &config(1, pa, &[(2, pb)], Some("a")));
    let first_b = Gateway::start(&dir.0, "b", &config(2, pb, &[(3, pc)], None));

    // The killer: SIGKILL B at random moments, restart it at once on the same port; C comes
    // up halfway.
    let done = Arc::new(AtomicBool::new(false));
    let (c_tx, c_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let killer = {
        let done = done.clone();
        let dir = dir.0.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(seed);
            let mut b = first_b;
            let mut c = None;
            for k in 0..kills {
                if k == kills / 2 {
                    let started = Gateway::start_file(&dir.join("c.toml"), &dir.join("c.log"));
                    c_tx.send(started.app[0]).unwrap();
                    c = Some(started);
                }
                std::thread::sleep(Duration::from_millis(100 + rng.next() % 400));
                b.kill();
                if rng.next().is_multiple_of(4) {
                    std::thread::sleep(Duration::from_millis(rng.next() % 300));
                }
                b = Gateway::start_file(&dir.join("b.toml"), &dir.join("b.log"));
            }
            done.store(true, Ordering::Relaxed);
            (b, c)
        })
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (accepted, got) = runtime.block_on(traffic(&dir.0, a.app[0], c_rx, total, done));
    let (b, c) = killer.join().unwrap();

    // Every accepted ADU exactly once, intact; nothing else.
    let mut seen = BTreeSet::new();
    for body in &got {
        let i: u64 = std::str::from_utf8(&body[4..10]).unwrap().parse().unwrap();
        assert_eq!(body, &payload(i), "ADU {i} corrupt");
        assert!(seen.insert(i), "ADU {i} delivered twice");
        assert!(accepted.contains(&i), "ADU {i} delivered but never accepted");
    }
    let missing: Vec<u64> = accepted.iter().copied().filter(|i| !seen.contains(i)).collect();
    let log = |n: &str| std::fs::read_to_string(dir.path(&format!("{n}.log"))).unwrap_or_default();
    assert!(
        missing.is_empty(),
        "{} of {} accepted ADU(s) never delivered, the first: {:?}\nB's log ends:\n{}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(20)],
        log("b").lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(accepted.len() as u64, total, "A refused ADUs it had room for");
    drop((a, b, c));
}

/// The sending application submits `total` ADUs to A, ten every 200 ms (about as long as the
/// kills take); the receiving one connects
/// to C once it is up and acknowledges what arrives. Returns the ADUs A accepted and what
/// C's application got, once every accepted one arrived and the kills are done (or after a
/// deadline).
async fn traffic(
    dir: &Path,
    a: SocketAddr,
    c: std::sync::mpsc::Receiver<SocketAddr>,
    total: u64,
    done: Arc<AtomicBool>,
) -> (BTreeSet<u64>, Vec<Bytes>) {
    let sender = AppClient::connect(a, &tls(dir, "sender", "ca")).await.unwrap();
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let receiver_tls = tls(dir, "receiver", "ca");
    tokio::spawn(async move {
        let addr = tokio::task::spawn_blocking(move || c.recv()).await.unwrap().unwrap();
        let receiver = AppClient::connect(addr, &receiver_tls).await.unwrap();
        receiver.register("ipn:3.1").await.unwrap();
        while let Some(d) = receiver.next_delivery(1 << 20).await {
            let body = d.payload.clone();
            if d.acknowledge().await.is_ok() && got_tx.send(body).is_err() {
                return;
            }
        }
    });
    let mut accepted = BTreeSet::new();
    let mut got = Vec::new();
    let mut submitted = 0u64;
    let started = Instant::now();
    let mut kills_done: Option<(Instant, usize)> = None;
    loop {
        if submitted < total {
            let batch: Vec<(Outgoing, Bytes)> = (submitted..total.min(submitted + 10))
                .map(|i| (Outgoing { lifetime_ms: 3_600_000, ..Outgoing::new("ipn:1.5", "ipn:3.1") }, payload(i)))
                .collect();
            let answers = sender.submit_batch(&batch).await.unwrap();
            for (k, answer) in answers.iter().enumerate() {
                if answer.status == 0 {
                    accepted.insert(submitted + k as u64);
                }
            }
            submitted += batch.len() as u64;
        }
        let pause = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(pause);
        loop {
            tokio::select! {
                Some(body) = got_rx.recv() => got.push(body),
                () = &mut pause => break,
            }
        }
        if kills_done.is_none() && done.load(Ordering::Relaxed) {
            kills_done = Some((Instant::now(), got.len()));
        }
        if let Some((at, during)) = kills_done
            && submitted == total
            && got.len() >= accepted.len()
        {
            eprintln!(
                "{during} ADUs arrived while B was being killed, the other {} within {:.1} s of the last kill",
                got.len() - during,
                at.elapsed().as_secs_f64()
            );
            // A moment more: a duplicate would show now.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(body) = got_rx.recv().await {
                    got.push(body);
                }
            })
            .await;
            return (accepted, got);
        }
        if started.elapsed() > Duration::from_secs(300) {
            eprintln!("gave up: C's application got {} of {} accepted", got.len(), accepted.len());
            return (accepted, got);
        }
    }
}
