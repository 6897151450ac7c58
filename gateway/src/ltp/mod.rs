//! LTP over UDP (RFC 5326; the engine is `dtn_core::cla::ltp`): the convergence layer for
//! space links. One task owns the node's LTP engine and its UDP socket and serves every LTP
//! peer (a span each):
//!
//! - a peer's agent link is up while the plan has a contact to it (always, for a peer the
//!   plan does not schedule); the engine's timers for the span run only then, so a session
//!   outlives a gap between contacts and completes in the next one;
//! - bundles from the agent are gathered into blocks (by size and by time) and go out in
//!   export sessions paced at the contact's rate (or the configured cap);
//! - a block's bundles succeed when its red part is acknowledged and fail when its session
//!   is cancelled (the agent routes them again);
//! - received blocks are taken apart into bundles for the agent, each with its share of the
//!   node's receive budget; when the budget is spent, new import sessions are refused until
//!   it recovers (their senders try again later).
//!
//! The socket reads and writes in batches (`udp.rs`: `recvmmsg`, and UDP GSO for runs of
//! equal-size segments to one peer).
//!
//! Datagrams are attributed to a peer by their source address (or, from another port of the
//! peer's IP address, by the session they name); anything else is dropped.

mod peer;
mod udp;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtn_core::bpa::LinkId;
use dtn_core::bundle::{Bundle, BundleFlags};
use dtn_core::cla::ltp::bp::{SERVICE_ID, bundles_in_block};
use dtn_core::cla::ltp::{Engine, EngineConfig, Event, SendError, SpanConfig};
use dtn_core::eid::EidPattern;
use dtn_core::parse_mode::ParseMode;
use dtn_core::store::BundleId;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::budget::Reservation;
use crate::daemon::agent::{Command, LinkInfo};
use crate::daemon::config::PeerConfig;
use crate::daemon::links::LinkContext;
use crate::daemon::ltp_config::LtpSettings;
use crate::daemon::pacer::{Pacer, outduct_rate};
use peer::{Held, Intake, Outbox, Peer, Token, window};
use udp::Udp;

/// Datagrams taken from the socket per wake-up before other work gets a turn (in reads of up
/// to 32).
const RECV_BATCH: usize = 256;
/// Segments sent per wake-up, all peers together.
const SEND_BATCH: usize = 4096;
/// The longest contact gap an open export session waits out; beyond it the session is
/// cancelled and its bundles are routed again (they should not wait hours for one peer).
const SUSPEND_LIMIT: Duration = Duration::from_secs(600);
/// Pacing bursts: a few milliseconds of the contact's rate.
const PACER_BURST_MS: u64 = 2;
/// Green sessions per peer whose data is gathered at once.
const GREEN_SESSIONS: usize = 64;

/// Binds the LTP socket with the configured buffer sizes.
pub fn bind(settings: &LtpSettings) -> Result<Udp, String> {
    let addr = *settings.listen.first().ok_or("[ltp] listen: no address")?;
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)
        .map_err(|e| format!("LTP socket: {e}"))?;
    // Buffers are a request: the kernel may cap them (net.core.rmem_max).
    let _ = socket.set_recv_buffer_size(settings.socket_buffer);
    let _ = socket.set_send_buffer_size(settings.socket_buffer);
    socket.bind(&addr.into()).map_err(|e| format!("cannot listen on {addr} (LTP/UDP): {e}"))?;
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let socket = tokio::net::UdpSocket::from_std(socket.into()).map_err(|e| e.to_string())?;
    Udp::new(socket).map_err(|e| format!("LTP socket: {e}"))
}

/// The endpoint: engine, socket and peers.
struct Endpoint {
    ctx: LinkContext,
    settings: LtpSettings,
    engine: Engine,
    udp: Udp,
    /// Datagrams read, before the engine takes them.
    inbox: Vec<(Bytes, SocketAddr)>,
    /// The next run of segments to send (kept between runs for its allocation).
    out: Vec<u8>,
    peers: BTreeMap<u64, Peer>,
    by_address: HashMap<SocketAddr, u64>,
    intake_tx: mpsc::UnboundedSender<Intake>,
    intake: mpsc::UnboundedReceiver<Intake>,
    /// Closing a link's forwarder (dropped when the link goes down).
    closers: HashMap<LinkId, oneshot::Sender<()>>,
    start: Instant,
    /// The socket would not take a segment: wait until it is writable.
    blocked: bool,
    /// When a paced peer may send again.
    paced_until: Option<Instant>,
    /// Each peer's intake credit, KiB.
    credit_units: usize,
    /// Destinations whose bundles go green (`[ltp] green`).
    green: Arc<[EidPattern]>,
}

