//! Custody transfer in the agent (draft-ietf-dtn-bibect; see [`crate::custody`]): BIBE
//! encapsulation towards custodial peers, acceptance or refusal of custody, custody signals and
//! retransmission timers.

use bytes::Bytes;

use super::entry::{BundleState, CustodyTransmission};
use super::{Bpa, BpaError, LinkId, Timer};
use crate::admin::{AdminRecord, Bpdu, CustodySignal, Disposition};
use crate::bundle::{Bundle, BundleFlags};
use crate::eid::Eid;
use crate::routing::{NodeId, Priority, Router};
use crate::store::{BundleId, BundleStore};

/// Store id reserved for the node's own state (its reservation marks).
pub(crate) const NODE_STATE_ID: BundleId = 0;

/// Decodes the node-state record: `[transmission-ID mark, sequence mark]` (or, as first
/// written, the transmission-ID mark alone).
pub(crate) fn decode_node_state(meta: &[u8]) -> (u64, u64) {
    let mut r = crate::cbor::Reader::new(meta);
    match r.clone().array() {
        Ok(Some(2)) => {
            let _ = r.array();
            (r.uint().unwrap_or(0), r.uint().unwrap_or(0))
        }
        _ => (r.uint().unwrap_or(0), 0),
    }
}

/// What became of a received bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reception {
    /// Stored under this id.
    Stored(BundleId),
    /// Seen before.
    Duplicate,
    /// Deleted on reception (expired, hop limit, unsupported block); reported.
    Deleted,
    /// No room.
    StorageFull,
}

impl<S: BundleStore, R: Router> Bpa<S, R> {
    /// True when bundles sent to `peer` go with custody.
    pub(crate) fn is_custodial_peer(&self, peer: NodeId) -> bool {
        self.config.custody.as_ref().is_some_and(|c| c.peers.contains(&peer))
    }

    /// Wraps a bundle in a BIBE PDU with a new transmission ID for `peer`, records the pending
    /// custody durably and arms the retransmission timer. Returns the outer bundle's bytes.
    pub(crate) fn encapsulate(
        &mut self,
        id: BundleId,
        stored: &Bundle,
        peer: NodeId,
        inner: Bytes,
        lifetime_ms: u64,
    ) -> Result<Option<Bytes>, BpaError> {
        let (transmission_id, mark) = self.tids.allocate();
        if let Some(mark) = mark {
            self.tid_mark = mark;
            self.persist_node_state()?;
        }
        let Some(config) = self.config.custody.clone() else { return Ok(None) };
        let deadline = self.custody_deadline(peer);
        let record = AdminRecord::Bpdu(Bpdu { transmission_id, retransmission_time: deadline.0, bundle: inner });
        let outer = self.make_bundle(
            self.config.admin_endpoint(),
            admin_endpoint_of(peer),
            Bytes::from(record.encode_with(config.codes)),
            BundleFlags::ADMIN_RECORD,
            lifetime_ms.max(1),
            crate::bpsec::Protection::NONE,
        );
        let Ok(outer) = outer else { return Ok(None) };
        let transmission = CustodyTransmission::of(self.config.digest_key, stored, transmission_id, peer, deadline);
        let key = transmission.key;
        self.drop_custody(id);
        if let Some(e) = self.bundles.get_mut(&id) {
            e.custody = Some(alloc::boxed::Box::new(transmission));
        }
        self.custody_ids.insert(transmission_id, id);
        self.custody_keys.insert(key, id);
        self.persist(id)?;
        self.schedule(deadline, Timer::Custody(id, transmission_id));
        Ok(Some(outer.raw().clone()))
    }

    /// When a custody signal for a bundle whose last byte leaves for `peer` now is overdue: a
    /// round trip of light time plus the configured margin.
    pub(crate) fn custody_deadline(&self, peer: NodeId) -> crate::time::DtnTime {
        let Some(config) = self.config.custody.as_ref() else { return self.now };
        let owlt = self.router.light_time_ms(self.config.node, peer).unwrap_or(config.default_owlt_ms);
        let backoff = self.custody_backoff.get(&peer).copied().unwrap_or(0).min(6);
        self.now.saturating_add_millis((2 * owlt + config.margin_ms).saturating_mul(1 << backoff))
    }

