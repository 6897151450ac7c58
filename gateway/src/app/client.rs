//! The applications' side of the bridge: connect with a certificate, register endpoints,
//! submit ADUs (answered once the gateway stored them durably), receive deliveries and
//! acknowledge them once stored.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use dtn_core::app::{Message, registered};
use quinn::{Connection, RecvStream, SendStream, VarInt};
use tokio::sync::Mutex;

use super::wire::{read_header, write_header};
use crate::tcpcl::tls::{self, TlsSetup};

/// How long a connection's handshake may take: a gateway on the ground answers in
/// milliseconds; a QUIC client to an address nobody listens on would otherwise wait out the
/// idle timeout (30 s) in silence.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How [`AppClient::connect`]'s error starts when nothing answered at all (not a dropped
/// connection: retrying will not make a gateway appear).
pub const NO_GATEWAY: &str = "no gateway answering at";

/// ADUs up to this size go out in one write with their header.
const SMALL: usize = 16 * 1024;

/// A connection to a gateway.
#[derive(Debug)]
pub struct AppClient {
    connection: Connection,
    control: Mutex<(SendStream, RecvStream)>,
    _endpoint: quinn::Endpoint,
}

/// A submission's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// 0: accepted; refused: 1 + the RFC 9171 reason code, or 256: too large
    /// (`dtn_core::app::submitted`).
    pub status: u64,
    /// The bundle's creation time (DTN ms) and sequence number.
    pub creation: (u64, u64),
}

/// An ADU to submit: where it goes, and the reference that makes a retry the same ADU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The client's reference for this ADU, unique per source endpoint (0: none — a retry
    /// may then make a second bundle). [`Outgoing::new`] picks a random one.
    pub reference: u64,
    /// The sending endpoint (one the client's certificate names).
    pub source: String,
    /// The destination endpoint.
    pub destination: String,
    /// Lifetime, milliseconds.
    pub lifetime_ms: u64,
    /// 0 bulk, 1 normal, 2 expedited.
    pub priority: u64,
    /// RFC 9171 bundle processing flags (report requests, must-not-fragment).
    pub flags: u64,
    /// BPSec the gateway's policy must give the ADU (a BIB, a BCB over its payload).
    pub protection: dtn_core::bpsec::Protection,
}

impl Outgoing {
    /// An ADU from `source` to `destination` with a fresh random reference, a day's lifetime,
    /// normal priority and no flags.
    pub fn new(source: &str, destination: &str) -> Outgoing {
        Outgoing {
            reference: fresh_reference(),
            source: source.to_string(),
            destination: destination.to_string(),
            lifetime_ms: 86_400_000,
            priority: 1,
            flags: 0,
            protection: dtn_core::bpsec::Protection::NONE,
        }
    }
}

impl Outgoing {
    /// Its SUBMIT header; with a length when it shares a stream with others.
    fn header(&self, length: Option<u64>) -> Message {
        Message::Submit {
            reference: self.reference,
            source: self.source.clone(),
            destination: self.destination.clone(),
            lifetime_ms: self.lifetime_ms,
            priority: self.priority,
            flags: self.flags,
            length,
            protection: self.protection.bits(),
        }
    }
}

/// A random non-zero reference (from the standard library's randomly keyed hasher: no
/// extra dependency, and distinct across processes and calls).
pub fn fresh_reference() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish().max(1)
}

/// What the gateway meant by stopping or resetting a submission stream.
fn refused(code: VarInt) -> String {
    match u32::try_from(code.into_inner()) {
        Ok(crate::quic::BUNDLE_TOO_LARGE) => "the gateway refused the ADU: larger than it accepts".into(),
        Ok(crate::quic::PROTOCOL_ERROR) => "the gateway refused the submission as malformed".into(),
        _ => format!("the gateway reset the submission (code {code})"),
    }
}

fn write_error(e: quinn::WriteError) -> String {
    match e {
        quinn::WriteError::Stopped(code) => refused(code),
        other => other.to_string(),
    }
}

fn read_error(e: super::wire::WireError) -> String {
    match e {
        super::wire::WireError::Read(quinn::ReadExactError::ReadError(quinn::ReadError::Reset(code))) => refused(code),
        other => other.to_string(),
    }
}

/// Why a submission got no answer: the code the gateway stopped the stream with, if it did
/// (an ADU over its limit, a malformed header), else `otherwise`.
async fn why_unanswered(send: &mut SendStream, otherwise: String) -> String {
    match tokio::time::timeout(std::time::Duration::from_secs(1), send.stopped()).await {
        Ok(Ok(Some(code))) => refused(code),
        _ => otherwise,
    }
}

/// A submission sent, its answer still to come.
#[derive(Debug)]
pub struct PendingSubmit {
    reference: u64,
    send: SendStream,
    recv: RecvStream,
}

impl PendingSubmit {
    /// Waits for the gateway's answer: once the bundle is durably stored, or refused.
    pub async fn answer(mut self) -> Result<Submitted, String> {
        next_answer(&mut self.send, &mut self.recv, self.reference).await
    }
}

