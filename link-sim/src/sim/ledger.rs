//! Where each accepted bundle is: the bookkeeping behind the loss and custody oracles.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use dtn_core::admin::AdminRecord;
use dtn_core::bundle::Bundle;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::routing::{NodeId, PlanTime};
use dtn_core::store::BundleStore;
use dtn_core::time::CreationTimestamp;

use super::world::World;

/// The accepted bundles and what became of them so far.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Which submission each bundle is, by (source node, creation timestamp).
    pub creation_of: BTreeMap<(NodeId, CreationTimestamp), u64>,
    /// Delivery times by submission token.
    pub deliveries: BTreeMap<u64, Vec<PlanTime>>,
    /// Tokens deleted with a reason.
    pub deleted: BTreeSet<u64>,
}

impl Ledger {
    /// The ledger as the world's records stand.
    pub fn of(world: &World) -> Ledger {
        let mut ledger = Ledger::default();
        for a in world.accepted() {
            ledger.creation_of.insert((a.node, a.creation), a.token);
        }
        for d in world.delivered() {
            if let Some(token) = d.payload.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) {
                ledger.deliveries.entry(token).or_default().push(d.at);
            }
        }
        for (source, creation, _) in world.deleted() {
            if let Eid::Ipn(ipn) = source
                && let Some(t) = ledger.creation_of.get(&(ipn.fqnn(), *creation))
            {
                ledger.deleted.insert(*t);
            }
        }
        ledger
    }

    /// The token of an encoded bundle (looking inside a BIBE PDU), if it is an accepted one.
    pub fn token(&self, bytes: &Bytes, sender: NodeId) -> Option<u64> {
        identify(bytes, sender).and_then(|k| self.creation_of.get(&k)).copied()
    }

    /// Tokens some node's store holds, running or down.
    pub fn held(&self, world: &World) -> BTreeSet<u64> {
        self.holders(world).into_keys().collect()
    }

    /// The nodes whose stores hold each token (a node once per bundle or fragment it holds).
    pub fn holders(&self, world: &World) -> BTreeMap<u64, Vec<NodeId>> {
        let mut held: BTreeMap<u64, Vec<NodeId>> = BTreeMap::new();
        for (node, agent) in world.agents() {
            for (id, _) in agent.bundles() {
                if let Some(t) = agent.store().bytes(id).and_then(|b| self.token(&b, node)) {
                    held.entry(t).or_default().push(node);
                }
            }
        }
        for (node, bytes) in world.stored_while_down() {
            if let Some(t) = self.token(&bytes, node) {
                held.entry(t).or_default().push(node);
            }
        }
        held
    }

    /// How each running node holding `token` holds it: state, next hop, custody.
    pub fn describe(&self, world: &World, token: u64) -> Vec<String> {
        let mut out = Vec::new();
        for (node, agent) in world.agents() {
            for (id, e) in agent.bundles() {
                if agent.store().bytes(id).and_then(|b| self.token(&b, node)) == Some(token) {
                    out.push(format!(
                        "{node}: {:?}, next hop {:?}, custody {:?}, {} bytes",
                        e.state,
                        e.next_hop,
                        e.custody.as_deref().map(|c| (c.peer, c.transmission_id, c.deadline.0)),
                        e.size
                    ));
                }
            }
        }
        out
    }

    /// Custody is never released early: with custody on every hop, each accepted bundle not yet
    /// delivered or deleted is in some node's store at every moment between events.
    pub fn unheld(&self, world: &World) -> Vec<u64> {
        let held = self.held(world);
        self.creation_of
            .values()
            .filter(|t| !self.deliveries.contains_key(t) && !self.deleted.contains(t) && !held.contains(t))
            .copied()
            .collect()
    }
}

/// The (source node, creation timestamp) of an encoded bundle, looking inside a BIBE PDU.
pub(crate) fn identify(bytes: &Bytes, fallback: NodeId) -> Option<(NodeId, CreationTimestamp)> {
    let bundle = Bundle::parse(bytes.clone(), ParseMode::Relaxed).ok()?;
    if bundle.is_admin_record()
        && let Ok(AdminRecord::Bpdu(bpdu)) = AdminRecord::from_bundle(&bundle)
    {
        return identify(&bpdu.bundle, fallback);
    }
    let source = match bundle.source() {
        Eid::Ipn(ipn) => ipn.fqnn(),
        _ => fallback,
    };
    Some((source, bundle.creation()))
}
