//! Agent throughput: 1 KiB bundles submitted at node 1, forwarded by node 2, delivered at
//! node 3 — three agents in one process, frames moved in memory — with custody off and on
//! (in-memory stores, static routes).
//!
//! Run: `cargo bench -p dtn-core --bench bpa`

// Benchmark code: a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dtn_core::bpa::{Action, Bpa, DeliveryMode, Event, LinkId, NodeConfig, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::custody::CustodyConfig;
use dtn_core::eid::Eid;
use dtn_core::routing::{Priority, StaticRouter};
use dtn_core::store::MemoryStore;
use dtn_core::time::DtnTime;

type Agent = Bpa<MemoryStore, StaticRouter>;

const NOW: DtnTime = DtnTime(757_382_400_000);
const BATCH: u64 = 1_000;

fn chain(custody: bool) -> Vec<Agent> {
    (1..=3u64)
        .map(|n| {
            let mut router = StaticRouter::new();
            router.add(3, (n + 1).min(3)).add(1, n.saturating_sub(1).max(1));
            let mut config = NodeConfig::new(n);
            config.hop_limit = Some(16);
            if custody && n < 3 {
                config.custody = Some(CustodyConfig::with_peers([n + 1]));
            }
            let mut a = Bpa::new(config, MemoryStore::new(1 << 30), router);
            for peer in [n - 1, n + 1] {
                if (1..=3).contains(&peer) {
                    a.handle(Event::LinkUp { link: LinkId(peer as u32), peer }, NOW).unwrap();
                }
            }
            if n == 3 {
                a.handle(Event::Register { endpoint: Eid::ipn(3, 1), mode: DeliveryMode::Active }, NOW).unwrap();
            }
            a
        })
        .collect()
}

/// Moves every frame until the chain is idle, one batch of events per agent per round (as a
/// convergence layer hands over what it read); returns the number of deliveries.
fn pump(agents: &mut [Agent]) -> u64 {
    let mut delivered = 0;
    loop {
        let mut inbox: Vec<Vec<Event>> = (0..agents.len()).map(|_| Vec::new()).collect();
        let mut busy = false;
        for (i, agent) in agents.iter_mut().enumerate() {
            while let Some(action) = agent.poll_action() {
                busy = true;
                match action {
                    Action::Transmit { link, bundle, bytes } => {
                        let to = link.0 as usize - 1;
                        inbox[to].push(Event::Received { link: LinkId(i as u32 + 1), bytes });
                        inbox[i].push(Event::Transmitted { link, bundle, ok: true });
                    }
                    Action::Deliver(_) => delivered += 1,
                    _ => {}
                }
            }
        }
        for (agent, events) in agents.iter_mut().zip(inbox) {
            if !events.is_empty() {
                agent.handle_batch(events, NOW).unwrap();
            }
        }
        if !busy {
            return delivered;
        }
    }
}

fn run(agents: &mut [Agent], payload: &Bytes) -> u64 {
    for token in 0..BATCH {
        let s = Submission {
            token,
            source: Some(Eid::ipn(1, 1)),
            destination: Eid::ipn(3, 1),
            payload: payload.clone(),
            lifetime_ms: 3_600_000,
            flags: BundleFlags::default(),
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        };
        agents[0].handle(Event::Submit(s), NOW).unwrap();
    }
    let delivered = pump(agents);
    assert_eq!(delivered, BATCH);
    delivered
}

fn chain_throughput(c: &mut Criterion) {
    let payload = Bytes::from(vec![0x5a; 1024]);
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(BATCH));
    for (name, custody) in [("1KiB", false), ("1KiB-custody", true)] {
        group.bench_function(name, |b| {
            b.iter_batched(|| chain(custody), |mut agents| run(&mut agents, &payload), BatchSize::LargeInput)
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = chain_throughput
}
criterion_main!(benches);
