//! The simulator against the shared scenarios: a lone bundle on an idle, loss-free plan arrives
//! at the reference earliest arrival (millisecond light times), and runs are deterministic.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use dtn_core::bpa::{DeliveryMode, Event, Submission};
use dtn_core::bundle::{BundleBuilder, BundleFlags};
use dtn_core::eid::Eid;
use dtn_core::routing::{NodeId, PlanTime, Priority};
use link_sim::model::link::{Impairments, Window, windows_from_csv};
use link_sim::sim::{SimConfig, World};

fn small() -> BTreeMap<(NodeId, NodeId), Vec<Window>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/scenarios/small.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (lay shared/ beside the repository)", path.display()));
    windows_from_csv(&text).unwrap()
}

/// A payload that makes the encoded bundle exactly `size` bytes.
fn payload_for(size: usize, from: NodeId, to: NodeId) -> Bytes {
    let probe = BundleBuilder::new(Eid::ipn(from as u32, 0), Eid::ipn(to as u32, 1))
        .creation(dtn_core::time::CreationTimestamp::new(dtn_core::time::DtnTime(757_382_400_000), 1))
        .lifetime_ms(86_400_000)
        .hop_count(64, 0)
        .payload(vec![0u8; size])
        .encode()
        .len();
    Bytes::from(vec![0x42; size - (probe - size)])
}

fn lone_bundle(from: NodeId, to: NodeId, t0: i64, size: usize, seed: u64) -> (Option<PlanTime>, u64) {
    let impairments = Impairments { varying_light_time: false, ..Impairments::default() };
    run(from, to, t0, size, SimConfig { seed, impairments, ..SimConfig::default() })
}

fn run(from: NodeId, to: NodeId, t0: i64, size: usize, config: SimConfig) -> (Option<PlanTime>, u64) {
    let mut world = World::new(&small(), config);
    world.register(to, Event::Register { endpoint: Eid::ipn(to as u32, 1), mode: DeliveryMode::Active });
    let submission = Submission {
        token: 1,
        source: None,
        destination: Eid::ipn(to as u32, 1),
        payload: payload_for(size, from, to),
        lifetime_ms: 86_400_000,
        flags: BundleFlags::default(),
        priority: Priority::Normal,
        reference: None,
        protection: Default::default(),
    };
    world.submit(from, PlanTime::from_secs(t0), submission);
    world.run_until(PlanTime::from_secs(86_400));
    (world.delivered().first().map(|d| d.at), world.trace_hash())
}

#[test]
fn a_lone_bundle_arrives_at_the_reference_earliest_arrival() {
    // S1, S2, S4 and S6 of small.answers_ms.json (100 kB; EAT in seconds).
    for (from, to, t0, eat) in [
        (1001, 101, 0, 1800.3452598888887),
        (1003, 100, 0, 1800.27666),
        (1002, 301, 0, 1801.934634),
        (101, 201, 0, 0.209973),
    ] {
        let (arrival, _) = lone_bundle(from, to, t0, 100_000, 1);
        let arrival = arrival.unwrap_or_else(|| panic!("{from}->{to} never delivered"));
        let error_ms = (arrival.nanos() as f64 / 1e6) - eat * 1e3;
        assert!(error_ms.abs() < 0.1, "{from}->{to}: arrival {arrival} vs reference {eat} ({error_ms:.3} ms)");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_and_seeds_differ() {
    let lossy = |seed| {
        let impairments =
            Impairments { loss: link_sim::model::loss::FrameLoss::new(0.0, 0.5).unwrap(), ..Impairments::default() };
        run(1001, 101, 0, 100_000, SimConfig { seed, impairments, custody: true, ..SimConfig::default() }).1
    };
    assert_eq!(lossy(7), lossy(7));
    assert!((8..12).any(|seed| lossy(seed) != lossy(7)), "the seed drives the losses");
}