/// Serves every LTP peer over `socket` until shutdown.
pub async fn run(ctx: LinkContext, settings: LtpSettings, udp: Udp, peers: Vec<PeerConfig>) {
    let mut engine_config = EngineConfig::new(ctx.config.node);
    engine_config.first_session_number = first_session_number();
    engine_config.session_numbers_32_bit = settings.session_numbers_32_bit;
    engine_config.max_block_bytes = settings.max_block;
    engine_config.max_import_bytes = settings.import_memory;
    engine_config.max_import_sessions = settings.max_import_sessions.saturating_mul(peers.len().max(1));
    let mut engine = Engine::new(engine_config);
    let endpoint_green: Arc<[EidPattern]> = settings.green.clone().into();
    let (intake_tx, intake) = mpsc::unbounded_channel();
    let mut endpoint_peers = BTreeMap::new();
    let mut by_address = HashMap::new();
    let credit_bytes = settings.max_export_sessions as u64 * settings.aggregation_size.max(1 << 20);
    let credit_units = usize::try_from(credit_bytes.div_ceil(1024)).unwrap_or(1 << 20).clamp(1, Semaphore::MAX_PERMITS);
    for p in peers {
        let Some(address) = p.address else { continue };
        let span = SpanConfig {
            mtu: settings.mtu,
            margin_ms: settings.margin_ms,
            max_retries: settings.retries,
            max_export_sessions: settings.max_export_sessions,
            max_import_sessions: settings.max_import_sessions,
            max_import_bytes: settings.span_import_memory,
            ..SpanConfig::new(p.engine_id)
        };
        engine.add_span(span, 0);
        engine.set_link(p.engine_id, false, 0);
        by_address.insert(address, p.engine_id);
        let peer = Peer {
            node: p.node,
            engine_id: p.engine_id,
            address,
            rate_cap: p.rate,
            link: None,
            rx_link: ctx.allocate(),
            window: None,
            pacer: None,
            aggregators: [(); 2].map(|()| {
                dtn_core::cla::ltp::bp::Aggregator::new(
                    settings.aggregation_size,
                    aggregation_limit_us(settings.aggregation_ms),
                )
            }),
            ready: Default::default(),
            sessions: BTreeMap::new(),
            credit: Arc::new(Semaphore::new(credit_units)),
            unsent: None,
            held: None,
            green_imports: BTreeMap::new(),
        };
        endpoint_peers.insert(p.engine_id, peer);
    }
    let mut endpoint = Endpoint {
        ctx,
        settings,
        engine,
        udp,
        inbox: Vec::new(),
        out: Vec::new(),
        peers: endpoint_peers,
        by_address,
        intake_tx,
        intake,
        closers: HashMap::new(),
        start: Instant::now(),
        blocked: false,
        paced_until: None,
        credit_units,
        green: endpoint_green,
    };
    endpoint.serve().await;
}

/// A random first session number, so a restarted node does not reuse its last life's.
fn first_session_number() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    // Room below 2^31 keeps even 32-bit peers far from wrapping.
    u64::from_le_bytes(bytes) % (1 << 31) + 1
}

/// A block's time limit as the aggregator keeps it (µs): the configured limit less up to
/// 2 ms (at most half of it), because tokio's timer wakes on a millisecond tick at or after
/// its deadline and the parked reactor can add another, so a block set to close exactly at
/// its limit closes up to 2 ms past it. 0 stays 0 (a block per bundle).
fn aggregation_limit_us(ms: u64) -> u64 {
    let us = ms.saturating_mul(1000);
    us - (us / 2).min(2000)
}

