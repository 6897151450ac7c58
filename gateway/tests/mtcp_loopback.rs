//! MTCP on loopback: bundles both ways, and a peer that sends garbage is cut off.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use gateway::mtcp::{MtcpLinkError, accept, connect};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_cross_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut link = accept(stream, 1 << 24).unwrap();
        link.send(Bytes::from_static(b"ack from two")).await.unwrap();
        let mut got = Vec::new();
        while let Some(b) = link.recv().await {
            got.push(b);
        }
        link.close().await.unwrap();
        got
    });
    let mut link = connect(addr, 1 << 24).await.unwrap();
    let big = Bytes::from(vec![7u8; 2_000_000]);
    for b in [Bytes::from_static(b"one"), big.clone(), Bytes::new()] {
        link.send(b).await.unwrap();
    }
    assert_eq!(link.recv().await, Some(Bytes::from_static(b"ack from two")));
    link.close().await.unwrap();
    assert_eq!(server.await.unwrap(), vec![Bytes::from_static(b"one"), big, Bytes::new()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversize_bundles_end_the_connection_with_the_reason() {
    for (bytes, too_large) in [(&b"\x9f\x01\x02"[..], false), (&b"\x5a\x10\x00\x00\x00"[..], true)] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut link = accept(stream, 1 << 20).unwrap();
            assert_eq!(link.recv().await, None);
            link.close().await
        });
        let mut peer = TcpStream::connect(addr).await.unwrap();
        peer.write_all(bytes).await.unwrap();
        let result = server.await.unwrap();
        match result {
            Err(MtcpLinkError::Protocol(e)) => {
                assert_eq!(matches!(e, dtn_core::cla::mtcp::MtcpError::TooLarge { .. }), too_large, "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
