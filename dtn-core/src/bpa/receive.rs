//! Bundle reception (RFC 9171 5.6): checks in the RFC's order, then storage and dispatch.

use bytes::Bytes;

use super::custody::Reception;
use super::entry::{BundleEntry, BundleState, CustodyTransmission, PersistedMeta};
use super::{Action, Bpa, BpaError, BundleKey, LinkId, Timer};
use crate::admin::{ReasonCode, StatusAssertion};
use crate::bundle::{Bundle, BundleFlags, block_type};
use crate::eid::Eid;
use crate::routing::{NodeId, Priority, Router};
use crate::store::{BundleId, BundleStore, StoreError};
use crate::time::DtnTime;

/// The key that identifies a bundle (RFC 9171 5.6 / 5.9: source, timestamp, fragment extent).
pub(crate) fn key_of(bundle: &Bundle) -> BundleKey {
    let fragment = bundle.primary().fragment.map(|f| (f.offset, bundle.payload().len() as u64));
    (bundle.source().clone(), bundle.creation(), fragment)
}

/// A 128-bit digest of a bundle key for the duplicate table: SipHash-1-3 keyed with the
/// node's secret (`NodeConfig::digest_key`) over the key's fields; no allocation. A peer
/// that does not know the secret cannot aim a collision at another bundle's key.
pub(crate) fn digest(secret: u128, key: &BundleKey) -> u128 {
    use core::hash::Hasher;
    use siphasher::sip128::Hasher128;
    let (source, creation, fragment) = key;
    let mut h = siphasher::sip128::SipHasher13::new_with_key(&secret.to_le_bytes());
    match source {
        Eid::Null => h.write(&[0]),
        Eid::Ipn(ipn) => {
            h.write(&[2]);
            h.write(&ipn.allocator.to_be_bytes());
            h.write(&ipn.node.to_be_bytes());
            h.write(&ipn.service.to_be_bytes());
        }
        Eid::Dtn(dtn) => {
            h.write(&[1]);
            h.write(&(dtn.ssp().len() as u64).to_be_bytes());
            h.write(dtn.ssp().as_bytes());
        }
        Eid::Unknown { scheme, ssp } => {
            h.write(&[3]);
            h.write(&scheme.to_be_bytes());
            h.write(&(ssp.len() as u64).to_be_bytes());
            h.write(ssp);
        }
    }
    h.write(&creation.time.0.to_be_bytes());
    h.write(&creation.sequence.to_be_bytes());
    if let Some((offset, length)) = fragment {
        h.write(&offset.to_be_bytes());
        h.write(&length.to_be_bytes());
    }
    h.finish128().as_u128()
}

/// When the bundle expires: creation time + lifetime, or — without a clock at the source —
/// lifetime minus the age it already had when it reached this node (RFC 9171 4.2.7, 4.4.2).
pub(crate) fn expiry_of(bundle: &Bundle, received_at: DtnTime) -> DtnTime {
    let p = bundle.primary();
    match p.expiry() {
        Some(at) => at,
        None => received_at.saturating_add_millis(p.lifetime_ms.saturating_sub(bundle.bundle_age_ms().unwrap_or(0))),
    }
}

impl<S: BundleStore, R: Router> Bpa<S, R> {
    pub(crate) fn receive(&mut self, link: LinkId, bytes: Bytes) -> Result<(), BpaError> {
        let previous_hop = self.links.get(&link).copied();
        let bundle = match Bundle::parse(bytes, self.config.parse_mode) {
            Ok(bundle) => bundle,
            // Not identifiable, so no status report is possible (RFC 9171 5.6 step 3).
            Err(error) => {
                self.actions.push_back(Action::Rejected { link, error });
                return Ok(());
            }
        };
        // Security first: nothing acts on a bundle the policy has not cleared; one passing
        // through gets what this node adds as a security source.
        let Some(bundle) = self.secure_inbound(bundle)? else { return Ok(()) };
        let for_me = bundle.destination() == &self.config.admin_endpoint();
        let transit = self.config.node_of(bundle.destination()) != Some(self.config.node);
        let bundle = if transit {
            match self.secure_transit(bundle)? {
                Some(b) => b,
                None => return Ok(()),
            }
        } else {
            bundle
        };
        if for_me && bundle.is_admin_record() && self.custody_record(link, &bundle)? {
            return Ok(());
        }
        // Received without custody: nobody was promised it survives a crash here.
        let (source, creation) = (bundle.source().clone(), bundle.creation());
        let in_transit = self.config.node_of(bundle.destination()) != Some(self.config.node);
        if self.receive_bundle(bundle, previous_hop, false)? == Reception::Duplicate && in_transit {
            // A copy of a bundle this node has forwarded: without custody nobody holds it for
            // a routing loop to give back, so it is discarded — and said so, not dropped
            // silently (duplicates of bundles delivered here are expected and not reported).
            self.actions.push_back(Action::Deleted { source, creation, reason: ReasonCode::TrafficPared });
        }
        Ok(())
    }

