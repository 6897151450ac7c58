//! Interoperability: a TCPCLv4 session between our `gateway::tcpcl` and the `hardy-tcpclv4`
//! crate (Rick Taylor's hardy DTN), bundles both ways, all on loopback.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dtn_core::bundle::BundleBuilder;
use dtn_core::cla::tcpcl::SessionConfig;
use dtn_core::eid::Eid;
use dtn_core::time::{CreationTimestamp, DtnTime};
use gateway::tcpcl::{TcpclConfig, accept, connect};
use hardy_bpa::async_trait;
use hardy_bpa::cla::{Cla as _, ClaAddress, ForwardBundleResult, Sink};
use hardy_bpv7::eid::NodeId;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What hardy hands its BPA: the bundles it received, by channel.
struct Collect(mpsc::UnboundedSender<Bytes>);

#[async_trait]
impl Sink for Collect {
    async fn unregister(&self) {}

    async fn dispatch(
        &self,
        bundle: hardy_bpa::Bytes,
        _peer_node: Option<&NodeId>,
        _peer_addr: Option<&ClaAddress>,
    ) -> hardy_bpa::cla::Result<()> {
        let _ = self.0.send(bundle);
        Ok(())
    }

    async fn add_peer(&self, _addr: ClaAddress, _node_ids: &[NodeId]) -> hardy_bpa::cla::Result<bool> {
        Ok(true)
    }

    async fn remove_peer(&self, _addr: &ClaAddress) -> hardy_bpa::cla::Result<bool> {
        Ok(true)
    }
}

fn bundle(seq: u64, size: usize) -> Bytes {
    Bytes::from(
        BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
            .creation(CreationTimestamp::new(DtnTime(757_382_400_000), seq))
            .lifetime_ms(3_600_000)
            .payload(vec![(seq % 251) as u8; size])
            .encode(),
    )
}

fn free_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_cross_both_ways_with_hardy() {
    // hardy as node 2, listening.
    let hardy_addr = free_port();
    let config = hardy_tcpclv4::config::Config { address: Some(hardy_addr), segment_mru: 16_384, ..Default::default() };
    let hardy = hardy_tcpclv4::Cla::new(&config).unwrap();
    let (to_us, mut from_hardy) = mpsc::unbounded_channel();
    let node2: NodeId = "ipn:2.0".parse().unwrap();
    hardy.on_register(Box::new(Collect(to_us)), &[node2]).await;
    // We (node 1) connect (once hardy's listener task is up) and send: one small bundle, one
    // cut into segments by hardy's 16 KiB segment MRU.
    let ours = Arc::new(TcpclConfig::new(SessionConfig::new("ipn:1.0"), None));
    let mut attempt = 0;
    let link = loop {
        match connect(hardy_addr, ours.clone()).await {
            Ok(link) => break link,
            Err(e) if attempt < 50 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("hardy never listened: {e}"),
        }
    };
    assert_eq!(link.peer_node_id(), "ipn:2.0");
    let sent = [bundle(1, 100), bundle(2, 100_000)];
    for b in &sent {
        link.send(b.clone()).await.unwrap();
    }
    for b in &sent {
        let got = tokio::time::timeout(Duration::from_secs(10), from_hardy.recv()).await.unwrap().unwrap();
        assert_eq!(&got, b);
    }

    // hardy forwards to our listener (which takes any number of connections: hardy may open
    // more than one while its first session registers).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let our_addr = listener.local_addr().unwrap();
    let (got_tx, mut got_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (ours, got_tx) = (ours.clone(), got_tx.clone());
            tokio::spawn(async move {
                if let Ok(mut link) = accept(stream, ours).await {
                    while let Some(b) = link.recv().await {
                        let _ = got_tx.send((link.peer_node_id().to_string(), b));
                    }
                }
            });
        }
    });
    let back = bundle(3, 50_000);
    // hardy registers a new session in a background task, so a forward right after connecting
    // may not find it yet: try until it is sent.
    let mut sent_back = false;
    for _ in 0..20 {
        match hardy.forward(None, &ClaAddress::Tcp(our_addr), back.clone()).await {
            Ok(ForwardBundleResult::Sent) => {
                sent_back = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    assert!(sent_back, "hardy could not forward to us");
    let (peer, got) = tokio::time::timeout(Duration::from_secs(10), got_rx.recv()).await.unwrap().unwrap();
    assert_eq!(peer, "ipn:2.0");
    assert_eq!(got, back);

    link.close().await.unwrap();
    hardy.on_unregister().await;
}
