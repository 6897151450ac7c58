//! The 36 reference queries of `shared/scenarios` on the `.ionrc` plans and on the millisecond
//! CSV plans (72 answers): earliest arrival within 1 µs, hop count exact, no-route agreement.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dtn_core::routing::search::{EmptyNetwork, RouteQuery, search};
use dtn_core::routing::{ContactPlan, PlanTime};
use dtn_tests::routing::{csv_plan, ion_plan, scenario_text};
use serde_json::Value;

fn check(scenario: &str, plan: &ContactPlan, answers_file: &str) -> usize {
    let answers: Value = serde_json::from_str(&scenario_text(answers_file)).unwrap();
    let mut checked = 0;
    for a in answers.as_array().unwrap() {
        let label = a["label"].as_str().unwrap();
        let query = RouteQuery::new(
            a["src"].as_u64().unwrap(),
            a["dst"].as_u64().unwrap(),
            PlanTime::from_secs(a["t0"].as_i64().unwrap()),
            a["size"].as_u64().unwrap(),
        );
        let got = search(plan, &query, &EmptyNetwork);
        match (a["eat"].as_f64(), got) {
            (None, None) => {}
            (Some(eat), Some(route)) => {
                let want_ns = eat * 1e9;
                let diff = (route.arrival.nanos() as f64 - want_ns).abs();
                assert!(diff <= 1000.0, "{scenario} {label}: arrival {} vs {eat} ({diff} ns off)", route.arrival);
                assert_eq!(route.hops() as u64, a["min_hops"].as_u64().unwrap(), "{scenario} {label}: hops");
                let nodes = route.nodes(plan);
                assert_eq!(nodes.first(), Some(&query.source));
                assert_eq!(nodes.last(), Some(&query.destination));
            }
            (want, got) => panic!("{scenario} {label}: expected {want:?}, got {got:?}"),
        }
        checked += 1;
    }
    checked
}

fn both(scenario: &str) -> usize {
    check(scenario, &ion_plan(scenario), &format!("{scenario}.answers.json"))
        + check(scenario, &csv_plan(scenario), &format!("{scenario}.answers_ms.json"))
}

#[test]
fn small_reference_answers() {
    assert_eq!(both("small"), 20);
}

#[test]
fn medium_reference_answers() {
    assert_eq!(both("medium"), 20);
}

#[test]
fn large_reference_answers() {
    assert_eq!(both("large"), 16);
}

#[test]
fn xlarge_reference_answers() {
    assert_eq!(both("xlarge"), 16);
}
