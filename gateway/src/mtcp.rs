//! MTCP over tokio (the framing is `dtn_core::cla::mtcp`): for µD3TN and dtn7 peers. A
//! connection carries bundles both ways; there is no session and no acknowledgement.

use std::net::SocketAddr;

use bytes::Bytes;
use dtn_core::cla::mtcp::{Decoder, MtcpError, head};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bundles waiting in each direction's channel.
const CHANNEL: usize = 256;

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
}

/// A reader or writer task of a connection.
pub type MtcpTask = JoinHandle<Result<(), MtcpLinkError>>;

/// An MTCP connection.
#[derive(Debug)]
pub struct MtcpLink {
    outbound: Option<mpsc::Sender<Bytes>>,
    inbound: mpsc::Receiver<Bytes>,
    reader: JoinHandle<Result<(), MtcpLinkError>>,
    writer: JoinHandle<Result<(), MtcpLinkError>>,
}

/// Connects to an MTCP peer.
pub async fn connect(addr: SocketAddr, max_bundle: u64) -> Result<MtcpLink, MtcpLinkError> {
    start(TcpStream::connect(addr).await?, max_bundle)
}

/// Serves an accepted MTCP connection.
pub fn accept(stream: TcpStream, max_bundle: u64) -> Result<MtcpLink, MtcpLinkError> {
    start(stream, max_bundle)
}

fn start(stream: TcpStream, max_bundle: u64) -> Result<MtcpLink, MtcpLinkError> {
    stream.set_nodelay(true)?;
    let (mut rd, wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(CHANNEL);
    let (in_tx, in_rx) = mpsc::channel(CHANNEL);
    let writer = tokio::spawn(async move {
        let mut wr = BufWriter::with_capacity(64 * 1024, wr);
        while let Some(bundle) = out_rx.recv().await {
            wr.write_all(&head(bundle.len())).await?;
            wr.write_all(&bundle).await?;
            if out_rx.is_empty() {
                wr.flush().await?;
            }
        }
        wr.flush().await?;
        wr.shutdown().await?;
        Ok(())
    });
    let reader = tokio::spawn(async move {
        let mut decoder = Decoder::new(max_bundle);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            decoder.extend(buf.get(..n).unwrap_or_default());
            while let Some(bundle) = decoder.next_bundle()? {
                if in_tx.send(bundle).await.is_err() {
                    return Ok(());
                }
            }
        }
    });
    Ok(MtcpLink { outbound: Some(out_tx), inbound: in_rx, reader, writer })
}

impl MtcpLink {
    /// Takes the connection apart: bundles to send, bundles received, and the reader and
    /// writer tasks (the connection is over when the reader ends).
    pub fn into_parts(self) -> (mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>, MtcpTask, MtcpTask) {
        let MtcpLink { outbound, inbound, reader, writer } = self;
        (outbound.unwrap_or_else(|| mpsc::channel(1).0), inbound, reader, writer)
    }

    /// Queues a bundle.
    pub async fn send(&self, bundle: Bytes) -> Result<(), MtcpLinkError> {
        let outbound = self.outbound.as_ref().ok_or(MtcpLinkError::Closed)?;
        outbound.send(bundle).await.map_err(|_| MtcpLinkError::Closed)
    }

    /// The next bundle received; `None` once the peer closed its side (or broke the framing).
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.inbound.recv().await
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
