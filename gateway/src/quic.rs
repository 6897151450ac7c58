//! The QUIC convergence layer between gateways (draft-ek-dtn-qubicle): ALPN `qbcl`, mutual
//! TLS 1.3 (rustls with ring, through quinn), one bundle per unidirectional stream ended by
//! its FIN, no framing. A bundle counts as sent when QUIC reports every byte of its stream
//! acknowledged; a stream the peer stops, or a connection that closes first, is a failed
//! transmission. The peer's node ID is the `ipn` URI its certificate names.
//!
//! Many bundles are in flight at once (each its own stream, no head-of-line blocking between
//! them); QUIC's stream and connection flow control is the backpressure.
//!
//! QUIC acknowledges data when it arrives, not when the application has read it, and a
//! closed connection drops what was not read. So a node closes only once its own receiving
//! side has been quiet for a moment (everything the peer sent is read and with the agent),
//! and reads streams as soon as they open, up to [`IN_FLIGHT`] at once (while closing, all of
//! them: their data is in QUIC's buffers already; at most [`DRAIN_MAX`]). What qubicle cannot
//! cover without acknowledgements of its own: a peer that closes while this node is holding
//! back streams it has not accepted yet (its agent is not keeping up) loses those.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, VarInt};
use rustls::pki_types::CertificateDer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::budget::{Arrival, ReceiveBudget, Reservation};
use crate::tcpcl::tls::{self, TlsError, TlsSetup};

/// The ALPN protocol identifier of qubicle.
pub const ALPN: &[u8] = b"qbcl";
/// Connection closed normally.
pub const NO_ERROR: u32 = 0x00;
/// The peer broke the protocol (a bidirectional stream, a bundle that is not one).
pub const PROTOCOL_ERROR: u32 = 0x01;
/// A bundle above this node's limit (the draft's later revisions; stream-level).
pub const BUNDLE_TOO_LARGE: u32 = 0x03;
/// This node is shutting down.
pub const SHUTTING_DOWN: u32 = 0x05;
/// This node has no memory for the bundle now: send it again later (stream-level).
pub const NO_RESOURCES: u32 = 0x06;

/// Bundles sent and not yet acknowledged, per connection.
const IN_FLIGHT: usize = 256;
/// Bytes sent and not yet acknowledged, per connection (each stream holds its data until
/// then; the sender's store holds the bundle too).
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// Bundles waiting in each direction's channel.
const CHANNEL: usize = 64;
/// Before closing, the receiving side must have been quiet (no stream open, none being read
/// or handed on) this long: the peer's streams that QUIC already acknowledged are read and
/// handed to the agent first, not dropped with the connection.
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// The longest a closing connection waits for that.
const DRAIN_MAX: Duration = Duration::from_secs(5);

/// A node's QUIC settings.
#[derive(Debug, Clone)]
pub struct QuicConfig {
    /// TLS material (mandatory: QUIC has no plaintext mode).
    pub tls: TlsSetup,
    /// Largest bundle accepted.
    pub max_bundle: u64,
    /// Idle timeout; keepalive PINGs go out at a third of it.
    pub idle_timeout: Duration,
    /// The node's bound on received data not yet taken in (`None`: only `max_bundle` per
    /// stream bounds it); a stream that would exceed it is stopped with [`NO_RESOURCES`].
    pub budget: Option<ReceiveBudget>,
}

/// Why a QUIC link could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS configuration does not suit QUIC.
    #[error("TLS configuration unusable for QUIC: {0}")]
    Crypto(String),
    /// Binding the UDP socket.
    #[error("endpoint: {0}")]
    Io(#[from] std::io::Error),
    /// Opening the connection.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed (handshake, peer closed, timeout).
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The peer's certificate names no `ipn` node.
    #[error("the peer's certificate names no ipn node ID")]
    NoNodeId,
}

