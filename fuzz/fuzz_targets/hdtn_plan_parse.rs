//! Any text as an HDTN JSON contact plan through our own JSON reader: no panics (nesting,
//! escapes, numbers at their limits), and a plan that loads can be routed over.
#![no_main]

use dtn_core::routing::PlanTime;
use dtn_core::routing::parse::{ImportPolicy, hdtn};
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, search};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for policy in [ImportPolicy::Reject, ImportPolicy::Skip] {
        if let Ok(loaded) = hdtn::parse(text, policy)
            && let [a, b, ..] = *loaded.plan.nodes()
        {
            let _ = search(&loaded.plan, &RouteQuery::new(a, b, PlanTime(0), 100), &EmptyNetwork);
        }
    }
});
