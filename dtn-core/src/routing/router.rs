//! The agent's view of routing: a [`Router`] picks a next hop for a bundle. [`CgrRouter`] does
//! it with contact graph routing, volume booking and route caching (CCSDS 734.3-B-1 3.2.8);
//! [`StaticRouter`] with a fixed table. The agent does not care which.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::contact::{ContactId, NodeId};
use super::plan::ContactPlan;
use super::search::{ContactState, Route, RouteQuery, Scratch, search_with};
use super::time::{PlanTime, transmission_nanos};

/// Bundle priority (RFC 9171 has none; ION's classes): higher priorities may take volume booked
/// by lower ones, which are then re-routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Bulk.
    Bulk = 0,
    /// Normal (the default).
    #[default]
    Normal = 1,
    /// Expedited.
    Expedited = 2,
}

/// What the agent knows about a bundle it must forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRequest {
    /// This node.
    pub local: NodeId,
    /// The bundle's destination node.
    pub destination: NodeId,
    /// Now.
    pub now: PlanTime,
    /// Bytes to send (the encoded bundle).
    pub size: u64,
    /// Priority.
    pub priority: Priority,
    /// When the bundle expires: later arrivals are useless.
    pub expiry: PlanTime,
    /// The node the bundle came from; not a next hop (no ping-pong).
    pub previous_hop: Option<NodeId>,
    /// Next hops this node already gave the bundle to, which sent it round a loop back here:
    /// not next hops again (unless the destination). Empty for almost every bundle.
    pub avoid: Vec<NodeId>,
}

/// Identifies a volume booking, to release it if the transmission fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookingId(core::num::NonZeroU64);

/// The router's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// Where to send the bundle.
    pub next_hop: NodeId,
    /// The contact to send it on (CGR), if the router knows it.
    pub contact: Option<ContactId>,
    /// The whole route and its projected arrival (CGR).
    pub route: Option<Route>,
    /// The volume booked for it (CGR), to release if the transmission fails.
    pub booking: Option<BookingId>,
    /// Lower-priority bundles whose bookings this one displaced: re-route them.
    pub bumped: Vec<BookingId>,
}

/// Why a bundle has no next hop (mapped to status-report reasons 6 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    /// No route at all in the plan: "no known route to destination from here".
    #[error("no known route to the destination")]
    NoKnownRoute,
    /// Routes exist but none arrives before the bundle expires or has the volume: "no timely
    /// contact with next node on route".
    #[error("no timely contact on any route")]
    NoTimelyContact,
}

impl NoRoute {
    /// The RFC 9171 status-report reason for deleting a bundle for this.
    pub fn reason_code(self) -> crate::admin::ReasonCode {
        match self {
            NoRoute::NoKnownRoute => crate::admin::ReasonCode::NoKnownRoute,
            NoRoute::NoTimelyContact => crate::admin::ReasonCode::NoTimelyContact,
        }
    }
}

/// Chooses next hops. Static tables and CGR are interchangeable behind it.
pub trait Router {
    /// Picks the next hop for a bundle and books what it needs.
    fn route(&mut self, request: &RouteRequest) -> Result<Forwarding, NoRoute>;

    /// The transmission for `booking` failed: give its volume back.
    fn release(&mut self, booking: BookingId);

    /// New contacts joined the plan. Static routers ignore them.
    fn add_contacts(&mut self, _contacts: &[super::contact::Contact]) {}

    /// One-way light time from `from` to `to` in milliseconds, if the router knows it (for
    /// custody retransmission timers).
    fn light_time_ms(&self, _from: NodeId, _to: NodeId) -> Option<u64> {
        None
    }

    /// For a bundle too big for any route: the most bytes the earliest route that can carry
    /// a useful part of it can still carry, so the agent can fragment proactively. `None` when the router does not
    /// know volumes or there is no route at all.
    fn transferable_bytes(&mut self, _request: &RouteRequest) -> Option<u64> {
        None
    }
}

/// A fixed next-hop table with an optional default route.
#[derive(Debug, Clone, Default)]
pub struct StaticRouter {
    table: BTreeMap<NodeId, NodeId>,
    default: Option<NodeId>,
}

impl StaticRouter {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bundles for `destination` go to `next_hop`.
    pub fn add(&mut self, destination: NodeId, next_hop: NodeId) -> &mut Self {
        self.table.insert(destination, next_hop);
        self
    }

    /// Bundles for any other destination go to `next_hop`.
    pub fn set_default(&mut self, next_hop: Option<NodeId>) -> &mut Self {
        self.default = next_hop;
        self
    }
}

