//! The datagram side: datagrams from clients cross the forward link to the far side; the far
//! side's replies cross the reverse link to the last client that sent.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::batch::{BatchSocket, RecvBuffers};
use super::channel::{Channel, Counters};

/// Datagrams in flight per direction before more are dropped as if at a full buffer.
const IN_FLIGHT: usize = 65_536;

/// Datagrams due at one moment written in one go, at most.
const DELIVER_BATCH: usize = 1024;

/// The socket toward the far side, bound to `source` or, by default, to a free port on
/// loopback for a loopback peer (else on any interface).
pub(super) async fn far_socket(upstream: SocketAddr, source: Option<SocketAddr>) -> io::Result<UdpSocket> {
    let local: std::net::IpAddr = match (upstream.is_ipv4(), upstream.ip().is_loopback()) {
        (true, true) => std::net::Ipv4Addr::LOCALHOST.into(),
        (true, false) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        (false, true) => std::net::Ipv6Addr::LOCALHOST.into(),
        (false, false) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    let far = bind(source.unwrap_or((local, 0).into()))?;
    far.connect(upstream).await?;
    Ok(far)
}

/// Socket buffers asked for (the kernel caps them at net.core.rmem_max / wmem_max): a radio
/// at hundreds of Mbit/s must not lose datagrams in our own socket before the link model
/// decides their fate.
const SOCKET_BUFFER: usize = 16 << 20;

/// A UDP socket on `addr` with large buffers.
pub(super) fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

pub(super) async fn serve(
    listen: UdpSocket,
    far: UdpSocket,
    forward: Arc<Channel>,
    reverse: Arc<Channel>,
) -> io::Result<()> {
    let upstream = far.peer_addr()?;
    let far = Arc::new(BatchSocket::new(far)?);
    let listen = Arc::new(BatchSocket::new(listen)?);
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));

    let (to_far, mut far_queue) = mpsc::channel::<Due>(IN_FLIGHT);
    let (to_client, mut client_queue) = mpsc::channel::<Due>(IN_FLIGHT);

    let uplink = {
        let (listen, forward, client) = (listen.clone(), forward.clone(), client.clone());
        async move {
            let mut bufs = RecvBuffers::default();
            loop {
                let mut sender = None;
                listen
                    .recv(&mut bufs, |datagram, from| {
                        sender = Some(from);
                        admit(&forward, datagram, upstream, &to_far);
                    })
                    .await?;
                if sender.is_some() {
                    *client.lock().unwrap_or_else(PoisonError::into_inner) = sender;
                }
            }
        }
    };
    let downlink = {
        let (far, reverse, client) = (far.clone(), reverse.clone(), client.clone());
        async move {
            let mut bufs = RecvBuffers::default();
            loop {
                far.recv(&mut bufs, |datagram, _| {
                    if let Some(back_to) = *client.lock().unwrap_or_else(PoisonError::into_inner) {
                        admit(&reverse, datagram, back_to, &to_client);
                    }
                })
                .await?;
            }
        }
    };
    let deliver_far = deliver(&mut far_queue, &far, &forward);
    let deliver_client = deliver(&mut client_queue, &listen, &reverse);
    let (a, b, (), ()): (io::Result<()>, io::Result<()>, (), ()) =
        tokio::join!(uplink, downlink, deliver_far, deliver_client);
    a.and(b)
}

/// A datagram on its way: when it arrives, its bytes, where it goes.
type Due = (Instant, Bytes, SocketAddr);

/// A datagram onto `channel`'s link model: queued for its arrival, or dropped as the model
/// says (or at a full queue).
fn admit(channel: &Channel, datagram: &[u8], to: SocketAddr, queue: &mpsc::Sender<Due>) {
    if let Ok(at) = channel.datagram(channel.clock().now(), datagram.len() as u64) {
        let due = Instant::from_std(channel.clock().wall_at(at));
        if queue.try_send((due, Bytes::copy_from_slice(datagram), to)).is_err() {
            Counters::add(&channel.counters.buffer_full, 1);
        }
    }
}

/// Delivers each datagram at its arrival time: every datagram due by then (to the same
/// place) goes in the same batch.
async fn deliver(queue: &mut mpsc::Receiver<Due>, socket: &BatchSocket, channel: &Channel) {
    let mut next: Option<Due> = None;
    let mut batch = Vec::new();
    let mut run = Vec::new();
    loop {
        let first = match next.take() {
            Some(item) => item,
            None => match queue.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let (due, datagram, to) = first;
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        batch.clear();
        batch.push(datagram);
        while batch.len() < DELIVER_BATCH {
            match queue.try_recv() {
                Ok((due, datagram, dest)) if due <= now && dest == to => batch.push(datagram),
                Ok(item) => {
                    next = Some(item);
                    break;
                }
                Err(_) => break,
            }
        }
        socket.send_all(to, &batch, &mut run).await;
        Counters::add(&channel.counters.frames_out, batch.len() as u64);
        Counters::add(&channel.counters.bytes_out, batch.iter().map(|d| d.len() as u64).sum());
    }
}
