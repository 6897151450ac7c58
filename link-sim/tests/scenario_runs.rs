//! Whole scenario runs: determinism by trace hash, and no invariant violation across seeds
//! with loss, a missed pass and custody.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use link_sim::model::link::windows_from_csv;
use link_sim::sim::scenario::Scenario;

fn small_scenario() -> (Scenario, std::collections::BTreeMap<(u64, u64), Vec<link_sim::model::link::Window>>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/small.toml");
    let (mut scenario, plan) = Scenario::load(&path).unwrap();
    // A shorter day keeps the test quick; the traffic ends well before it.
    scenario.run.duration_s = 43_200.0;
    for flow in &mut scenario.traffic {
        flow.end_s = 20_000.0;
        flow.bundles /= 3;
    }
    let text = std::fs::read_to_string(&plan)
        .unwrap_or_else(|e| panic!("{}: {e} (lay shared/ beside the repository)", plan.display()));
    (scenario, windows_from_csv(&text).unwrap())
}

#[test]
fn one_seed_one_trace_other_seeds_other_traces() {
    let (scenario, windows) = small_scenario();
    let a = link_sim::sim::run(&scenario, &windows, 5, |_, _| {});
    let b = link_sim::sim::run(&scenario, &windows, 5, |_, _| {});
    let c = link_sim::sim::run(&scenario, &windows, 6, |_, _| {});
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn seeds_with_loss_and_a_missed_pass_violate_no_invariant() {
    let (scenario, windows) = small_scenario();
    for seed in 1..=10 {
        let outcome = link_sim::sim::run(&scenario, &windows, seed, |_, _| {});
        assert!(outcome.violations.is_empty(), "seed {seed}: {:?}", outcome.violations);
        assert_eq!(outcome.report["bundles"]["silently_lost"], 0);
    }
}