    /// Takes a bundle's pending custodial transmission off its entry and out of both indexes.
    pub(crate) fn drop_custody(&mut self, id: BundleId) -> Option<CustodyTransmission> {
        let c = self.bundles.get_mut(&id).and_then(|e| e.custody.take()).map(|c| *c)?;
        self.custody_ids.remove(&c.transmission_id);
        if self.custody_keys.get(&c.key) == Some(&id) {
            self.custody_keys.remove(&c.key);
        }
        Some(c)
    }

    /// A copy of a bundle this node passed on with custody, and still holds while it waits for
    /// the signal, came back: round a loop, or as a retransmission by a custodian upstream (its
    /// signal from here was lost), which may itself have taken the bundle back from a loop.
    /// Answering "redundant" — or "accepted" while leaving this node's own transfer to go on —
    /// would release the sender while that transfer releases this node in turn once downstream
    /// accepts, though downstream may have passed the bundle round to the sender: every
    /// custodian would let go. (Hop counts cannot tell the cases apart: a custodian that takes
    /// a bundle back sends its own older copy, with fewer hops.) So this node takes custody
    /// back: the pending transfer is cancelled (its signal, if any comes, is ignored) and the
    /// bundle is routed again — without the hops that led round the loop when it may have
    /// looped ([`may_have_looped`]), as usual when it cannot have (taken for a loop, a
    /// retransmitted bundle was routed away from its best next hop and circled for hours).
    /// Returns whether it did (the caller answers "accepted").
    fn take_back(&mut self, bundle: &Bundle, returned_by: NodeId) -> Result<bool, BpaError> {
        let key = super::receive::digest(self.config.digest_key, &super::receive::key_of(bundle));
        let Some(&id) = self.custody_keys.get(&key) else { return Ok(false) };
        let Some(e) = self.bundles.get(&id).filter(|e| {
            e.custody.as_deref().is_some_and(|c| c.key == key)
                && matches!(e.state, BundleState::AwaitingCustody | BundleState::InFlight)
        }) else {
            return Ok(false);
        };
        let looped = may_have_looped(bundle, e.custody.as_deref().and_then(|c| c.hop_count));
        let Some(c) = self.drop_custody(id) else { return Ok(false) };
        if let Some(e) = self.bundles.get_mut(&id) {
            // A verdict from the link for the copy still on it is ignored (the bundle is no
            // longer in flight here).
            e.state = BundleState::Waiting;
            if let Some(booking) = e.booking.take() {
                self.router.release(booking);
            }
        }
        if looped {
            self.remember_hops(key, &[c.peer, returned_by]);
            self.looped.insert(id, key);
            if let Some(r) = self.released_to.get_mut(&key) {
                r.returns = r.returns.saturating_add(1);
            }
        }
        self.persist(id)?;
        self.route(id)?;
        Ok(true)
    }

    /// Records the node's reservations (transmission IDs, creation sequence numbers) so that
    /// neither is reused after a restart.
    pub(crate) fn persist_node_state(&mut self) -> Result<(), BpaError> {
        let mut meta = alloc::vec::Vec::with_capacity(20);
        crate::cbor::writer::array(&mut meta, 2);
        crate::cbor::writer::uint(&mut meta, self.tid_mark);
        crate::cbor::writer::uint(&mut meta, self.seq_reserved);
        if self.store.update(NODE_STATE_ID, meta.clone()).is_err() {
            self.store.insert(NODE_STATE_ID, Bytes::new(), meta)?;
        }
        Ok(())
    }

    /// Writes a bundle's current record to the store.
    pub(crate) fn persist(&mut self, id: BundleId) -> Result<(), BpaError> {
        let Some(e) = self.bundles.get(&id) else { return Ok(()) };
        let meta = super::PersistedMeta {
            received_at: e.received_at,
            previous_hop: e.previous_hop.map_or(0, u64::from),
            priority: e.priority as u8,
            custody: e.custody.as_deref().copied(),
        };
        self.store.update(id, meta.encode())?;
        Ok(())
    }

