//! The load generator behind `dtn bench tcpcl`: a TCPCLv4 node of its own that pushes bundles
//! into a live gateway chain and times them coming back.
//!
//! It opens a session to the first gateway (`to`) and, if given, a second one to the last
//! gateway (`back`) to receive on; otherwise bundles come back on the first session. Each
//! bundle's payload starts with its index, so every arrival is matched to its send time.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtn_core::bundle::{Bundle, BundleBuilder, BundleFlags};
use dtn_core::cla::tcpcl::SessionConfig;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};
use serde::Serialize;

use crate::tcpcl::{TcpclConfig, TlsSetup};

pub mod custody;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// First gateway.
    pub to: SocketAddr,
    /// Last gateway, to receive from (`None`: the first).
    pub back: Option<SocketAddr>,
    /// This tool's node number.
    pub node: u64,
    /// Destination (default `ipn:<node>.1`: back to this tool).
    pub destination: Option<Eid>,
    /// Payload bytes per bundle.
    pub size: usize,
    /// Bundles.
    pub count: u64,
    /// Most bundles sent and not yet back (1: one at a time, for round-trip times).
    pub window: u64,
    /// TLS material.
    pub tls: Option<TlsSetup>,
    /// Give up on bundles not back after this long.
    pub timeout: Duration,
    /// Wait for the bundles to come back (`false`: only for the first gateway to acknowledge
    /// each one: ingest only, towards destinations this tool does not reach).
    pub expect_return: bool,
}

/// What came of it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Bundles sent.
    pub sent: u64,
    /// Bundles back.
    pub received: u64,
    /// Payload size.
    pub size: usize,
    /// Encoded bundle size.
    pub bundle_bytes: usize,
    /// First send to last arrival, seconds.
    pub seconds: f64,
    /// Bundles per second.
    pub bundles_per_sec: f64,
    /// Bundle bits per second / 1e9.
    pub gbit_per_sec: f64,
    /// Latency percentiles (send to arrival), microseconds: p50, p90, p99, max.
    pub latency_us: [u64; 4],
    /// Whether the sessions ran over TLS.
    pub tls: bool,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [p50, p90, p99, max] = self.latency_us;
        write!(
            f,
            "{}/{} bundles of {} B ({} B encoded){} in {:.3} s: {:.0} bundles/s, {:.3} Gbit/s; \
             latency p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
            self.received,
            self.sent,
            self.size,
            self.bundle_bytes,
            if self.tls { " over TLS" } else { "" },
            self.seconds,
            self.bundles_per_sec,
            self.gbit_per_sec,
            p50,
            p90,
            p99,
            max
        )
    }
}

fn index_of(bytes: &Bytes) -> Option<u64> {
    let bundle = Bundle::parse(bytes.clone(), ParseMode::Strict).ok()?;
    let payload = bundle.payload();
    let head: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(head))
}

/// Runs the load and reports.
pub async fn run(spec: LoadSpec) -> Result<LoadReport, String> {
    let node_id = format!("ipn:{}.0", spec.node);
    let mut session = SessionConfig::new(node_id);
    session.segment_mru = 16 << 20;
    session.max_segment = 16 << 20;
    session.keepalive_s = 30;
    let config = Arc::new(TcpclConfig::new(session, spec.tls.clone()));
    let first = crate::tcpcl::connect(spec.to, config.clone()).await.map_err(|e| format!("{}: {e}", spec.to))?;
    let tls = first.is_tls();
    let second = match spec.back {
        Some(addr) => Some(crate::tcpcl::connect(addr, config).await.map_err(|e| format!("{addr}: {e}"))?),
        None => None,
    };
    let source: Eid = format!("ipn:{}.1", spec.node).parse().map_err(|e| format!("{e}"))?;
    let destination = spec.destination.clone().unwrap_or_else(|| source.clone());
    let size = spec.size.max(8);
    let epoch = DtnTime::now();
    let build = move |i: u64| {
        let mut payload = vec![0u8; size];
        if let Some(head) = payload.get_mut(..8) {
            head.copy_from_slice(&i.to_be_bytes());
        }
        BundleBuilder::new(source.clone(), destination.clone())
            .lifetime_ms(3_600_000)
            .creation(CreationTimestamp::new(epoch, i))
            .flags(BundleFlags::default())
            .payload(payload)
            .build()
            .map(|b| b.raw().clone())
            .map_err(|e| format!("cannot build a bundle: {e}"))
    };
    let bundle_bytes = build(0)?.len();

    let first_parts = first.into_parts();
    let (mut inbound, mut acks) = (first_parts.inbound, first_parts.outcomes);
    let (mut inbound, keep) = match second {
        Some(s) => {
            let parts = s.into_parts();
            let first_inbound = std::mem::replace(&mut inbound, parts.inbound);
            (inbound, Some((first_inbound, parts.outbound)))
        }
        None => (inbound, None),
    };
    let outbound = first_parts.outbound;
    let count = spec.count;
    let window = spec.window.max(1);
    let (credit_tx, mut credit_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let started = Instant::now();
    let sends: Arc<std::sync::Mutex<Vec<Option<Instant>>>> =
        Arc::new(std::sync::Mutex::new(vec![None; count as usize]));
    let sender = {
        let sends = sends.clone();
        tokio::spawn(async move {
            let mut outstanding = 0u64;
            for i in 0..count {
                while outstanding >= window {
                    if credit_rx.recv().await.is_none() {
                        return Ok(());
                    }
                    outstanding -= 1;
                }
                let bytes = build(i)?;
                if let Some(slot) = sends.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(i as usize)
                {
                    *slot = Some(Instant::now());
                }
                outbound.send(bytes).await.map_err(|e| e.to_string())?;
                outstanding += 1;
            }
            // Keep the session open until the receiver is done.
            while credit_rx.recv().await.is_some() {}
            Ok::<(), String>(())
        })
    };
    let mut latencies = Vec::with_capacity(count as usize);
    let mut seen = BTreeSet::new();
    let mut last = started;
    let deadline = tokio::time::Instant::now() + spec.timeout;
    while (seen.len() as u64) < count {
        let now;
        let i = if spec.expect_return {
            let Ok(next) = tokio::time::timeout_at(deadline, inbound.recv()).await else { break };
            let Some(arrival) = next else { break };
            now = Instant::now();
            let Some(i) = index_of(&arrival.bytes) else { continue };
            i
        } else {
            let Ok(next) = tokio::time::timeout_at(deadline, acks.recv()).await else { break };
            let Some((position, ok)) = next else { break };
            now = Instant::now();
            if !ok {
                continue;
            }
            position
        };
        if i >= count || !seen.insert(i) {
            continue;
        }
        let sent_at =
            sends.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(i as usize).copied().flatten();
        if let Some(at) = sent_at {
            latencies.push(now.duration_since(at).as_micros() as u64);
        }
        last = now;
        let _ = credit_tx.send(());
    }
    drop(credit_tx);
    drop(keep);
    let _ = tokio::time::timeout(Duration::from_secs(5), sender).await;
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or(0)
    };
    let received = seen.len() as u64;
    let seconds = last.duration_since(started).as_secs_f64().max(1e-9);
    Ok(LoadReport {
        sent: count,
        received,
        size,
        bundle_bytes,
        seconds,
        bundles_per_sec: received as f64 / seconds,
        gbit_per_sec: received as f64 * bundle_bytes as f64 * 8.0 / seconds / 1e9,
        latency_us: [pct(0.5), pct(0.9), pct(0.99), latencies.last().copied().unwrap_or(0)],
        tls,
    })
}
