//! The daemon's counters, one set per node (no global recorder: many nodes can run in one
//! process, as the tests do), rendered in the Prometheus text format for `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($(#[doc = $doc:literal] $name:ident),* $(,)?) => {
        /// Monotonic counters of one node.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Counters {
            /// Every counter as `(name, help, value)`.
            pub fn all(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($name), $doc.trim_start(), self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters! {
    /// Bundles received from convergence-layer links.
    bundles_received,
    /// Bytes of bundles received from links.
    bytes_received,
    /// Bundles handed to links.
    bundles_sent,
    /// Bytes of bundles handed to links.
    bytes_sent,
    /// Transmissions the peer acknowledged (TCPCL) or that were written (MTCP).
    transmissions_ok,
    /// Transmissions refused by the peer or cut short by the session's end.
    transmissions_failed,
    /// ADUs delivered to local endpoints.
    deliveries,
    /// Deliveries whose file was already written before a restart (not written twice).
    deliveries_repeated,
    /// Bundles deleted here (expired, no route, refused, ...).
    bundles_deleted,
    /// Received bytes that were not valid bundles.
    bundles_rejected,
    /// Submissions accepted (echo replies).
    submissions_accepted,
    /// Submissions refused.
    submissions_refused,
    /// Sessions established.
    sessions_established,
    /// Sessions that failed to start.
    session_failures,
    /// Contact plan reloads.
    plan_reloads,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Gauges sampled from the agent when `/metrics` is read.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Gauges {
    /// Bundles held.
    pub bundles_stored: u64,
    /// Bytes held in the store.
    pub store_bytes: u64,
    /// The storage budget.
    pub store_budget: u64,
    /// Links up.
    pub links_up: u64,
    /// BPSec failures since start, by class (missing, unknown, unexpected, failed,
    /// conflicting: reason codes 12 to 16).
    pub security_failures: Vec<(&'static str, u64)>,
}

/// The Prometheus text exposition of `counters` and `gauges`, names prefixed `dtn_`.
pub fn render(counters: &Counters, gauges: &Gauges, node: u64) -> String {
    let mut out = String::new();
    for (name, help, value) in counters.all() {
        let _ = writeln!(out, "# HELP dtn_{name}_total {help}");
        let _ = writeln!(out, "# TYPE dtn_{name}_total counter");
        let _ = writeln!(out, "dtn_{name}_total{{node=\"{node}\"}} {value}");
    }
    for (name, help, value) in [
        ("bundles_stored", "Bundles held in the store.", gauges.bundles_stored),
        ("store_bytes", "Bytes held in the store.", gauges.store_bytes),
        ("store_budget_bytes", "The storage budget.", gauges.store_budget),
        ("links_up", "Convergence-layer links up.", gauges.links_up),
    ] {
        let _ = writeln!(out, "# HELP dtn_{name} {help}");
        let _ = writeln!(out, "# TYPE dtn_{name} gauge");
        let _ = writeln!(out, "dtn_{name}{{node=\"{node}\"}} {value}");
    }
    let _ = writeln!(out, "# HELP dtn_security_failures_total BPSec operations that failed, by RFC 9172 reason.");
    let _ = writeln!(out, "# TYPE dtn_security_failures_total counter");
    for (reason, value) in &gauges.security_failures {
        let _ = writeln!(out, "dtn_security_failures_total{{node=\"{node}\",reason=\"{reason}\"}} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let c = Counters::default();
        Counters::add(&c.bundles_received, 3);
        let gauges = Gauges { links_up: 2, security_failures: vec![("failed", 4)], ..Gauges::default() };
        let text = render(&c, &gauges, 7);
        assert!(text.contains("# TYPE dtn_bundles_received_total counter"));
        assert!(text.contains("dtn_bundles_received_total{node=\"7\"} 3"));
        assert!(text.contains("dtn_links_up{node=\"7\"} 2"));
        assert!(text.contains("dtn_security_failures_total{node=\"7\",reason=\"failed\"} 4"));
        assert!(text.contains("# HELP dtn_deliveries_total ADUs delivered to local endpoints."));
    }
}
