//! One TCPCLv4 session on a TCP connection, run by a tokio task; bundles go in and come out
//! through channels (bounded: a slow reader slows the peer through TCP).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use dtn_core::cla::tcpcl::{RefuseReason, Role, Session, SessionConfig, SessionEvent, TermReason};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::tls::{self, NodeIdPolicy, TlsError, TlsSetup};
use crate::budget::{Arrival, ReceiveBudget, Reservation};

/// How often a session that stopped reading for want of receive budget looks again.
const BUDGET_RETRY: std::time::Duration = std::time::Duration::from_millis(50);
/// Queued octets above which no new bundle is taken from the sender.
const HIGH_WATER: usize = 8 << 20;
/// Bundles waiting in each direction's channel (with 1 MiB bundles, 64 MiB a direction).
const CHANNEL: usize = 64;
/// Longest a session may take to be established (contact headers, TLS, SESS_INIT): a peer
/// that connects and goes quiet must not hold a task and a socket for ever (RFC 9174 4.1).
const ESTABLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A node's TCPCL settings.
#[derive(Debug, Clone)]
pub struct TcpclConfig {
    /// Session parameters (node ID, keepalive, MRUs).
    pub session: SessionConfig,
    /// TLS material; `None`: TLS is not offered.
    pub tls: Option<TlsSetup>,
    /// The node's bound on received data not yet taken in (`None`: only the MRUs bound it).
    /// A transfer that would exceed it is refused (XFER_REFUSE "no resources"); the peer
    /// tries again later.
    pub budget: Option<ReceiveBudget>,
}

impl TcpclConfig {
    /// Settings without a receive budget.
    pub fn new(session: SessionConfig, tls: Option<TlsSetup>) -> Self {
        TcpclConfig { session, tls, budget: None }
    }
}

/// Why a session could not start or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// TLS set-up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The session ended before it was established.
    #[error("session ended before it was established: {reason:?} (by peer: {by_peer})")]
    Ended {
        /// Why.
        reason: TermReason,
        /// The peer ended it.
        by_peer: bool,
    },
    /// The peer's certificate does not name the node ID it claimed.
    #[error("peer claims node ID {0} but its certificate does not name it")]
    NodeIdNotInCertificate(String),
    /// TLS is required here and the peer did not offer it.
    #[error("the peer does not offer TLS, which this node requires")]
    TlsRequired,
    /// This side ended the session: the peer stalled, timed out or offered what is not
    /// accepted here (in words).
    #[error("{0}")]
    EndedHere(String),
    /// The session task is gone.
    #[error("the session is closed")]
    Closed,
}

/// An established session.
#[derive(Debug)]
pub struct TcpclLink {
    peer_node_id: String,
    peer_transfer_mru: u64,
    tls: bool,
    authenticated: bool,
    outbound: Option<mpsc::Sender<Bytes>>,
    inbound: mpsc::Receiver<Arrival>,
    delivered: Arc<AtomicU64>,
    outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    task: JoinHandle<Result<(), LinkError>>,
}

/// A session taken apart for a host that sends and receives from different tasks.
#[derive(Debug)]
pub struct LinkParts {
    /// Bundles to send (bounded: waits while the session has plenty queued).
    pub outbound: mpsc::Sender<Bytes>,
    /// Bundles received, each with its share of the receive budget; ends when the session
    /// does.
    pub inbound: mpsc::Receiver<Arrival>,
    /// One entry per bundle sent: its position in sending order (from 0) and `true` once the
    /// peer acknowledged all of it, `false` if it refused it or the session could not take it
    /// (those come at once, ahead of earlier bundles' acknowledgements). Bundles without an
    /// entry when the session ends were not (known to be) delivered.
    pub outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    /// The session task: how the session ended.
    pub task: JoinHandle<Result<(), LinkError>>,
}

impl TcpclLink {
    /// The peer's node ID (checked against its certificate under TLS, per policy).
    pub fn peer_node_id(&self) -> &str {
        &self.peer_node_id
    }

