//! The liveness oracle: every bundle physics allows is delivered, every other one is explained,
//! and a bundle left beside an open, idle link is a violation.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use dtn_core::bpa::{DeliveryMode, Event, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use dtn_core::routing::{PlanTime, Priority};
use link_sim::model::link::{Impairments, Window, windows_from_csv};
use link_sim::sim::scenario::Scenario;
use link_sim::sim::{SimConfig, World, liveness};

#[test]
fn the_small_scenario_delivers_every_bundle_physics_allows_and_explains_the_rest() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/small.toml");
    let (scenario, plan) = Scenario::load(&path).unwrap();
    let text = std::fs::read_to_string(&plan)
        .unwrap_or_else(|e| panic!("{}: {e} (lay shared/ beside the repository)", plan.display()));
    let windows = windows_from_csv(&text).unwrap();
    let outcome = link_sim::sim::run(&scenario, &windows, scenario.run.seed, |_, _| {});
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
    let b = &outcome.report["bundles"];
    assert_eq!(b["delivered"], b["routable"], "{b}");
    assert_eq!(b["undelivered_without_cause"], 0, "{b}");
    assert_eq!(b["held_at_end"], 0, "{b}");
}

/// Node 1 → node 2, always in contact, a link buffer that takes one bundle at a time: the second
/// of two bundles sent together is refused by the link, and must be tried again.
fn refused_by_a_full_buffer(retry_interval_ms: Option<u64>) -> World {
    let window = Window {
        start: PlanTime::from_secs(0),
        end: PlanTime::from_secs(86_400),
        rate_bytes_per_sec: 1_000,
        owlt_min_nanos: 1_000_000,
        owlt_max_nanos: 1_000_000,
    };
    let windows = BTreeMap::from([((1, 2), vec![window]), ((2, 1), vec![window])]);
    let impairments = Impairments { buffer_bytes: 1_500, ..Impairments::default() };
    let mut world = World::new(&windows, SimConfig { impairments, retry_interval_ms, ..SimConfig::default() });
    world.register(2, Event::Register { endpoint: Eid::ipn(2, 1), mode: DeliveryMode::Active });
    for token in 0..2u64 {
        let mut payload = vec![0u8; 1_000];
        payload[..8].copy_from_slice(&token.to_be_bytes());
        let submission = Submission {
            token,
            source: None,
            destination: Eid::ipn(2, 1),
            payload: Bytes::from(payload),
            lifetime_ms: 86_400_000,
            flags: BundleFlags::default(),
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        };
        world.submit(1, PlanTime::from_secs(10), submission);
    }
    world
}

#[test]
fn a_bundle_left_beside_an_open_idle_link_is_reported_stuck() {
    // An agent that waits two hours before trying a refused bundle again.
    let mut world = refused_by_a_full_buffer(Some(7_200_000));
    world.run_until(PlanTime::from_secs(300));
    assert!(liveness::stuck(&world).is_empty(), "not yet: within the bound");
    world.run_until(PlanTime::from_secs(1_200));
    let stuck = liveness::stuck(&world);
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!((stuck[0].node, stuck[0].hop), (1, 2));
}

#[test]
fn a_refused_bundle_tried_again_in_time_is_not_stuck() {
    let mut world = refused_by_a_full_buffer(None);
    for minute in 1..=60 {
        world.run_until(PlanTime::from_secs(minute * 60));
        assert!(liveness::stuck(&world).is_empty(), "minute {minute}");
    }
    assert_eq!(world.delivered().len(), 2);
}

#[test]
fn a_bundle_whose_contact_comes_after_the_end_is_explained_as_waiting_for_it() {
    let window = Window {
        start: PlanTime::from_secs(1_000),
        end: PlanTime::from_secs(2_000),
        rate_bytes_per_sec: 1_000_000,
        owlt_min_nanos: 1_000_000,
        owlt_max_nanos: 1_000_000,
    };
    let windows = BTreeMap::from([((1, 2), vec![window]), ((2, 1), vec![window])]);
    let mut world = World::new(&windows, SimConfig::default());
    world.register(2, Event::Register { endpoint: Eid::ipn(2, 1), mode: DeliveryMode::Active });
    let submission = Submission {
        token: 7,
        source: None,
        destination: Eid::ipn(2, 1),
        payload: Bytes::from(7u64.to_be_bytes().to_vec()),
        lifetime_ms: 86_400_000,
        flags: BundleFlags::default(),
        priority: Priority::Normal,
        reference: None,
        protection: Default::default(),
    };
    world.submit(1, PlanTime::from_secs(10), submission);
    world.run_until(PlanTime::from_secs(500));
    let ledger = link_sim::sim::ledger::Ledger::of(&world);
    let causes = liveness::causes(&world, &ledger, &Default::default(), &Default::default());
    assert_eq!(causes.get(&7).map(String::as_str), Some("at node 1, waiting for the contact 1→2 at 1000.0 s"));
    assert!(liveness::stuck(&world).is_empty());
}
