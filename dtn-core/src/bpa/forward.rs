//! Forwarding (RFC 9171 5.4): route, queue for the next hop's link, update the per-hop blocks,
//! transmit; hold bundles without a route until a contact appears or they expire.

use bytes::Bytes;

use super::entry::BundleState;
use super::{Action, Bpa, BpaError, LinkId, Timer};
use crate::admin::{ReasonCode, StatusAssertion};
use crate::bundle::Bundle;
use crate::routing::{Forwarding, NodeId, PlanTime, RouteRequest, Router};
use crate::store::{BundleId, BundleStore};
use crate::time::DtnTime;

/// Bytes a bundle may grow by on a hop when the agent adds or rewrites per-hop blocks.
const PER_HOP_GROWTH: u64 = 64;

/// Most fragments a bundle is cut into to fit a link's size limit.
const MAX_LINK_FRAGMENTS: u64 = 1024;

impl<S: BundleStore, R: Router> Bpa<S, R> {
    /// The DTN time of a time on the contact plan's clock (rounded up to the millisecond).
    pub(crate) fn dtn_time_of(&self, t: PlanTime) -> DtnTime {
        let ms = u64::try_from(t.0).unwrap_or(0).div_ceil(1_000_000);
        self.config.plan_epoch.saturating_add_millis(ms)
    }

    /// A queued bundle's route has ended: if it is still queued for its next hop (no link to it
    /// came up in time), it is routed again — over a later contact of the same neighbour, or
    /// another way. (Its old queue entry is skipped when that link comes up: the bundle has
    /// left or been queued anew.)
    pub(crate) fn route_missed(&mut self, id: BundleId) -> Result<(), BpaError> {
        let Some(e) = self.bundles.get_mut(&id) else { return Ok(()) };
        let hop = e.next_hop.map(u64::from);
        if e.state != BundleState::Waiting || self.unrouted.contains_key(&id) {
            return Ok(());
        }
        if hop.is_some_and(|hop| self.links.values().any(|&p| p == hop)) {
            return Ok(()); // Its link is up: it is on its way.
        }
        if let Some(booking) = e.booking.take() {
            self.router.release(booking);
        }
        e.next_hop = None;
        self.route(id)
    }

    /// Time on the contact plan's clock.
    pub(crate) fn plan_time(&self, t: DtnTime) -> PlanTime {
        let ms =
            i64::try_from(t.0).unwrap_or(i64::MAX).saturating_sub(i64::try_from(self.config.plan_epoch.0).unwrap_or(0));
        PlanTime::from_millis(ms)
    }

    /// Delivers a bundle destined here, or routes it on.
    pub(crate) fn dispatch(&mut self, id: BundleId, bundle: &Bundle) -> Result<(), BpaError> {
        let destination = self.bundles.get(&id).and_then(|e| e.destination).map(u64::from);
        if destination == Some(self.config.node) {
            return self.deliver_local(id, bundle);
        }
        self.route_with(id, Some(bundle))
    }

    /// Asks the router for a next hop and sends or queues the bundle.
    pub(crate) fn route(&mut self, id: BundleId) -> Result<(), BpaError> {
        self.route_with(id, None)
    }

