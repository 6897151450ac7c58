//! The application side: submissions, registrations, delivery and reassembly (RFC 9171 5.2,
//! 5.7, 5.9).

use alloc::vec::Vec;

use super::entry::BundleState;
use super::{Action, Bpa, BpaError, Delivery, DeliveryMode, Submission};
use crate::admin::{ReasonCode, StatusAssertion};
use crate::bundle::Bundle;
use crate::eid::Eid;
use crate::fragment::Reassembly;
use crate::routing::Router;
use crate::store::{BundleId, BundleStore};
use crate::time::CreationTimestamp;

/// The key of a whole ADU (no fragment extent).
pub(crate) fn adu_key(source: &Eid, creation: CreationTimestamp) -> super::BundleKey {
    (source.clone(), creation, None)
}

impl<S: BundleStore, R: Router> Bpa<S, R> {
    pub(crate) fn submit(&mut self, s: Submission) -> Result<(), BpaError> {
        let source = s.source.unwrap_or_else(|| self.config.admin_endpoint());
        if self.config.node_of(&source) != Some(self.config.node) {
            self.actions.push_back(Action::Refused { token: s.token, reason: ReasonCode::NoInformation });
            return Ok(());
        }
        if let Some(creation) = s.reference.and_then(|r| self.receipts.get(&source, r)) {
            // A retry of a submission already accepted: answered as that one was, once its
            // commit is done (it may be in this very batch).
            self.after_commit.push(Action::Accepted { token: s.token, creation });
            return Ok(());
        }
        if self.config.storage.max_lifetime_ms.is_some_and(|cap| s.lifetime_ms > cap) {
            // Longer than this node keeps anything.
            self.actions.push_back(Action::Refused { token: s.token, reason: ReasonCode::TrafficPared });
            return Ok(());
        }
        let receipt_source = s.reference.map(|_| source.clone());
        let made = self.make_bundle(source, s.destination, s.payload, s.flags, s.lifetime_ms, s.protection);
        let bundle = match made {
            Ok(bundle) => bundle,
            Err(e) => {
                let reason = match e {
                    // Refused with the security reason (12–16): what was asked cannot be given.
                    BpaError::Security { error, .. } => error.reason(),
                    _ => ReasonCode::BlockUnintelligible,
                };
                self.actions.push_back(Action::Refused { token: s.token, reason });
                return Ok(());
            }
        };
        let key = super::receive::digest(self.config.digest_key, &super::receive::key_of(&bundle));
        let expiry = super::receive::expiry_of(&bundle, self.now);
        let creation = bundle.creation();
        if self.accept(bundle, None, s.priority, Some(s.token))?.is_some() {
            self.remember(key, expiry);
            if let (Some(source), Some(reference)) = (receipt_source, s.reference) {
                self.keep_receipt(super::receipts::Receipt { source, reference, creation })?;
            }
        }
        Ok(())
    }

    /// Stores a submission's receipt (in the commit that stores its bundle), dropping the
    /// source's oldest beyond the limit.
    fn keep_receipt(&mut self, receipt: super::receipts::Receipt) -> Result<(), BpaError> {
        let record = self.next_tombstone;
        self.next_tombstone += 1;
        self.store.insert(record, bytes::Bytes::new(), receipt.encode())?;
        for old in self.receipts.insert(receipt, record, self.config.receipts_per_source) {
            self.store.remove(old)?;
        }
        Ok(())
    }

    pub(crate) fn register(&mut self, endpoint: Eid, mode: DeliveryMode) -> Result<(), BpaError> {
        if self.config.node_of(&endpoint) != Some(self.config.node) {
            return Err(BpaError::NotLocal(endpoint));
        }
        self.registrations.insert(endpoint.clone(), mode);
        // Bundles that arrived before the registration are delivered now.
        let pending: Vec<BundleId> =
            self.bundles.iter().filter(|(_, e)| e.state == BundleState::AwaitingDelivery).map(|(id, _)| id).collect();
        for id in pending {
            if let Some(bundle) = self.stored_bundle(id).filter(|b| b.destination() == &endpoint) {
                self.deliver_local(id, &bundle)?;
            }
        }
        Ok(())
    }

    /// The next delivery waiting for a passive registration. The bundles behind it leave the
    /// store (as tombstones) in a commit before it is returned.
    pub fn take_delivery(&mut self, endpoint: &Eid) -> Result<Option<Delivery>, BpaError> {
        let Some((delivery, ids)) = self.passive.get_mut(endpoint).and_then(super::passive::PassiveQueue::pop_front)
        else {
            return Ok(None);
        };
        self.release_delivery(delivery, ids).map(Some)
    }