    /// The largest bundle the peer takes (its SESS_INIT transfer MRU).
    pub fn peer_transfer_mru(&self) -> u64 {
        self.peer_transfer_mru
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the peer proved its node ID: TLS, and its certificate names the node ID it
    /// claimed (whatever the node ID policy let through).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Queues a bundle; waits while the session has plenty queued already.
    pub async fn send(&self, bundle: Bytes) -> Result<(), LinkError> {
        let outbound = self.outbound.as_ref().ok_or(LinkError::Closed)?;
        outbound.send(bundle).await.map_err(|_| LinkError::Closed)
    }

    /// The next bundle received; `None` once the session has ended.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.inbound.recv().await.map(|a| a.bytes)
    }

    /// Transfers the peer acknowledged in full so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Takes the session apart (see [`LinkParts`]).
    pub fn into_parts(self) -> LinkParts {
        let TcpclLink { outbound, inbound, outcomes, task, .. } = self;
        let outbound = outbound.unwrap_or_else(|| mpsc::channel(1).0);
        LinkParts { outbound, inbound, outcomes, task }
    }

    /// Ends the session once what was queued has gone out (SESS_TERM, the peer's reply,
    /// close), and returns how it went.
    pub async fn close(mut self) -> Result<(), LinkError> {
        self.outbound = None;
        // Bundles still arriving are not wanted any more.
        self.inbound.close();
        match (&mut self.task).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Closed),
        }
    }
}

/// Opens a session to `addr` as the active side.
pub async fn connect(addr: SocketAddr, config: Arc<TcpclConfig>) -> Result<TcpclLink, LinkError> {
    let stream = TcpStream::connect(addr).await?;
    within_limit(establish(stream, Role::Active, config)).await
}

async fn within_limit(
    establishing: impl std::future::Future<Output = Result<TcpclLink, LinkError>>,
) -> Result<TcpclLink, LinkError> {
    tokio::time::timeout(ESTABLISH_TIMEOUT, establishing).await.unwrap_or_else(|_| {
        Err(LinkError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "session establishment timed out")))
    })
}

/// Runs the passive side of a session on an accepted connection.
pub async fn accept(stream: TcpStream, config: Arc<TcpclConfig>) -> Result<TcpclLink, LinkError> {
    within_limit(establish(stream, Role::Passive, config)).await
}

/// Milliseconds since `origin`.
fn ms(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn flush<S: AsyncWrite + Unpin>(session: &mut Session, out: &mut S) -> std::io::Result<()> {
    while let Some(chunk) = session.poll_transmit() {
        out.write_all(&chunk).await?;
    }
    out.flush().await
}

async fn establish(mut stream: TcpStream, role: Role, config: Arc<TcpclConfig>) -> Result<TcpclLink, LinkError> {
    stream.set_nodelay(true)?;
    let origin = Instant::now();
    let mut session_config = config.session.clone();
    session_config.can_tls = config.tls.is_some();
    let mut session = Session::new(session_config, role, 0);
    flush(&mut session, &mut stream).await?;
    // The contact header, exactly: whatever follows may be the peer's TLS handshake.
    let mut header = [0u8; 6];
    stream.read_exact(&mut header).await?;
    session.receive(&header, ms(origin));
    flush(&mut session, &mut stream).await?;
    let mut use_tls = false;
    while let Some(event) = session.poll_event() {
        match event {
            SessionEvent::ContactHeaders { tls } => use_tls = tls,
            SessionEvent::Ended { reason, by_peer } => return Err(LinkError::Ended { reason, by_peer }),
            _ => {}
        }
    }
    let setup = config.tls.as_ref();
    if !use_tls && setup.is_some_and(|s| s.policy == NodeIdPolicy::Require) {
        return Err(LinkError::TlsRequired);
    }
    match (use_tls, setup) {
        (true, Some(setup)) => {
            let peer_ip = stream.peer_addr()?.ip();
            session.tls_established(ms(origin));
            match role {
                Role::Active => {
                    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls::client_config(setup)?));
                    let name = rustls::pki_types::ServerName::IpAddress(peer_ip.into());
                    let stream = connector.connect(name, stream).await?;
                    let chain = stream.get_ref().1.peer_certificates().map(<[_]>::to_vec);
                    run(stream, session, origin, chain, setup.policy, config.budget.clone()).await
                }
                Role::Passive => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(setup)?));
                    let stream = acceptor.accept(stream).await?;
                    let chain = stream.get_ref().1.peer_certificates().map(<[_]>::to_vec);
                    run(stream, session, origin, chain, setup.policy, config.budget.clone()).await
                }
            }
        }
        _ => run(stream, session, origin, None, NodeIdPolicy::None, config.budget.clone()).await,
    }
}