    /// [`Self::route`] with the parsed bundle at hand, if the caller has it (saves a parse).
    fn route_with(&mut self, id: BundleId, bundle: Option<&Bundle>) -> Result<(), BpaError> {
        // Only a bundle waiting here is routed (one on a link already is not sent twice).
        if self.bundles.get(&id).is_none_or(|e| e.state != BundleState::Waiting) {
            return Ok(());
        }
        if self.bundles.get(&id).is_some_and(|e| e.expiry <= self.now) {
            // Expired while on a link or awaiting custody: what comes back is not sent again.
            return self.delete(id, ReasonCode::LifetimeExpired);
        }
        let (avoid, returns) = self.hops_to_avoid(id);
        let Some(entry) = self.bundles.get(&id) else { return Ok(()) };
        let Some(destination) = entry.destination.map(u64::from) else {
            return self.delete(id, ReasonCode::DestinationUnavailable);
        };
        let request = RouteRequest {
            avoid,
            local: self.config.node,
            destination,
            now: self.plan_time(self.now),
            size: u64::from(entry.size),
            priority: entry.priority,
            expiry: self.plan_time(entry.expiry),
            previous_hop: entry.previous_hop.map(u64::from),
        };
        match self.route_around_loops(&request, returns) {
            Ok(forwarding) => {
                if let Some(e) = self.bundles.get_mut(&id) {
                    e.booking = forwarding.booking;
                    e.state = BundleState::Waiting;
                }
                self.unrouted.remove(&id);
                let until = forwarding.route.as_ref().map(|r| self.dtn_time_of(r.termination));
                for bumped in forwarding.bumped {
                    let victim = self.bundles.iter().find(|(_, e)| e.booking == Some(bumped)).map(|(id, _)| id);
                    if let Some(victim) = victim {
                        self.requeue(victim);
                    }
                }
                self.send_or_queue(id, forwarding.next_hop, bundle, until)
            }
            Err(why) => {
                if why == crate::routing::NoRoute::NoTimelyContact && self.fragment_to_fit(id, &request, bundle)? {
                    return Ok(());
                }
                self.hold(id, why);
                Ok(())
            }
        }
    }

    /// Routes a bundle that may have come back round a loop: around the hops it went to,
    /// unless that way arrives much later than the way through them (more than twice the
    /// latency, and a minute) or there is none — for a copy that came back only once or
    /// twice. Hop counts cannot tell a loop from a retransmitted copy that took a longer way,
    /// and avoiding a good next hop for such a copy left it waiting for hours beside an open
    /// link; a loop that persists still brings copies back, and from the third the way round
    /// is kept to strictly.
    fn route_around_loops(
        &mut self,
        request: &RouteRequest,
        returns: u8,
    ) -> Result<crate::routing::Forwarding, crate::routing::NoRoute> {
        let around = self.router.route(request);
        if request.avoid.is_empty() || returns >= 3 {
            return around;
        }
        let direct = RouteRequest { avoid: alloc::vec::Vec::new(), ..request.clone() };
        let Ok(mut through) = self.router.route(&direct) else { return around };
        let arrival = |f: &crate::routing::Forwarding| f.route.as_ref().map(|r| r.arrival);
        let keep_around = match (&around, arrival(&through)) {
            (Ok(a), Some(t)) => arrival(a).is_some_and(|a| {
                let slack = (t.0 - request.now.0).max(60 * crate::routing::time::NANOS_PER_SEC);
                a.0 <= t.0.saturating_add(slack)
            }),
            (Ok(_), None) => true,
            (Err(_), _) => false,
        };
        let (mut kept, dropped) = match around {
            Ok(a) if keep_around => (a, through),
            Ok(a) => {
                through.bumped.extend(a.bumped.iter().copied());
                (through, Forwarding { bumped: alloc::vec::Vec::new(), ..a })
            }
            Err(_) => return Ok(through),
        };
        if let Some(booking) = dropped.booking {
            self.router.release(booking);
        }
        kept.bumped.extend(dropped.bumped);
        Ok(kept)
    }