    /// The deliveries waiting for a passive registration, oldest first, left in place: a host
    /// that must hand them over durably (write them out) does that first and takes them
    /// second ([`Bpa::take_delivery_of`], [`Bpa::take_deliveries_of`]), so a crash in between
    /// delivers them again rather than never.
    pub fn deliveries(&self, endpoint: &Eid) -> impl Iterator<Item = &Delivery> {
        self.passive.get(endpoint).into_iter().flat_map(super::passive::PassiveQueue::iter)
    }

    /// Takes the waiting delivery with this identity (source and creation timestamp), wherever
    /// it is in the queue; `None` if there is none (already taken).
    pub fn take_delivery_of(
        &mut self,
        endpoint: &Eid,
        source: &Eid,
        creation: CreationTimestamp,
    ) -> Result<Option<Delivery>, BpaError> {
        let taken = self.unqueue_delivery(endpoint, source, creation)?;
        self.flush_commit()?;
        Ok(taken)
    }

    /// Takes several waiting deliveries by identity, with one commit for all (a host that
    /// wrote a batch of them out); returns how many were still waiting.
    pub fn take_deliveries_of(
        &mut self,
        endpoint: &Eid,
        identities: &[(Eid, CreationTimestamp)],
    ) -> Result<usize, BpaError> {
        let mut taken = 0;
        for (source, creation) in identities {
            taken += usize::from(self.unqueue_delivery(endpoint, source, *creation)?.is_some());
        }
        self.flush_commit()?;
        Ok(taken)
    }

    /// Takes a waiting delivery out of its queue and buries its bundles (commit to follow).
    fn unqueue_delivery(
        &mut self,
        endpoint: &Eid,
        source: &Eid,
        creation: CreationTimestamp,
    ) -> Result<Option<Delivery>, BpaError> {
        let Some(queue) = self.passive.get_mut(endpoint) else { return Ok(None) };
        let Some((delivery, ids)) = queue.take_identity(source, creation) else { return Ok(None) };
        self.bury_delivery(&delivery, ids)?;
        Ok(Some(delivery))
    }

    /// Buries the bundles behind a delivery the application has, in a commit.
    fn release_delivery(&mut self, delivery: Delivery, ids: Vec<BundleId>) -> Result<Delivery, BpaError> {
        self.bury_delivery(&delivery, ids)?;
        self.flush_commit()?;
        Ok(delivery)
    }

    /// Forgets the bundles behind a delivery and leaves its tombstone (no commit).
    fn bury_delivery(&mut self, delivery: &Delivery, ids: Vec<BundleId>) -> Result<(), BpaError> {
        let until = ids.iter().filter_map(|id| self.bundles.get(id)).map(|e| e.expiry).max().unwrap_or(self.now);
        for id in ids {
            // Out of its queue already: nothing there to search.
            self.passive_of.remove(&id);
            self.forget(id)?;
        }
        self.bury(adu_key(&delivery.source, delivery.creation), until)
    }

    /// A bundle for this node: reassemble if it is a fragment, then deliver.
    pub(crate) fn deliver_local(&mut self, id: BundleId, bundle: &Bundle) -> Result<(), BpaError> {
        if bundle.is_fragment() {
            // A fragment of an ADU delivered (or held whole) here already is a duplicate.
            if self.seen.contains_key(&super::receive::digest(
                self.config.digest_key,
                &adu_key(bundle.source(), bundle.creation()),
            )) {
                return self.forget(id);
            }
            return self.reassemble(id, bundle);
        }
        self.deliver(&[id], bundle)
    }

    fn reassemble(&mut self, id: BundleId, fragment: &Bundle) -> Result<(), BpaError> {
        let key = (fragment.source().clone(), fragment.creation());
        if let Some(e) = self.bundles.get_mut(&id) {
            e.state = BundleState::AwaitingReassembly;
        }
        let complete = match self.reassembly.get_mut(&key) {
            Some((r, ids)) => {
                if r.add(fragment.clone()).is_err() {
                    return self.delete(id, ReasonCode::BlockUnintelligible);
                }
                ids.insert(id);
                self.fragment_of.insert(id, key.clone());
                r.is_complete()
            }
            None => match Reassembly::new(fragment.clone()) {
                Ok(r) => {
                    let complete = r.is_complete();
                    self.reassembly.insert(key.clone(), (r, core::iter::once(id).collect()));
                    self.fragment_of.insert(id, key.clone());
                    complete
                }
                Err(_) => return self.delete(id, ReasonCode::BlockUnintelligible),
            },
        };
        if !complete {
            return Ok(());
        }
        let Some((r, ids)) = self.reassembly.remove(&key) else { return Ok(()) };
        let ids: Vec<BundleId> = ids.into_iter().collect();
        for id in &ids {
            self.fragment_of.remove(id);
        }
        match r.finish() {
            // The payload's operations are checked on the whole bundle (RFC 9172 5).
            Ok(whole) => match self.secure_inbound(whole)? {
                Some(whole) => self.deliver(&ids, &whole),
                None => {
                    for id in ids {
                        self.forget(id)?;
                    }
                    Ok(())
                }
            },
            Err(_) => {
                for id in ids {
                    self.delete(id, ReasonCode::BlockUnintelligible)?;
                }
                Ok(())
            }
        }
    }

