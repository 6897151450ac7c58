//! What each previous hop and each source node has in the store, against the quotas of
//! [`super::StoragePolicy`], and the bundles held for endpoints nobody registered. Kept only
//! for what a policy bounds: with no quota set, nothing is charged and no RAM is spent.

use alloc::collections::BTreeMap;

use super::config::StoragePolicy;
use crate::routing::NodeId;
use crate::store::BundleId;
use crate::time::DtnTime;

/// One stored bundle's charge.
#[derive(Debug, Clone, Copy)]
struct Charge {
    peer: Option<NodeId>,
    source: Option<NodeId>,
    size: u64,
}

/// Bytes held per peer and per source, and for unregistered endpoints.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    by_peer: BTreeMap<NodeId, u64>,
    by_source: BTreeMap<NodeId, u64>,
    charged: BTreeMap<BundleId, Charge>,
    /// Bundles held for unregistered endpoints: size, and the expiry the hold cut short.
    unregistered: BTreeMap<BundleId, (u64, Option<DtnTime>)>,
    unregistered_bytes: u64,
}

fn over(map: &BTreeMap<NodeId, u64>, who: Option<NodeId>, quota: Option<u64>, size: u64) -> bool {
    match (who, quota) {
        (Some(who), Some(quota)) => map.get(&who).copied().unwrap_or(0).saturating_add(size) > quota,
        _ => false,
    }
}

impl Usage {
    /// Whether a bundle of `size` bytes from `peer` (previous hop) and `source` (node) would
    /// take either beyond its quota.
    pub(crate) fn over_quota(
        &self,
        policy: &StoragePolicy,
        peer: Option<NodeId>,
        source: Option<NodeId>,
        size: u64,
    ) -> bool {
        over(&self.by_peer, peer, policy.per_peer_bytes, size)
            || over(&self.by_source, source, policy.per_source_bytes, size)
    }

    /// Charges a stored bundle to its peer and source (when a quota bounds them).
    pub(crate) fn charge(
        &mut self,
        policy: &StoragePolicy,
        id: BundleId,
        peer: Option<NodeId>,
        source: Option<NodeId>,
        size: u64,
    ) {
        let peer = peer.filter(|_| policy.per_peer_bytes.is_some());
        let source = source.filter(|_| policy.per_source_bytes.is_some());
        if peer.is_none() && source.is_none() {
            return;
        }
        if let Some(p) = peer {
            *self.by_peer.entry(p).or_insert(0) += size;
        }
        if let Some(s) = source {
            *self.by_source.entry(s).or_insert(0) += size;
        }
        self.charged.insert(id, Charge { peer, source, size });
    }

    /// Holds a bundle for an endpoint nobody registered; false when that would exceed the
    /// bytes such bundles may take.
    pub(crate) fn hold_unregistered(&mut self, policy: &StoragePolicy, id: BundleId, size: u64) -> bool {
        if self.unregistered.contains_key(&id) {
            return true;
        }
        if policy.unregistered_bytes.is_some_and(|cap| self.unregistered_bytes.saturating_add(size) > cap) {
            return false;
        }
        self.unregistered.insert(id, (size, None));
        self.unregistered_bytes += size;
        true
    }

    /// Records the expiry a hold cut short, to give back on registration.
    pub(crate) fn cut_short(&mut self, id: BundleId, expiry: DtnTime) {
        if let Some((_, original)) = self.unregistered.get_mut(&id) {
            *original = Some(expiry);
        }
    }

    /// Whether a bundle is held for an endpoint nobody registered.
    pub(crate) fn is_unregistered(&self, id: BundleId) -> bool {
        self.unregistered.contains_key(&id)
    }

    /// A bundle held for an unregistered endpoint found its registration: the expiry its
    /// hold cut short, if it did.
    pub(crate) fn registered(&mut self, id: BundleId) -> Option<DtnTime> {
        let (size, original) = self.unregistered.remove(&id)?;
        self.unregistered_bytes -= size;
        original
    }

    /// A bundle left the store: its charges are given back.
    pub(crate) fn release(&mut self, id: BundleId) {
        let _ = self.registered(id);
        let Some(c) = self.charged.remove(&id) else { return };
        for (map, who) in [(&mut self.by_peer, c.peer), (&mut self.by_source, c.source)] {
            if let Some(who) = who
                && let Some(used) = map.get_mut(&who)
            {
                *used = used.saturating_sub(c.size);
                if *used == 0 {
                    map.remove(&who);
                }
            }
        }
    }

    /// Bytes charged to a peer.
    #[cfg(test)]
    pub(crate) fn of_peer(&self, peer: NodeId) -> u64 {
        self.by_peer.get(&peer).copied().unwrap_or(0)
    }

    /// Bytes held for unregistered endpoints.
    #[cfg(test)]
    pub(crate) fn unregistered_bytes(&self) -> u64 {
        self.unregistered_bytes
    }
}
