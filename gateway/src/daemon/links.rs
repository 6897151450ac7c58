//! Convergence-layer links: listeners that accept sessions, dialers that open them to
//! configured peers while the plan has a contact with them (always, for peers the plan does
//! not schedule), and the two tasks per link that carry bundles between a session and the
//! agent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use dtn_core::bpa::LinkId;
use dtn_core::routing::{ContactPlan, NodeId};
use dtn_core::store::BundleId;
use dtn_core::time::DtnTime;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::agent::{Command, LinkInfo};
use super::config::{ClaKind, Config, PeerConfig};
use super::metrics::Counters;
use super::pacer::Pacer;
use super::snapshot::{dtn_time, plan_time};
use crate::budget::{Arrival, ReceiveBudget};
use crate::tcpcl::TcpclConfig;

/// Longest wait between connection attempts to a peer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A session shorter than this counts as a failed attempt for the dialer's backoff.
const MIN_SESSION: Duration = Duration::from_secs(5);
/// How often a dialer waiting for a contact looks at the plan again (it may be reloaded).
const PLAN_RECHECK: Duration = Duration::from_secs(5);

/// What every link task shares.
#[derive(Debug, Clone)]
pub struct LinkContext {
    /// The node's configuration.
    pub config: Arc<Config>,
    /// TCPCL session settings and TLS.
    pub tcpcl: Arc<TcpclConfig>,
    /// The agent.
    pub commands: mpsc::Sender<Command>,
    /// Link numbers.
    pub next_link: Arc<AtomicU32>,
    /// Counters.
    pub counters: Arc<Counters>,
    /// The contact plan (replaced on reload).
    pub plan: Arc<RwLock<Option<Arc<ContactPlan>>>>,
    /// DTN time of plan time 0.
    pub epoch: DtnTime,
    /// Becomes true on shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Bytes received and not yet taken in by the agent, all links together, partly
    /// received ones included (every session of every convergence layer shares it).
    pub budget: ReceiveBudget,
    /// Sessions each kind of listener may have open at once (TCPCL, MTCP, QUIC).
    pub sessions: SessionCaps,
    /// An accepted MTCP connection silent this long is closed.
    pub mtcp_idle: Duration,
    /// QUIC, when configured.
    pub quic: Option<QuicContext>,
}

/// How many sessions each listener kind may have open at once.
#[derive(Debug, Clone)]
pub struct SessionCaps {
    tcpcl: Arc<tokio::sync::Semaphore>,
    mtcp: Arc<tokio::sync::Semaphore>,
    quic: Arc<tokio::sync::Semaphore>,
    /// Application connections (the bridge takes a slot per client).
    pub app: Arc<tokio::sync::Semaphore>,
}

impl SessionCaps {
    /// `max` sessions per listener kind.
    pub fn new(max: u32) -> Self {
        let cap = || Arc::new(tokio::sync::Semaphore::new(max as usize));
        SessionCaps { tcpcl: cap(), mtcp: cap(), quic: cap(), app: cap() }
    }
}

/// A slot for one more accepted session, or `None` (logged) when the kind is at its cap:
/// the connection is closed at once, so a flood of connections costs nothing but their
/// accept.
fn slot(cap: &Arc<tokio::sync::Semaphore>, kind: &str, from: SocketAddr) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let slot = cap.clone().try_acquire_owned().ok();
    if slot.is_none() {
        tracing::debug!(%from, kind, "session cap reached: connection closed");
    }
    slot
}

/// The QUIC endpoint that dials, and the settings.
#[derive(Debug, Clone)]
pub struct QuicContext {
    /// Opens connections (the first listening endpoint, or one of its own).
    pub endpoint: quinn::Endpoint,
    /// Settings.
    pub config: Arc<crate::quic::QuicConfig>,
}

/// How a session's task ended: `None` for a normal end, else why it failed (in words).
type Ending = std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>;

