//! The datagram side: datagrams from clients cross the forward link to the far side; the far
//! side's replies cross the reverse link to the last client that sent.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::channel::{Channel, Counters};

/// Datagrams in flight per direction before more are dropped as if at a full buffer.
const IN_FLIGHT: usize = 65_536;

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

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
    let far = Arc::new(far);
    let listen = Arc::new(listen);
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));

    let (to_far, mut far_queue) = mpsc::channel::<(Instant, Bytes)>(IN_FLIGHT);
    let (to_client, mut client_queue) = mpsc::channel::<(Instant, Bytes, SocketAddr)>(IN_FLIGHT);

    let uplink = {
        let (listen, forward, client) = (listen.clone(), forward.clone(), client.clone());
        async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let (n, from) = listen.recv_from(&mut buf).await?;
                *client.lock().unwrap_or_else(PoisonError::into_inner) = Some(from);
                if let Ok(at) = forward.datagram(forward.clock().now(), n as u64) {
                    let due = Instant::from_std(forward.clock().wall_at(at));
                    if to_far.try_send((due, Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        Counters::add(&forward.counters.buffer_full, 1);
                    }
                }
            }
        }
    };
    let downlink = {
        let (far, reverse, client) = (far.clone(), reverse.clone(), client.clone());
        async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let n = far.recv(&mut buf).await?;
                let Some(back_to) = *client.lock().unwrap_or_else(PoisonError::into_inner) else { continue };
                if let Ok(at) = reverse.datagram(reverse.clock().now(), n as u64) {
                    let due = Instant::from_std(reverse.clock().wall_at(at));
                    if to_client.try_send((due, Bytes::copy_from_slice(&buf[..n]), back_to)).is_err() {
                        Counters::add(&reverse.counters.buffer_full, 1);
                    }
                }
            }
        }
    };
    let deliver_far = {
        let (far, forward) = (far.clone(), forward.clone());
        async move {
            while let Some((due, datagram)) = far_queue.recv().await {
                tokio::time::sleep_until(due).await;
                // A refused datagram (nobody listening yet) is lost, as on a radio.
                if far.send(&datagram).await.is_ok() {
                    Counters::add(&forward.counters.frames_out, 1);
                    Counters::add(&forward.counters.bytes_out, datagram.len() as u64);
                }
            }
            Ok::<(), io::Error>(())
        }
    };
    let deliver_client = {
        let (listen, reverse) = (listen.clone(), reverse.clone());
        async move {
            while let Some((due, datagram, to)) = client_queue.recv().await {
                tokio::time::sleep_until(due).await;
                if listen.send_to(&datagram, to).await.is_ok() {
                    Counters::add(&reverse.counters.frames_out, 1);
                    Counters::add(&reverse.counters.bytes_out, datagram.len() as u64);
                }
            }
            Ok::<(), io::Error>(())
        }
    };
    let (a, b, c, d): (io::Result<()>, io::Result<()>, io::Result<()>, io::Result<()>) =
        tokio::join!(uplink, downlink, deliver_far, deliver_client);
    a.and(b).and(c).and(d)
}