/// Completes SESS_INIT on `stream`, checks the node ID, and hands the session to a task.
async fn run<S>(
    stream: S,
    mut session: Session,
    origin: Instant,
    chain: Option<Vec<rustls::pki_types::CertificateDer<'static>>>,
    policy: NodeIdPolicy,
    budget: Option<ReceiveBudget>,
) -> Result<TcpclLink, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tls = chain.is_some();
    let (mut rd, wr) = tokio::io::split(stream);
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    let mut buf = vec![0u8; 64 * 1024];
    let (peer_node_id, peer_transfer_mru) = loop {
        flush(&mut session, &mut wr).await?;
        if let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Established { peer_node_id, peer_transfer_mru, .. } => {
                    break (peer_node_id, peer_transfer_mru);
                }
                SessionEvent::Ended { reason, by_peer } => {
                    flush(&mut session, &mut wr).await?;
                    return Err(match session.cause() {
                        Some(cause) => LinkError::EndedHere(cause.to_string()),
                        None => LinkError::Ended { reason, by_peer },
                    });
                }
                _ => continue,
            }
        }
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            return Err(LinkError::Ended { reason: TermReason::ContactFailure, by_peer: true });
        }
        session.receive(buf.get(..n).unwrap_or_default(), ms(origin));
    };
    let authenticated = tls && tls::names_node(chain.as_deref(), &peer_node_id);
    if tls && policy != NodeIdPolicy::None && !authenticated {
        if policy == NodeIdPolicy::Require {
            session.terminate(TermReason::ContactFailure);
            flush(&mut session, &mut wr).await?;
            return Err(LinkError::NodeIdNotInCertificate(peer_node_id));
        }
        eprintln!("tcpcl: warning: peer {peer_node_id}'s certificate does not name it");
    }
    let (out_tx, out_rx) = mpsc::channel(CHANNEL);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL);
    let delivered = Arc::new(AtomicU64::new(0));
    let (outcome_tx, outcomes) = mpsc::unbounded_channel();
    let counters =
        Outcomes { delivered: delivered.clone(), outcomes: outcome_tx, positions: Default::default(), next: 0 };
    let task = tokio::spawn(drive(session, rd, wr, buf, origin, out_rx, in_tx, counters, budget));
    Ok(TcpclLink {
        peer_node_id,
        peer_transfer_mru,
        tls,
        authenticated,
        outbound: Some(out_tx),
        inbound: in_rx,
        delivered,
        outcomes,
        task,
    })
}

/// Where the session loop reports what became of each bundle sent.
#[derive(Debug)]
struct Outcomes {
    delivered: Arc<AtomicU64>,
    outcomes: mpsc::UnboundedSender<(u64, bool)>,
    /// Position in sending order of each transfer in progress.
    positions: std::collections::BTreeMap<u64, u64>,
    next: u64,
}

impl Outcomes {
    fn report(&self, position: u64, ok: bool) {
        // Nobody listening (the host kept the link whole) is fine.
        let _ = self.outcomes.send((position, ok));
    }
}

/// What the session loop is writing: the rest of the chunk the session handed out, and
/// whether the buffered writer still holds bytes to flush.
#[derive(Debug, Default)]
struct Writing {
    chunk: Option<Bytes>,
    unflushed: bool,
}

impl Writing {
    fn busy(&self) -> bool {
        self.chunk.is_some() || self.unflushed
    }