/// The end of a session task whose result is a `Result`.
fn ending<E: std::fmt::Display + Send + 'static>(task: tokio::task::JoinHandle<Result<(), E>>) -> Ending {
    Box::pin(async move {
        match task.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("session task failed: {e}")),
        }
    })
}

/// A session, whatever its convergence layer.
struct Session {
    outbound: mpsc::Sender<Bytes>,
    inbound: mpsc::Receiver<Arrival>,
    /// What became of each bundle sent: its position in sending order and whether the peer
    /// has it, in any order (QUIC: one stream per bundle, acknowledged independently; TCPCL:
    /// a bundle the session cannot take fails at once, ahead of earlier bundles'
    /// acknowledgements; MTCP: once flushed to the socket). Ends with the session.
    outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    info: LinkInfo,
    /// Why the session ended, once it has.
    ending: Ending,
}

impl Session {
    /// A TCPCL session to `address` (the peer's transfer MRU limits what the agent sends).
    fn tcpcl(link: crate::tcpcl::TcpclLink, address: SocketAddr) -> Session {
        let info = LinkInfo {
            cla: "tcpcl",
            address: address.to_string(),
            tls: link.is_tls(),
            max_bundle: Some(link.peer_transfer_mru()),
        };
        let parts = link.into_parts();
        let ending = ending(parts.task);
        Session { outbound: parts.outbound, inbound: parts.inbound, outcomes: parts.outcomes, info, ending }
    }

    /// A QUIC connection to `address`.
    fn quic(link: crate::quic::QuicLink, address: SocketAddr) -> Session {
        let info = LinkInfo { cla: "quic", address: address.to_string(), tls: true, max_bundle: None };
        let parts = link.into_parts();
        let task = parts.task;
        let ending: Ending = Box::pin(async move { task.await.err().map(|e| format!("connection task failed: {e}")) });
        Session { outbound: parts.outbound, inbound: parts.inbound, outcomes: parts.outcomes, info, ending }
    }
}

/// When a dialer may hold a session to a peer.
enum Window {
    /// The plan does not schedule this peer: always.
    Always,
    /// Now, until this DTN time.
    Until(DtnTime),
    /// From this DTN time.
    From(DtnTime),
    /// The plan has no more contacts with it.
    Never,
}

impl LinkContext {
    /// An arrival's share of the receive budget: the one it carries, or (a convergence layer
    /// that ran without the budget) one waited for now.
    async fn share(&self, arrival: &mut Arrival) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match arrival.permit.take() {
            Some(permit) => Some(permit),
            None => self.budget.permit(arrival.bytes.len()).await,
        }
    }

    /// A new link number.
    pub(crate) fn allocate(&self) -> LinkId {
        LinkId(self.next_link.fetch_add(1, Ordering::Relaxed))
    }

    /// The window for sending to `peer`, from the plan.
    fn window(&self, peer: NodeId) -> (Window, u64) {
        let guard = self.plan.read().unwrap_or_else(PoisonError::into_inner);
        let Some(plan) = guard.as_ref() else { return (Window::Always, 0) };
        let node = self.config.node;
        let mut scheduled = false;
        let now = plan_time(self.epoch, DtnTime::now());
        let mut next: Option<(dtn_core::routing::PlanTime, dtn_core::routing::PlanTime, u64)> = None;
        for c in plan.contacts().iter().filter(|c| c.from == node && c.to == peer) {
            scheduled = true;
            if c.end <= now {
                continue;
            }
            if next.is_none_or(|(s, _, _)| c.start < s) {
                next = Some((c.start, c.end, c.rate_bytes_per_sec));
            }
        }
        match next {
            None if !scheduled => (Window::Always, 0),
            None => (Window::Never, 0),
            Some((start, end, rate)) if start <= now => (Window::Until(dtn_time(self.epoch, end)), rate),
            Some((start, _, _)) => (Window::From(dtn_time(self.epoch, start)), 0),
        }
    }
}

