//! A late plan update: a pass happens, but the agents only learn of it mid-run. Bundles wait
//! for what they know, take the new contact once told, and nothing is lost either way.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bytes::Bytes;
use dtn_core::bpa::{DeliveryMode, Event, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use dtn_core::routing::{NodeId, PlanTime, Priority};
use link_sim::model::link::Window;
use link_sim::sim::{LatePass, SimConfig, World};

/// 1 → 2 directly over [100 s, 200 s), or through 3 over [1000 s, 1100 s). (A link that is up
/// to the next hop the agent chose carries the bundle whatever the plan says, so the late
/// contact must lead to another next hop to tell the cases apart.)
fn two_routes() -> BTreeMap<(NodeId, NodeId), Vec<Window>> {
    let pass = |start: i64| Window {
        start: PlanTime::from_secs(start),
        end: PlanTime::from_secs(start + 100),
        rate_bytes_per_sec: 1_000_000,
        owlt_min_nanos: 5_000_000,
        owlt_max_nanos: 5_000_000,
    };
    BTreeMap::from([((1, 2), vec![pass(100)]), ((1, 3), vec![pass(1_000)]), ((3, 2), vec![pass(1_000)])])
}

/// When a bundle submitted at t = 0 reaches node 2, with pass 0 learned at `known_at_s`.
fn arrival(late: Option<f64>, custody: bool) -> PlanTime {
    let late_passes =
        late.map(|s| LatePass { from: 1, to: 2, pass: 0, known_at: PlanTime((s * 1e9) as i64) }).into_iter().collect();
    let mut world = World::new(&two_routes(), SimConfig { late_passes, custody, ..SimConfig::default() });
    world.register(2, Event::Register { endpoint: Eid::ipn(2, 1), mode: DeliveryMode::Active });
    let submission = Submission {
        token: 1,
        source: None,
        destination: Eid::ipn(2, 1),
        payload: Bytes::from(vec![7u8; 1_000]),
        lifetime_ms: 86_400_000,
        flags: BundleFlags::default(),
        priority: Priority::Normal,
        reference: None,
        protection: Default::default(),
    };
    world.submit(1, PlanTime(0), submission);
    world.run_until(PlanTime::from_secs(2_000));
    assert_eq!(world.delivered().len(), 1, "delivered exactly once");
    world.delivered()[0].at
}

fn secs(t: PlanTime) -> f64 {
    t.0 as f64 / 1e9
}

#[test]
fn a_bundle_takes_a_contact_learned_before_it_starts() {
    for custody in [false, true] {
        let known = secs(arrival(None, custody));
        let learned_early = secs(arrival(Some(50.0), custody));
        assert!((100.0..100.1).contains(&known), "known all along: {known}");
        assert!((100.0..100.1).contains(&learned_early), "learned at 50 s, queued bundle moved: {learned_early}");
    }
}

#[test]
fn a_contact_learned_mid_pass_is_used_from_then_on() {
    let t = secs(arrival(Some(150.0), true));
    assert!((150.0..150.1).contains(&t), "learned at 150 s: {t}");
}

#[test]
fn a_contact_learned_after_it_ended_leaves_the_bundle_on_the_route_it_knew() {
    let t = secs(arrival(Some(500.0), true));
    assert!((1_000.0..1_000.1).contains(&t), "learned too late, through node 3: {t}");
}
