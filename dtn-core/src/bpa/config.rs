//! Node configuration: who this node is and what its policies are.

use alloc::collections::BTreeMap;
use alloc::string::String;

use crate::eid::Eid;
use crate::routing::NodeId;
use crate::time::DtnTime;

/// Which status reports this node sends (RFC 9171 5.1: off by default, enableable by policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportPolicy {
    /// Send "received" reports when a bundle asks for them.
    pub reception: bool,
    /// Send "forwarded" reports when asked.
    pub forwarding: bool,
    /// Send "delivered" reports when asked.
    pub delivery: bool,
    /// Send "deleted" reports when asked.
    pub deletion: bool,
}

impl ReportPolicy {
    /// Every kind of report, when the bundle asks.
    pub const ALL: ReportPolicy = ReportPolicy { reception: true, forwarding: true, delivery: true, deletion: true };
}

/// A node's identity and policies.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's number (`ipn:N.0` is its administrative endpoint).
    pub node: NodeId,
    /// Status reports this node is willing to send.
    pub reports: ReportPolicy,
    /// The DTN time that the contact plan's time 0 corresponds to.
    pub plan_epoch: DtnTime,
    /// Hop limit for bundles this node creates (a Hop Count block is added when set).
    pub hop_limit: Option<u64>,
    /// How long a bundle without a route waits before the agent asks the router again (ms).
    pub retry_interval_ms: u64,
    /// Node numbers of `dtn` scheme node names, so bundles to `dtn://name/...` can be routed.
    pub dtn_nodes: BTreeMap<String, NodeId>,
    /// Custody transfer towards BIBE peers; `None` turns custody off.
    pub custody: Option<crate::custody::CustodyConfig>,
    /// How bundles from links are parsed: strict RFC 9171 by default; relaxed accepts what
    /// deployed peers emit (dtn7-rs's bundles have no primary-block CRC).
    pub parse_mode: crate::parse_mode::ParseMode,
    /// Submission receipts kept per source endpoint (the latest; see [`crate::bpa::Submission::reference`]):
    /// a retry is recognised while no more than this many later submissions from the same
    /// source came in between.
    pub receipts_per_source: usize,
    /// What this node lets others make it hold.
    pub storage: StoragePolicy,
    /// The secret key of the duplicate table's digest (keyed SipHash-1-3): a peer that
    /// cannot learn it cannot craft a bundle whose key collides with another's, to have that
    /// one dropped as a duplicate. A host sets a random key at start-up (the gateway does);
    /// digests are never stored, so a new one each start is fine. 0 by default
    /// (deterministic, for tests and simulations).
    pub digest_key: u128,
    /// BPSec: what this node signs, encrypts, verifies and accepts (`None`: nothing; security
    /// blocks are forwarded untouched).
    pub security: Option<crate::bpsec::Policy>,
    /// Entropy for the security source's IVs and per-bundle keys: a host sets 32 fresh random
    /// bytes at start-up (the gateway does); 0 by default (deterministic, for simulations).
    pub security_seed: [u8; 32],
}

/// Bounds on what peers and sources may make a node hold, so that one of them cannot fill
/// the store (and lock out custody and the node's applications) or its memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePolicy {
    /// Bundles remembered for duplicate suppression (and, separately, custody releases
    /// remembered for loop detection), at most; over it the oldest quarter is forgotten.
    pub max_remembered: usize,
    /// The longest lifetime a received bundle may have left, ms: one asking to be kept
    /// longer is deleted on arrival (reason "traffic pared"). `None`: no cap.
    pub max_lifetime_ms: Option<u64>,
    /// Bytes of received bundles from one previous hop held at once; beyond, its bundles are
    /// refused ("depleted storage": a custodian hears so). Links whose peer is not known
    /// share one quota. `None`: no quota.
    pub per_peer_bytes: Option<u64>,
    /// Bytes of received bundles from one source node held at once, likewise.
    pub per_source_bytes: Option<u64>,
    /// A bundle for an endpoint of this node that nobody registered is held at most this
    /// long (ms), then deleted ("destination endpoint unavailable"). `None`: until it expires.
    pub unregistered_hold_ms: Option<u64>,
    /// Bytes of such bundles held at once; beyond, they are deleted on arrival. `None`: no
    /// bound but the store's.
    pub unregistered_bytes: Option<u64>,
}

impl Default for StoragePolicy {
    /// A million remembered bundles; no lifetime cap, quota or hold bound (a host sets them
    /// from its store's size).
    fn default() -> Self {
        StoragePolicy {
            max_remembered: 1 << 20,
            max_lifetime_ms: None,
            per_peer_bytes: None,
            per_source_bytes: None,
            unregistered_hold_ms: None,
            unregistered_bytes: None,
        }
    }
}

impl NodeConfig {
    /// A node with default policies: no status reports, hop limit 64, retry every 10 s.
    pub fn new(node: NodeId) -> Self {
        NodeConfig {
            node,
            reports: ReportPolicy::default(),
            plan_epoch: DtnTime(0),
            hop_limit: Some(64),
            retry_interval_ms: 10_000,
            dtn_nodes: BTreeMap::new(),
            custody: None,
            parse_mode: crate::parse_mode::ParseMode::Strict,
            receipts_per_source: super::receipts::DEFAULT_RECEIPTS_PER_SOURCE,
            storage: StoragePolicy::default(),
            digest_key: 0,
            security: None,
            security_seed: [0; 32],
        }
    }

    /// This node's administrative endpoint, `ipn:N.0`.
    pub fn admin_endpoint(&self) -> Eid {
        Eid::Ipn(crate::eid::IpnEid::new((self.node >> 32) as u32, self.node as u32, 0))
    }

    /// The node an endpoint belongs to, if it can be routed to.
    pub fn node_of(&self, eid: &Eid) -> Option<NodeId> {
        match eid {
            Eid::Ipn(ipn) => Some(ipn.fqnn()),
            Eid::Dtn(dtn) => self.dtn_nodes.get(dtn.node_name()).copied(),
            _ => None,
        }
    }
}