fn transport(config: &QuicConfig) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_uni_streams(VarInt::from_u32(IN_FLIGHT as u32));
    t.max_concurrent_bidi_streams(VarInt::from_u32(0));
    // Room for a few 1 MiB bundles per stream and many at once per connection.
    t.stream_receive_window(VarInt::from_u32(4 << 20));
    t.receive_window(VarInt::from_u32(64 << 20));
    t.send_window(64 << 20);
    if let Ok(idle) = quinn::IdleTimeout::try_from(config.idle_timeout) {
        t.max_idle_timeout(Some(idle));
    }
    t.keep_alive_interval(Some(config.idle_timeout / 3));
    Arc::new(t)
}

/// A server configuration: TLS from `tls` with client certificates required, `alpn`, and
/// `transport` (shared by the gateway-to-gateway endpoint and the application bridge).
pub fn server_config(
    tls: &TlsSetup,
    alpn: &[u8],
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, QuicError> {
    let mut server = tls::server_config(tls)?;
    server.alpn_protocols = vec![alpn.to_vec()];
    let server = QuicServerConfig::try_from(server).map_err(|e| QuicError::Crypto(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server));
    server.transport_config(transport);
    Ok(server)
}

/// A QUIC endpoint on `bind` that accepts connections (if `serve`) and opens them.
pub fn endpoint(bind: SocketAddr, config: &QuicConfig, serve: bool) -> Result<Endpoint, QuicError> {
    let mut client = tls::client_config(&config.tls)?;
    client.alpn_protocols = vec![ALPN.to_vec()];
    let client = QuicClientConfig::try_from(client).map_err(|e| QuicError::Crypto(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(client));
    client.transport_config(transport(config));
    let mut endpoint = if serve {
        Endpoint::server(server_config(&config.tls, ALPN, transport(config))?, bind)?
    } else {
        Endpoint::client(bind)?
    };
    endpoint.set_default_client_config(client);
    Ok(endpoint)
}

/// The next connection attempt on `endpoint`; `None` once it is closed or on shutdown (the
/// endpoint then closes every connection with `SHUTTING_DOWN`).
pub async fn next_incoming(
    endpoint: &Endpoint,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<quinn::Incoming> {
    tokio::select! {
        incoming = endpoint.accept() => incoming,
        _ = shutdown.changed() => {
            endpoint.close(VarInt::from_u32(SHUTTING_DOWN), b"shutting down");
            None
        }
    }
}

/// An established connection to a peer node.
#[derive(Debug)]
pub struct QuicLink {
    connection: Connection,
    peer_node_id: String,
    max_bundle: u64,
    budget: Option<ReceiveBudget>,
    /// A bundle stream that brings nothing for this long is stopped (the idle timeout).
    stall: Duration,
}

/// The node ID its certificate gives the peer: the first URI SAN that is an `ipn` EID.
fn peer_node_id(connection: &Connection) -> Result<String, QuicError> {
    let chain = connection
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or(QuicError::NoNodeId)?;
    let leaf = chain.first().ok_or(QuicError::NoNodeId)?;
    tls::uri_sans(leaf)
        .into_iter()
        // A node ID (`ipn:N.0`); a certificate naming only an endpoint (`ipn:N.5`) names no node.
        .find(|uri| matches!(uri.parse::<dtn_core::eid::Eid>(), Ok(dtn_core::eid::Eid::Ipn(ipn)) if ipn.service == 0))
        .ok_or(QuicError::NoNodeId)
}

/// Opens a connection to `addr`.
pub async fn connect(endpoint: &Endpoint, addr: SocketAddr, config: &QuicConfig) -> Result<QuicLink, QuicError> {
    // The server name is not checked (the node ID in the certificate is); any valid name does.
    let connection = endpoint.connect(addr, "dtn-node")?.await?;
    let peer_node_id = peer_node_id(&connection)?;
    Ok(QuicLink {
        connection,
        peer_node_id,
        max_bundle: config.max_bundle,
        budget: config.budget.clone(),
        stall: config.idle_timeout,
    })
}

/// Completes a connection a peer opened.
pub async fn accept(incoming: quinn::Incoming, config: &QuicConfig) -> Result<QuicLink, QuicError> {
    let connection = incoming.await?;
    match peer_node_id(&connection) {
        Ok(peer_node_id) => Ok(QuicLink {
            connection,
            peer_node_id,
            max_bundle: config.max_bundle,
            budget: config.budget.clone(),
            stall: config.idle_timeout,
        }),
        Err(e) => {
            connection.close(VarInt::from_u32(PROTOCOL_ERROR), b"no node ID in the certificate");
            Err(e)
        }
    }
}

/// A link taken apart, like [`crate::tcpcl::link::LinkParts`].
#[derive(Debug)]
pub struct QuicParts {
    /// Bundles to send.
    pub outbound: mpsc::Sender<Bytes>,
    /// Bundles received, each with its share of the receive budget.
    pub inbound: mpsc::Receiver<Arrival>,
    /// One verdict per bundle sent: its position in sending order (from 0) and whether the
    /// peer has it. Streams complete independently, so verdicts come in any order.
    pub outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    /// Runs until the connection ends.
    pub task: JoinHandle<()>,
}

impl QuicLink {
    /// The peer's node ID (from its certificate).
    pub fn peer_node_id(&self) -> &str {
        &self.peer_node_id
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.connection.remote_address()
    }

    /// Starts the tasks that carry bundles both ways; the connection closes (with
    /// `NO_ERROR`) when `outbound`'s sender is dropped and everything sent is acknowledged.
    pub fn into_parts(self) -> QuicParts {
        let (out_tx, out_rx) = mpsc::channel(CHANNEL);
        let (in_tx, in_rx) = mpsc::channel(CHANNEL);
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let activity = Arc::new(Activity::default());
        let limits = (self.max_bundle, self.budget.clone(), self.stall);
        let receiving = tokio::spawn(receive(self.connection.clone(), in_tx, limits, activity.clone()));
        let task = tokio::spawn(send(self.connection, out_rx, outcome_tx, receiving, activity));
        QuicParts { outbound: out_tx, inbound: in_rx, outcomes, task }
    }
}

/// Sends one bundle on a stream of its own; true once the peer has acknowledged all of it.
async fn send_one(connection: Connection, bundle: Bytes) -> bool {
    let Ok(mut stream) = connection.open_uni().await else { return false };
    if stream.write_chunk(bundle).await.is_err() || stream.finish().is_err() {
        return false;
    }
    // `None`: finished and every byte acknowledged; `Some(code)`: the peer stopped it.
    matches!(stream.stopped().await, Ok(None))
}

async fn send(
    connection: Connection,
    mut outbound: mpsc::Receiver<Bytes>,
    outcomes: mpsc::UnboundedSender<(u64, bool)>,
    mut receiving: JoinHandle<()>,
    activity: Arc<Activity>,
) {
    let mut pending: tokio::task::JoinSet<(u64, bool, usize)> = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut bytes = 0usize;
    let mut open = true;
    loop {
        let room = pending.len() < IN_FLIGHT && bytes < IN_FLIGHT_BYTES;
        tokio::select! {
            Some(done) = pending.join_next(), if !pending.is_empty() => {
                if let Ok((position, ok, len)) = done {
                    bytes -= len;
                    let _ = outcomes.send((position, ok));
                }
            }
            bundle = outbound.recv(), if open && room => match bundle {
                Some(bundle) => {
                    let (position, connection, len) = (next, connection.clone(), bundle.len());
                    next += 1;
                    bytes += len;
                    pending.spawn(async move { (position, send_one(connection, bundle).await, len) });
                }
                None => open = false,
            },
            _ = &mut receiving => break,
        }
        if !open && pending.is_empty() {
            tokio::select! {
                () = activity.quiet() => connection.close(VarInt::from_u32(NO_ERROR), b""),
                _ = &mut receiving => {}
            }
            break;
        }
    }
    // Whatever is still pending failed with the connection (the host hears of it as the
    // verdicts that never came).
    pending.abort_all();
    receiving.abort();
}

/// What the receiving side is doing, for a clean close.
#[derive(Debug)]
struct Activity {
    /// Streams accepted and not yet handed on.
    busy: std::sync::atomic::AtomicUsize,
    /// Streams accepted so far.
    accepted: std::sync::atomic::AtomicU64,
    /// Set when this side is about to close: every stream is read now, whatever the limit
    /// (their data is in memory already, in QUIC's buffers; closing would drop it).
    draining: tokio::sync::watch::Sender<bool>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity { busy: 0.into(), accepted: 0.into(), draining: tokio::sync::watch::Sender::new(false) }
    }
}

impl Activity {
    /// Reads whatever the peer sent, then returns once nothing was received for
    /// [`DRAIN_QUIET`] (at most [`DRAIN_MAX`]).
    async fn quiet(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.draining.send_replace(true);
        let give_up = tokio::time::Instant::now() + DRAIN_MAX;
        loop {
            let before = self.accepted.load(Relaxed);
            tokio::time::sleep(DRAIN_QUIET).await;
            let idle = self.busy.load(Relaxed) == 0 && self.accepted.load(Relaxed) == before;
            if idle || tokio::time::Instant::now() >= give_up {
                return;
            }
        }
    }
}

/// Reads the peer's streams, at most [`IN_FLIGHT`] at once (counting those read and waiting
/// for the agent to take them): beyond that, streams wait unaccepted in QUIC, whose flow
/// control holds the peer back, so a fast peer cannot fill this node's memory.
async fn receive(
    connection: Connection,
    inbound: mpsc::Sender<Arrival>,
    (max_bundle, budget, stall): (u64, Option<ReceiveBudget>, Duration),
    activity: Arc<Activity>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let limit = usize::try_from(max_bundle).unwrap_or(usize::MAX);
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut draining = activity.draining.subscribe();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned(), if !*draining.borrow() => match slot {
                Ok(slot) => Some(slot),
                Err(_) => return,
            },
            _ = draining.wait_for(|d| *d) => None,
        };
        let Ok(mut stream) = connection.accept_uni().await else { return };
        activity.busy.fetch_add(1, Relaxed);
        activity.accepted.fetch_add(1, Relaxed);
        let (inbound, activity, budget) = (inbound.clone(), activity.clone(), budget.clone());
        tokio::spawn(async move {
            let mut held = Reservation::default();
            match read_bundle(&mut stream, (limit, stall), budget.as_ref(), &mut held).await {
                Ok(bundle) => {
                    let permit = held.take(bundle.len());
                    let _ = inbound.send(Arrival { bytes: bundle, permit }).await;
                }
                Err(code) => {
                    let _ = stream.stop(VarInt::from_u32(code));
                }
            }
            activity.busy.fetch_sub(1, Relaxed);
            drop(slot);
        });
    }
}

