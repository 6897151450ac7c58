//! The stream side: each client connection gets its own connection to the far side, and two
//! pumps carry the bytes through the link model, one per direction.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::channel::{Channel, Counters};

/// Chunks a direction may hold in its delay queue before the reader stops reading (with
/// 16 KiB chunks, 16 MiB per connection and direction).
const QUEUE: usize = 1024;

pub(super) async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    forward: Arc<Channel>,
    reverse: Arc<Channel>,
) -> io::Result<()> {
    loop {
        let (client, peer) = listener.accept().await?;
        let (forward, reverse) = (forward.clone(), reverse.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(client, upstream, forward, reverse).await {
                eprintln!("proxy: connection from {peer}: {e}");
            }
        });
    }
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    forward: Arc<Channel>,
    reverse: Arc<Channel>,
) -> io::Result<()> {
    let far = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    far.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (far_read, far_write) = far.into_split();
    let (a, b) = tokio::join!(pump(client_read, far_write, forward), pump(far_read, client_write, reverse));
    a.and(b)
}

/// Carries one direction: reads chunks as the pacing allows, gives each its arrival time from
/// the link model, and writes it out then. End of stream is passed on after the last chunk.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    channel: Arc<Channel>,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Bytes)>(QUEUE);
    let writer = {
        let channel = channel.clone();
        async move {
            while let Some((due, chunk)) = rx.recv().await {
                tokio::time::sleep_until(due).await;
                to.write_all(&chunk).await?;
                Counters::add(&channel.counters.frames_out, 1);
                Counters::add(&channel.counters.bytes_out, chunk.len() as u64);
            }
            to.shutdown().await
        }
    };
    let reader = async move {
        let mut buffer = BytesMut::with_capacity(super::CHUNK);
        loop {
            buffer.reserve(super::CHUNK);
            let n = (&mut from).take(super::CHUNK as u64).read_buf(&mut buffer).await?;
            if n == 0 {
                return Ok(());
            }
            let chunk = buffer.split().freeze();
            channel.pace(n).await;
            let Some(arrival) = channel.stream_chunk(channel.clock().now(), n as u64) else {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no contact left in the plan to carry the stream"));
            };
            let due = Instant::from_std(channel.clock().wall_at(arrival));
            if tx.send((due, chunk)).await.is_err() {
                // The writer stopped (the far side went away).
                return Ok(());
            }
        }
    };
    let (read, write) = tokio::join!(reader, writer);
    read.and(write)
}
