//! Batched datagram I/O for the UDP proxy (`quinn-udp`): up to 32 datagrams per `recvmmsg`
//! (and a sender's GSO run read whole through GRO), and the datagrams due at one moment
//! written in runs of equal size with UDP GSO. At a few hundred Mbit/s of 1,400-byte
//! segments the proxy otherwise spends its core on one system call per datagram each way.
//!
//! `quinn-udp` forbids IP fragmentation on the sockets it prepares; the proxy runs on
//! loopback, whose MTU (64 KiB) carries the largest datagram whole.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;

use bytes::Bytes;
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Room per read: the largest UDP payload, or a GRO run (at most 64 KiB on loopback).
const SLOT: usize = 65_536;
/// The most payload one GSO write carries.
const GSO_BYTES: usize = 65_000;

/// A socket read and written in batches.
#[derive(Debug)]
pub(super) struct BatchSocket {
    socket: UdpSocket,
    state: UdpSocketState,
}

/// Buffers for reads.
#[derive(Debug)]
pub(super) struct RecvBuffers {
    buf: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl Default for RecvBuffers {
    fn default() -> Self {
        RecvBuffers { buf: vec![0; SLOT * BATCH_SIZE], meta: vec![RecvMeta::default(); BATCH_SIZE] }
    }
}

impl BatchSocket {
    pub(super) fn new(socket: UdpSocket) -> io::Result<Self> {
        let state = UdpSocketState::new((&socket).into())?;
        Ok(BatchSocket { socket, state })
    }

    /// Waits for datagrams and reads what is waiting (one system call): `each` gets every
    /// datagram with its sender.
    pub(super) async fn recv(&self, bufs: &mut RecvBuffers, mut each: impl FnMut(&[u8], SocketAddr)) -> io::Result<()> {
        let RecvBuffers { buf, meta } = bufs;
        let n = {
            let mut slices: [IoSliceMut<'_>; BATCH_SIZE] = {
                let mut chunks = buf.chunks_mut(SLOT);
                std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()))
            };
            self.socket
                .async_io(Interest::READABLE, || self.state.recv((&self.socket).into(), &mut slices, meta))
                .await?
        };
        for (m, slot) in meta.iter().zip(buf.chunks(SLOT)).take(n) {
            for datagram in slot.get(..m.len).unwrap_or_default().chunks(m.stride.max(1)) {
                each(datagram, m.addr);
            }
        }
        Ok(())
    }

    /// Writes `datagrams` to `to` in runs of equal size (the last of a run may be shorter),
    /// waiting while the socket is full. A run the network refuses is lost, as on a radio.
    pub(super) async fn send_all(&self, to: SocketAddr, datagrams: &[Bytes], run: &mut Vec<u8>) {
        let mut rest = datagrams;
        while let Some(first) = rest.first() {
            let size = first.len().max(1);
            let limit = self.state.max_gso_segments().min(GSO_BYTES / size).max(1);
            let mut count = 1;
            while count < limit.min(rest.len()) && rest[count - 1].len() == size && rest[count].len() <= size {
                count += 1;
            }
            let (now, later) = rest.split_at(count);
            rest = later;
            let contents: &[u8] = if count == 1 {
                first
            } else {
                run.clear();
                for d in now {
                    run.extend_from_slice(d);
                }
                run
            };
            let transmit = Transmit {
                destination: to,
                ecn: None,
                contents,
                segment_size: (count > 1).then_some(size),
                src_ip: None,
            };
            // `send` reports only WouldBlock (after which `async_io` waits and tries again).
            let _ =
                self.socket.async_io(Interest::WRITABLE, || self.state.send((&self.socket).into(), &transmit)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_of_mixed_sizes_arrive_whole_and_in_order() {
        let a = BatchSocket::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()).unwrap();
        let b = BatchSocket::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()).unwrap();
        let sizes = [1400, 1400, 1400, 200, 1400, 9000, 9000, 100, 60_000, 1];
        let datagrams: Vec<Bytes> = sizes.iter().enumerate().map(|(i, &n)| Bytes::from(vec![i as u8; n])).collect();
        a.send_all(b.socket.local_addr().unwrap(), &datagrams, &mut Vec::new()).await;
        let mut got = Vec::new();
        let mut bufs = RecvBuffers::default();
        while got.len() < sizes.len() {
            let read = b.recv(&mut bufs, |d, _| got.push(d.to_vec()));
            tokio::time::timeout(std::time::Duration::from_secs(5), read).await.unwrap().unwrap();
        }
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d.len(), sizes[i]);
            assert!(d.iter().all(|&x| usize::from(x) == i));
        }
    }
}