/// The next answer on a submission stream, which must be for `reference`; why not, if none.
async fn next_answer(send: &mut SendStream, recv: &mut RecvStream, reference: u64) -> Result<Submitted, String> {
    let why = match read_header(recv).await {
        Ok(Some(Message::Submitted { reference: r, status, creation })) if r == reference => {
            return Ok(Submitted { status, creation });
        }
        Ok(other) => format!("no answer to submission {reference} ({other:?})"),
        Err(e) => read_error(e),
    };
    Err(why_unanswered(send, why).await)
}

/// A delivery, to acknowledge once stored.
#[derive(Debug)]
pub struct Incoming {
    /// The registered endpoint.
    pub endpoint: String,
    /// The sender.
    pub source: String,
    /// Creation time and sequence number: with the source, the ADU's identity.
    pub creation: (u64, u64),
    /// The ADU.
    pub payload: Bytes,
    send: SendStream,
}

impl Incoming {
    /// Tells the gateway the ADU is safe here; it lets the bundle go.
    pub async fn acknowledge(mut self) -> Result<(), String> {
        write_header(&mut self.send, &Message::Delivered).await.map_err(|e| e.to_string())?;
        self.send.finish().map_err(|e| e.to_string())?;
        // Wait until the gateway has the acknowledgement.
        let _ = self.send.stopped().await;
        Ok(())
    }
}

/// Checks that the gateway's certificate names the node of this client's endpoints (the ones
/// its own certificate names): another node of the same mission, holding a certificate from
/// the same authority, cannot pose as this client's gateway.
fn gateway_is_home(connection: &Connection, me: &TlsSetup) -> Result<(), String> {
    use dtn_core::eid::Eid;
    let nodes: Vec<Eid> = me
        .chain
        .first()
        .map(tls::uri_sans)
        .unwrap_or_default()
        .iter()
        .filter_map(|u| u.parse::<Eid>().ok()?.node_id())
        .collect();
    let chain = connection
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
        .ok_or("the gateway presented no certificate")?;
    let names: Vec<String> = chain.first().map(tls::uri_sans).unwrap_or_default();
    let home = names.iter().filter_map(|u| u.parse::<Eid>().ok()).any(|g| g.is_node_id() && nodes.contains(&g));
    if home {
        return Ok(());
    }
    let mine: Vec<String> = nodes.iter().map(ToString::to_string).collect();
    Err(format!(
        "the gateway's certificate names {names:?}, not the node of this client's endpoints ({})",
        mine.join(", ")
    ))
}

