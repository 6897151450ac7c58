//! Any text as an ION, CSV or HDTN JSON contact plan: no panics; a plan that loads can be
//! routed over.
#![no_main]

use dtn_core::routing::PlanTime;
use dtn_core::routing::parse::csv::OwltColumn;
use dtn_core::routing::parse::{ImportPolicy, csv, hdtn, ion};
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, search};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for policy in [ImportPolicy::Reject, ImportPolicy::Skip] {
        let loaded = [ion::parse(text, policy), csv::parse(text, OwltColumn::Max, policy), hdtn::parse(text, policy)];
        for plan in loaded.into_iter().flatten().map(|l| l.plan) {
            if let [a, b, ..] = *plan.nodes() {
                let _ = search(&plan, &RouteQuery::new(a, b, PlanTime(0), 100), &EmptyNetwork);
            }
        }
    }
});