impl Endpoint {
    fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    async fn serve(&mut self) {
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            let now = self.now_ms();
            self.engine.handle_timeout(now);
            self.check_windows(now).await;
            let now_us = self.now_us();
            for peer in self.peers.values_mut() {
                peer.close_due(now_us);
            }
            self.start_blocks().await;
            self.handle_events().await;
            self.transmit(now);
            self.update_accepting();
            let wake = self.next_wake();
            tokio::select! {
                _ = self.udp.readable() => self.receive(),
                _ = self.udp.writable(), if self.blocked => self.blocked = false,
                intake = self.intake.recv() => {
                    if let Some(intake) = intake {
                        self.take(intake).await;
                    }
                    while let Ok(intake) = self.intake.try_recv() {
                        self.take(intake).await;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                _ = shutdown.changed() => break,
            }
        }
        self.stop().await;
    }

    fn next_wake(&self) -> Instant {
        let mut wake = Instant::now() + Duration::from_secs(1);
        if let Some(ms) = self.engine.poll_timeout() {
            wake = wake.min(self.at(ms));
        }
        for peer in self.peers.values() {
            if let Some(us) = peer.deadline() {
                wake = wake.min(self.start + Duration::from_micros(us));
            }
            if let Some(w) = &peer.window {
                wake = wake.min(w.next_check);
            }
        }
        if let Some(paced) = self.paced_until {
            wake = wake.min(paced);
        }
        wake
    }

    /// Reads what waits on the socket (up to `RECV_BATCH` datagrams) into the engine.
    fn receive(&mut self) {
        let mut inbox = std::mem::take(&mut self.inbox);
        while inbox.len() < RECV_BATCH {
            match self.udp.try_recv(&mut inbox) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "LTP receive failed");
                    break;
                }
            }
        }
        for (datagram, from) in inbox.drain(..) {
            self.datagram(datagram, from);
        }
        self.inbox = inbox;
    }

    /// A datagram from `from`: a peer's by its address or, for a peer that sends from another
    /// port than it listens on (ION's `udplso` sends from an ephemeral one), by the session it
    /// names and the peer's IP address.
    fn datagram(&mut self, datagram: Bytes, from: SocketAddr) {
        let same_ip = |engine: &u64| self.peers.get(engine).is_some_and(|p| p.address.ip() == from.ip());
        let known = self.by_address.get(&from).copied().or_else(|| {
            self.engine.peer_of(&datagram).filter(same_ip).or_else(|| {
                // A segment for a session already closed names no open session (a report
                // repeated because our acknowledgement was lost): the one peer at that IP.
                let mut at_ip = self.peers.keys().filter(|e| same_ip(e));
                match (at_ip.next(), at_ip.next()) {
                    (Some(&only), None) => Some(only),
                    _ => None,
                }
            })
        });
        let Some(engine_id) = known else {
            tracing::debug!(%from, "LTP datagram from an address no peer has: dropped");
            return;
        };
        let now = self.now_ms();
        if let Err(e) = self.engine.handle_datagram(engine_id, &datagram, now) {
            tracing::debug!(%from, error = %e, "LTP datagram dropped");
        }
    }

    /// Opens or closes each peer's link as its contact window says.
    async fn check_windows(&mut self, now: u64) {
        let due: Vec<u64> = self
            .peers
            .values()
            .filter(|p| p.window.is_none_or(|w| w.next_check <= Instant::now()))
            .map(|p| p.engine_id)
            .collect();
        for engine_id in due {
            let Some(node) = self.peers.get(&engine_id).map(|p| p.node) else { continue };
            let state = window(&self.ctx, node);
            let Some(peer) = self.peers.get_mut(&engine_id) else { continue };
            let was = peer.window.replace(state);
            match (peer.is_open(), state.open) {
                (false, true) => self.open_link(engine_id, state, now).await,
                (true, false) => {
                    self.close_link(engine_id, "the contact ended", now).await;
                    if state.next_open.is_none_or(|gap| gap > SUSPEND_LIMIT) {
                        self.cancel_sessions(engine_id, now);
                    }
                }
                (true, true) if was.is_some_and(|w| (w.rate, w.owlt_ms) != (state.rate, state.owlt_ms)) => {
                    self.engine.set_owlt(engine_id, state.owlt_ms);
                    peer.pacer = Pacer::with_burst(outduct_rate(peer.rate_cap, state.rate), PACER_BURST_MS);
                }
                _ => {}
            }
        }
    }

    async fn open_link(&mut self, engine_id: u64, state: peer::WindowState, now: u64) {
        let link = self.ctx.allocate();
        let Some(peer) = self.peers.get_mut(&engine_id) else { return };
        let (tx, rx) = mpsc::unbounded_channel::<(BundleId, Bytes)>();
        let info = LinkInfo {
            cla: "ltp",
            address: peer.address.to_string(),
            tls: false,
            max_bundle: Some(self.settings.max_block),
        };
        peer.link = Some(link);
        peer.pacer = Pacer::with_burst(outduct_rate(peer.rate_cap, state.rate), PACER_BURST_MS);
        let (closer, closed) = oneshot::channel();
        self.closers.insert(link, closer);
        let to = Forwarder {
            credit: (peer.credit.clone(), self.credit_units),
            intake: self.intake_tx.clone(),
            commands: self.ctx.commands.clone(),
            engine_id,
            link,
            green: self.green.clone(),
        };
        tokio::spawn(forward(rx, closed, to));
        self.engine.set_owlt(engine_id, state.owlt_ms);
        self.engine.set_link(engine_id, true, now);
        let node = peer.node;
        tracing::info!(peer = node, engine = engine_id, link = link.0, "LTP link up");
        let _ = self.ctx.commands.send(Command::LinkUp { link, peer: node, tx, info }).await;
    }

    async fn close_link(&mut self, engine_id: u64, reason: &str, now: u64) {
        let Some(peer) = self.peers.get_mut(&engine_id) else { return };
        let Some(link) = peer.link.take() else { return };
        peer.pacer = None;
        let unsent = peer.take_unsent();
        self.closers.remove(&link);
        // Sessions already open stay: their timers stop with the link and resume with it.
        self.engine.set_link(engine_id, false, now);
        let _ = self.ctx.commands.send(Command::LinkDown { link, reason: reason.to_string() }).await;
        self.verdicts(unsent, false).await;
    }

    /// Cancels every open export session to the peer (their bundles fail back to the agent
    /// as the cancel events come out).
    fn cancel_sessions(&mut self, engine_id: u64, now: u64) {
        let numbers: Vec<u64> =
            self.peers.get(&engine_id).map(|p| p.sessions.keys().copied().collect()).unwrap_or_default();
        for number in numbers {
            self.engine.cancel_block(number, now);
        }
    }

    async fn verdicts(&self, tokens: Vec<Token>, ok: bool) {
        for token in tokens {
            let _ = self.ctx.commands.send(Command::Transmitted { link: token.link, bundle: token.bundle, ok }).await;
        }
    }

    /// A bundle from a forwarder: into the open block (which closes first if the bundle
    /// would take it past the largest block).
    async fn take(&mut self, intake: Intake) {
        let now_us = self.now_us();
        let max_block = self.settings.max_block;
        let Some(peer) = self.peers.get_mut(&intake.engine_id).filter(|p| p.link == Some(intake.token.link)) else {
            return self.verdicts(vec![intake.token], false).await;
        };
        let aggregator = &mut peer.aggregators[usize::from(intake.green)];
        if aggregator.bytes() + intake.bytes.len() as u64 > max_block
            && let Some(block) = aggregator.close()
        {
            peer.ready.push_back((block, intake.green));
        }
        let aggregator = &mut peer.aggregators[usize::from(intake.green)];
        if let Some(block) = aggregator.push(intake.token, intake.bytes, now_us) {
            peer.ready.push_back((block, intake.green));
        }
        self.start_blocks().await;
    }

    /// Starts export sessions for ready blocks while the windows have room.
    async fn start_blocks(&mut self) {
        let mut failed = Vec::new();
        for peer in self.peers.values_mut().filter(|p| p.is_open()) {
            while self.engine.can_send(peer.engine_id) {
                let Some((block, green)) = peer.ready.pop_front() else { break };
                let len = block.data.len() as u64;
                let red = if green { 0 } else { len };
                match self.engine.send_block(peer.engine_id, SERVICE_ID, block.data, red) {
                    Ok(id) => {
                        tracing::debug!(
                            engine = peer.engine_id,
                            session = id.number,
                            bytes = len,
                            bundles = block.bundles.len(),
                            green,
                            "LTP block sent"
                        );
                        peer.sessions.insert(id.number, block.bundles);
                    }
                    Err(e) => {
                        tracing::warn!(peer = peer.node, error = %e, "LTP block not sent");
                        failed.extend(block.bundles);
                        if matches!(e, SendError::WindowFull(_)) {
                            break;
                        }
                    }
                }
            }
        }
        self.verdicts(failed, false).await;
    }

    async fn handle_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::RedPart { from, client_service, data, session } if client_service == SERVICE_ID => {
                    tracing::debug!(engine = from, session = session.number, bytes = data.len(), "LTP block received");
                    self.deliver(from, &data).await;
                }
                Event::Green { from, session, client_service, offset, data, end_of_block }
                    if client_service == SERVICE_ID =>
                {
                    let whole = self.green(from, session.number, offset, &data, end_of_block);
                    if let Some(block) = whole {
                        self.deliver(from, &block).await;
                    }
                }
                Event::ExportDone { to, session } => {
                    tracing::debug!(engine = to, session = session.number, stats = ?self.engine.stats(to), "LTP block acknowledged");
                    let tokens = self.peers.get_mut(&to).and_then(|p| p.sessions.remove(&session.number));
                    self.verdicts(tokens.unwrap_or_default(), true).await;
                }
                Event::ExportCancelled { to, session, by, reason } => {
                    tracing::info!(engine = to, session = session.number, ?by, %reason, "LTP export session cancelled: its bundles are routed again");
                    let tokens = self.peers.get_mut(&to).and_then(|p| p.sessions.remove(&session.number));
                    self.verdicts(tokens.unwrap_or_default(), false).await;
                }
                Event::ImportCancelled { from, session, by, reason } => {
                    tracing::debug!(engine = from, session = session.number, ?by, %reason, "LTP import session cancelled");
                    if let Some(peer) = self.peers.get_mut(&from) {
                        peer.green_imports.remove(&session.number);
                    }
                }
                Event::RedPart { .. } | Event::Green { .. } => {}
            }
        }
    }

    /// Gathers a green session's data in order; the whole block at its end (a gap ends the
    /// gathering: what follows cannot be delimited).
    fn green(&mut self, from: u64, number: u64, offset: u64, data: &[u8], end: bool) -> Option<Bytes> {
        let max_block = self.settings.max_block;
        let peer = self.peers.get_mut(&from)?;
        if !peer.green_imports.contains_key(&number) && peer.green_imports.len() >= GREEN_SESSIONS {
            peer.green_imports.pop_first();
        }
        let buf = peer.green_imports.entry(number).or_default();
        if offset == buf.len() as u64 && (buf.len() + data.len()) as u64 <= max_block {
            buf.extend_from_slice(data);
        }
        if end { peer.green_imports.remove(&number).map(Bytes::from) } else { None }
    }

    /// Hands a block's bundles to the agent.
    async fn deliver(&mut self, from: u64, block: &Bytes) {
        let Some(peer) = self.peers.get(&from) else { return };
        let link = peer.link.unwrap_or(peer.rx_link);
        let (bundles, error) = bundles_in_block(block);
        if let Some(e) = error {
            tracing::warn!(engine = from, error = %e, "LTP block from the peer holds something that is not a bundle: the rest of it is dropped");
        }
        for bytes in bundles {
            let mut reservation = Reservation::default();
            let permit = if self.ctx.budget.resize(&mut reservation, bytes.len()) {
                reservation.take(bytes.len())
            } else {
                // Already acknowledged to the peer: taken in over the budget, and new
                // sessions are refused until it recovers.
                self.engine.set_accepting(from, false);
                None
            };
            let _ = self.ctx.commands.send(Command::Received { link, bytes, permit }).await;
        }
    }

    /// New import sessions resume once a quarter of the receive budget is free.
    fn update_accepting(&mut self) {
        let free = self.ctx.budget.available() >= self.ctx.budget.total() / 4;
        if free {
            for engine_id in self.peers.keys() {
                self.engine.set_accepting(*engine_id, true);
            }
        }
    }

    /// Sends what the engine has for each open peer, a run of segments per peer in turn
    /// (one system call each), at each peer's pace.
    fn transmit(&mut self, now: u64) {
        self.paced_until = None;
        let mut left = SEND_BATCH;
        while left > 0 && !self.blocked {
            let mut progressed = false;
            for peer in self.peers.values_mut().filter(|p| p.link.is_some()) {
                let mut out = match peer.unsent.take() {
                    Some(out) => out,
                    None => gather(
                        &mut self.engine,
                        &self.udp,
                        peer,
                        now,
                        &mut self.paced_until,
                        std::mem::take(&mut self.out),
                    ),
                };
                if out.bytes.is_empty() {
                    self.out = out.bytes;
                    continue;
                }
                left = left.saturating_sub(out.bytes.len().div_ceil(out.segment.max(1)));
                match self.udp.try_send(peer.address, &out.bytes, out.segment) {
                    Ok(n) if n >= out.bytes.len() => {
                        progressed = true;
                        out.bytes.clear();
                        self.out = out.bytes;
                    }
                    Ok(n) => {
                        progressed = true;
                        out.bytes.drain(..n);
                        peer.unsent = Some(out);
                        self.blocked = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        peer.unsent = Some(out);
                        self.blocked = true;
                    }
                    // Lost, as on the radio: LTP recovers it.
                    Err(e) => tracing::debug!(peer = peer.node, error = %e, "LTP send failed"),
                }
                if self.blocked {
                    break;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Shutdown: every bundle not yet judged fails (it is in the store; it goes again after
    /// the restart), and the links go down.
    async fn stop(&mut self) {
        let now = self.now_ms();
        let ids: Vec<u64> = self.peers.keys().copied().collect();
        for engine_id in ids {
            self.close_link(engine_id, "the daemon is stopping", now).await;
            let tokens: Vec<Token> = self
                .peers
                .get_mut(&engine_id)
                .map(|p| std::mem::take(&mut p.sessions).into_values().flatten().collect())
                .unwrap_or_default();
            self.verdicts(tokens, false).await;
        }
    }
}

/// The peer's next run of segments from the engine: equal sizes (the last may be shorter), as
/// many as one send carries, each let through by the peer's pacer. A segment that does not
/// fit the run (longer, or not yet allowed by the pacer) is held for the next one.
fn gather(
    engine: &mut Engine,
    udp: &Udp,
    peer: &mut Peer,
    now: u64,
    paced_until: &mut Option<Instant>,
    mut bytes: Vec<u8>,
) -> Outbox {
    bytes.clear();
    let (mut segment, mut limit, mut count) = (0, 1, 0);
    loop {
        let start = bytes.len();
        let paced = match peer.held.take() {
            Some(held) => {
                bytes.extend_from_slice(&held.bytes);
                held.paced
            }
            None if engine.poll_transmit(peer.engine_id, now, &mut bytes) => false,
            None => break,
        };
        let len = bytes.len() - start;
        if count > 0 && len > segment {
            peer.held = Some(Held { bytes: bytes.split_off(start), paced });
            break;
        }
        if !paced && let Some(wait) = peer.pacer.as_ref().and_then(|p| p.try_take(len)) {
            peer.held = Some(Held { bytes: bytes.split_off(start), paced: false });
            let until = Instant::now() + wait;
            *paced_until = Some(paced_until.map_or(until, |p| p.min(until)));
            break;
        }
        count += 1;
        if count == 1 {
            segment = len;
            limit = udp.batch_limit(len);
        }
        if len < segment || count >= limit {
            break;
        }
    }
    Outbox { bytes, segment }
}

/// Where a link's forwarder hands its bundles.
struct Forwarder {
    /// The peer's intake credit and its total.
    credit: (Arc<Semaphore>, usize),
    intake: mpsc::UnboundedSender<Intake>,
    commands: mpsc::Sender<Command>,
    engine_id: u64,
    link: LinkId,
    /// Destinations whose bundles go green.
    green: Arc<[EidPattern]>,
}

/// Moves bundles from the agent's link channel to the endpoint, holding each peer to its
/// intake credit (so one peer's backlog cannot crowd out another's), and marks those the
/// `green` patterns name. Once the link closes, whatever still comes fails back to the agent.
async fn forward(mut rx: mpsc::UnboundedReceiver<(BundleId, Bytes)>, mut closed: oneshot::Receiver<()>, to: Forwarder) {
    let Forwarder { credit: (credit, total), intake, commands, engine_id, link, green } = to;
    let mut open = true;
    while let Some((bundle, bytes)) = rx.recv().await {
        if open {
            let units = u32::try_from(bytes.len().div_ceil(1024).clamp(1, total)).unwrap_or(u32::MAX);
            let green = !green.is_empty() && goes_green(&green, &bytes);
            tokio::select! {
                permit = credit.clone().acquire_many_owned(units) => {
                    let token = Token { link, bundle, _credit: permit.ok() };
                    if intake.send(Intake { engine_id, token, bytes, green }).is_ok() {
                        continue;
                    }
                }
                _ = &mut closed => {}
            }
            open = false;
        }
        let _ = commands.send(Command::Transmitted { link, bundle, ok: false }).await;
    }
}

/// Whether a bundle goes as green data: its destination matches a pattern, and it is not an
/// administrative record or for an administrative endpoint (custody signals, BIBE
/// encapsulations, status reports always go red).
fn goes_green(patterns: &[EidPattern], bytes: &Bytes) -> bool {
    let Ok(bundle) = Bundle::parse(bytes.clone(), ParseMode::Relaxed) else { return false };
    let destination = bundle.destination();
    !bundle.flags().contains(BundleFlags::ADMIN_RECORD)
        && !destination.is_node_id()
        && patterns.iter().any(|p| p.matches(destination))
}
