//! The LTP engine's own cost: blocks through two engines in one process, every segment
//! encoded by the sender and decoded by the receiver, reports and acknowledgements back —
//! no sockets, no pacing. No other Rust LTP exists to run beside it; ION's figures are
//! in BENCHMARKS.md.
//!
//! Run: `cargo bench -p dtn-core --bench ltp`

// Benchmark code: a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dtn_core::cla::ltp::{Engine, EngineConfig, Event, SpanConfig};

fn pair(mtu: usize) -> (Engine, Engine) {
    let mut a = Engine::new(EngineConfig::new(1));
    let mut b = Engine::new(EngineConfig::new(2));
    a.add_span(SpanConfig { mtu, max_export_sessions: 4096, ..SpanConfig::new(2) }, 0);
    b.add_span(SpanConfig { mtu, max_import_sessions: 4096, ..SpanConfig::new(1) }, 0);
    (a, b)
}

/// Sends `blocks` from A to B, losing every `lose_every`-th data segment once (0: none);
/// returns the bytes delivered.
fn transfer(a: &mut Engine, b: &mut Engine, blocks: &[Bytes], lose_every: u64) -> usize {
    for block in blocks {
        a.send_block(2, 1, block.clone(), block.len() as u64).unwrap();
    }
    let mut buf = Vec::with_capacity(70_000);
    let (mut now, mut sent, mut done, mut delivered) = (0u64, 0u64, 0usize, 0usize);
    while done < blocks.len() {
        let mut moved = false;
        loop {
            buf.clear();
            if !a.poll_transmit(2, now, &mut buf) {
                break;
            }
            moved = true;
            sent += 1;
            if lose_every == 0 || sent % lose_every != 0 {
                b.handle_datagram(1, &Bytes::copy_from_slice(&buf), now).unwrap();
            }
        }
        loop {
            buf.clear();
            if !b.poll_transmit(1, now, &mut buf) {
                break;
            }
            moved = true;
            a.handle_datagram(2, &Bytes::copy_from_slice(&buf), now).unwrap();
        }
        while let Some(event) = b.poll_event() {
            if let Event::RedPart { data, .. } = event {
                delivered += data.len();
            }
        }
        while let Some(event) = a.poll_event() {
            if matches!(event, Event::ExportDone { .. }) {
                done += 1;
            }
        }
        if !moved {
            now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap_or(now + 1).max(now + 1);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    delivered
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ltp");
    group.measurement_time(Duration::from_secs(5));
    let mib = Bytes::from((0..1u32 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    for (name, mtu, lose) in [
        ("1MiB_block_mtu64000", 64_000, 0),
        ("1MiB_block_mtu1400", 1400, 0),
        ("1MiB_block_mtu1400_1pct_loss", 1400, 100),
    ] {
        group.throughput(Throughput::Bytes(mib.len() as u64));
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let (mut a, mut b) = pair(mtu);
                assert_eq!(transfer(&mut a, &mut b, std::slice::from_ref(&mib), lose), mib.len());
            })
        });
    }
    let small: Vec<Bytes> = (0..1000u32).map(|i| Bytes::from(vec![(i % 256) as u8; 1024])).collect();
    group.throughput(Throughput::Elements(small.len() as u64));
    group.bench_function("1000_blocks_of_1KiB", |bench| {
        bench.iter(|| {
            let (mut a, mut b) = pair(1400);
            assert_eq!(transfer(&mut a, &mut b, &small, 0), 1000 * 1024);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
