//! What the admin API shows: the node, its links, contacts, queues, bundles and counters.

use std::collections::BTreeMap;

use dtn_core::routing::{ContactPlan, NodeId, PlanTime};
use dtn_core::time::DtnTime;
use serde::Serialize;

use super::metrics::Gauges;

/// The node's state at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Node number.
    pub node: NodeId,
    /// Links up.
    pub links: Vec<LinkView>,
    /// This node's current and next contacts from the plan (at most 100).
    pub contacts: Vec<ContactView>,
    /// Bundles held, by state.
    pub queues: BTreeMap<String, u64>,
    /// Bundles held (the first 1000).
    pub bundles: Vec<BundleView>,
    /// Store and link gauges.
    pub gauges: Gauges,
    /// Counters since start.
    pub counters: BTreeMap<String, u64>,
}

/// One link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// The agent's link number.
    pub id: u32,
    /// The neighbour.
    pub peer: NodeId,
    /// `tcpcl` or `mtcp`.
    pub cla: &'static str,
    /// The neighbour's address.
    pub address: String,
    /// Whether TLS protects it.
    pub tls: bool,
    /// Whether the session still takes bundles.
    pub open: bool,
}

/// One contact.
#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Start, DTN time in ms.
    pub start_ms: u64,
    /// End, DTN time in ms.
    pub end_ms: u64,
    /// Bytes per second (0: unlimited).
    pub rate: u64,
    /// One-way light time, ms.
    pub owlt_ms: u64,
    /// Whether it is on now.
    pub active: bool,
}

/// One bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BundleView {
    /// The agent's id.
    pub id: u64,
    /// Where it is in its life here.
    pub state: String,
    /// Encoded size.
    pub size: u32,
    /// Destination node, if routable.
    pub destination_node: Option<NodeId>,
    /// Chosen next hop.
    pub next_hop: Option<NodeId>,
    /// Expiry, DTN time in ms.
    pub expiry_ms: u64,
    /// The peer it waits on for a custody signal.
    pub custody_peer: Option<NodeId>,
}

/// Plan time of a DTN time.
pub fn plan_time(epoch: DtnTime, at: DtnTime) -> PlanTime {
    let ms = i64::try_from(at.0).unwrap_or(i64::MAX) - i64::try_from(epoch.0).unwrap_or(i64::MAX);
    PlanTime(ms.saturating_mul(1_000_000))
}

/// DTN time of a plan time.
pub fn dtn_time(epoch: DtnTime, at: PlanTime) -> DtnTime {
    let ms = at.0.div_euclid(1_000_000);
    DtnTime(u64::try_from(i64::try_from(epoch.0).unwrap_or(i64::MAX).saturating_add(ms)).unwrap_or(0))
}

/// This node's contacts that have not ended, soonest first (at most 100).
pub fn contacts_of(plan: &ContactPlan, node: NodeId, epoch: DtnTime, now: DtnTime) -> Vec<ContactView> {
    let t = plan_time(epoch, now);
    let mut list: Vec<ContactView> = plan
        .contacts()
        .iter()
        .filter(|c| (c.from == node || c.to == node) && c.end > t)
        .map(|c| ContactView {
            from: c.from,
            to: c.to,
            start_ms: dtn_time(epoch, c.start).0,
            end_ms: dtn_time(epoch, c.end).0,
            rate: c.rate_bytes_per_sec,
            owlt_ms: u64::try_from(c.owlt_nanos / 1_000_000).unwrap_or(0),
            active: c.start <= t,
        })
        .collect();
    list.sort_by_key(|c| c.start_ms);
    list.truncate(100);
    list
}
