//! The router against the brute-force reference: 1,000 random queries each on the `small`
//! and `medium` scenarios, and proptest-generated plans with booked volume, suppressed
//! contacts, excluded first hops and deadlines.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dtn_core::routing::search::{ContactState, EmptyNetwork, RouteQuery, search};
use dtn_core::routing::{Contact, ContactId, ContactPlan, PlanTime};
use dtn_tests::Rng;
use dtn_tests::routing::{brute_force, csv_plan, ion_plan};
use proptest::prelude::*;

fn random_queries(plan: &ContactPlan, seed: u64, count: usize) {
    let nodes = plan.nodes();
    let mut rng = Rng(seed);
    let sizes = [0, 100_000, 100_000_000, 10_000_000_000, 1_000_000_000_000];
    for i in 0..count {
        let source = nodes[rng.below(nodes.len() as u64) as usize];
        let mut destination = source;
        while destination == source {
            destination = nodes[rng.below(nodes.len() as u64) as usize];
        }
        let start = PlanTime(rng.below(86_400 * 1_000_000_000) as i64);
        let size = sizes[rng.below(sizes.len() as u64) as usize];
        let query = RouteQuery::new(source, destination, start, size);
        let got = search(plan, &query, &EmptyNetwork).map(|r| (r.arrival, r.hops()));
        assert_eq!(got, brute_force(plan, &query, &EmptyNetwork), "query {i}: {query:?}");
    }
}

#[test]
fn small_random_queries_agree_with_brute_force() {
    random_queries(&ion_plan("small"), 1, 500);
    random_queries(&csv_plan("small"), 2, 500);
}

#[test]
fn medium_random_queries_agree_with_brute_force() {
    random_queries(&ion_plan("medium"), 3, 500);
    random_queries(&csv_plan("medium"), 4, 500);
}

/// Booked bytes and suppressed contacts, by contact id.
#[derive(Debug, Clone)]
struct Network {
    booked: Vec<u64>,
    suppressed: Vec<bool>,
}

impl ContactState for Network {
    fn booked_bytes(&self, c: ContactId) -> u64 {
        self.booked.get(c as usize).copied().unwrap_or(0)
    }
    fn suppressed(&self, c: ContactId) -> bool {
        self.suppressed.get(c as usize).copied().unwrap_or(false)
    }
}

fn any_contact(nodes: u64) -> impl Strategy<Value = Contact> {
    (0..nodes, 1..nodes, 0i64..2_000, 1i64..600, prop_oneof![Just(0u64), 1u64..5_000], 0i64..3_000_000_000).prop_map(
        move |(from, delta, start, duration, rate, owlt)| Contact {
            from,
            to: (from + delta) % nodes,
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(start + duration),
            rate_bytes_per_sec: rate,
            owlt_nanos: owlt,
            confidence: 1.0,
        },
    )
}

prop_compose! {
    fn any_case()(nodes in 2u64..8)(
        contacts in prop::collection::vec(any_contact(nodes), 1..40),
        source in 0..nodes,
        destination in 0..nodes,
        start in 0i64..1_500,
        size in prop_oneof![Just(0u64), 1u64..200_000],
        deadline in prop::option::of(0i64..3_000),
        excluded in prop::collection::vec(0..nodes, 0..2),
        seed in any::<u64>(),
    ) -> (ContactPlan, RouteQuery, Network) {
        let mut rng = Rng(seed);
        let booked = contacts.iter().map(|_| if rng.below(3) == 0 { rng.below(300_000) } else { 0 }).collect();
        let suppressed = contacts.iter().map(|_| rng.below(6) == 0).collect();
        let plan = ContactPlan::new(contacts, None);
        let mut query = RouteQuery::new(source, destination, PlanTime::from_secs(start), size);
        query.deadline = deadline.map_or(PlanTime::NEVER, PlanTime::from_secs);
        query.excluded_first_hops = excluded;
        (plan, query, Network { booked, suppressed })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_plans_agree_with_brute_force((plan, query, network) in any_case()) {
        let got = search(&plan, &query, &network).map(|r| (r.arrival, r.hops()));
        prop_assert_eq!(got, brute_force(&plan, &query, &network));
    }

    #[test]
    fn routes_are_feasible_chains((plan, query, network) in any_case()) {
        if let Some(route) = search(&plan, &query, &network) {
            let nodes = route.nodes(&plan);
            prop_assert_eq!(nodes.first(), Some(&query.source));
            prop_assert_eq!(nodes.last(), Some(&query.destination));
            prop_assert!(route.arrival <= query.deadline);
            let first = plan.contact(route.contacts[0]).unwrap();
            prop_assert!(!query.excluded_first_hops.contains(&first.to));
            prop_assert!(route.contacts.iter().all(|&c| !network.suppressed(c)));
        }
    }
}