    /// Reception checks in the RFC's order, then storage and dispatch.
    /// `custody`: this node takes custody of it (the bundle must survive a crash before the
    /// acceptance is signalled).
    pub(crate) fn receive_bundle(
        &mut self,
        bundle: Bundle,
        previous_hop: Option<NodeId>,
        custody: bool,
    ) -> Result<Reception, BpaError> {
        let key = digest(self.config.digest_key, &key_of(&bundle));
        if self.seen.contains_key(&key) {
            return Ok(Reception::Duplicate);
        }
        self.report(&bundle, StatusAssertion::Received, ReasonCode::NoInformation)?;
        let expiry = expiry_of(&bundle, self.now);
        if expiry <= self.now {
            self.discard(&bundle, ReasonCode::LifetimeExpired)?;
            return Ok(Reception::Deleted);
        }
        if bundle.check_hop_limit().is_err() {
            self.discard(&bundle, ReasonCode::HopLimitExceeded)?;
            return Ok(Reception::Deleted);
        }
        let policy = &self.config.storage;
        if policy.max_lifetime_ms.is_some_and(|cap| expiry.0.saturating_sub(self.now.0) > cap) {
            // Asks to be kept longer than this node keeps anything.
            self.discard(&bundle, ReasonCode::TrafficPared)?;
            return Ok(Reception::Deleted);
        }
        let source = self.config.node_of(bundle.source());
        let size = bundle.raw().len() as u64;
        // Links whose peer is not known (an MTCP listener, an unauthenticated session) share
        // one quota, as node 0.
        let peer = Some(previous_hop.unwrap_or(0));
        if self.usage.over_quota(policy, peer, source, size) {
            // This peer (or source) has its share of the store: room stays for the others.
            self.discard(&bundle, ReasonCode::DepletedStorage)?;
            return Ok(Reception::StorageFull);
        }
        let mut bundle = bundle;
        let unprocessable = bundle.unprocessable_blocks(block_type::is_known);
        if !unprocessable.is_empty() {
            if unprocessable.iter().any(|b| b.report) {
                self.report(&bundle, StatusAssertion::Received, ReasonCode::BlockUnsupported)?;
            }
            if unprocessable.iter().any(|b| b.delete_bundle) {
                self.discard(&bundle, ReasonCode::BlockUnsupported)?;
                return Ok(Reception::Deleted);
            }
            let mut editor = bundle.edit();
            let encrypted = bundle.encrypted_blocks();
            let discard: alloc::vec::Vec<u64> = unprocessable
                .iter()
                .filter(|b| b.discard_block && encrypted.binary_search(&b.number).is_err())
                .map(|b| b.number)
                .collect();
            let changed = editor.remove_blocks(&discard) > 0;
            if changed {
                match editor.build() {
                    Ok(edited) => bundle = edited,
                    Err(_) => {
                        self.discard(&bundle, ReasonCode::BlockUnintelligible)?;
                        return Ok(Reception::Deleted);
                    }
                }
            }
        }
        let origin = (previous_hop, self.now);
        match self.store_and_dispatch(bundle, origin, Priority::Normal, None, custody, Some(key))? {
            Some(id) => {
                self.remember(key, expiry.min(self.now.saturating_add_millis(super::MAX_DUPLICATE_MEMORY_MS)));
                // Charged unless it was delivered here at once (gone already).
                if self.bundles.get(&id).is_some() {
                    self.usage.charge(&self.config.storage, id, peer, source, size);
                }
                Ok(Reception::Stored(id))
            }
            None => Ok(Reception::StorageFull),
        }
    }

    /// Stores a bundle and dispatches it. Returns its id, or `None` when it was deleted
    /// (storage full).
    pub(crate) fn accept(
        &mut self,
        bundle: Bundle,
        previous_hop: Option<NodeId>,
        priority: Priority,
        token: Option<u64>,
    ) -> Result<Option<BundleId>, BpaError> {
        self.store_and_dispatch(bundle, (previous_hop, self.now), priority, token, true, None)
    }