impl Router for StaticRouter {
    fn route(&mut self, request: &RouteRequest) -> Result<Forwarding, NoRoute> {
        let next_hop = self.table.get(&request.destination).copied().or(self.default).ok_or(NoRoute::NoKnownRoute)?;
        if request.previous_hop == Some(next_hop) && next_hop != request.destination {
            return Err(NoRoute::NoKnownRoute);
        }
        Ok(Forwarding { next_hop, contact: None, route: None, booking: None, bumped: Vec::new() })
    }

    fn release(&mut self, _booking: BookingId) {}
}

/// Routes kept per destination.
const ROUTES_PER_DESTINATION: usize = 8;

#[derive(Debug, Clone)]
struct Booking {
    contacts: Vec<ContactId>,
    size: u64,
    priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Miss {
    since: PlanTime,
    size: u64,
    /// The deadline searched to: a bundle that may arrive later can have a route.
    deadline: PlanTime,
    excluded: Option<NodeId>,
    why: NoRoute,
}

/// Contact graph routing with volume booking, a bounded route list per destination and a
/// negative cache.
#[derive(Debug)]
pub struct CgrRouter {
    /// Shared, read-only: a simulator's thousand agents or a gateway's peers route over one
    /// copy; adding contacts replaces this router's copy only.
    plan: Arc<ContactPlan>,
    /// Bytes booked per contact and priority.
    booked: Vec<[u64; 3]>,
    /// Contacts taken out of service (failed, or removed from the plan).
    down: Vec<bool>,
    /// One bit per contact: set once it has been booked or taken down. The search checks this
    /// dense bitset first, so untouched contacts cost no look-up in `booked` or `down`.
    touched: Vec<u64>,
    bookings: BTreeMap<BookingId, Booking>,
    next_booking: u64,
    routes: BTreeMap<(NodeId, NodeId), Vec<Route>>,
    misses: BTreeMap<(NodeId, NodeId), Miss>,
    scratch: Scratch,
}

/// The network as one priority class sees it: bytes booked at that priority or above are
/// ahead of the bundle; lower-priority bookings can be displaced.
struct PriorityView<'a> {
    router: &'a CgrRouter,
    priority: Priority,
}

impl ContactState for PriorityView<'_> {
    fn booked_bytes(&self, contact: ContactId) -> u64 {
        if !self.router.is_touched(contact) {
            return 0;
        }
        self.router.booked_at_or_above(contact, self.priority)
    }

    fn suppressed(&self, contact: ContactId) -> bool {
        self.router.is_touched(contact) && self.router.down.get(contact as usize).copied().unwrap_or(true)
    }
}

impl CgrRouter {
    /// A router over `plan` (owned, or an `Arc` shared with other routers) with nothing
    /// booked.
    pub fn new(plan: impl Into<Arc<ContactPlan>>) -> Self {
        let plan = plan.into();
        let n = plan.contacts().len();
        CgrRouter {
            plan,
            booked: alloc::vec![[0; 3]; n],
            down: alloc::vec![false; n],
            touched: alloc::vec![0; n.div_ceil(64)],
            bookings: BTreeMap::new(),
            next_booking: 1,
            routes: BTreeMap::new(),
            misses: BTreeMap::new(),
            scratch: Scratch::default(),
        }
    }

    /// The plan routed over.
    pub fn plan(&self) -> &ContactPlan {
        &self.plan
    }

    fn is_touched(&self, contact: ContactId) -> bool {
        self.touched.get(contact as usize / 64).is_some_and(|w| w & (1 << (contact % 64)) != 0)
    }

    fn touch(&mut self, contact: ContactId) {
        if let Some(w) = self.touched.get_mut(contact as usize / 64) {
            *w |= 1 << (contact % 64);
        }
    }

    /// Bytes booked on a contact by bundles of `priority` or higher.
    pub fn booked_at_or_above(&self, contact: ContactId, priority: Priority) -> u64 {
        self.booked.get(contact as usize).map_or(0, |b| b.iter().skip(priority as usize).sum())
    }

    /// Routes cached towards `destination` from `local`.
    pub fn cached_routes(&self, local: NodeId, destination: NodeId) -> &[Route] {
        self.routes.get(&(local, destination)).map_or(&[], Vec::as_slice)
    }

    /// Up to `k` distinct routes, found by suppressing each route's limiting (earliest-ending)
    /// contact and searching again (contact suppression, CCSDS 734.3-B-1 3.2.6.9).
    pub fn route_list(&mut self, query: &RouteQuery, k: usize) -> Vec<Route> {
        let mut suppressed = self.down.clone();
        let mut found = Vec::new();
        while found.len() < k {
            let state = Suppressed { suppressed: &suppressed };
            let Some(route) = search_with(&self.plan, query, &state, &mut self.scratch) else { break };
            let limiting =
                route.contacts.iter().copied().min_by_key(|&c| self.plan.contact(c).map_or(PlanTime::NEVER, |c| c.end));
            if let Some(slot) = limiting.and_then(|c| suppressed.get_mut(c as usize)) {
                *slot = true;
            }
            found.push(route);
        }
        found
    }