/// The next connection on `listener`; `None` on shutdown.
async fn next_connection(
    listener: &TcpListener,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => return Some(a),
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return None,
        }
    }
}

/// Accepts TCPCL sessions on `addr` until shutdown.
pub async fn listen_tcpcl(ctx: LinkContext, listener: TcpListener) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let Some((stream, from)) = next_connection(&listener, &mut shutdown).await else { return };
        let Some(slot) = slot(&ctx.sessions.tcpcl, "tcpcl", from) else { continue };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match crate::tcpcl::accept(stream, ctx.tcpcl.clone()).await {
                Ok(link) => {
                    let Some(peer) = node_of_id(link.peer_node_id()) else {
                        tracing::warn!(%from, node_id = link.peer_node_id(), "peer's node ID is not an ipn node ID (ipn:N.0): session closed");
                        let _ = link.close().await;
                        return;
                    };
                    if may_send_to(&ctx.config, peer, link.is_authenticated(), from) {
                        serve_accepted(&ctx, peer, Session::tcpcl(link, from)).await;
                    } else {
                        tracing::warn!(%from, peer, "unauthenticated session (no TLS certificate naming the node): bundles are taken from it, none are sent to it; see [tcpcl] unauthenticated");
                        serve_receive_only(&ctx, Session::tcpcl(link, from)).await;
                    }
                }
                Err(e) => {
                    Counters::add(&ctx.counters.session_failures, 1);
                    tracing::warn!(%from, error = %e, "tcpcl session refused or failed");
                }
            }
        });
    }
}

/// Whether bundles for `peer` may go over a session it opened from `from`: always when it
/// authenticated; otherwise as `[tcpcl] unauthenticated` says. A configured peer with an
/// address is only ever believed from that address.
fn may_send_to(config: &Config, peer: NodeId, authenticated: bool, from: SocketAddr) -> bool {
    use super::config::Unauthenticated;
    if authenticated {
        return true;
    }
    let configured = config.peer(peer).and_then(|p| p.address);
    match (config.unauthenticated, configured) {
        (Unauthenticated::ReceiveOnly, _) => false,
        (Unauthenticated::PeerAddress | Unauthenticated::Trusted, Some(address)) => address.ip() == from.ip(),
        (Unauthenticated::PeerAddress, None) => false,
        (Unauthenticated::Trusted, None) => true,
    }
}

