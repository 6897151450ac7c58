//! The gateway's side of the application bridge (docs/app-protocol.md): QUIC with mutual TLS
//! and ALPN `dtn-app/1`; a client acts only for the endpoints its certificate names.

use std::num::NonZeroU32;
use std::sync::Arc;

use dtn_core::app::{Message, registered};
use dtn_core::eid::Eid;
use quinn::{Connection, RecvStream, SendStream, VarInt};
use tokio::sync::{mpsc, oneshot, watch};

use super::submit::Client;
use super::wire::{read_header, write_header};
use crate::daemon::agent::{Command, DeliveryKey, delivery_key};
use crate::quic::QuicConfig;
use crate::tcpcl::tls;

/// How long a delivery the client did not acknowledge waits before it is offered again.
const REOFFER_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// What one client may do.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// Submissions per second (governor, GCRA; a burst of a tenth of a second).
    pub submits_per_sec: u32,
    /// Submissions open at once (also the QUIC stream limit: a client cannot open more).
    pub in_flight: u32,
    /// Largest ADU.
    pub max_adu: u64,
    /// A connection, or a submission, that brings nothing for this long is given up.
    pub idle: std::time::Duration,
}

/// What every client of one node shares: the node's IDs and its receive budget.
#[derive(Debug, Clone)]
pub struct Shared {
    /// This node's IDs (a client may see the node's status only when it acts for one of
    /// its endpoints).
    pub node_ids: Arc<Vec<Eid>>,
    /// The node's bound on data received and not yet stored.
    pub budget: Option<crate::budget::ReceiveBudget>,
    /// One per connected client (`[limits] max_sessions`): beyond, a connection is refused
    /// before its handshake, so a flood of clients costs only their first packet.
    pub slots: Arc<tokio::sync::Semaphore>,
}

/// A QUIC endpoint for applications on `bind`.
pub fn endpoint(
    bind: std::net::SocketAddr,
    config: &QuicConfig,
    limits: ClientLimits,
) -> Result<quinn::Endpoint, String> {
    let mut transport = quinn::TransportConfig::default();
    // The control stream and the submissions in flight; what a client has not been allowed to
    // open yet it cannot send (QUIC flow control slows it; it is not disconnected).
    transport.max_concurrent_bidi_streams(VarInt::from_u32(limits.in_flight.saturating_add(1)));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    transport.stream_receive_window(VarInt::from_u32(1 << 20));
    transport.receive_window(VarInt::from_u32(32 << 20));
    if let Ok(idle) = quinn::IdleTimeout::try_from(config.idle_timeout) {
        transport.max_idle_timeout(Some(idle));
    }
    let server =
        crate::quic::server_config(&config.tls, dtn_core::app::ALPN, Arc::new(transport)).map_err(|e| e.to_string())?;
    quinn::Endpoint::server(server, bind).map_err(|e| format!("cannot listen on {bind} (QUIC): {e}"))
}

/// Serves applications until shutdown.
pub async fn serve(
    endpoint: quinn::Endpoint,
    commands: mpsc::Sender<Command>,
    limits: ClientLimits,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let Some(incoming) = crate::quic::next_incoming(&endpoint, &mut shutdown).await else { return };
        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
            tracing::debug!(from = %incoming.remote_address(), "application connection cap reached: refused");
            incoming.refuse();
            continue;
        };
        let commands = commands.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let from = incoming.remote_address();
            match incoming.await {
                Ok(connection) => {
                    let allowed = allowed_endpoints(&connection);
                    let endpoints = allowed.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    tracing::info!(%from, %endpoints, "application connected");
                    client(connection, allowed, commands, limits, shared).await;
                }
                Err(e) => tracing::warn!(%from, error = %e, "application refused (TLS)"),
            }
        });
    }
}

/// The endpoints the client's certificate names (URI SANs that are EIDs).
fn allowed_endpoints(connection: &Connection) -> Vec<Eid> {
    let Some(chain) =
        connection.peer_identity().and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
    else {
        return Vec::new();
    };
    chain.first().map(tls::uri_sans).unwrap_or_default().iter().filter_map(|u| u.parse().ok()).collect()
}