    /// A contact failed or left the plan: routes over it are dropped, nothing is booked on it.
    pub fn contact_down(&mut self, contact: ContactId) {
        self.touch(contact);
        if let Some(d) = self.down.get_mut(contact as usize) {
            *d = true;
        }
        for list in self.routes.values_mut() {
            list.retain(|r| !r.contacts.contains(&contact));
        }
    }

    /// Adds contacts to the plan (ids of existing contacts do not change). Cached routes that
    /// arrive after a new contact starts might now be beaten, so only those are dropped; the
    /// negative cache is cleared.
    pub fn add_contacts(&mut self, contacts: &[super::contact::Contact]) {
        if contacts.is_empty() {
            return;
        }
        let mut all = self.plan.contacts().to_vec();
        all.extend_from_slice(contacts);
        let earliest = contacts.iter().map(|c| c.start).min().unwrap_or(PlanTime::NEVER);
        self.plan = Arc::new(ContactPlan::new(all, self.plan.reference()));
        self.booked.resize(self.plan.contacts().len(), [0; 3]);
        self.down.resize(self.plan.contacts().len(), false);
        self.touched.resize(self.plan.contacts().len().div_ceil(64), 0);
        for list in self.routes.values_mut() {
            list.retain(|r| r.arrival <= earliest);
        }
        self.misses.clear();
    }

    /// Projected arrival of a bundle over a known route, with today's bookings, or `None` if
    /// the route no longer works for it.
    fn revalidate(&self, route: &Route, request: &RouteRequest) -> Option<Route> {
        let view = PriorityView { router: self, priority: request.priority };
        let mut t = request.now;
        let mut termination = PlanTime::NEVER;
        for &id in &route.contacts {
            let c = self.plan.contact(id)?;
            if view.suppressed(id) {
                return None;
            }
            let booked = view.booked_bytes(id);
            if c.volume().saturating_sub(booked) < request.size {
                return None;
            }
            let tx = t.max(c.start.plus(transmission_nanos(booked, c.rate_bytes_per_sec)));
            let done = tx.plus(c.transmission_nanos(request.size));
            if done > c.end {
                return None;
            }
            t = done.plus(c.owlt_nanos);
            termination = termination.min(c.end);
        }
        (t <= request.expiry).then(|| Route {
            contacts: route.contacts.clone(),
            arrival: t,
            termination,
            entry_node: route.entry_node,
        })
    }

    /// The search for a request: its deadline, and neither the previous hop nor the hops to
    /// avoid as first hops (unless one is the destination itself).
    fn query_for(request: &RouteRequest, size: u64) -> RouteQuery {
        let mut query = RouteQuery::new(request.local, request.destination, request.now, size);
        query.deadline = request.expiry;
        let excluded = request.previous_hop.into_iter().chain(request.avoid.iter().copied());
        query.excluded_first_hops.extend(excluded.filter(|&p| p != request.destination));
        query
    }

    fn best_cached(&self, request: &RouteRequest) -> Option<Route> {
        let list = self.routes.get(&(request.local, request.destination))?;
        list.iter()
            .filter(|r| request.previous_hop != Some(r.entry_node) || r.entry_node == request.destination)
            .filter_map(|r| self.revalidate(r, request))
            .min_by_key(|r| (r.arrival, r.hops(), core::cmp::Reverse(r.termination), r.entry_node))
    }

    /// A miss remembered for a request at least as hard: no earlier, no smaller, no longer to
    /// live, excluding at least as much.
    fn known_miss(&self, request: &RouteRequest) -> Option<NoRoute> {
        self.misses
            .get(&(request.local, request.destination))
            .filter(|m| {
                request.now >= m.since
                    && request.size >= m.size
                    && request.expiry <= m.deadline
                    && (m.excluded.is_none() || m.excluded == request.previous_hop)
            })
            .map(|m| m.why)
    }

    fn book(&mut self, route: &Route, request: &RouteRequest) -> (BookingId, Vec<BookingId>) {
        let id = BookingId(core::num::NonZeroU64::new(self.next_booking).unwrap_or(core::num::NonZeroU64::MIN));
        self.next_booking += 1;
        let p = request.priority as usize;
        let mut bumped = Vec::new();
        for &c in &route.contacts {
            self.touch(c);
            if let Some(slot) = self.booked.get_mut(c as usize).and_then(|b| b.get_mut(p)) {
                *slot = slot.saturating_add(request.size);
            }
            // Overbooked: displace the most recent lower-priority bookings until it fits.
            let volume = self.plan.volume(c);
            while self.booked.get(c as usize).map_or(0, |b| b.iter().sum::<u64>()) > volume {
                let victim = self
                    .bookings
                    .iter()
                    .rev()
                    .find(|(_, b)| b.priority < request.priority && b.contacts.contains(&c))
                    .map(|(id, _)| *id);
                let Some(victim) = victim else { break };
                self.release(victim);
                bumped.push(victim);
            }
        }
        self.bookings
            .insert(id, Booking { contacts: route.contacts.clone(), size: request.size, priority: request.priority });
        (id, bumped)
    }
}