    /// [`Bpa::accept`] for a fragment this node cut from a bundle it held since `received_at`:
    /// the fragment keeps that time (its age and, without a clock, its expiry count from it).
    pub(crate) fn accept_fragment(
        &mut self,
        fragment: Bundle,
        previous_hop: Option<NodeId>,
        received_at: DtnTime,
        priority: Priority,
    ) -> Result<Option<BundleId>, BpaError> {
        self.store_and_dispatch(fragment, (previous_hop, received_at), priority, None, true, None)
    }

    /// [`Bpa::accept`]; `origin` is the previous hop and when the bundle came; `durable`
    /// false for a bundle received without custody, which the store may keep in memory while
    /// it is forwarded straight on.
    pub(crate) fn store_and_dispatch(
        &mut self,
        bundle: Bundle,
        origin: (Option<NodeId>, DtnTime),
        priority: Priority,
        token: Option<u64>,
        durable: bool,
        received_key: Option<u128>,
    ) -> Result<Option<BundleId>, BpaError> {
        let id = self.bundles.allocate();
        let (previous_hop, received_at) = origin;
        let meta = PersistedMeta {
            received_at,
            previous_hop: previous_hop.unwrap_or(0),
            priority: priority as u8,
            custody: None,
        };
        let stored = if durable {
            self.store.insert(id, bundle.to_bytes(), meta.encode())
        } else {
            self.store.insert_volatile(id, bundle.to_bytes(), meta.encode())
        };
        match stored {
            Ok(()) => {}
            Err(StoreError::Full { .. }) => {
                self.bundles.release(id);
                match token {
                    Some(token) => {
                        self.actions.push_back(Action::Refused { token, reason: ReasonCode::DepletedStorage })
                    }
                    None => self.discard(&bundle, ReasonCode::DepletedStorage)?,
                }
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(token) = token {
            self.after_commit.push(Action::Accepted { token, creation: bundle.creation() });
        }
        self.track(id, &bundle, meta);
        // A bundle this node gave away in custody, back round a loop: routed without the hops
        // it went to (a received bundle's key is at hand; others are new here).
        let returned =
            |k: &u128| self.released_to.get(k).is_some_and(|r| super::custody::may_have_looped(&bundle, r.hop_count));
        if let Some(key) = received_key.filter(returned) {
            self.looped.insert(id, key);
            if let Some(r) = self.released_to.get_mut(&key) {
                r.returns = r.returns.saturating_add(1);
            }
        }
        self.dispatch(id, &bundle)?;
        Ok(Some(id))
    }

    /// Creates the RAM entry and expiry timer of a stored bundle.
    pub(crate) fn track(&mut self, id: BundleId, bundle: &Bundle, meta: PersistedMeta) {
        let expiry = expiry_of(bundle, meta.received_at);
        let entry = BundleEntry {
            destination: self.config.node_of(bundle.destination()).and_then(core::num::NonZeroU64::new),
            expiry,
            size: u32::try_from(bundle.raw().len()).unwrap_or(u32::MAX),
            received_at: meta.received_at,
            previous_hop: core::num::NonZeroU64::new(meta.previous_hop),
            priority: super::entry::priority_from(meta.priority),
            state: BundleState::Waiting,
            booking: None,
            custody: meta.custody.map(|c| {
                alloc::boxed::Box::new(CustodyTransmission::of(
                    self.config.digest_key,
                    bundle,
                    c.transmission_id,
                    c.peer,
                    c.deadline,
                ))
            }),
            reports_forwarding: self.wants_report(bundle.flags(), StatusAssertion::Forwarded),
            next_hop: None,
            failures: 0,
        };
        self.bundles.insert(id, entry);
        self.expiries.insert((expiry, id));
        if let Some(c) = self.bundles.get(&id).and_then(|e| e.custody.as_deref()) {
            self.custody_ids.insert(c.transmission_id, id);
            self.custody_keys.insert(c.key, id);
        }
    }

    /// Re-creates a stored bundle's state after a restart.
    pub(crate) fn restore(&mut self, id: BundleId, bytes: Bytes, meta: &[u8]) {
        let Ok(bundle) = Bundle::parse(bytes, crate::parse_mode::ParseMode::Relaxed) else {
            // Unreadable after a restart: the store is damaged; drop the record rather than
            // crash, and say so.
            let _ = self.store.remove(id);
            return;
        };
        let meta = PersistedMeta::decode(meta).unwrap_or(PersistedMeta {
            received_at: self.now,
            previous_hop: 0,
            priority: Priority::Normal as u8,
            custody: None,
        });
        self.remember(digest(self.config.digest_key, &key_of(&bundle)), expiry_of(&bundle, meta.received_at));
        self.track(id, &bundle, meta);
        if let Some(c) = meta.custody {
            // Handed to a peer before the restart: wait for its signal until the deadline.
            if let Some(e) = self.bundles.get_mut(&id) {
                e.state = BundleState::AwaitingCustody;
            }
            self.schedule(c.deadline, Timer::Custody(id, c.transmission_id));
        }
    }

    /// Deletes a bundle that was never stored, with a report if asked.
    pub(crate) fn discard(&mut self, bundle: &Bundle, reason: ReasonCode) -> Result<(), BpaError> {
        self.report(bundle, StatusAssertion::Deleted, reason)?;
        self.actions.push_back(Action::Deleted {
            source: bundle.source().clone(),
            creation: bundle.creation(),
            reason,
        });
        Ok(())
    }

    /// Deletes a stored bundle: store, queues, RAM; with a report if asked.
    pub(crate) fn delete(&mut self, id: BundleId, reason: ReasonCode) -> Result<(), BpaError> {
        let bundle = self.stored_bundle(id);
        self.forget(id)?;
        match bundle {
            Some(bundle) => self.discard(&bundle, reason),
            None => Ok(()),
        }
    }

    /// A stored bundle, parsed (it was validated when it arrived).
    pub(crate) fn stored_bundle(&self, id: BundleId) -> Option<Bundle> {
        Bundle::parse(self.store.bytes(id)?, crate::parse_mode::ParseMode::Relaxed).ok()
    }

    /// Removes a bundle from the store and every queue, without reports (done with it).
    /// Drops a bundle whose custody passed downstream from the duplicate table: this node no
    /// longer holds it, so a copy that comes back (a routing loop, or a retransmission after a
    /// lost signal) must be taken in again, not refused as redundant and lost. A copy that
    /// reaches its destination twice is still caught there by the ADU tombstone.
    /// The next hop it went to is remembered, so that a copy coming back round a loop is not
    /// sent the same way again.
    pub(crate) fn unsee(&mut self, id: BundleId) {
        let Some(bytes) = self.store.bytes(id) else { return };
        // The primary block names a whole bundle; a fragment's key needs its payload length.
        let key = match crate::bundle::primary_identity(&bytes) {
            Some((source, creation, false)) => (source, creation, None),
            _ => match Bundle::parse(bytes, crate::parse_mode::ParseMode::Relaxed) {
                Ok(bundle) => key_of(&bundle),
                Err(_) => return,
            },
        };
        let key = digest(self.config.digest_key, &key);
        let until = self.seen.remove(&key).unwrap_or(self.now.saturating_add_millis(super::MAX_DUPLICATE_MEMORY_MS));
        let Some(e) = self.bundles.get(&id) else { return };
        let hop_count = e.custody.as_deref().and_then(|c| c.hop_count);
        if let Some(hop) = e.custody.as_deref().map(|c| c.peer).or(e.next_hop.map(u64::from)) {
            self.remember_hops(key, &[hop]);
            if let Some(r) = self.released_to.get_mut(&key) {
                r.until = r.until.max(until);
                r.hop_count = hop_count;
            }
        }
    }

    /// Remembers a bundle (by key digest) as seen until `until`, within the table's size bound.
    pub(crate) fn remember(&mut self, key: u128, until: DtnTime) {
        self.seen.insert(key, until);
        super::bounded::evict_oldest(&mut self.seen, self.config.storage.max_remembered, |t| *t);
    }

    /// Adds next hops a bundle (by key digest) must not take again; the last four are kept.
    pub(crate) fn remember_hops(&mut self, key: u128, hops: &[NodeId]) {
        let until = self.now.saturating_add_millis(super::MAX_DUPLICATE_MEMORY_MS);
        let released = self.released_to.entry(key).or_insert(super::entry::Released {
            hops: [0; 4],
            until,
            hop_count: None,
            returns: 0,
        });
        let kept = &mut released.hops;
        for &hop in hops {
            if !kept.contains(&hop) {
                // The oldest goes first.
                kept.rotate_left(1);
                if let Some(last) = kept.last_mut() {
                    *last = hop;
                }
            }
        }
        let cap = self.config.storage.max_remembered;
        super::bounded::evict_oldest(&mut self.released_to, cap, |r| r.until);
    }

    /// The next hops a bundle should not take again (it may have come back round a loop
    /// through them), and how many times copies came back. A bundle is recognised as returned
    /// on reception (its key is among those released) or when custody of it is taken back;
    /// routings look it up by id.
    pub(crate) fn hops_to_avoid(&self, id: BundleId) -> (alloc::vec::Vec<NodeId>, u8) {
        if self.released_to.is_empty() {
            return (alloc::vec::Vec::new(), 0);
        }
        self.looped
            .get(&id)
            .and_then(|key| self.released_to.get(key))
            .map(|r| (r.hops.iter().copied().filter(|&h| h != 0).collect(), r.returns))
            .unwrap_or_default()
    }

    pub(crate) fn forget(&mut self, id: BundleId) -> Result<(), BpaError> {
        // Queues keep the id (their consumers skip ids that left) until compacted: forgetting
        // scans no queue, so many bundles leaving at once cost linear time.
        let entry = self.bundles.remove(&id);
        self.looped.remove(&id);
        self.usage.release(id);
        if let Some(e) = &entry {
            self.expiries.remove(&(e.expiry, id));
            if let Some(hop) = e.next_hop.filter(|_| e.state == BundleState::Waiting).map(u64::from) {
                self.left_queue(hop);
            }
            if let Some(c) = e.custody.as_deref() {
                self.custody_ids.remove(&c.transmission_id);
                if self.custody_keys.get(&c.key) == Some(&id) {
                    self.custody_keys.remove(&c.key);
                }
            }
            // A delivery waiting for its application goes with its bundle (expired, deleted):
            // left queued, taking it later would release whatever bundle reuses the id.
            if let Some((endpoint, position)) = self.passive_of.remove(&id)
                && let Some((_, ids)) = self.passive.get_mut(&endpoint).and_then(|q| q.remove(position))
            {
                for other in ids {
                    self.passive_of.remove(&other);
                }
            }
        }
        let booking = entry.and_then(|e| e.booking.filter(|_| e.state != BundleState::InFlight));
        if let Some(booking) = booking {
            self.router.release(booking);
        }
        self.unrouted.remove(&id);
        if let Some(key) = self.fragment_of.remove(&id)
            && let Some((_, ids)) = self.reassembly.get_mut(&key)
        {
            ids.remove(&id);
            if ids.is_empty() {
                self.reassembly.remove(&key);
            }
        }
        match self.store.remove(id) {
            Ok(()) | Err(StoreError::Unknown(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A bundle left `hop`'s queue (its id stays there, skipped): once more than half the
    /// queue is such ids, it is compacted — amortised constant time a bundle.
    pub(crate) fn left_queue(&mut self, hop: NodeId) {
        let Some(queue) = self.waiting_for.get_mut(&hop) else { return };
        let stale = self.waiting_stale.entry(hop).or_insert(0);
        *stale += 1;
        if *stale > 64 && *stale * 2 > queue.len() {
            let (bundles, unrouted) = (&self.bundles, &self.unrouted);
            queue.retain(|id| {
                bundles.get(id).is_some_and(|e| {
                    e.state == BundleState::Waiting
                        && e.next_hop.map(u64::from) == Some(hop)
                        && !unrouted.contains_key(id)
                })
            });
            *stale = 0;
            if queue.is_empty() {
                self.waiting_for.remove(&hop);
                self.waiting_stale.remove(&hop);
            }
        }
    }

    /// True when the bundle asks for reports of this kind and policy allows them.
    pub(crate) fn wants_report(&self, flags: BundleFlags, assertion: StatusAssertion) -> bool {
        let policy = self.config.reports;
        match assertion {
            StatusAssertion::Received => policy.reception && flags.contains(BundleFlags::REPORT_RECEPTION),
            StatusAssertion::Forwarded => policy.forwarding && flags.contains(BundleFlags::REPORT_FORWARDING),
            StatusAssertion::Delivered => policy.delivery && flags.contains(BundleFlags::REPORT_DELIVERY),
            StatusAssertion::Deleted => policy.deletion && flags.contains(BundleFlags::REPORT_DELETION),
        }
    }
}
