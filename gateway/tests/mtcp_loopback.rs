//! MTCP on loopback: bundles both ways, and a peer that sends garbage is cut off.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use gateway::mtcp::{MtcpLinkError, ReceiveLimits, accept, connect};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_cross_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut link = accept(stream, ReceiveLimits { max_bundle: 1 << 24, budget: None, idle: None }).unwrap();
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
            let mut link = accept(stream, ReceiveLimits { max_bundle: 1 << 20, budget: None, idle: None }).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_counts_as_sent_once_flushed_and_fails_when_the_connection_breaks() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let mut parts = connect(addr, 1 << 24).await.unwrap().into_parts();
    let peer = peer.await.unwrap();
    for b in [&b"one"[..], b"two", b"three"] {
        parts.outbound.send(Bytes::from_static(b)).await.unwrap();
    }
    let mut verdicts = Vec::new();
    while verdicts.len() < 3 {
        verdicts.push(parts.outcomes.recv().await.unwrap());
    }
    assert_eq!(verdicts, [(0, true), (1, true), (2, true)]);
    // The peer goes away without reading; the socket fails within a few writes of 1 MB, and
    // bundles from then on fail instead of counting as sent.
    drop(peer);
    let mut failed = false;
    for _ in 0..200 {
        if parts.outbound.send(Bytes::from(vec![1u8; 1 << 20])).await.is_err() {
            failed = true;
            break;
        }
    }
    drop(parts.outbound);
    while let Some((_, ok)) = parts.outcomes.recv().await {
        failed |= !ok;
    }
    assert!(failed, "every bundle counted as sent to a peer that was gone");
    assert!(parts.writer.await.unwrap().is_err());
}