/// Search state with an explicit suppression set (for route lists).
struct Suppressed<'a> {
    suppressed: &'a [bool],
}

impl ContactState for Suppressed<'_> {
    fn suppressed(&self, contact: ContactId) -> bool {
        self.suppressed.get(contact as usize).copied().unwrap_or(true)
    }
}

impl Router for CgrRouter {
    fn route(&mut self, request: &RouteRequest) -> Result<Forwarding, NoRoute> {
        let cached = if request.avoid.is_empty() { self.best_cached(request) } else { None };
        let route = match cached {
            Some(route) => route,
            // A bundle that came back round a loop: a fresh search without the hops that led
            // it there, kept out of the caches (they hold unrestricted answers).
            None if !request.avoid.is_empty() => {
                let query = Self::query_for(request, request.size);
                let mut scratch = core::mem::take(&mut self.scratch);
                let view = PriorityView { router: self, priority: request.priority };
                let found = search_with(&self.plan, &query, &view, &mut scratch);
                self.scratch = scratch;
                found.ok_or(NoRoute::NoTimelyContact)?
            }
            None => {
                if let Some(why) = self.known_miss(request) {
                    return Err(why);
                }
                let query = Self::query_for(request, request.size);
                let mut scratch = core::mem::take(&mut self.scratch);
                let view = PriorityView { router: self, priority: request.priority };
                let found = search_with(&self.plan, &query, &view, &mut scratch);
                self.scratch = scratch;
                let Some(route) = found else {
                    return Err(self.classify_miss(request, query));
                };
                let list = self.routes.entry((request.local, request.destination)).or_default();
                list.retain(|r| r.termination > request.now);
                if list.len() >= ROUTES_PER_DESTINATION {
                    list.remove(0);
                }
                list.push(route.clone());
                route
            }
        };
        let first = *route.contacts.first().ok_or(NoRoute::NoKnownRoute)?;
        let (booking, bumped) = self.book(&route, request);
        Ok(Forwarding {
            next_hop: route.entry_node,
            contact: Some(first),
            route: Some(route),
            booking: Some(booking),
            bumped,
        })
    }

    fn add_contacts(&mut self, contacts: &[super::contact::Contact]) {
        CgrRouter::add_contacts(self, contacts);
    }

    fn transferable_bytes(&mut self, request: &RouteRequest) -> Option<u64> {
        // Only routes that can take a sixty-fourth of the bundle: a nearly full contact would
        // otherwise offer a sliver, and the bundle would go out in slivers.
        let query = Self::query_for(request, (request.size / 64).max(1));
        let mut scratch = core::mem::take(&mut self.scratch);
        let view = PriorityView { router: self, priority: request.priority };
        let route = search_with(&self.plan, &query, &view, &mut scratch);
        self.scratch = scratch;
        route?
            .contacts
            .iter()
            .map(|&c| self.plan.volume(c).saturating_sub(self.booked_at_or_above(c, request.priority)))
            .min()
    }

    fn light_time_ms(&self, from: NodeId, to: NodeId) -> Option<u64> {
        self.plan.max_owlt_nanos(from, to).map(|ns| u64::try_from(ns).unwrap_or(0).div_ceil(1_000_000))
    }

    fn release(&mut self, booking: BookingId) {
        let Some(b) = self.bookings.remove(&booking) else { return };
        for c in b.contacts {
            if let Some(slot) = self.booked.get_mut(c as usize).and_then(|v| v.get_mut(b.priority as usize)) {
                *slot = slot.saturating_sub(b.size);
            }
        }
        self.misses.clear();
    }
}

impl CgrRouter {
    /// No route for this bundle: is there none at all (no known route) or none in time / with
    /// the volume (no timely contact)? Remembers the miss until the plan or bookings change.
    fn classify_miss(&mut self, request: &RouteRequest, mut query: RouteQuery) -> NoRoute {
        query.deadline = PlanTime::NEVER;
        query.size = 0;
        let exists =
            search_with(&self.plan, &query, &Suppressed { suppressed: &self.down }, &mut self.scratch).is_some();
        let why = if exists { NoRoute::NoTimelyContact } else { NoRoute::NoKnownRoute };
        self.misses.insert(
            (request.local, request.destination),
            Miss {
                since: request.now,
                size: request.size,
                deadline: request.expiry,
                excluded: request.previous_hop,
                why,
            },
        );
        why
    }
}

#[cfg(test)]
mod tests;
