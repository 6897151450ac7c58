//! Routing test helpers: loading the shared scenario plans and an obviously correct
//! brute-force earliest-arrival reference.

use std::io::Read;

use dtn_core::routing::parse::csv::OwltColumn;
use dtn_core::routing::parse::{ImportPolicy, csv, ion};
use dtn_core::routing::search::{ContactState, RouteQuery};
use dtn_core::routing::{ContactPlan, PlanTime};

use crate::shared_dir;

/// Reads a scenario file, gunzipping `.gz`.
pub fn scenario_text(name: &str) -> String {
    let path = shared_dir().join("scenarios").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if name.ends_with(".gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{} is not gzip text: {e}", path.display()));
        text
    } else {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()))
    }
}

/// The `.ionrc` plan of a scenario (whole-second light times).
pub fn ion_plan(scenario: &str) -> ContactPlan {
    let name = if matches!(scenario, "large" | "xlarge") {
        format!("{scenario}.ionrc.gz")
    } else {
        format!("{scenario}.ionrc")
    };
    let loaded = ion::parse(&scenario_text(&name), ImportPolicy::Reject).unwrap_or_else(|e| panic!("{name}: {e}"));
    loaded.plan
}

/// The CSV plan of a scenario (millisecond light times, `owlt_max_ms`).
pub fn csv_plan(scenario: &str) -> ContactPlan {
    let name =
        if matches!(scenario, "large" | "xlarge") { format!("{scenario}.csv.gz") } else { format!("{scenario}.csv") };
    let loaded = csv::parse(&scenario_text(&name), OwltColumn::Max, ImportPolicy::Reject)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    loaded.plan
}

/// Earliest arrival and the fewest hops reaching it, by hop-bounded Bellman–Ford: after round
/// k, `arrival[v]` is the earliest time v can be reached with at most k contacts. Each round
/// relaxes every contact; the answer's hop count is the first round at which the destination
/// reaches its final arrival time.
pub fn brute_force(plan: &ContactPlan, query: &RouteQuery, state: &impl ContactState) -> Option<(PlanTime, usize)> {
    let nodes = plan.nodes();
    let index = |n: u64| nodes.binary_search(&n).ok();
    let (src, dst) = (index(query.source)?, index(query.destination)?);
    if src == dst {
        return None;
    }
    let mut arrival = vec![PlanTime::NEVER; nodes.len()];
    arrival[src] = query.start;
    let mut first_reach: Vec<(PlanTime, usize)> = Vec::new();
    for round in 1..=plan.contacts().len() {
        let mut next = arrival.clone();
        for (id, c) in plan.contacts().iter().enumerate() {
            let id = id as u32;
            let (from, to) = (index(c.from)?, index(c.to)?);
            if arrival[from] == PlanTime::NEVER || state.suppressed(id) {
                continue;
            }
            if from == src && query.excluded_first_hops.contains(&c.to) {
                continue;
            }
            let booked = state.booked_bytes(id);
            if c.volume().saturating_sub(booked) < query.size {
                continue;
            }
            let backlog = dtn_core::routing::time::transmission_nanos(booked, c.rate_bytes_per_sec);
            let tx = arrival[from].max(c.start.plus(backlog));
            let done = tx.plus(c.transmission_nanos(query.size));
            if done > c.end {
                continue;
            }
            let at = done.plus(c.owlt_nanos);
            if at < next[to] {
                next[to] = at;
            }
        }
        if next[dst] < arrival[dst] {
            first_reach.push((next[dst], round));
        }
        if next == arrival {
            break;
        }
        arrival = next;
    }
    let eat = arrival[dst];
    if eat == PlanTime::NEVER || eat > query.deadline {
        return None;
    }
    first_reach.iter().find(|(t, _)| *t == eat).map(|&(t, hops)| (t, hops))
}