    /// Proactive fragmentation (RFC 9171 5.8): a bundle too big for every route, but allowed to
    /// be fragmented, is split in two: a head the earliest route can carry and the rest, which
    /// is routed on its own (and split again if it must). Both are stored and the original
    /// goes in the same commit. So a bundle becomes about as many fragments as contacts carry
    /// it, whatever their sizes; a head carrying less payload than its own header is not worth
    /// sending and the bundle waits instead. Returns whether it split.
    fn fragment_to_fit(
        &mut self,
        id: BundleId,
        request: &RouteRequest,
        parsed: Option<&Bundle>,
    ) -> Result<bool, BpaError> {
        let Some(capacity) = self.router.transferable_bytes(request) else { return Ok(false) };
        if capacity >= request.size {
            return Ok(false);
        }
        let Some(bundle) = self.parsed_or_stored(id, parsed) else { return Ok(false) };
        let bundle = bundle.as_ref();
        if bundle.flags().contains(crate::bundle::BundleFlags::MUST_NOT_FRAGMENT) || bundle.is_admin_record() {
            return Ok(false);
        }
        // Room for the per-hop blocks each hop adds (previous node, bundle age, hop count).
        let Ok(limit) = usize::try_from(capacity.saturating_sub(PER_HOP_GROWTH)) else { return Ok(false) };
        let Ok((head, rest)) = crate::fragment::split_to_fit(bundle, limit) else { return Ok(false) };
        if head.payload().len() < head.raw().len() - head.payload().len() {
            return Ok(false);
        }
        let fragments = [head, rest];
        // Both fragments must fit before the original goes, or part of an accepted bundle would
        // be lost to a full store.
        let needed: u64 = fragments.iter().map(|f| f.raw().len() as u64).sum();
        if needed > self.store.free_bytes().saturating_add(request.size) {
            return Ok(false);
        }
        let (previous_hop, received_at, priority) = match self.bundles.get(&id) {
            Some(e) => (e.previous_hop.map(u64::from), e.received_at, e.priority),
            None => return Ok(false),
        };
        self.forget(id)?;
        for fragment in fragments {
            self.accept_fragment(fragment, previous_hop, received_at, priority)?;
        }
        Ok(true)
    }