/// Takes bundles from a session that gets none: no link for the agent to send on.
async fn serve_receive_only(ctx: &LinkContext, session: Session) {
    Counters::add(&ctx.counters.sessions_established, 1);
    // The outbound side is held (dropping it would end the session) until the peer is done.
    let Session { outbound, mut inbound, .. } = session;
    let link = ctx.allocate();
    let mut shutdown = ctx.shutdown.clone();
    loop {
        tokio::select! {
            next = inbound.recv() => {
                let Some(mut arrival) = next else { break };
                let permit = ctx.share(&mut arrival).await;
                if ctx.commands.send(Command::Received { link, bytes: arrival.bytes, permit }).await.is_err() {
                    break;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(outbound);
}

/// Serves a session a peer opened (no contact window: the peer decides when).
async fn serve_accepted(ctx: &LinkContext, peer: NodeId, session: Session) {
    Counters::add(&ctx.counters.sessions_established, 1);
    let peer_config = ctx.config.peer(peer).cloned();
    let _carried = serve(ctx, peer, session, peer_config.as_ref(), 0, None).await;
}

/// Accepts QUIC connections on `endpoint` until shutdown.
pub async fn listen_quic(ctx: LinkContext, endpoint: quinn::Endpoint) {
    let Some(quic) = ctx.quic.clone() else { return };
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let Some(incoming) = crate::quic::next_incoming(&endpoint, &mut shutdown).await else { return };
        let from = incoming.remote_address();
        let Some(slot) = slot(&ctx.sessions.quic, "quic", from) else {
            incoming.refuse();
            continue;
        };
        let (ctx, quic) = (ctx.clone(), quic.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match crate::quic::accept(incoming, &quic.config).await {
                Ok(link) => {
                    let Some(peer) = node_of_id(link.peer_node_id()) else { return };
                    serve_accepted(&ctx, peer, Session::quic(link, from)).await;
                }
                Err(e) => {
                    Counters::add(&ctx.counters.session_failures, 1);
                    tracing::warn!(%from, error = %e, "quic connection refused or failed");
                }
            }
        });
    }
}

/// Accepts MTCP connections: bundles come in; nothing goes out (MTCP does not say who the
/// peer is: bundles for MTCP peers go over connections this node dials).
pub async fn listen_mtcp(ctx: LinkContext, listener: TcpListener) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let Some((stream, from)) = next_connection(&listener, &mut shutdown).await else { return };
        let Some(slot) = slot(&ctx.sessions.mtcp, "mtcp", from) else { continue };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let limits = crate::mtcp::ReceiveLimits {
                max_bundle: ctx.config.transfer_mru,
                budget: Some(ctx.budget.clone()),
                idle: Some(ctx.mtcp_idle),
            };
            let link = match crate::mtcp::accept(stream, limits) {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!(%from, error = %e, "mtcp connection failed");
                    return;
                }
            };
            tracing::info!(%from, "mtcp connection in");
            // The outbound side stays open (unused) while the peer talks: dropping it would
            // half-close the connection at once.
            let crate::mtcp::MtcpParts { outbound: _outbound, mut inbound, reader, .. } = link.into_parts();
            let link_id = ctx.allocate();
            while let Some(mut arrival) = inbound.recv().await {
                let permit = ctx.share(&mut arrival).await;
                let received = Command::Received { link: link_id, bytes: arrival.bytes, permit };
                if ctx.commands.send(received).await.is_err() {
                    break;
                }
            }
            if let Ok(Err(e)) = reader.await {
                tracing::warn!(%from, error = %e, "mtcp connection ended badly");
            }
        });
    }
}

