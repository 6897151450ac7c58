//! Custody load: this tool runs a `dtn-core` agent that hands bundles to the first gateway
//! with custody (BIBE) and counts how fast the gateway accepts custody. The gateway signals
//! acceptance only after its store committed the bundle, so this measures durable custody
//! ingest (against the same gateway on an in-memory store: the price of durability).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, Event, LinkId, NodeConfig, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::cla::tcpcl::SessionConfig;
use dtn_core::custody::CustodyConfig;
use dtn_core::eid::Eid;
use dtn_core::routing::{Priority, StaticRouter};
use dtn_core::store::MemoryStore;
use dtn_core::time::DtnTime;

use super::{LoadReport, LoadSpec};
use crate::tcpcl::TcpclConfig;

/// Submits `spec.count` ADUs with custody towards the gateway at `spec.to` and waits until
/// the gateway accepted custody of every one (or the timeout).
pub async fn run(spec: LoadSpec) -> Result<LoadReport, String> {
    let mut session = SessionConfig::new(format!("ipn:{}.0", spec.node));
    session.segment_mru = 16 << 20;
    session.max_segment = 16 << 20;
    let config = Arc::new(TcpclConfig::new(session, spec.tls.clone()));
    let link = crate::tcpcl::connect(spec.to, config).await.map_err(|e| format!("{}: {e}", spec.to))?;
    let tls = link.is_tls();
    let gateway = crate::daemon::links::node_of_id(link.peer_node_id())
        .ok_or_else(|| format!("the gateway's node ID {} is not an ipn node", link.peer_node_id()))?;
    let parts = link.into_parts();
    // Signals are drained by a task of their own: a session blocked handing one over would
    // stop taking bundles, while this loop waits to hand it one.
    let (signal_tx, mut signals_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut inbound = parts.inbound;
    tokio::spawn(async move {
        while let Some(bytes) = inbound.recv().await {
            if signal_tx.send(bytes).is_err() {
                break;
            }
        }
    });
    let outbound = parts.outbound;

    let mut node = NodeConfig::new(spec.node);
    let mut custody = CustodyConfig::with_peers([gateway]);
    custody.margin_ms = 2_000;
    custody.default_owlt_ms = 10;
    node.custody = Some(custody);
    let mut router = StaticRouter::new();
    router.set_default(Some(gateway));
    let mut bpa = Bpa::new(node, MemoryStore::new(u64::MAX), router);
    let now = DtnTime::now;
    bpa.handle(Event::LinkUp { link: LinkId(1), peer: gateway }, now()).map_err(|e| e.to_string())?;

    let source: Eid = format!("ipn:{}.1", spec.node).parse().map_err(|e| format!("{e}"))?;
    let destination = spec.destination.clone().unwrap_or_else(|| source.clone());
    let size = spec.size.max(8);
    let window = spec.window.max(1) as usize;
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut submitted = 0u64;
    let mut bundle_bytes = 0usize;
    loop {
        let held = bpa.bundles().count();
        let released = submitted - held as u64;
        if released >= spec.count || Instant::now() > deadline {
            let seconds = started.elapsed().as_secs_f64().max(1e-9);
            return Ok(LoadReport {
                sent: spec.count,
                received: released,
                size,
                bundle_bytes,
                seconds,
                bundles_per_sec: released as f64 / seconds,
                gbit_per_sec: released as f64 * bundle_bytes as f64 * 8.0 / seconds / 1e9,
                latency_us: [0; 4],
                tls,
            });
        }
        // Keep `window` bundles awaiting custody.
        let room = window.saturating_sub(held).min((spec.count - submitted) as usize);
        let mut events = Vec::with_capacity(room);
        for _ in 0..room {
            let mut payload = vec![0u8; size];
            if let Some(head) = payload.get_mut(..8) {
                head.copy_from_slice(&submitted.to_be_bytes());
            }
            events.push(Event::Submit(Submission {
                token: submitted,
                source: Some(source.clone()),
                destination: destination.clone(),
                payload: Bytes::from(payload),
                lifetime_ms: 3_600_000,
                flags: BundleFlags::default(),
                priority: Priority::Normal,
                reference: None,
                protection: Default::default(),
            }));
            submitted += 1;
        }
        if !events.is_empty() {
            bpa.handle_batch(events, now()).map_err(|e| e.to_string())?;
        }
        bpa.handle_timeout(now()).map_err(|e| e.to_string())?;
        let mut done = Vec::new();
        while let Some(action) = bpa.poll_action() {
            match action {
                Action::Transmit { link, bundle, bytes } => {
                    bundle_bytes = bundle_bytes.max(bytes.len());
                    outbound.send(bytes).await.map_err(|_| "the session ended".to_string())?;
                    // The custody timer covers a loss; the signal is what counts.
                    done.push(Event::Transmitted { link, bundle, ok: true });
                }
                Action::Refused { token, reason } => return Err(format!("submission {token} refused: {reason:?}")),
                _ => {}
            }
        }
        if !done.is_empty() {
            bpa.handle_batch(done, now()).map_err(|e| e.to_string())?;
        }
        // Take every custody signal that has arrived, waiting briefly for the first.
        let mut signals = Vec::new();
        if let Ok(Some(arrival)) = tokio::time::timeout(Duration::from_millis(2), signals_rx.recv()).await {
            signals.push(Event::Received { link: LinkId(1), bytes: arrival.bytes });
            while let Ok(arrival) = signals_rx.try_recv() {
                signals.push(Event::Received { link: LinkId(1), bytes: arrival.bytes });
            }
        }
        if !signals.is_empty() {
            bpa.handle_batch(signals, now()).map_err(|e| e.to_string())?;
        }
    }
}