    /// The bundle as the caller parsed it, or parsed from the store.
    fn parsed_or_stored<'a>(&self, id: BundleId, parsed: Option<&'a Bundle>) -> Option<alloc::borrow::Cow<'a, Bundle>> {
        match parsed {
            Some(b) => Some(alloc::borrow::Cow::Borrowed(b)),
            None => self.stored_bundle(id).map(alloc::borrow::Cow::Owned),
        }
    }

    /// Takes a bundle out of its next hop's queue so it is routed again.
    fn requeue(&mut self, id: BundleId) {
        // Its id stays in the queue, skipped there once it is held without a route.
        if let Some(e) = self.bundles.get_mut(&id).filter(|e| e.state == BundleState::Waiting) {
            e.booking = None;
            let hop = e.next_hop.map(u64::from);
            self.hold(id, crate::routing::NoRoute::NoTimelyContact);
            if let Some(hop) = hop {
                self.left_queue(hop);
            }
        }
    }

    /// Sends a routed bundle on a link to its next hop, or queues it for one until `until`
    /// (when its route ends).
    fn send_or_queue(
        &mut self,
        id: BundleId,
        next_hop: NodeId,
        bundle: Option<&Bundle>,
        until: Option<DtnTime>,
    ) -> Result<(), BpaError> {
        if let Some(e) = self.bundles.get_mut(&id) {
            e.next_hop = core::num::NonZeroU64::new(next_hop);
        }
        // Of several links to the next hop, one that takes the bundle whole.
        let size = self.bundles.get(&id).map_or(0, |e| u64::from(e.size)).saturating_add(PER_HOP_GROWTH);
        let to_hop = || self.links.iter().filter(|(_, peer)| **peer == next_hop).map(|(link, _)| *link);
        let fits = to_hop().find(|link| self.link_limits.get(link).is_none_or(|&limit| limit >= size));
        match fits.or_else(|| to_hop().next()) {
            Some(link) => self.transmit(id, link, bundle),
            None => {
                self.waiting_for.entry(next_hop).or_default().push_back(id);
                if let Some(until) = until {
                    self.queued_until.entry(until).or_default().push(id);
                }
                Ok(())
            }
        }
    }

    /// Updates previous node, bundle age and hop count, and hands the bundle to the link.
    fn transmit(&mut self, id: BundleId, link: LinkId, parsed: Option<&Bundle>) -> Result<(), BpaError> {
        let Some(entry) = self.bundles.get(&id).filter(|e| e.state == BundleState::Waiting) else { return Ok(()) };
        let (received_at, entry_expiry) = (entry.received_at, entry.expiry);
        let Some(bundle) = self.parsed_or_stored(id, parsed) else {
            return self.delete(id, ReasonCode::BlockUnintelligible);
        };
        let bundle = bundle.as_ref();
        let mut editor = bundle.edit();
        editor.set_previous_node(&self.config.admin_endpoint());
        if let Some(age) = bundle.bundle_age_ms() {
            editor.set_bundle_age_ms(age.saturating_add(self.now.0.saturating_sub(received_at.0)));
        }
        editor.increment_hop_count();
        let mut out = alloc::vec::Vec::new();
        editor.encode_into(&mut out);
        let mut bytes = Bytes::from(out);
        let peer = self.links.get(&link).copied();
        if let Some(peer) = peer.filter(|&p| self.is_custodial_peer(p) && !bundle.is_admin_record()) {
            let remaining = entry_expiry.0.saturating_sub(self.now.0);
            match self.encapsulate(id, bundle, peer, bytes.clone(), remaining)? {
                Some(outer) => bytes = outer,
                None => return self.delete(id, ReasonCode::BlockUnintelligible),
            }
        }
        if let Some(&limit) = self.link_limits.get(&link).filter(|&&limit| bytes.len() as u64 > limit) {
            // (A bundle that cannot be cut to fit backs off: the limit lasts while the link does.)
            let overhead = bytes.len().saturating_sub(bundle.raw().len()) as u64;
            return self.fragment_for_link(id, bundle, limit, overhead);
        }
        if let Some(e) = self.bundles.get_mut(&id) {
            e.state = BundleState::InFlight;
        }
        self.actions.push_back(Action::Transmit { link, bundle: id, bytes });
        Ok(())
    }

    /// A bundle bigger than its link takes (RFC 9171 5.8): split into fragments that fit,
    /// each stored and routed on its own, the original going in the same commit. A bundle
    /// that must not be fragmented (or could not be, into at most [`MAX_LINK_FRAGMENTS`], or
    /// not into a store this full) is not sent: it waits and is routed again later, as after
    /// a failed transmission — never deleted for it (it may be in this node's custody).
    fn fragment_for_link(&mut self, id: BundleId, bundle: &Bundle, limit: u64, overhead: u64) -> Result<(), BpaError> {
        let room = limit.saturating_sub(overhead.saturating_add(PER_HOP_GROWTH));
        let few_enough = bundle.raw().len() as u64 / room.max(1) < MAX_LINK_FRAGMENTS;
        let fragments = match usize::try_from(room) {
            Ok(room) if few_enough && !bundle.is_admin_record() => crate::fragment::fragment_by_size(bundle, room).ok(),
            _ => None,
        };
        let needed: u64 = fragments.iter().flatten().map(|f| f.raw().len() as u64).sum();
        let fits = needed <= self.store.free_bytes().saturating_add(bundle.raw().len() as u64);
        let entry = self.bundles.get(&id).map(|e| (e.previous_hop.map(u64::from), e.received_at, e.priority));
        let (Some(fragments), true, Some((previous_hop, received_at, priority))) =
            (fragments.filter(|f| f.len() > 1), fits, entry)
        else {
            if let Some(booking) = self.bundles.get_mut(&id).and_then(|e| e.booking.take()) {
                self.router.release(booking);
            }
            self.hold_after_failure(id);
            return Ok(());
        };
        self.forget(id)?;
        for fragment in fragments {
            self.accept_fragment(fragment, previous_hop, received_at, priority)?;
        }
        Ok(())
    }

    pub(crate) fn transmitted(&mut self, _link: LinkId, id: BundleId, ok: bool) -> Result<(), BpaError> {
        let Some(entry) = self
            .bundles
            .get(&id)
            .filter(|e| matches!(e.state, BundleState::InFlight | BundleState::Released | BundleState::Refused))
        else {
            return Ok(());
        };
        if entry.state == BundleState::Released {
            return self.forget(id);
        }
        // Custody refused while the link had it: sent or not, it stays here.
        let ok = ok && entry.state != BundleState::Refused;
        if ok && let Some(c) = entry.custody.as_deref().copied() {
            // Custody goes with it only when the peer's signal says so, which takes a round
            // trip from now, when the last byte left: a long bundle on a slow link must not be
            // sent again while it is still going out.
            let deadline = self.custody_deadline(c.peer).max(c.deadline);
            if let Some(e) = self.bundles.get_mut(&id) {
                e.state = BundleState::AwaitingCustody;
                if let Some(custody) = e.custody.as_deref_mut() {
                    custody.deadline = deadline;
                }
            }
            if deadline > c.deadline {
                self.schedule(deadline, Timer::Custody(id, c.transmission_id));
            }
            return Ok(());
        }
        let custodial = entry.custody.is_some();
        let (booking, reports_forwarding) = (entry.booking, entry.reports_forwarding);
        self.drop_custody(id);
        if ok {
            let subject = if reports_forwarding { self.stored_bundle(id) } else { None };
            if let Some(bundle) = subject {
                self.report(&bundle, StatusAssertion::Forwarded, ReasonCode::NoInformation)?;
            }
            return self.forget(id);
        }
        // Failed: give the volume back and route again after the retry interval (a link that
        // fails at once must not make the agent spin).
        if let Some(booking) = booking {
            self.router.release(booking);
        }
        if let Some(e) = self.bundles.get_mut(&id) {
            e.booking = None;
            e.state = BundleState::Waiting;
        }
        if custodial {
            self.persist(id)?;
        }
        self.hold_after_failure(id);
        Ok(())
    }

    /// Keeps a bundle without a next hop until plan updates, link changes or the retry timer.
    pub(crate) fn hold(&mut self, id: BundleId, why: crate::routing::NoRoute) {
        self.hold_until(id, why, self.now);
    }

    /// Keeps a bundle whose transmission failed, or was refused: it is routed again after a
    /// back-off that doubles with each failure (1, 2, 4 … [`super::MAX_RETRY_BACKOFF`] retry
    /// intervals) — tried again on a link that stays up (a ground link, a session that refuses
    /// it), never left waiting for a change that may not come, and never in a tight loop.
    pub(crate) fn hold_after_failure(&mut self, id: BundleId) {
        let Some(e) = self.bundles.get_mut(&id) else { return };
        let backoff = (1u64 << e.failures.min(5)).min(super::MAX_RETRY_BACKOFF);
        e.failures = e.failures.saturating_add(1);
        let at = self.now.saturating_add_millis(self.config.retry_interval_ms.max(1).saturating_mul(backoff - 1));
        self.hold_until(id, crate::routing::NoRoute::NoTimelyContact, at);
    }

    fn hold_until(&mut self, id: BundleId, why: crate::routing::NoRoute, not_before: DtnTime) {
        self.unrouted.insert(id, (why, not_before));
        if !self.retry_scheduled {
            self.retry_scheduled = true;
            let at = self.now.saturating_add_millis(self.config.retry_interval_ms.max(1));
            self.schedule(at, Timer::Retry);
        }
    }

    pub(crate) fn link_up(&mut self, link: LinkId, peer: NodeId) -> Result<(), BpaError> {
        self.links.insert(link, peer);
        // Bundles that failed on a link to this peer go again now that a new one is up.
        let now = self.now;
        for (id, (_, not_before)) in self.unrouted.iter_mut() {
            if self.bundles.get(id).is_some_and(|e| e.next_hop.map(u64::from) == Some(peer)) {
                *not_before = (*not_before).min(now);
            }
        }
        if let Some(queue) = self.waiting_for.remove(&peer) {
            for id in queue {
                // Ids may be stale (forgotten, or reused by a bundle for another hop), or routed
                // again meanwhile (bumped from its booking by a bundle sent before it).
                let queued = self.bundles.get(&id).is_some_and(|e| e.next_hop.map(u64::from) == Some(peer));
                if queued && !self.unrouted.contains_key(&id) {
                    self.transmit(id, link, None)?;
                }
            }
        }
        self.retry_unrouted()
    }

    pub(crate) fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        self.link_limits.remove(&link);
    }

    /// A plan update: bundles without a route may have one now, and bundles queued for a
    /// contact may do better over a new one, so both are routed again (their bookings given
    /// back first). Bundles already on a link stay there.
    pub(crate) fn contacts_added(&mut self, contacts: &[crate::routing::Contact]) -> Result<(), BpaError> {
        self.router.add_contacts(contacts);
        self.reroute_queued()
    }

    /// Changes the router (a plan reload, a new static route) and routes again every bundle
    /// queued for a next hop or waiting without a route. Bookings of queued bundles are given
    /// back to the old router first.
    pub fn update_router(&mut self, update: impl FnOnce(&mut R)) -> Result<(), BpaError> {
        for queue in self.waiting_for.values() {
            for id in queue {
                if let Some(booking) = self.bundles.get_mut(id).and_then(|e| e.booking.take()) {
                    self.router.release(booking);
                }
            }
        }
        update(&mut self.router);
        self.reroute_queued()?;
        self.flush_commit()
    }

    /// Routes again every bundle queued for a next hop, and every one without a route.
    fn reroute_queued(&mut self) -> Result<(), BpaError> {
        let queues = core::mem::take(&mut self.waiting_for);
        for (peer, queue) in queues {
            for id in queue {
                // Ids may be stale (forgotten, or reused by a bundle for another hop).
                let Some(e) = self
                    .bundles
                    .get_mut(&id)
                    .filter(|e| e.state == BundleState::Waiting && e.next_hop.map(u64::from) == Some(peer))
                else {
                    continue;
                };
                if let Some(booking) = e.booking.take() {
                    self.router.release(booking);
                }
                self.unrouted.insert(id, (crate::routing::NoRoute::NoTimelyContact, self.now));
            }
        }
        self.retry_unrouted()
    }

    /// Routes again every bundle that had no route (those backing off after a failure, once
    /// their time has come).
    pub(crate) fn retry_unrouted(&mut self) -> Result<(), BpaError> {
        let now = self.now;
        let ids: alloc::vec::Vec<BundleId> =
            self.unrouted.iter().filter(|(_, (_, not_before))| *not_before <= now).map(|(id, _)| *id).collect();
        for id in ids {
            self.unrouted.remove(&id);
            self.route(id)?;
        }
        if !self.unrouted.is_empty() && !self.retry_scheduled {
            self.retry_scheduled = true;
            let at = self.now.saturating_add_millis(self.config.retry_interval_ms.max(1));
            self.schedule(at, Timer::Retry);
        }
        Ok(())
    }

    /// A bundle's lifetime ran out here. One on a link, or awaiting its custody signal, stays
    /// until the link's verdict or the signal (or its timer) says what next: it is never routed
    /// again ([`Self::route`] deletes an expired bundle), and nothing polls for it meanwhile (a
    /// frame queued for a pass hours away made the agent wake every second until then).
    pub(crate) fn expire(&mut self, id: BundleId) -> Result<(), BpaError> {
        match self.bundles.get(&id) {
            Some(e)
                if e.expiry <= self.now
                    && !matches!(
                        e.state,
                        BundleState::InFlight
                            | BundleState::Released
                            | BundleState::Refused
                            | BundleState::AwaitingCustody
                    ) =>
            {
                // Held without a route until the end: say why (RFC 9171 5.4.1).
                let reason = match self.unrouted.get(&id) {
                    Some((why, _)) => why.reason_code(),
                    // Held for an endpoint nobody registered, for as long as policy allows.
                    None if self.usage.is_unregistered(id) => ReasonCode::DestinationUnavailable,
                    None => ReasonCode::LifetimeExpired,
                };
                self.delete(id, reason)
            }
            _ => Ok(()),
        }
    }
}
