//! Scenario files (TOML): the plan, the run, the link impairments, traffic and disruptions.
//!
//! ```toml
//! [plan]
//! csv = "../../shared/scenarios/small.csv"   # relative to the scenario file
//!
//! [run]
//! seed = 1
//! duration_s = 86400
//! custody = true
//! bpsec = true            # BIB on every admin record, BCB on every payload (sim::security)
//! size_scale = 1          # divide bundle sizes and link rates by this (same timing)
//!
//! [link]
//! bit_error_rate = 1e-9
//! flat_loss = 0.0
//! acquisition_lag_s = 2.0
//! cla = "ltp"             # "ideal" (default): a bundle is one frame; "ltp": LTP segments
//! ltp_mtu = 64000         # with "ltp": the segment (frame) size, bytes
//!
//! [[traffic]]
//! sources = [1001, 1002]
//! destinations = [100]
//! bundles = 50            # Poisson arrivals spread over [start_s, end_s)
//! size_bytes = [100000, 10000000]   # log-uniform between the two
//! start_s = 0
//! end_s = 80000
//!
//! [[missed_pass]]
//! from = 1001
//! to = 201
//! pass = 0
//!
//! [[late_pass]]          # happens, but the agents' plan only learns of it at known_at_s
//! from = 201
//! to = 101
//! pass = 3
//! known_at_s = 30000
//! ```
//!
//! Also `[[reboot]]` (node, at_s, down_s), `[[outage]]` (node, at_s, for_s) and
//! `[[clock_offset]]` (node, offset_s).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A whole scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Where the contacts come from.
    pub plan: PlanSection,
    /// Run parameters.
    #[serde(default)]
    pub run: RunSection,
    /// Channel impairments on every link.
    #[serde(default)]
    pub link: LinkSection,
    /// Traffic flows.
    #[serde(default)]
    pub traffic: Vec<TrafficSection>,
    /// Passes that do not happen.
    #[serde(default)]
    pub missed_pass: Vec<MissedPass>,
    /// Node reboots.
    #[serde(default)]
    pub reboot: Vec<Reboot>,
    /// Relay (or any node) outages.
    #[serde(default)]
    pub outage: Vec<Outage>,
    /// Nodes whose clocks are off.
    #[serde(default)]
    pub clock_offset: Vec<ClockOffset>,
    /// Passes the agents' plan learns of late.
    #[serde(default)]
    pub late_pass: Vec<LatePassSection>,
}

/// `[plan]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSection {
    /// Our CSV contact plan (gzip allowed), relative to the scenario file.
    pub csv: PathBuf,
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// Random seed.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Custody transfer on every link.
    pub custody: bool,
    /// BPSec on every node (`sim::security`): admin records signed, payloads encrypted.
    pub bpsec: bool,
    /// Bundle sizes and link rates are both divided by this factor. Transmission times, and
    /// the ratio of every bundle to every contact's volume, stay what they are at full size,
    /// so routing, booking and fragmentation decide as they would; only the per-bundle header
    /// bytes (tens) are not scaled. Lets a run carry bundles of up to 1 GB without allocating
    /// them.
    pub size_scale: u64,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection { seed: 1, duration_s: 86_400.0, custody: false, bpsec: false, size_scale: 1 }
    }
}

/// `[link]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSection {
    /// Bit-error rate.
    pub bit_error_rate: f64,
    /// Flat frame loss probability.
    pub flat_loss: f64,
    /// Seconds after a contact starts before frames pass.
    pub acquisition_lag_s: f64,
    /// Light time varies over a pass (otherwise the plan's maximum throughout).
    pub vary_light_time: bool,
    /// What the links carry.
    pub cla: LinkCla,
    /// With LTP: the segment size, bytes.
    pub ltp_mtu: usize,
}

/// What a simulated link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkCla {
    /// Each bundle is one frame: lost whole or delivered whole.
    Ideal,
    /// LTP (RFC 5326) sessions: bundles in blocks, blocks in segments, lost segments sent
    /// again.
    Ltp,
}

impl Default for LinkSection {
    fn default() -> Self {
        LinkSection {
            bit_error_rate: 0.0,
            flat_loss: 0.0,
            acquisition_lag_s: 0.0,
            vary_light_time: true,
            cla: LinkCla::Ideal,
            ltp_mtu: 64_000,
        }
    }
}

/// A set of nodes: a list (`[1001, 1002]`) or every plan node in a range
/// (`{ from = 1000, to = 8999 }`, both ends included).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NodeSet {
    /// These nodes.
    List(Vec<u64>),
    /// The plan's nodes in this range.
    Range {
        /// First node number.
        from: u64,
        /// Last node number.
        to: u64,
    },
}