    /// Handles an administrative record addressed to this node's admin endpoint. Returns false
    /// when it is not one this layer consumes (status reports go to a registration).
    pub(crate) fn custody_record(&mut self, link: LinkId, outer: &Bundle) -> Result<bool, BpaError> {
        match AdminRecord::from_bundle(outer) {
            Ok(AdminRecord::Bpdu(bpdu)) => {
                self.decapsulate(link, outer, bpdu)?;
                Ok(true)
            }
            Ok(AdminRecord::CustodySignal(signal)) => {
                let from = self.config.node_of(outer.source());
                self.custody_signal(&signal, from)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn decapsulate(&mut self, link: LinkId, outer: &Bundle, bpdu: Bpdu) -> Result<(), BpaError> {
        let custodian = self.config.node_of(outer.source());
        let previous_hop = self.links.get(&link).copied().or(custodian);
        let inner = Bundle::parse(bpdu.bundle, self.config.parse_mode);
        if let (Ok(bundle), Some(c)) = (&inner, custodian.filter(|_| bpdu.transmission_id != 0))
            && self.take_back(bundle, c)?
        {
            // This node still holds it, durably: custody comes back here.
            self.signals.add(c, Disposition::Accepted, bpdu.transmission_id);
            return Ok(());
        }
        let reception = match inner {
            Ok(inner) => match self.secure_inbound(inner)? {
                Some(inner) => self.receive_bundle(inner, previous_hop, bpdu.transmission_id != 0)?,
                // Deleted by the policy (and said so): custody of it ends here.
                None => Reception::Deleted,
            },
            Err(error) => {
                self.actions.push_back(super::Action::Rejected { link, error });
                if let Some(c) = custodian.filter(|_| bpdu.transmission_id != 0) {
                    self.signals.add(c, Disposition::BlockUnintelligible, bpdu.transmission_id);
                }
                return Ok(());
            }
        };
        let (Some(custodian), true) = (custodian, bpdu.transmission_id != 0) else { return Ok(()) };
        let disposition = match reception {
            // Accepted only once committed: signals leave after the store's commit.
            Reception::Stored(_) | Reception::Deleted => Disposition::Accepted,
            Reception::Duplicate => Disposition::Redundant,
            Reception::StorageFull => Disposition::DepletedStorage,
        };
        self.signals.add(custodian, disposition, bpdu.transmission_id);
        Ok(())
    }

    fn custody_signal(&mut self, signal: &CustodySignal, from: Option<NodeId>) -> Result<(), BpaError> {
        if let Some(peer) = from {
            self.custody_backoff.remove(&peer);
        }
        for &(first, count) in &signal.ranges {
            // Only the IDs pending here: a range is no licence to walk 2^64 numbers.
            let pending: alloc::vec::Vec<(u64, BundleId)> =
                self.custody_ids.range(first..first.saturating_add(count)).map(|(t, id)| (*t, *id)).collect();
            for (transmission_id, id) in pending {
                let peer = self.bundles.get(&id).and_then(|e| e.custody.as_deref()).map(|c| c.peer);
                if peer.is_some() && peer != from {
                    continue; // Only the peer we gave it to can take custody of it.
                }
                self.custody_ids.remove(&transmission_id);
                let in_flight = self.bundles.get(&id).is_some_and(|e| e.state == BundleState::InFlight);
                if signal.disposition.releases() {
                    self.unsee(id);
                    if in_flight {
                        // The link has not reported yet; forget it when it does, so its id is
                        // not reused while a verdict for it is still to come.
                        if let Some(e) = self.bundles.get_mut(&id) {
                            e.state = BundleState::Released;
                        }
                    } else {
                        // Downstream holds it durably now: this custodian may forget it.
                        self.forget(id)?;
                    }
                } else {
                    // Refused: take custody back and route again later (once the link, if it
                    // still has it, has reported: a good verdict must not let it go).
                    self.drop_custody(id);
                    if let Some(e) = self.bundles.get_mut(&id) {
                        e.state = if in_flight { BundleState::Refused } else { BundleState::Waiting };
                    }
                    self.persist(id)?;
                    if !in_flight {
                        self.hold_after_failure(id);
                    }
                }
            }
        }
        Ok(())
    }

    /// No custody signal by the deadline: route again, under a new ID, over whatever route is
    /// best now (the peer's link may not come back for hours: a BPDU lost on a pass that has
    /// ended must not wait for that peer). Deferred only while the link still has the bundle.
    pub(crate) fn custody_timeout(&mut self, id: BundleId, transmission_id: u64) -> Result<(), BpaError> {
        let Some(c) = self
            .bundles
            .get(&id)
            .and_then(|e| e.custody.as_deref().copied())
            .filter(|c| c.transmission_id == transmission_id)
        else {
            return Ok(());
        };
        // The deadline moved when the last byte left (a timer was set for it then).
        if self.now < c.deadline {
            return Ok(());
        }
        if self.bundles.get(&id).is_some_and(|e| e.state == BundleState::InFlight) {
            let at = self.now.saturating_add_millis(self.config.retry_interval_ms.max(1));
            self.schedule(at, Timer::Custody(id, transmission_id));
            return Ok(());
        }
        self.drop_custody(id);
        let misses = self.custody_backoff.entry(c.peer).or_insert(0);
        *misses = misses.saturating_add(1);
        if let Some(e) = self.bundles.get_mut(&id) {
            e.state = BundleState::Waiting;
        }
        self.persist(id)?;
        self.route(id)
    }

    /// Sends the custody signals gathered since the last commit (the bundles they accept are
    /// committed by now).
    pub(crate) fn send_signals(&mut self) -> Result<(), BpaError> {
        let signals = self.signals.drain();
        self.send_signal_bundles(signals)
    }

    /// Sends the refusals gathered (they promise nothing about this node's store) while the
    /// store cannot commit: a custodian told "depleted storage" tries another way or later,
    /// rather than waiting out its timer again and again.
    pub(crate) fn send_refusals(&mut self) -> Result<(), BpaError> {
        let refusals = self.signals.drain_refusals();
        self.send_signal_bundles(refusals)
    }

    fn send_signal_bundles(&mut self, signals: alloc::vec::Vec<(NodeId, CustodySignal)>) -> Result<(), BpaError> {
        let codes = self.config.custody.as_ref().map(|c| c.codes).unwrap_or_default();
        for (custodian, signal) in signals {
            let record = AdminRecord::CustodySignal(signal);
            let bundle = self.make_bundle(
                self.config.admin_endpoint(),
                admin_endpoint_of(custodian),
                Bytes::from(record.encode_with(codes)),
                BundleFlags::ADMIN_RECORD,
                3_600_000,
                crate::bpsec::Protection::NONE,
            );
            // Volatile: a signal lost in a crash is covered by the custodian's timer, and one
            // refusing custody for want of storage must not need storage itself.
            if let Ok(bundle) = bundle {
                self.store_and_dispatch(bundle, (None, self.now), Priority::Expedited, None, false, None)?;
            }
        }
        Ok(())
    }
}

/// Whether a copy of a bundle this node received with hop count `stored` may have gone round
/// a loop through this node: it left here with one hop more, and the shortest loop (here →
/// a peer → here) adds another, so a copy with fewer than `stored + 2` hops cannot have (it
/// is a retransmission, or a copy sent again from upstream). Only routing heeds this: the
/// copy is taken in either way. Without hop counts to compare it may have.
pub(crate) fn may_have_looped(bundle: &Bundle, stored: Option<u64>) -> bool {
    match (bundle.hop_count(), stored) {
        (Some(back), Some(stored)) => back.count >= stored.saturating_add(2),
        _ => true,
    }
}

/// `ipn:N.0`.
pub(crate) fn admin_endpoint_of(node: NodeId) -> Eid {
    Eid::Ipn(crate::eid::IpnEid::new((node >> 32) as u32, node as u32, 0))
}
