//! MTCP over tokio (the framing is `dtn_core::cla::mtcp`): for µD3TN and dtn7 peers. A
//! connection carries bundles both ways; there is no session and no acknowledgement, so the
//! most a sender can know is that a bundle went into the kernel's socket: each gets its
//! verdict only once written and flushed (a connection that breaks first fails the bundles
//! still queued or buffered, and they are sent again later).

use std::net::SocketAddr;

use bytes::Bytes;
use dtn_core::cla::mtcp::{Decoder, MtcpError, head};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::budget::{Arrival, ReceiveBudget, Reservation};

/// Bundles waiting in each direction's channel.
const CHANNEL: usize = 256;
/// Bytes written between flushes (and verdicts) under sustained sending.
const FLUSH_EVERY: usize = 1 << 20;

/// Why an MTCP connection failed.
#[derive(Debug, thiserror::Error)]
pub enum MtcpLinkError {
    /// The connection.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not MTCP.
    #[error("peer: {0}")]
    Protocol(#[from] MtcpError),
    /// The connection task is gone.
    #[error("the connection is closed")]
    Closed,
    /// The node's receive memory is exhausted: MTCP cannot refuse a bundle, so the
    /// connection ends (the peer connects again and resends).
    #[error("receive memory exhausted ({0} bytes held): connection closed")]
    NoResources(usize),
    /// Nothing came for the idle timeout.
    #[error("nothing received for {0} s: connection closed")]
    Idle(u64),
}

/// A reader or writer task of a connection.
pub type MtcpTask = JoinHandle<Result<(), MtcpLinkError>>;

/// An MTCP connection.
#[derive(Debug)]
pub struct MtcpLink {
    outbound: Option<mpsc::Sender<Bytes>>,
    inbound: mpsc::Receiver<Arrival>,
    outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    reader: JoinHandle<Result<(), MtcpLinkError>>,
    writer: JoinHandle<Result<(), MtcpLinkError>>,
}

/// A connection taken apart.
#[derive(Debug)]
pub struct MtcpParts {
    /// Bundles to send.
    pub outbound: mpsc::Sender<Bytes>,
    /// Bundles received, each with its share of the receive budget.
    pub inbound: mpsc::Receiver<Arrival>,
    /// One verdict per bundle sent, by position in sending order (from 0): true once it is
    /// flushed to the socket.
    pub outcomes: mpsc::UnboundedReceiver<(u64, bool)>,
    /// Reads the peer's bundles.
    pub reader: MtcpTask,
    /// Writes ours.
    pub writer: MtcpTask,
}

/// Connects to an MTCP peer.
pub async fn connect(addr: SocketAddr, max_bundle: u64) -> Result<MtcpLink, MtcpLinkError> {
    start(TcpStream::connect(addr).await?, ReceiveLimits { max_bundle, budget: None, idle: None })
}

/// What an accepted connection may hold and how long it may stay silent.
#[derive(Debug, Clone)]
pub struct ReceiveLimits {
    /// Largest bundle.
    pub max_bundle: u64,
    /// The node's receive budget (`None`: only `max_bundle` bounds a connection).
    pub budget: Option<ReceiveBudget>,
    /// A connection that sends nothing for this long is closed (`None`: never).
    pub idle: Option<std::time::Duration>,
}

/// Serves an accepted MTCP connection.
pub fn accept(stream: TcpStream, limits: ReceiveLimits) -> Result<MtcpLink, MtcpLinkError> {
    start(stream, limits)
}

fn start(stream: TcpStream, limits: ReceiveLimits) -> Result<MtcpLink, MtcpLinkError> {
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(CHANNEL);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL);
    let (outcome_tx, outcomes) = mpsc::unbounded_channel();
    let writer = tokio::spawn(async move {
        let mut wr = BufWriter::with_capacity(64 * 1024, wr);
        // Bundles `done..next` are written into the buffer and not yet flushed; a flush (and
        // their verdicts) comes when the queue runs dry or after a megabyte, whichever first.
        let (mut done, mut next, mut unflushed) = (0u64, 0u64, 0usize);
        let result = async {
            while let Some(bundle) = out_rx.recv().await {
                wr.write_all(&head(bundle.len())).await?;
                wr.write_all(&bundle).await?;
                next += 1;
                unflushed += bundle.len();
                if out_rx.is_empty() || unflushed >= FLUSH_EVERY {
                    unflushed = 0;
                    wr.flush().await?;
                    for position in std::mem::replace(&mut done, next)..next {
                        let _ = outcome_tx.send((position, true));
                    }
                }
            }
            wr.flush().await?;
            for position in std::mem::replace(&mut done, next)..next {
                let _ = outcome_tx.send((position, true));
            }
            wr.shutdown().await?;
            Ok(())
        }
        .await;
        // Whatever was not flushed failed (queued bundles never get a verdict: the host
        // counts those as failed too).
        for position in done..next {
            let _ = outcome_tx.send((position, false));
        }
        result
    });
    let reader = tokio::spawn(async move {
        let ReceiveLimits { max_bundle, budget, idle } = limits;
        let mut decoder = Decoder::new(max_bundle);
        let mut held = Reservation::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match idle {
                Some(idle) => match tokio::time::timeout(idle, rd.read(&mut buf)).await {
                    Ok(read) => read?,
                    Err(_) => return Err(MtcpLinkError::Idle(idle.as_secs())),
                },
                None => rd.read(&mut buf).await?,
            };
            if n == 0 {
                return Ok(());
            }
            decoder.extend(buf.get(..n).unwrap_or_default());
            if let Some(budget) = &budget
                && !budget.resize(&mut held, decoder.buffered())
            {
                return Err(MtcpLinkError::NoResources(decoder.buffered()));
            }
            while let Some(bundle) = decoder.next_bundle()? {
                let permit = held.take(bundle.len());
                if in_tx.send(Arrival { bytes: bundle, permit }).await.is_err() {
                    return Ok(());
                }
            }
            if let Some(budget) = &budget {
                // What is left is a bundle still arriving: no more than it.
                let _ = budget.resize(&mut held, decoder.buffered());
            }
        }
    });
    Ok(MtcpLink { outbound: Some(out_tx), inbound: in_rx, outcomes, reader, writer })
}

impl MtcpLink {
    /// Takes the connection apart (the connection is over when the reader ends).
    pub fn into_parts(self) -> MtcpParts {
        let MtcpLink { outbound, inbound, outcomes, reader, writer } = self;
        MtcpParts { outbound: outbound.unwrap_or_else(|| mpsc::channel(1).0), inbound, outcomes, reader, writer }
    }

    /// Queues a bundle.
    pub async fn send(&self, bundle: Bytes) -> Result<(), MtcpLinkError> {
        let outbound = self.outbound.as_ref().ok_or(MtcpLinkError::Closed)?;
        outbound.send(bundle).await.map_err(|_| MtcpLinkError::Closed)
    }

    /// The next bundle received; `None` once the peer closed its side (or broke the framing).
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.inbound.recv().await.map(|a| a.bytes)
    }

    /// Sends what is queued, closes our side, and reports how the peer's side went.
    pub async fn close(mut self) -> Result<(), MtcpLinkError> {
        self.outbound = None;
        let wrote = (&mut self.writer).await.map_err(|_| MtcpLinkError::Closed)?;
        self.inbound.close();
        let read = (&mut self.reader).await.map_err(|_| MtcpLinkError::Closed)?;
        wrote.and(read)
    }
}