    /// Holds bundles for an endpoint nobody registered (yet), within the storage policy: for
    /// a bounded time, and only while such bundles take less than their share of the store;
    /// beyond it they are deleted, "destination endpoint unavailable".
    fn await_registration(&mut self, ids: &[BundleId]) -> Result<(), BpaError> {
        let policy = self.config.storage.clone();
        for &id in ids {
            let Some(size) = self.bundles.get(&id).map(|e| u64::from(e.size)) else { continue };
            if !self.usage.hold_unregistered(&policy, id, size) {
                self.delete(id, ReasonCode::DestinationUnavailable)?;
                continue;
            }
            let until = policy.unregistered_hold_ms.map(|ms| self.now.saturating_add_millis(ms));
            if let Some(e) = self.bundles.get_mut(&id) {
                e.state = BundleState::AwaitingDelivery;
                if let Some(until) = until.filter(|u| *u < e.expiry) {
                    // Its expiry timer fires at the end of the hold.
                    self.expiries.remove(&(e.expiry, id));
                    self.usage.cut_short(id, e.expiry);
                    e.expiry = until;
                    self.expiries.insert((until, id));
                }
            }
        }
        Ok(())
    }

    /// Leaves a tombstone for a delivered ADU in the store (same commit as the delivery), so a
    /// copy retransmitted after a restart — whole or in fragments — is still a duplicate.
    pub(crate) fn bury(&mut self, key: super::BundleKey, until: crate::time::DtnTime) -> Result<(), BpaError> {
        let until = until.min(self.now.saturating_add_millis(super::MAX_DUPLICATE_MEMORY_MS));
        self.remember(super::receive::digest(self.config.digest_key, &key), until);
        let stone = super::entry::Tombstone { key, until };
        let stone_id = self.next_tombstone;
        self.next_tombstone += 1;
        self.store.insert(stone_id, bytes::Bytes::new(), stone.encode())?;
        self.schedule(until, super::Timer::Tombstone(stone_id));
        Ok(())
    }

    /// Hands an ADU to its registration; the stored bundles (fragments) are released with the
    /// same commit that releases the delivery, so a restart never delivers twice.
    fn deliver(&mut self, ids: &[BundleId], bundle: &Bundle) -> Result<(), BpaError> {
        let endpoint = bundle.destination().clone();
        let Some(mode) = self.registrations.get(&endpoint).copied() else {
            return self.await_registration(ids);
        };
        for &id in ids {
            // Its registration came: the hold's deadline goes, its own expiry returns.
            if let Some(original) = self.usage.registered(id)
                && let Some(e) = self.bundles.get_mut(&id)
            {
                self.expiries.remove(&(e.expiry, id));
                e.expiry = original;
                self.expiries.insert((original, id));
            }
        }
        let delivery = Delivery {
            endpoint: endpoint.clone(),
            source: bundle.source().clone(),
            creation: bundle.creation(),
            payload: bundle.payload().clone(),
        };
        // Fragments of this ADU still waiting here are duplicates now.
        let key = (bundle.source().clone(), bundle.creation());
        let mut ids = ids.to_vec();
        if let Some((_, waiting)) = self.reassembly.remove(&key) {
            for w in waiting {
                self.fragment_of.remove(&w);
                if !ids.contains(&w) {
                    ids.push(w);
                }
            }
        }
        self.report(bundle, StatusAssertion::Delivered, ReasonCode::NoInformation)?;
        match mode {
            DeliveryMode::Active => {
                let until =
                    ids.iter().filter_map(|id| self.bundles.get(id)).map(|e| e.expiry).max().unwrap_or(self.now);
                for &id in &ids {
                    self.forget(id)?;
                }
                self.bury(adu_key(bundle.source(), bundle.creation()), until)?;
                self.after_commit.push(Action::Deliver(delivery));
            }
            DeliveryMode::Passive => {
                for id in &ids {
                    if let Some(e) = self.bundles.get_mut(id) {
                        e.state = BundleState::QueuedForApplication;
                    }
                }
                let position = self.passive.entry(endpoint.clone()).or_default().push(delivery, ids.clone());
                for id in ids {
                    self.passive_of.insert(id, (endpoint.clone(), position));
                }
            }
        }
        Ok(())
    }
}