/// Keeps a session to `peer` open while the plan allows, reconnecting with backoff.
pub async fn dial(ctx: LinkContext, peer: PeerConfig) {
    let Some(address) = peer.address else { return };
    let mut shutdown = ctx.shutdown.clone();
    let mut backoff = Duration::from_millis(200);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let (window, contact_rate) = ctx.window(peer.node);
        let until = match window {
            Window::Always => None,
            Window::Until(end) => Some(end),
            Window::From(start) => {
                let wait = Duration::from_millis(start.0.saturating_sub(DtnTime::now().0)).min(PLAN_RECHECK);
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            Window::Never => {
                tokio::select! {
                    () = tokio::time::sleep(PLAN_RECHECK) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        match open(&ctx, &peer, address).await {
            Ok(session) => {
                Counters::add(&ctx.counters.sessions_established, 1);
                let began = std::time::Instant::now();
                let carried = serve(&ctx, peer.node, session, Some(&peer), contact_rate, until).await;
                // A session that carried a bundle or lasted is a reachable peer: dial again at
                // once and start over at the shortest wait (a peer that restarted is back in
                // moments, and its bundles should not wait out a long backoff). One that
                // ended at once with nothing carried (the peer accepts, then hangs up) backs
                // off like a failure, or the dialer would spin.
                if carried || began.elapsed() >= MIN_SESSION {
                    backoff = Duration::from_millis(200);
                } else {
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            Err(e) => {
                Counters::add(&ctx.counters.session_failures, 1);
                tracing::debug!(peer = peer.node, %address, error = %e, "cannot reach peer");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn open(ctx: &LinkContext, peer: &PeerConfig, address: SocketAddr) -> Result<Session, String> {
    let connect = async {
        match peer.cla {
            ClaKind::Tcpcl => {
                let link = crate::tcpcl::connect(address, ctx.tcpcl.clone()).await.map_err(|e| e.to_string())?;
                let claimed = node_of_id(link.peer_node_id());
                if claimed != Some(peer.node) {
                    let id = link.peer_node_id().to_string();
                    let _ = link.close().await;
                    return Err(format!("{address} says it is {id}, not node {}", peer.node));
                }
                Ok(Session::tcpcl(link, address))
            }
            ClaKind::Quic => {
                let quic = ctx.quic.as_ref().ok_or("no [quic] section")?;
                let link =
                    crate::quic::connect(&quic.endpoint, address, &quic.config).await.map_err(|e| e.to_string())?;
                if node_of_id(link.peer_node_id()) != Some(peer.node) {
                    return Err(format!(
                        "{address}'s certificate names {}, not node {}",
                        link.peer_node_id(),
                        peer.node
                    ));
                }
                Ok(Session::quic(link, address))
            }
            ClaKind::Ltp => Err("LTP peers are served by the LTP endpoint, not dialled".to_string()),
            ClaKind::Mtcp => {
                let link = crate::mtcp::connect(address, ctx.config.transfer_mru).await.map_err(|e| e.to_string())?;
                let parts = link.into_parts();
                let info = LinkInfo { cla: "mtcp", address: address.to_string(), tls: false, max_bundle: None };
                // The writer ends with the link; the reader's account counts if it has one
                // (the peer may keep its side open).
                let (reader, writer) = (parts.reader, ending(parts.writer));
                let ending: Ending = Box::pin(async move {
                    match writer.await {
                        Some(why) => Some(why),
                        None if reader.is_finished() => ending(reader).await,
                        None => None,
                    }
                });
                Ok(Session { outbound: parts.outbound, inbound: parts.inbound, outcomes: parts.outcomes, info, ending })
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), connect).await.map_err(|_| "timed out".to_string())?
}

/// The node number in a node ID (`ipn:N.0`). An endpoint of a node (`ipn:N.5`, which an
/// application's certificate may name) is not the node.
pub fn node_of_id(node_id: &str) -> Option<NodeId> {
    match node_id.parse::<dtn_core::eid::Eid>().ok()? {
        dtn_core::eid::Eid::Ipn(ipn) if ipn.service == 0 => Some(ipn.fqnn()),
        _ => None,
    }
}

/// Carries bundles between a session and the agent until the session ends, the contact
/// window closes or the daemon stops. Every bundle the agent hands over gets exactly one
/// verdict back.
async fn serve(
    ctx: &LinkContext,
    peer: NodeId,
    session: Session,
    peer_config: Option<&PeerConfig>,
    contact_rate: u64,
    until: Option<DtnTime>,
) -> bool {
    let Session { outbound, mut inbound, outcomes, info, ending } = session;
    let link = ctx.allocate();
    let (tx, mut rx) = mpsc::unbounded_channel::<(BundleId, Bytes)>();
    if ctx.commands.send(Command::LinkUp { link, peer, tx, info }).await.is_err() {
        return false;
    }
    // Whether a bundle went through either way (the dialer's backoff asks).
    let carried = Arc::new(AtomicBool::new(false));
    let reader_carried = carried.clone();
    // The outduct goes no faster than the contact and the configured cap, whichever is lower.
    let egress = Pacer::new(super::pacer::outduct_rate(peer_config.map_or(0, |p| p.rate), contact_rate));
    let ingress = Pacer::new(peer_config.map_or(0, |p| p.ingress_rate));
    let commands = ctx.commands.clone();
    let reader_ctx = ctx.clone();
    let mut reader = tokio::spawn(async move {
        while let Some(mut arrival) = inbound.recv().await {
            if let Some(p) = &ingress {
                p.take(arrival.bytes.len()).await;
            }
            let permit = reader_ctx.share(&mut arrival).await;
            reader_carried.store(true, Ordering::Relaxed);
            if commands.send(Command::Received { link, bytes: arrival.bytes, permit }).await.is_err() {
                break;
            }
        }
    });
    let verdict = |bundle: BundleId, ok: bool| Command::Transmitted { link, bundle, ok };
    // Bundles handed to the session and not yet judged, by position in sending order.
    let mut in_flight: BTreeMap<u64, BundleId> = BTreeMap::new();
    let mut sent = 0u64;
    let mut outcomes = outcomes;
    let mut shutdown = ctx.shutdown.clone();
    let deadline = until.map(|end| Duration::from_millis(end.0.saturating_sub(DtnTime::now().0)));
    let window_end = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(window_end);
    let mut reader_done = false;
    // Why the link goes down; the session's own account is added once it has ended.
    let why: &str = loop {
        tokio::select! {
            biased;
            outcome = outcomes.recv() => match outcome {
                Some((position, ok)) => {
                    if let Some(bundle) = in_flight.remove(&position) {
                        carried.fetch_or(ok, Ordering::Relaxed);
                        let _ = ctx.commands.send(verdict(bundle, ok)).await;
                    }
                }
                None => break "the session ended",
            },
            item = rx.recv() => {
                let Some((bundle, bytes)) = item else { break "the agent closed the link" };
                if let Some(p) = &egress {
                    p.take(bytes.len()).await;
                }
                if outbound.send(bytes).await.is_err() {
                    let _ = ctx.commands.send(verdict(bundle, false)).await;
                    break "the session ended";
                }
                in_flight.insert(sent, bundle);
                sent += 1;
            }
            _ = &mut reader, if !reader_done => {
                reader_done = true;
                break "the session ended";
            }
            () = &mut window_end => {
                tracing::info!(peer, link = link.0, "contact ended: closing the session");
                break "the contact ended";
            }
            _ = shutdown.changed() => break "the daemon is stopping",
        }
    };
    // No more bundles for this link; the session ends once what it has is out.
    rx.close();
    drop(outbound);
    let settle = async {
        while let Some((position, ok)) = outcomes.recv().await {
            if let Some(bundle) = in_flight.remove(&position) {
                carried.fetch_or(ok, Ordering::Relaxed);
                let _ = ctx.commands.send(verdict(bundle, ok)).await;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), settle).await;
    for bundle in std::mem::take(&mut in_flight).into_values() {
        let _ = ctx.commands.send(verdict(bundle, false)).await;
    }
    while let Ok((bundle, _)) = rx.try_recv() {
        let _ = ctx.commands.send(verdict(bundle, false)).await;
    }
    // Every bundle the session took in (and acknowledged to the peer) reaches the agent
    // before the link goes down: the reader ends once the session's channel is empty and
    // closed (a session that will not end is cut off after half a minute).
    if !reader_done && tokio::time::timeout(Duration::from_secs(30), &mut reader).await.is_err() {
        tracing::warn!(peer, link = link.0, "session did not end: bundles it still held are dropped");
        reader.abort();
    }
    // The session has ended or is ending (its outbound side is gone): its own account.
    let detail = match tokio::time::timeout(Duration::from_secs(1), ending).await {
        Ok(Some(detail)) => Some(detail),
        Ok(None) => None,
        Err(_) => Some("the session task did not end".to_string()),
    };
    let reason = match detail {
        Some(detail) => format!("{why}: {detail}"),
        None => why.to_string(),
    };
    let _ = ctx.commands.send(Command::LinkDown { link, reason }).await;
    carried.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_node_id_names_a_node() {
        assert_eq!(node_of_id("ipn:7.0"), Some(7));
        assert_eq!(node_of_id("ipn:7.5"), None, "an endpoint of node 7 is not node 7");
        assert_eq!(node_of_id("dtn://seven/"), None);
        assert_eq!(node_of_id("garbage"), None);
    }
}
