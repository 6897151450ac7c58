//! Two TCPCLv4 endpoints on loopback: bundles both ways without and with TLS (certificates
//! made here, node IDs as URI SANs), and a certificate naming the wrong node refused.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bytes::Bytes;
use dtn_core::cla::tcpcl::SessionConfig;
use gateway::tcpcl::{LinkError, NodeIdPolicy, TcpclConfig, TlsSetup, accept, connect};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, string::Ia5String};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let der = params.self_signed(&key).unwrap().der().clone();
    Ca { params, key, der }
}

/// TLS material for a node whose certificate names `uri`.
fn node_tls(ca: &Ca, uri: &str) -> TlsSetup {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::URI(Ia5String::try_from(uri).unwrap())];
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    TlsSetup {
        chain: vec![cert.der().clone()],
        key: Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))),
        roots: vec![ca.der.clone()],
        policy: NodeIdPolicy::Require,
    }
}

fn config(node: &str, tls: Option<TlsSetup>) -> Arc<TcpclConfig> {
    Arc::new(TcpclConfig::new(SessionConfig { max_segment: 64 * 1024, ..SessionConfig::new(node) }, tls))
}

/// Node 1 connects to node 2; each sends bundles; both receive them whole and in order.
async fn exchange(one: Arc<TcpclConfig>, two: Arc<TcpclConfig>) -> bool {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut link = accept(stream, two).await.unwrap();
        assert_eq!(link.peer_node_id(), "ipn:1.0");
        link.send(Bytes::from_static(b"from two")).await.unwrap();
        let mut got = Vec::new();
        while let Some(b) = link.recv().await {
            got.push(b);
        }
        (got, link.is_tls())
    });
    let mut link = connect(addr, one).await.unwrap();
    assert_eq!(link.peer_node_id(), "ipn:2.0");
    let big = Bytes::from((0..3_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    for bundle in [Bytes::from_static(b"first"), big.clone(), Bytes::from_static(b"last")] {
        link.send(bundle).await.unwrap();
    }
    assert_eq!(link.recv().await.unwrap(), Bytes::from_static(b"from two"));
    let tls = link.is_tls();
    link.close().await.unwrap();
    let (got, server_tls) = server.await.unwrap();
    assert_eq!(got, vec![Bytes::from_static(b"first"), big, Bytes::from_static(b"last")]);
    assert_eq!(tls, server_tls);
    tls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_cross_both_ways_without_tls() {
    assert!(!exchange(config("ipn:1.0", None), config("ipn:2.0", None)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_cross_both_ways_over_tls_with_node_ids_checked() {
    let ca = ca();
    let one = config("ipn:1.0", Some(node_tls(&ca, "ipn:1.0")));
    let two = config("ipn:2.0", Some(node_tls(&ca, "ipn:2.0")));
    assert!(exchange(one, two).await, "both offered TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_node_is_refused() {
    let ca = ca();
    // Node 1 claims ipn:1.0 with a certificate for ipn:9.0.
    let one = config("ipn:1.0", Some(node_tls(&ca, "ipn:9.0")));
    let two = config("ipn:2.0", Some(node_tls(&ca, "ipn:2.0")));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, two).await.map(|_| ())
    });
    let client = connect(addr, one).await;
    let refused = server.await.unwrap();
    assert!(matches!(refused, Err(LinkError::NodeIdNotInCertificate(ref id)) if id == "ipn:1.0"), "{refused:?}");
    // The client learns it from the SESS_TERM, at once or as the session's end.
    match client {
        Err(_) => {}
        Ok(mut link) => {
            assert_eq!(link.recv().await, None);
            assert!(link.close().await.is_err());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_authority_fails_the_handshake() {
    let (ca1, ca2) = (ca(), ca());
    let one = config("ipn:1.0", Some(node_tls(&ca1, "ipn:1.0")));
    let two = config("ipn:2.0", Some(node_tls(&ca2, "ipn:2.0")));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, two).await.map(|_| ())
    });
    assert!(connect(addr, one).await.is_err());
    assert!(server.await.unwrap().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stalls_is_dropped_after_twice_the_keepalive() {
    use dtn_core::cla::tcpcl::{ContactHeader, Message, SessInit};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut session = SessionConfig::new("ipn:2.0");
    session.keepalive_s = 1;
    let two = Arc::new(TcpclConfig::new(session, None));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut link = accept(stream, two).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(link.recv().await, None, "the session ends");
        (started.elapsed(), link.close().await)
    });
    // A hand-rolled peer: contact header and SESS_INIT (keepalive 1 s), then silence.
    let mut peer = tokio::net::TcpStream::connect(addr).await.unwrap();
    peer.write_all(&ContactHeader { version: 4, can_tls: false }.encode()).await.unwrap();
    let init = SessInit {
        keepalive_s: 1,
        segment_mru: 1 << 16,
        transfer_mru: 1 << 20,
        node_id: "ipn:1.0".into(),
        extensions: Vec::new(),
    };
    peer.write_all(&Message::SessInit(init).encode()).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut all = Vec::new();
        let _ = peer.read_to_end(&mut all).await;
        all
    });
    let (waited, closed) = server.await.unwrap();
    assert!(
        matches!(&closed, Err(LinkError::EndedHere(cause)) if cause.contains("nothing received")),
        "the end says why: {closed:?}"
    );
    assert!(waited.as_secs_f64() >= 1.5 && waited.as_secs_f64() < 5.0, "dropped after {waited:?}");
    // The server sent keepalives, then SESS_TERM reason 1 (idle timeout), then closed.
    let sent = reader.await.unwrap();
    assert!(sent.ends_with(&[0x05, 0x00, 0x01]), "{:02x?}", &sent[sent.len().saturating_sub(8)..]);
}

/// A hand-rolled peer on `addr`: contact header and a SESS_INIT with keepalive 1 s and this
/// segment MRU; returns the connection after the server's contact header.
async fn raw_peer(addr: std::net::SocketAddr, segment_mru: u64) -> tokio::net::TcpStream {
    use dtn_core::cla::tcpcl::{ContactHeader, Message, SessInit};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut peer = tokio::net::TcpStream::connect(addr).await.unwrap();
    peer.write_all(&ContactHeader { version: 4, can_tls: false }.encode()).await.unwrap();
    let init = SessInit {
        keepalive_s: 1,
        segment_mru,
        transfer_mru: 1 << 30,
        node_id: "ipn:1.0".into(),
        extensions: Vec::new(),
    };
    peer.write_all(&Message::SessInit(init).encode()).await.unwrap();
    let mut header = [0u8; 6];
    peer.read_exact(&mut header).await.unwrap();
    peer
}

/// Node 2 with a 1 s keepalive, accepting one session on a fresh port.
async fn listening_node_two()
-> (std::net::SocketAddr, tokio::task::JoinHandle<Result<gateway::tcpcl::TcpclLink, LinkError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut session = SessionConfig::new("ipn:2.0");
    session.keepalive_s = 1;
    let two = Arc::new(TcpclConfig::new(session, None));
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, two).await
    });
    (addr, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_stay_up_on_keepalives() {
    let one = {
        let mut c = SessionConfig::new("ipn:1.0");
        c.keepalive_s = 1;
        Arc::new(TcpclConfig::new(c, None))
    };
    let (addr, server) = listening_node_two().await;
    let mut link = connect(addr, one).await.unwrap();
    let mut other = server.await.unwrap().unwrap();
    // Five keepalive intervals of silence: long past the 2 s idle bound.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    link.send(Bytes::from_static(b"still up")).await.unwrap();
    other.send(Bytes::from_static(b"and back")).await.unwrap();
    let within = std::time::Duration::from_secs(2);
    assert_eq!(tokio::time::timeout(within, other.recv()).await.unwrap(), Some(Bytes::from_static(b"still up")));
    assert_eq!(tokio::time::timeout(within, link.recv()).await.unwrap(), Some(Bytes::from_static(b"and back")));
    link.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_segment_mru_below_the_floor_is_refused_with_the_reason() {
    let (addr, server) = listening_node_two().await;
    let _peer = raw_peer(addr, 1).await;
    let refused = server.await.unwrap();
    assert!(
        matches!(&refused, Err(LinkError::EndedHere(cause)) if cause.contains("segment MRU of 1 octets")),
        "{refused:?}"
    );
}

/// A misbehaving peer's keepalives, every 0.4 s until the connection breaks: it is not idle.
async fn keep_alive(mut wr: impl tokio::io::AsyncWrite + Unpin) {
    use tokio::io::AsyncWriteExt;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        if wr.write_all(&[0x04]).await.is_err() {
            return;
        }
    }
}

/// Sends bundles to a peer that misbehaves, until the link gives up; returns why and how
/// long it took.
async fn send_until_dropped(
    server: tokio::task::JoinHandle<Result<gateway::tcpcl::TcpclLink, LinkError>>,
) -> (std::time::Duration, Result<(), LinkError>, u64) {
    let link = server.await.unwrap().unwrap();
    let parts = link.into_parts();
    let started = std::time::Instant::now();
    let feeder = tokio::spawn(async move {
        for _ in 0..64 {
            if parts.outbound.send(Bytes::from(vec![0x5a; 1 << 20])).await.is_err() {
                break;
            }
        }
        // Held until the session ends: dropping it would end the session normally.
        parts.outbound.closed().await;
    });
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), parts.task).await;
    let took = started.elapsed();
    feeder.abort();
    let ended = ended.expect("the link gave up in time").unwrap();
    let mut outcomes = parts.outcomes;
    let mut delivered = 0;
    while let Ok((_, ok)) = outcomes.try_recv() {
        delivered += u64::from(ok);
    }
    (took, ended, delivered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_cannot_wedge_the_link() {
    let (addr, server) = listening_node_two().await;
    let peer = raw_peer(addr, 1 << 20).await;
    // It keeps sending keepalives (so it is not idle) but never reads.
    let keepalives = tokio::spawn(keep_alive(peer));
    let (took, ended, delivered) = send_until_dropped(server).await;
    keepalives.abort();
    assert!(matches!(&ended, Err(LinkError::EndedHere(c)) if c.contains("read nothing")), "{ended:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(delivered, 0, "nothing was acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_reads_but_never_acknowledges_is_dropped() {
    let (addr, server) = listening_node_two().await;
    let peer = raw_peer(addr, 1 << 20).await;
    let (mut rd, wr) = peer.into_split();
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut sink = vec![0u8; 1 << 16];
        while rd.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    let keepalives = tokio::spawn(keep_alive(wr));
    let (took, ended, delivered) = send_until_dropped(server).await;
    keepalives.abort();
    reader.abort();
    assert!(matches!(&ended, Err(LinkError::EndedHere(c)) if c.contains("acknowledged nothing")), "{ended:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(delivered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_starts_a_transfer_and_sends_no_more_of_it_is_dropped() {
    use dtn_core::cla::tcpcl::{EXT_TRANSFER_LENGTH, ExtItem, Message, SegmentFlags};
    use tokio::io::AsyncWriteExt;
    let (addr, server) = listening_node_two().await;
    let mut peer = raw_peer(addr, 1 << 20).await;
    // 1,000 bytes of a transfer said to be 1 MiB, then keepalives only: not idle, never done.
    let length = ExtItem {
        critical: false,
        item_type: EXT_TRANSFER_LENGTH,
        value: Bytes::copy_from_slice(&(1u64 << 20).to_be_bytes()),
    };
    let start = Message::XferSegment {
        flags: SegmentFlags { start: true, end: false },
        transfer_id: 1,
        extensions: vec![length],
        data: Bytes::from(vec![0u8; 1000]),
    };
    peer.write_all(&start.encode()).await.unwrap();
    let (rd, wr) = peer.into_split();
    let keepalives = tokio::spawn(keep_alive(wr));
    let link = server.await.unwrap().unwrap();
    let parts = link.into_parts();
    let started = std::time::Instant::now();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), parts.task).await;
    keepalives.abort();
    drop(rd);
    let ended = ended.expect("the session ended in time").unwrap();
    assert!(matches!(&ended, Err(LinkError::EndedHere(c)) if c.contains("nothing more of its transfer")), "{ended:?}");
    // The stall bound is twice the 1 s keepalive.
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_sending_big_bundles_to_each_other_do_not_deadlock() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let two = config("ipn:2.0", None);
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream, two).await.unwrap()
    });
    let one = connect(addr, config("ipn:1.0", None)).await.unwrap();
    let two = server.await.unwrap();
    // Each side queues 48 MiB for the other before either takes anything in.
    let exchange = |link: gateway::tcpcl::TcpclLink| async move {
        let parts = link.into_parts();
        let mut inbound = parts.inbound;
        let outbound = parts.outbound;
        let send = tokio::spawn(async move {
            for i in 0..24u8 {
                outbound.send(Bytes::from(vec![i; 2 << 20])).await.unwrap();
            }
            outbound
        });
        let mut got = 0;
        while got < 24 {
            let bundle = inbound.recv().await.expect("a bundle");
            assert_eq!(bundle.bytes.len(), 2 << 20);
            got += 1;
        }
        drop(send.await.unwrap());
        got
    };
    let both = async { tokio::join!(exchange(one), exchange(two)) };
    let (a, b) = tokio::time::timeout(std::time::Duration::from_secs(30), both).await.expect("no deadlock");
    assert_eq!((a, b), (24, 24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_share_one_receive_budget_and_a_refused_transfer_is_taken_later() {
    use dtn_core::cla::tcpcl::{EXT_TRANSFER_LENGTH, ExtItem, Message, SegmentFlags};
    use gateway::budget::ReceiveBudget;
    use tokio::io::AsyncWriteExt;
    // Node 2 may hold 1 MiB of received data, all sessions together.
    let budget = ReceiveBudget::new(1 << 20);
    let two =
        Arc::new(TcpclConfig { budget: Some(budget.clone()), ..TcpclConfig::new(SessionConfig::new("ipn:2.0"), None) });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut links = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            links.push(accept(stream, two.clone()).await.unwrap());
        }
        links
    });
    // A first peer starts a 2 MiB transfer, sends 800 KiB of it and goes quiet (big partial
    // bundles may take seven eighths of the budget).
    let mut hog = raw_peer(addr, 1 << 20).await;
    let start = Message::XferSegment {
        flags: SegmentFlags { start: true, end: false },
        transfer_id: 1,
        extensions: vec![ExtItem {
            critical: false,
            item_type: EXT_TRANSFER_LENGTH,
            value: Bytes::copy_from_slice(&(2u64 << 20).to_be_bytes()),
        }],
        data: Bytes::from(vec![1u8; 800 << 10]),
    };
    hog.write_all(&start.encode()).await.unwrap();
    // A second peer sends 500 KiB in 64 KiB segments: there is no room for it.
    let mut config = SessionConfig::new("ipn:3.0");
    config.max_segment = 64 << 10;
    let second = connect(addr, Arc::new(TcpclConfig::new(config, None))).await.unwrap();
    let mut links = server.await.unwrap();
    let parts = second.into_parts();
    let mut outcomes = parts.outcomes;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(budget.available() < 300 << 10, "the hog's 800 KiB are held: {}", budget.available());
    let bundle = Bytes::from(vec![2u8; 500 << 10]);
    parts.outbound.send(bundle.clone()).await.unwrap();
    let within = std::time::Duration::from_secs(5);
    assert_eq!(tokio::time::timeout(within, outcomes.recv()).await.unwrap(), Some((0, false)), "refused: no room");
    // The hog goes away; its share comes back, and the same bundle now gets through.
    drop(hog);
    let hog_link = links.remove(0);
    assert!(tokio::time::timeout(within, hog_link.close()).await.is_ok(), "the hog's session ends");
    parts.outbound.send(bundle.clone()).await.unwrap();
    assert_eq!(tokio::time::timeout(within, outcomes.recv()).await.unwrap(), Some((1, true)));
    let mut receiver = links.remove(0);
    assert_eq!(tokio::time::timeout(within, receiver.recv()).await.unwrap(), Some(bundle));
}