/// Reads one bundle stream to its end, within `limit` and the receive budget; `Err(code)`:
/// the stream is to be stopped with that code (0: it failed on its own). A stream that
/// brings nothing for `stall` is stopped ("no resources"): a peer that keeps its connection
/// alive but never finishes a bundle would hold its share of the budget for ever.
async fn read_bundle(
    stream: &mut quinn::RecvStream,
    (limit, stall): (usize, Duration),
    budget: Option<&ReceiveBudget>,
    held: &mut Reservation,
) -> Result<Bytes, u32> {
    let mut data = bytes::BytesMut::new();
    loop {
        let Ok(read) = tokio::time::timeout(stall, stream.read_chunk(64 * 1024, true)).await else {
            tracing::warn!(held = data.len(), "quic: a bundle stream stalled: stopped");
            return Err(NO_RESOURCES);
        };
        match read {
            Ok(Some(chunk)) => {
                if data.len() + chunk.bytes.len() > limit {
                    return Err(BUNDLE_TOO_LARGE);
                }
                data.extend_from_slice(&chunk.bytes);
                if let Some(budget) = budget
                    && !budget.resize(held, data.len())
                {
                    tracing::warn!(available = budget.available(), "quic: receive memory exhausted: stream stopped");
                    return Err(NO_RESOURCES);
                }
            }
            Ok(None) => return Ok(data.freeze()),
            Err(_) => return Err(NO_ERROR),
        }
    }
}

#[cfg(test)]
#[path = "quic_tests.rs"]
pub(crate) mod tests;