    /// One step: some of the chunk into the writer, or a flush. Cancel-safe (a step either
    /// happened or did not), so it can race reads and timers in a `select!`.
    async fn step<W: AsyncWrite + Unpin>(&mut self, wr: &mut BufWriter<W>) -> std::io::Result<()> {
        match self.chunk.as_mut() {
            Some(chunk) => {
                let n = wr.write(chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                bytes::Buf::advance(chunk, n);
                if chunk.is_empty() {
                    self.chunk = None;
                }
                self.unflushed = true;
            }
            None => {
                wr.flush().await?;
                self.unflushed = false;
            }
        }
        Ok(())
    }
}

/// The session loop: reads, writes what the session queued, keeps alive and times out, until
/// the session ends. Reading never waits for writing (two sessions sending big bundles to each
/// other would otherwise both block in a write), and a write that makes no progress for the
/// session's stall bound — a peer that stopped reading — ends the session.
#[allow(clippy::too_many_arguments)]
async fn drive<R, W>(
    mut session: Session,
    mut rd: R,
    mut wr: BufWriter<W>,
    mut buf: Vec<u8>,
    origin: Instant,
    mut outbound: mpsc::Receiver<Bytes>,
    inbound: mpsc::Sender<Arrival>,
    mut report: Outcomes,
    budget: Option<ReceiveBudget>,
) -> Result<(), LinkError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut sending = true;
    let mut writing = Writing::default();
    // What this session holds of the receive budget: the peer's data not yet taken in.
    let mut held = Reservation::default();
    // Reading waits while the budget cannot cover what the session holds (a message still
    // arriving): the peer is slowed by TCP, and a peer that never finishes it times out.
    let mut paused = false;
    // Since when the current write has made no progress, and since when this side has been
    // ending the session (a peer that never answers SESS_TERM is cut off).
    let mut write_waiting_since = Instant::now();
    let mut ending_since: Option<Instant> = None;
    let mut write_stalled = false;
    // What the session holds of the peer's data while a message or transfer is still
    // arriving, and since when that has not changed: a peer that starts a transfer and then
    // sends nothing more of it (keepalives only, or nothing) holds receive memory that others
    // need, and is cut off after the stall bound.
    let mut partial: Option<(usize, Instant)> = None;
    loop {
        while let Some(event) = session.poll_event() {
            match event {
                // A receiver that went away just does not get it (the peer saw it acknowledged
                // only because it was taken in: the host owns durability above this layer).
                SessionEvent::Received { bundle, .. } => {
                    let permit = held.take(bundle.len());
                    let _ = inbound.send(Arrival { bytes: bundle, permit }).await;
                }
                SessionEvent::Delivered { transfer_id } => {
                    report.delivered.fetch_add(1, Ordering::Relaxed);
                    if let Some(position) = report.positions.remove(&transfer_id) {
                        report.report(position, true);
                    }
                }
                SessionEvent::Refused { transfer_id, .. } => {
                    if let Some(position) = report.positions.remove(&transfer_id) {
                        report.report(position, false);
                    }
                }
                SessionEvent::Ended { reason, by_peer } => {
                    let writing = if write_stalled { None } else { Some(writing) };
                    return finish(&mut session, &mut wr, writing, reason, by_peer).await;
                }
                _ => {}
            }
        }
        if !writing.busy() {
            writing.chunk = session.poll_transmit();
            write_waiting_since = Instant::now();
        }
        let stall = std::time::Duration::from_millis(session.stall_ms());
        let mut wake = session.poll_timeout().map(|ms_at| origin + std::time::Duration::from_millis(ms_at));
        if writing.busy() {
            wake = sooner(wake, write_waiting_since + stall);
        }
        if let Some(since) = ending_since {
            wake = sooner(wake, since + stall);
        }
        partial = match (session.receiving_bytes(), partial) {
            // Not reading (the budget is short) is this side's doing, not the peer's.
            (0, _) => None,
            _ if paused => None,
            (held, Some((was, since))) if held == was => Some((was, since)),
            (held, _) => Some((held, Instant::now())),
        };
        if let Some((_, since)) = partial {
            wake = sooner(wake, since + stall);
        }
        let can_take = sending && session.queued_bytes() < HIGH_WATER;
        tokio::select! {
            wrote = writing.step(&mut wr), if writing.busy() => {
                wrote?;
                write_waiting_since = Instant::now();
                if !writing.busy() {
                    session.transmitted(ms(origin));
                }
            }
            read = rd.read(&mut buf), if !paused => {
                let n = read?;
                if n == 0 {
                    // The peer closed without ending the session properly, or after.
                    return if session.is_closed() { Ok(()) } else { Err(LinkError::Ended { reason: TermReason::ContactFailure, by_peer: true }) };
                }
                session.receive(buf.get(..n).unwrap_or_default(), ms(origin));
                if let Some(budget) = &budget {
                    paused = !hold(budget, &mut held, &mut session);
                }
            }
            () = tokio::time::sleep(BUDGET_RETRY), if paused => {
                if let Some(budget) = &budget {
                    paused = !hold(budget, &mut held, &mut session);
                }
            }
            next = outbound.recv(), if can_take => match next {
                Some(bundle) => {
                    let position = report.next;
                    report.next += 1;
                    match session.send_bundle(bundle) {
                        Ok(transfer_id) => {
                            report.positions.insert(transfer_id, position);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "tcpcl: bundle not sent");
                            report.report(position, false);
                        }
                    }
                }
                None => {
                    sending = false;
                    ending_since = Some(Instant::now());
                    session.terminate(TermReason::Unknown);
                }
            },
            () = sleep_until(wake) => {
                let now = Instant::now();
                if writing.busy() && now >= write_waiting_since + stall {
                    write_stalled = true;
                    session.abort(format!("the peer read nothing for {} s", stall.as_secs()));
                } else if ending_since.is_some_and(|since| now >= since + stall) {
                    session.abort(format!("the peer did not answer SESS_TERM within {} s", stall.as_secs()));
                } else if partial.is_some_and(|(_, since)| now >= since + stall) {
                    session.abort(format!("the peer sent nothing more of its transfer for {} s", stall.as_secs()));
                } else {
                    session.handle_timeout(ms(origin));
                }
            }
        }
    }
}