impl NodeSet {
    /// The members among `plan_nodes` (a list keeps its order and any node it names).
    pub fn resolve(&self, plan_nodes: &std::collections::BTreeSet<u64>) -> Vec<u64> {
        match self {
            NodeSet::List(nodes) => nodes.clone(),
            NodeSet::Range { from, to } => plan_nodes.range(*from..=*to).copied().collect(),
        }
    }
}

/// `[[traffic]]`: exactly `bundles` bundles from random sources to random destinations, at
/// the times of a Poisson process over `[start_s, end_s)` given that count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSection {
    /// Source nodes (one drawn per bundle).
    pub sources: NodeSet,
    /// Destination nodes (one drawn per bundle, never the source).
    pub destinations: NodeSet,
    /// Number of bundles.
    pub bundles: u64,
    /// Payload size range, bytes: `[min, max]`, drawn log-uniform.
    pub size_bytes: [u64; 2],
    /// First arrival no earlier than this (s).
    #[serde(default)]
    pub start_s: f64,
    /// Arrivals before this (s).
    pub end_s: f64,
    /// Bundle lifetime (s).
    #[serde(default = "default_lifetime")]
    pub lifetime_s: f64,
}

fn default_lifetime() -> f64 {
    86_400.0
}

/// `[[missed_pass]]`: the `pass`-th contact (in start order) of `from → to` does not happen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissedPass {
    /// Sending node.
    pub from: u64,
    /// Receiving node.
    pub to: u64,
    /// Index of the pass, from 0.
    pub pass: usize,
}

/// `[[reboot]]`: a node loses its volatile state at `at_s`, is dark (frames to it are lost)
/// for `down_s`, then rebuilds its agent from what its store had committed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reboot {
    /// The node.
    pub node: u64,
    /// When it goes down, seconds of plan time.
    pub at_s: f64,
    /// How long it stays down, seconds.
    #[serde(default)]
    pub down_s: f64,
}

/// `[[outage]]`: a node's radios fall silent from `at_s` for `for_s` seconds, unannounced: its
/// agent keeps its state and believes its links up, but nothing it sends or is sent arrives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// The node.
    pub node: u64,
    /// When it starts, seconds of plan time.
    pub at_s: f64,
    /// How long it lasts, seconds.
    pub for_s: f64,
}

/// `[[clock_offset]]`: a node's clock runs `offset_s` ahead of true time (negative: behind)
/// for the whole run; its bundles' creation times, expiries and custody deadlines follow it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockOffset {
    /// The node.
    pub node: u64,
    /// Seconds ahead of true time.
    pub offset_s: f64,
}

/// `[[late_pass]]`: the `pass`-th contact (in start order) of `from → to` happens, but the
/// agents' contact plan only learns of it at `known_at_s` (a late plan update).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatePassSection {
    /// Sending node.
    pub from: u64,
    /// Receiving node.
    pub to: u64,
    /// Index of the pass, from 0.
    pub pass: usize,
    /// When the update reaches the agents, seconds of plan time.
    pub known_at_s: f64,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// File access.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// TOML syntax or fields (the message names line and column).
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// What is wrong, with where.
        message: String,
    },
    /// The contact plan.
    #[error("{path}: {message}")]
    Plan {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Reads a scenario file; the plan path is resolved against the file's directory.
    pub fn load(path: &Path) -> Result<(Scenario, PathBuf), ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { path: path.into(), source })?;
        let scenario: Scenario =
            toml::from_str(&text).map_err(|e| ScenarioError::Toml { path: path.into(), message: e.to_string() })?;
        let plan = path.parent().unwrap_or(Path::new(".")).join(&scenario.plan.csv);
        Ok((scenario, plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn node_sets_are_lists_or_ranges_of_plan_nodes() {
        let scenario = parse(
            "[plan]\ncsv = \"p.csv\"\n[[traffic]]\nsources = { from = 1000, to = 1999 }\n\
             destinations = [100]\nbundles = 3\nsize_bytes = [10, 20]\nend_s = 60\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let plan: std::collections::BTreeSet<u64> = [100, 999, 1000, 1500, 1999, 2000].into();
        let flow = &scenario.traffic[0];
        assert_eq!(flow.sources.resolve(&plan), vec![1000, 1500, 1999]);
        assert_eq!(flow.destinations.resolve(&plan), vec![100]);
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let err = parse("[plan]\ncsv = \"p.csv\"\n[run]\nsed = 4\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("sed") && err.contains("line 4"), "{err}");
    }
}
