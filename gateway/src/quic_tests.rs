//! Two QUIC links in one process: what the sender counts as sent, the receiver has.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use super::*;
use crate::tcpcl::NodeIdPolicy;

pub(crate) struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    der: CertificateDer<'static>,
}

pub(crate) fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "test CA");
    let der = params.self_signed(&key).unwrap().der().clone();
    Ca { params, key, der }
}

pub(crate) fn config(ca: &Ca, node: &str) -> QuicConfig {
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::URI(rcgen::string::Ia5String::try_from(node).unwrap())];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let tls = TlsSetup {
        chain: vec![cert.der().clone()],
        key: Arc::new(key),
        roots: vec![ca.der.clone()],
        policy: NodeIdPolicy::None,
    };
    QuicConfig { tls, max_bundle: 1 << 20, idle_timeout: Duration::from_secs(10), budget: None }
}

/// A connected to B on loopback: A's link, B's, and the endpoints (to keep while they run).
async fn pair(a_config: QuicConfig, b_config: QuicConfig) -> (QuicLink, QuicLink, (Endpoint, Endpoint)) {
    let b_endpoint = endpoint(([127, 0, 0, 1], 0).into(), &b_config, true).unwrap();
    let a_endpoint = endpoint(([127, 0, 0, 1], 0).into(), &a_config, false).unwrap();
    let b_addr = b_endpoint.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let incoming = b_endpoint.accept().await.unwrap();
        (accept(incoming, &b_config).await.unwrap(), b_endpoint)
    });
    let a = connect(&a_endpoint, b_addr, &a_config).await.unwrap();
    let (b, b_endpoint) = accepting.await.unwrap();
    (a, b, (a_endpoint, b_endpoint))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_receiver_first_takes_everything_the_sender_was_told_arrived() {
    let ca = ca();
    let (a, b, _endpoints) = pair(config(&ca, "ipn:1.0"), config(&ca, "ipn:2.0")).await;
    let (a, b) = (a.into_parts(), b.into_parts());
    // A sends 1,500 bundles; B's agent takes one every 200 µs, far slower than they come,
    // so streams pile up at B unread (QUIC has acknowledged them to A).
    let count = 1_500u32;
    let outbound = a.outbound.clone();
    tokio::spawn(async move {
        for i in 0..count {
            let mut bundle = vec![0u8; 2_000];
            bundle[..4].copy_from_slice(&i.to_be_bytes());
            if outbound.send(Bytes::from(bundle)).await.is_err() {
                return;
            }
        }
    });
    let mut inbound = b.inbound;
    let receiver = tokio::spawn(async move {
        let mut got = BTreeSet::new();
        while let Some(bundle) = inbound.recv().await {
            got.insert(u32::from_be_bytes(bundle.bytes[..4].try_into().unwrap()));
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        got
    });
    // B's side of the link goes down (its contact ends) while A is still sending.
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(b.outbound);
    let mut sent = BTreeSet::new();
    let mut outcomes = a.outcomes;
    drop(a.outbound);
    while let Some((position, ok)) = outcomes.recv().await {
        if ok {
            sent.insert(position as u32);
        }
    }
    let got = tokio::time::timeout(Duration::from_secs(20), receiver).await.unwrap().unwrap();
    assert!(!sent.is_empty());
    let lost: Vec<u32> = sent.difference(&got).copied().collect();
    assert!(
        lost.is_empty(),
        "{} of {} counted as sent never reached B: {:?}",
        lost.len(),
        sent.len(),
        &lost[..lost.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_stream_that_stalls_is_stopped_and_the_connection_stays() {
    let ca = ca();
    let a_config = config(&ca, "ipn:1.0");
    // B's idle timeout (1 s) bounds a stalled stream; keepalives keep the connection up.
    let b_config = QuicConfig { idle_timeout: Duration::from_secs(1), ..config(&ca, "ipn:2.0") };
    let (a, b, _endpoints) = pair(a_config, b_config).await;
    let (connection, b) = (a.connection.clone(), b.into_parts());
    // 1,000 bytes of a bundle, then nothing: never finished.
    let mut stream = connection.open_uni().await.unwrap();
    stream.write_all(&[0u8; 1000]).await.unwrap();
    let started = std::time::Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(5), stream.stopped()).await;
    assert_eq!(stopped.expect("stopped in time").unwrap(), Some(VarInt::from_u32(NO_RESOURCES)));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The connection is still there for the next bundle.
    let mut next = connection.open_uni().await.unwrap();
    next.write_all(b"a bundle").await.unwrap();
    next.finish().unwrap();
    let mut inbound = b.inbound;
    let got = tokio::time::timeout(Duration::from_secs(5), inbound.recv()).await.unwrap().unwrap();
    assert_eq!(&got.bytes[..], b"a bundle");
}
