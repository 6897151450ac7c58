//! TCPCLv4 one hop on loopback, in one process: our session to our session, and our session
//! to hardy-tcpclv4's (the peer side by side). Throughput of N bundles of a given size, from
//! the first send until the receiver has them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dtn_core::cla::tcpcl::SessionConfig;
use gateway::tcpcl::{TcpclConfig, TcpclLink, accept, connect};
use hardy_bpa::async_trait;
use hardy_bpa::cla::{Cla as _, ClaAddress, Sink};
use hardy_bpv7::eid::NodeId;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

fn config(node: &str) -> Arc<TcpclConfig> {
    let mut session = SessionConfig::new(node);
    session.segment_mru = 16 << 20;
    session.max_segment = 16 << 20;
    Arc::new(TcpclConfig::new(session, None))
}

/// A connected pair of our links: (sender, receiver).
fn pair(rt: &Runtime) -> (TcpclLink, TcpclLink) {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept(stream, config("ipn:2.0")).await.unwrap()
        });
        let sender = connect(addr, config("ipn:1.0")).await.unwrap();
        (sender, server.await.unwrap())
    })
}

struct Count(mpsc::UnboundedSender<usize>);

#[async_trait]
impl Sink for Count {
    async fn unregister(&self) {}
    async fn dispatch(
        &self,
        b: hardy_bpa::Bytes,
        _: Option<&NodeId>,
        _: Option<&ClaAddress>,
    ) -> hardy_bpa::cla::Result<()> {
        let _ = self.0.send(b.len());
        Ok(())
    }
    async fn add_peer(&self, _: ClaAddress, _: &[NodeId]) -> hardy_bpa::cla::Result<bool> {
        Ok(true)
    }
    async fn remove_peer(&self, _: &ClaAddress) -> hardy_bpa::cla::Result<bool> {
        Ok(true)
    }
}

/// Time to send `count` bundles `iters` times over `sender` until `arrived` reports each.
fn timed(
    rt: &Runtime,
    iters: u64,
    count: u64,
    bundle: &Bytes,
    sender: &TcpclLink,
    arrived: &mut mpsc::UnboundedReceiver<usize>,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let feed = async {
                for _ in 0..count {
                    sender.send(bundle.clone()).await.unwrap();
                }
            };
            let drain = async {
                for _ in 0..count {
                    arrived.recv().await.unwrap();
                }
            };
            tokio::join!(feed, drain);
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("tcpcl");
    group.measurement_time(Duration::from_secs(5)).sample_size(10);
    for (name, size, count) in [("1KiB", 1024usize, 20_000u64), ("64KiB", 64 << 10, 2_000), ("1MiB", 1 << 20, 200)] {
        let bundle = Bytes::from(vec![0x5a; size]);
        group.throughput(Throughput::Elements(count));
        let (sender, mut receiver) = pair(&rt);
        let (tx, mut arrived) = mpsc::unbounded_channel();
        rt.spawn(async move {
            while let Some(b) = receiver.recv().await {
                let _ = tx.send(b.len());
            }
        });
        group.bench_function(format!("ours-to-ours/{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, iters, count, &bundle, &sender, &mut arrived))
        });
        // hardy as the receiver.
        let (hardy, addr, mut got) = rt.block_on(async {
            let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            let cfg =
                hardy_tcpclv4::config::Config { address: Some(addr), segment_mru: 16 << 20, ..Default::default() };
            let hardy = hardy_tcpclv4::Cla::new(&cfg).unwrap();
            let (tx, rx) = mpsc::unbounded_channel();
            hardy.on_register(Box::new(Count(tx)), &["ipn:2.0".parse().unwrap()]).await;
            (hardy, addr, rx)
        });
        let to_hardy = rt.block_on(async {
            for _ in 0..50 {
                if let Ok(link) = connect(addr, config("ipn:1.0")).await {
                    return link;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("hardy never listened")
        });
        group.bench_function(format!("ours-to-hardy/{name}"), |b| {
            b.iter_custom(|iters| timed(&rt, iters, count, &bundle, &to_hardy, &mut got))
        });
        rt.block_on(async {
            let _ = to_hardy.close().await;
            hardy.on_unregister().await;
            let _ = sender.close().await;
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