impl AppClient {
    /// Connects to the gateway's application address with this client's certificate.
    pub async fn connect(addr: SocketAddr, tls_setup: &TlsSetup) -> Result<AppClient, String> {
        let mut config = tls::client_config(tls_setup).map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![dtn_core::app::ALPN.to_vec()];
        let config =
            quinn::crypto::rustls::QuicClientConfig::try_from(config).map_err(|e| format!("TLS for QUIC: {e}"))?;
        let mut client = quinn::ClientConfig::new(Arc::new(config));
        let mut transport = quinn::TransportConfig::default();
        transport.max_concurrent_bidi_streams(VarInt::from_u32(64));
        transport.stream_receive_window(VarInt::from_u32(4 << 20));
        transport.keep_alive_interval(Some(std::time::Duration::from_secs(5)));
        client.transport_config(Arc::new(transport));
        let bind: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let mut endpoint = quinn::Endpoint::client(bind).map_err(|e| e.to_string())?;
        endpoint.set_default_client_config(client);
        let connecting = endpoint.connect(addr, "dtn-gateway").map_err(|e| e.to_string())?;
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(done) => done.map_err(|e| format!("{addr}: {e}"))?,
            Err(_) => {
                return Err(format!(
                    "{NO_GATEWAY} {addr} within {} s — is `dtn gateway run` up, and is its `[app] listen` that address?",
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        };
        if let Err(e) = gateway_is_home(&connection, tls_setup) {
            connection.close(VarInt::from_u32(0), b"not this client's gateway");
            return Err(format!("{addr}: {e}"));
        }
        let control = connection.open_bi().await.map_err(|e| e.to_string())?;
        Ok(AppClient { connection, control: Mutex::new(control), _endpoint: endpoint })
    }

    async fn ask(&self, request: &Message) -> Result<Message, String> {
        let mut control = self.control.lock().await;
        let (send, recv) = &mut *control;
        write_header(send, request).await.map_err(|e| e.to_string())?;
        read_header(recv).await.map_err(|e| e.to_string())?.ok_or_else(|| "the gateway closed the stream".into())
    }

    /// Registers an endpoint (its deliveries start flowing to this client).
    pub async fn register(&self, endpoint: &str) -> Result<(), String> {
        match self.ask(&Message::Register { endpoint: endpoint.to_string() }).await? {
            Message::Registered { status: registered::OK, .. } => Ok(()),
            Message::Registered { status: registered::NOT_ALLOWED, .. } => {
                Err(format!("{endpoint}: this client's certificate does not name it"))
            }
            Message::Registered { .. } => Err(format!("{endpoint}: not an endpoint of this gateway's node")),
            other => Err(format!("unexpected answer {other:?}")),
        }
    }

    /// The gateway's `/node` JSON.
    pub async fn status(&self) -> Result<String, String> {
        match self.ask(&Message::Status).await? {
            Message::StatusReport { json } => {
                // A refusal is a JSON object with only an `error`.
                match serde_json::from_str::<serde_json::Value>(&json) {
                    Ok(serde_json::Value::Object(o)) if o.len() == 1 && o.contains_key("error") => {
                        Err(o.get("error").and_then(|e| e.as_str()).unwrap_or("status refused").to_string())
                    }
                    _ => Ok(json),
                }
            }
            other => Err(format!("unexpected answer {other:?}")),
        }
    }

    /// Submits an ADU; returns once the gateway stored it durably (or refused it). After a
    /// lost connection, submitting the same [`Outgoing`] again (same reference) is safe: if
    /// the first attempt was stored, the answer is its bundle's, and no second bundle is made.
    pub async fn submit(&self, adu: &Outgoing, payload: Bytes) -> Result<Submitted, String> {
        self.submit_with_progress(adu, payload, |_| {}).await
    }

    /// [`AppClient::submit`], calling `progress` with the bytes handed to QUIC so far (in
    /// steps of 1 MiB; flow control paces them).
    pub async fn submit_with_progress(
        &self,
        adu: &Outgoing,
        payload: Bytes,
        progress: impl Fn(u64),
    ) -> Result<Submitted, String> {
        self.start_submit(adu, payload, progress).await?.answer().await
    }

    /// Sends a submission and returns without waiting for its answer (several can be under
    /// way at once, up to the gateway's in-flight quota).
    pub async fn start_submit(
        &self,
        adu: &Outgoing,
        payload: Bytes,
        progress: impl Fn(u64),
    ) -> Result<PendingSubmit, String> {
        let (mut send, recv) = self.connection.open_bi().await.map_err(|e| e.to_string())?;
        let header = adu.header(None);
        let mut sent = 0usize;
        if payload.len() <= SMALL {
            // Header and ADU in one write: one packet for a small ADU, not two.
            let mut one = header.encode();
            one.extend_from_slice(&payload);
            send.write_chunk(Bytes::from(one)).await.map_err(write_error)?;
            sent = payload.len();
            progress(sent as u64);
        } else {
            write_header(&mut send, &header).await.map_err(write_error)?;
        }
        while sent < payload.len() {
            let end = (sent + (1 << 20)).min(payload.len());
            send.write_chunk(payload.slice(sent..end)).await.map_err(write_error)?;
            sent = end;
            progress(sent as u64);
        }
        send.finish().map_err(|e| e.to_string())?;
        Ok(PendingSubmit { reference: adu.reference, send, recv })
    }

    /// Submits several ADUs on one stream (each header carries its ADU's length), which costs
    /// the gateway and the network far less per ADU than a stream each when ADUs are small;
    /// returns the answers in the same order.
    pub async fn submit_batch(&self, adus: &[(Outgoing, Bytes)]) -> Result<Vec<Submitted>, String> {
        let (mut send, mut recv) = self.connection.open_bi().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        for (adu, payload) in adus {
            buf.extend_from_slice(&adu.header(Some(payload.len() as u64)).encode());
            if payload.len() <= SMALL {
                buf.extend_from_slice(payload);
            } else {
                send.write_chunk(Bytes::from(std::mem::take(&mut buf))).await.map_err(write_error)?;
                send.write_chunk(payload.clone()).await.map_err(write_error)?;
            }
            if buf.len() >= 1 << 20 {
                send.write_chunk(Bytes::from(std::mem::take(&mut buf))).await.map_err(write_error)?;
            }
        }
        send.write_chunk(Bytes::from(buf)).await.map_err(write_error)?;
        send.finish().map_err(|e| e.to_string())?;
        let mut answers = Vec::with_capacity(adus.len());
        for (adu, _) in adus {
            answers.push(next_answer(&mut send, &mut recv, adu.reference).await?);
        }
        Ok(answers)
    }

    /// The next delivery for any endpoint this client registered; `None` once disconnected.
    pub async fn next_delivery(&self, max_adu: usize) -> Option<Incoming> {
        loop {
            let (send, mut recv) = self.connection.accept_bi().await.ok()?;
            let Ok(Some(Message::Deliver { endpoint, source, creation })) = read_header(&mut recv).await else {
                continue;
            };
            let Ok(payload) = recv.read_to_end(max_adu).await else { continue };
            return Some(Incoming { endpoint, source, creation, payload: Bytes::from(payload), send });
        }
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.connection.close(VarInt::from_u32(0), b"");
    }
}