/// One application: the control stream first, then a stream per submission.
/// Submissions beyond the rate wait to be accepted, and so does the client (its streams are
/// not read): each client is paced on its own, so one cannot starve the others.
async fn client(
    connection: Connection,
    allowed: Vec<Eid>,
    commands: mpsc::Sender<Command>,
    limits: ClientLimits,
    shared: Shared,
) {
    let rate = NonZeroU32::new(limits.submits_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((limits.submits_per_sec / 10).max(1)).unwrap_or(NonZeroU32::MIN);
    let client = Arc::new(super::submit::Client {
        allowed,
        commands,
        pace: governor::RateLimiter::direct(governor::Quota::per_second(rate).allow_burst(burst)),
        quota: Arc::new(tokio::sync::Semaphore::new(limits.in_flight.max(1) as usize)),
        max_adu: limits.max_adu,
        stall: limits.idle,
        node_ids: shared.node_ids,
        budget: shared.budget,
    });
    let Ok((send, recv)) = connection.accept_bi().await else { return };
    tokio::spawn(control(connection.clone(), send, recv, client.clone()));
    // Streams are bounded by QUIC (`in_flight` + 1 at once); each ADU waits for the client's
    // rate and quota in its stream before it is read.
    while let Ok((send, recv)) = connection.accept_bi().await {
        tokio::spawn(super::submit::stream(client.clone(), send, recv));
    }
}

async fn control(connection: Connection, mut send: SendStream, mut recv: RecvStream, client: Arc<Client>) {
    let (allowed, commands) = (&client.allowed, &client.commands);
    while let Ok(Some(message)) = read_header(&mut recv).await {
        let answer = match message {
            Message::Register { endpoint } => {
                let status = match endpoint.parse::<Eid>() {
                    Ok(eid) if allowed.contains(&eid) => register(&connection, eid, commands).await,
                    _ => registered::NOT_ALLOWED,
                };
                Message::Registered { endpoint, status }
            }
            Message::Status if !client.belongs_here() => {
                // The node's state (its bundles, links, peers) is for its own applications.
                let json = serde_json::json!({
                    "error": "this client's certificate names no endpoint of this node: status refused"
                });
                Message::StatusReport { json: json.to_string() }
            }
            Message::Status => {
                let (tx, rx) = oneshot::channel();
                if commands.send(Command::Snapshot(tx)).await.is_err() {
                    return;
                }
                let json = rx.await.ok().and_then(|s| serde_json::to_string(&s).ok()).unwrap_or_default();
                Message::StatusReport { json }
            }
            _ => {
                connection.close(VarInt::from_u32(crate::quic::PROTOCOL_ERROR), b"unexpected message");
                return;
            }
        };
        if write_header(&mut send, &answer).await.is_err() {
            return;
        }
    }
}

/// Registers `endpoint` with the agent and starts handing its deliveries to the client.
async fn register(connection: &Connection, endpoint: Eid, commands: &mpsc::Sender<Command>) -> u64 {
    let (tx, mut rx) = mpsc::channel(crate::daemon::agent::APP_WINDOW);
    let (reply, answer) = oneshot::channel();
    let command = Command::AppRegister { endpoint: endpoint.clone(), tx, reply };
    if commands.send(command).await.is_err() || answer.await != Ok(true) {
        return registered::NOT_LOCAL;
    }
    let (connection, commands) = (connection.clone(), commands.clone());
    // Failed offers per delivery on this connection: the pause before the next doubles.
    let failures: Arc<std::sync::Mutex<std::collections::HashMap<DeliveryKey, u32>>> = Arc::default();
    tokio::spawn(async move {
        // Each offered delivery on a stream of its own, concurrently (the agent bounds how
        // many are out). One the client did not acknowledge is offered again after a pause
        // that doubles each time, up to a minute (a client that cannot take one — it is over
        // its size limit — must neither spin the gateway nor have it resent every second).
        loop {
            let d = tokio::select! {
                d = rx.recv() => d,
                _ = connection.closed() => None,
            };
            let Some(d) = d else { return };
            let (conn, commands, endpoint) = (connection.clone(), commands.clone(), endpoint.clone());
            let failures = failures.clone();
            tokio::spawn(async move {
                let key = delivery_key(&d);
                let taken = deliver(&conn, &d).await.is_ok();
                let failed_before = match failures.lock() {
                    Ok(mut f) if taken => f.remove(&key).unwrap_or(0),
                    Ok(mut f) => {
                        let n = f.entry(key.clone()).or_insert(0);
                        *n += 1;
                        *n - 1
                    }
                    Err(_) => 0,
                };
                if !taken {
                    let pause = REOFFER_AFTER.saturating_mul(1 << failed_before.min(6));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        // Gone: the agent notices the closed channel and keeps the delivery.
                        _ = conn.closed() => return,
                    }
                }
                let _ = commands.send(Command::AppDelivered { endpoint, key, taken }).await;
            });
        }
    });
    registered::OK
}

/// One delivery on a stream of its own, acknowledged by the client.
async fn deliver(connection: &Connection, d: &dtn_core::bpa::Delivery) -> Result<(), ()> {
    let (mut send, mut recv) = connection.open_bi().await.map_err(|_| ())?;
    let header = Message::Deliver {
        endpoint: d.endpoint.to_string(),
        source: d.source.to_string(),
        creation: (d.creation.time.0, d.creation.sequence),
    };
    write_header(&mut send, &header).await.map_err(|_| ())?;
    send.write_chunk(d.payload.clone()).await.map_err(|_| ())?;
    send.finish().map_err(|_| ())?;
    match read_header(&mut recv).await {
        Ok(Some(Message::Delivered)) => Ok(()),
        _ => Err(()),
    }
}
