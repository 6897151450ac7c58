//! The LTP socket with batched I/O (`quinn-udp`): up to 32 datagrams per `recvmmsg`, and
//! runs of equal-size segments to one peer in one `sendmsg` with UDP GSO (the kernel cuts
//! them apart), so a 500 Mbit/s span of 1,400-byte segments costs a system call per ~46
//! segments instead of one each.
//!
//! `quinn-udp` also forbids IP fragmentation on the socket it prepares (QUIC sizes its own
//! packets). An LTP segment larger than the path MTU must still go out fragmented, as it did
//! before, so its state (the GSO probe) is made on a scratch socket and used on ours; ours
//! keeps the kernel's default options. Where GSO fails (a segment above the path MTU, a
//! device without offload), `quinn-udp` turns it off and the segments go one at a time.

use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Room per received datagram: the largest UDP payload.
const SLOT: usize = 65_536;
/// The most payload one GSO send may carry (one IP packet's worth before the kernel cuts it).
const GSO_BYTES: usize = 65_000;

/// A UDP socket that reads and writes in batches.
#[derive(Debug)]
pub struct Udp {
    socket: UdpSocket,
    state: UdpSocketState,
    buf: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl Udp {
    /// Wraps `socket` (bound, non-blocking).
    pub fn new(socket: UdpSocket) -> io::Result<Self> {
        let scratch: SocketAddr = match socket.local_addr()? {
            SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
        };
        let scratch = std::net::UdpSocket::bind(scratch)?;
        let state = UdpSocketState::new((&scratch).into())?;
        let slots = BATCH_SIZE.max(1);
        Ok(Udp { socket, state, buf: vec![0; SLOT * slots], meta: vec![RecvMeta::default(); slots] })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Waits until a datagram may be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Waits until the socket takes datagrams again.
    pub async fn writable(&self) -> io::Result<()> {
        self.socket.writable().await
    }

    /// Reads what is waiting, one system call for up to 32 datagrams, and appends each (a
    /// copy: the engine keeps slices of what it stores, and a slice must not pin the batch) to
    /// `into`. The number read; 0 when nothing waits.
    pub fn try_recv(&mut self, into: &mut Vec<(Bytes, SocketAddr)>) -> io::Result<usize> {
        let Udp { socket, state, buf, meta } = self;
        let socket = &*socket;
        let mut slices: [IoSliceMut<'_>; BATCH_SIZE] = {
            let mut chunks = buf.chunks_mut(SLOT);
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()))
        };
        let n = match socket.try_io(Interest::READABLE, || state.recv(socket.into(), &mut slices, meta)) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut count = 0;
        for (m, slot) in meta.iter().zip(buf.chunks(SLOT)).take(n) {
            let data = slot.get(..m.len).unwrap_or_default();
            for datagram in data.chunks(m.stride.max(1)) {
                into.push((Bytes::copy_from_slice(datagram), m.addr));
                count += 1;
            }
        }
        Ok(count)
    }

    /// How many segments of `size` bytes one send may carry.
    pub fn batch_limit(&self, size: usize) -> usize {
        self.state.max_gso_segments().min(GSO_BYTES / size.max(1)).max(1)
    }

    /// Sends `contents` to `to` as datagrams of `segment` bytes (the last may be shorter).
    /// The bytes taken: all of them, or fewer when the socket filled part way through;
    /// `WouldBlock` when it took none. A datagram the network refuses is lost, as on the radio.
    pub fn try_send(&self, to: SocketAddr, contents: &[u8], segment: usize) -> io::Result<usize> {
        let segment = segment.clamp(1, contents.len().max(1));
        if contents.len() > segment {
            match self.send_one(to, contents, Some(segment)) {
                Ok(()) => return Ok(contents.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                // GSO refused (quinn-udp stops using it): one datagram at a time.
                Err(e) => tracing::debug!(%to, error = %e, "LTP: batched send failed, sending singly"),
            }
        }
        let mut sent = 0;
        for datagram in contents.chunks(segment) {
            match self.send_one(to, datagram, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if sent == 0 { Err(e) } else { Ok(sent) };
                }
                Err(e) => tracing::debug!(%to, error = %e, "LTP send failed"),
            }
            sent += datagram.len();
        }
        Ok(sent)
    }

    fn send_one(&self, to: SocketAddr, contents: &[u8], segment_size: Option<usize>) -> io::Result<()> {
        let transmit = Transmit { destination: to, ecn: None, contents, segment_size, src_ip: None };
        self.socket.try_io(Interest::WRITABLE, || self.state.try_send((&self.socket).into(), &transmit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (Udp, Udp) {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (Udp::new(a).unwrap(), Udp::new(b).unwrap())
    }

    /// Sends as the endpoint does: waits for the socket whenever it will not take more.
    async fn send(udp: &Udp, to: SocketAddr, contents: &[u8], segment: usize) {
        let mut sent = 0;
        while sent < contents.len() {
            match udp.try_send(to, &contents[sent..], segment) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => udp.writable().await.unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
    }

    async fn receive(udp: &mut Udp, want: usize) -> Vec<(Bytes, SocketAddr)> {
        let mut got = Vec::new();
        while got.len() < want {
            tokio::time::timeout(std::time::Duration::from_secs(5), udp.readable()).await.unwrap().unwrap();
            udp.try_recv(&mut got).unwrap();
        }
        got
    }

    #[tokio::test]
    async fn a_batch_arrives_as_its_segments_in_order() {
        let (a, mut b) = pair().await;
        let to = b.socket.local_addr().unwrap();
        // 10 segments of 1,400 bytes and a short last one, each numbered.
        let mut contents = Vec::new();
        for i in 0..11u8 {
            let len = if i == 10 { 300 } else { 1400 };
            contents.extend(std::iter::repeat_n(i, len));
        }
        send(&a, to, &contents, 1400).await;
        let got = receive(&mut b, 11).await;
        assert_eq!(got.len(), 11);
        for (i, (datagram, from)) in got.iter().enumerate() {
            assert_eq!(*from, a.socket.local_addr().unwrap());
            assert_eq!(datagram.len(), if i == 10 { 300 } else { 1400 });
            assert!(datagram.iter().all(|&x| usize::from(x) == i));
        }
    }

    #[tokio::test]
    async fn a_datagram_larger_than_a_batch_slot_still_goes_whole() {
        let (a, mut b) = pair().await;
        let to = b.socket.local_addr().unwrap();
        let big = vec![7u8; 60_000];
        send(&a, to, &big, big.len()).await;
        let got = receive(&mut b, 1).await;
        assert_eq!(got[0].0.len(), 60_000);
        assert!(a.batch_limit(60_000) == 1 && a.batch_limit(1400) <= GSO_BYTES / 1400);
    }
}