/// The earlier of a wake-up time, if any, and `at`.
fn sooner(wake: Option<Instant>, at: Instant) -> Option<Instant> {
    Some(wake.map_or(at, |w| w.min(at)))
}

/// Makes the session's reservation cover what it holds of the peer's data; when the budget
/// cannot, the transfer in progress is refused (its data let go: the peer tries again later).
/// False when even then the budget cannot cover the rest (a message still arriving): the
/// caller stops reading until it can.
fn hold(budget: &ReceiveBudget, held: &mut Reservation, session: &mut Session) -> bool {
    if budget.resize(held, session.receiving_bytes()) {
        return true;
    }
    if session.refuse_incoming(RefuseReason::NoResources) {
        tracing::warn!(available = budget.available(), "tcpcl: receive memory exhausted: transfer refused");
    }
    budget.resize(held, session.receiving_bytes())
}

/// Writes out what the ending session still has, within its stall bound, and closes the
/// connection; says how the session went. `writing` is `None` when a write stalled: it is
/// abandoned mid-message and nothing more can follow it.
async fn finish<W: AsyncWrite + Unpin>(
    session: &mut Session,
    wr: &mut BufWriter<W>,
    writing: Option<Writing>,
    reason: TermReason,
    by_peer: bool,
) -> Result<(), LinkError> {
    let stall = std::time::Duration::from_millis(session.stall_ms());
    let cause = session.cause().map(str::to_string);
    if let Some(mut writing) = writing {
        let drain = async {
            while writing.busy() {
                writing.step(wr).await?;
            }
            flush(session, wr).await?;
            wr.shutdown().await
        };
        let _ = tokio::time::timeout(stall, drain).await;
    }
    if let Some(cause) = cause {
        return Err(LinkError::EndedHere(cause));
    }
    // A peer that hangs up is a normal end; one that reports a failure is not.
    let failure =
        matches!(reason, TermReason::ContactFailure | TermReason::ResourceExhaustion | TermReason::VersionMismatch);
    if by_peer && failure { Err(LinkError::Ended { reason, by_peer }) } else { Ok(()) }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
