//! Earliest-arrival route search over the contact graph (CCSDS 734.3-B-1 3.2.6, "SABR").
//!
//! A label is "the bundle can be at node N at time t after h contacts". Labels are settled in
//! order of (arrival, hops, later route termination, lower entry node) — SABR's tie-break
//! order — and a node keeps a label only if it has fewer hops than every label settled there
//! before (which all arrived no later): the Pareto front of (arrival, hops). The first label
//! settled at the destination is the earliest arrival, and among the routes that reach it the
//! one with the fewest hops.
//!
//! Contacts are expanded lazily: when a label settles at node N at time t it relaxes the
//! contacts open at t; contacts that start later are visited by a per-node cursor, one heap
//! event per contact start, in time order, using N's best label at that moment. The search
//! stops as soon as the destination settles, so it touches only contacts that start before
//! the earliest arrival — not the whole day's plan.
//!
//! Over a contact u→v [start, end] at rate r with light time d, a bundle of `size` bytes that
//! is at u at time a starts at `tx = max(a, start + backlog/r)` (backlog: bytes already booked
//! on the contact ahead of it), needs `tx + size/r ≤ end` and `size ≤ volume − booked`, and
//! reaches v at `tx + size/r + d`.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

use super::contact::{ContactId, NodeId};
use super::plan::{ContactPlan, Edge, NodeIndex};
use super::time::{PlanTime, transmission_nanos};

const NONE: u32 = u32::MAX;

/// What the search needs to know about contacts beyond the plan: volume already booked and
/// contacts to leave out (failed, or suppressed while building a route list).
pub trait ContactState {
    /// Bytes booked on the contact ahead of the bundle being routed.
    fn booked_bytes(&self, _contact: ContactId) -> u64 {
        0
    }

    /// True to leave the contact out of the search.
    fn suppressed(&self, _contact: ContactId) -> bool {
        false
    }
}

/// An empty network: nothing booked, nothing suppressed (the reference-query semantics).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyNetwork;

impl ContactState for EmptyNetwork {}

/// One route request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQuery {
    /// Where the bundle is.
    pub source: NodeId,
    /// Where it must go.
    pub destination: NodeId,
    /// When it is at the source.
    pub start: PlanTime,
    /// Bundle size in bytes (0: pure time search, as classic CGR).
    pub size: u64,
    /// Routes arriving later than this are useless (the bundle's expiry).
    pub deadline: PlanTime,
    /// First hops not to take (the node the bundle came from, unless loops are allowed).
    pub excluded_first_hops: Vec<NodeId>,
}

impl RouteQuery {
    /// A query without deadline or exclusions.
    pub fn new(source: NodeId, destination: NodeId, start: PlanTime, size: u64) -> Self {
        RouteQuery { source, destination, start, size, deadline: PlanTime::NEVER, excluded_first_hops: Vec::new() }
    }
}

/// A route: the contacts to take, in order, and what they promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Contacts from source to destination.
    pub contacts: Vec<ContactId>,
    /// Earliest arrival at the destination.
    pub arrival: PlanTime,
    /// Earliest end among the route's contacts: the route is gone after this.
    pub termination: PlanTime,
    /// The first hop's receiving node.
    pub entry_node: NodeId,
}

impl Route {
    /// Number of contacts.
    pub fn hops(&self) -> usize {
        self.contacts.len()
    }

    /// The nodes visited, source first.
    pub fn nodes(&self, plan: &ContactPlan) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> =
            self.contacts.first().and_then(|&c| plan.contact(c)).map(|c| c.from).into_iter().collect();
        nodes.extend(self.contacts.iter().filter_map(|&c| plan.contact(c)).map(|c| c.to));
        nodes
    }
}

#[derive(Debug, Clone, Copy)]
struct Label {
    node: NodeIndex,
    arrival: PlanTime,
    hops: u16,
    termination: PlanTime,
    /// The first hop's receiving node, as a node index (same order as node numbers).
    entry: NodeIndex,
    parent: u32,
    via: ContactId,
}

/// A heap event packed in 16 bytes (the heap is a third of the search's time): arrival in the
/// high half; in the low half, labels before cursor events, then fewer hops, then the label
/// index (or, for a cursor event, the node index). Termination and entry node, SABR's last two
/// tie-breaks, are settled through the per-node tentative best label instead.
type Event = Reverse<u128>;

const CURSOR_BIT: u64 = 1 << 63;

fn event(time: PlanTime, low: u64) -> Event {
    let high = (time.0 as u64) ^ (1 << 63);
    Reverse((u128::from(high) << 64) | u128::from(low))
}

fn label_event(label: &Label, index: u32) -> Event {
    event(label.arrival, (u64::from(label.hops) << 32) | u64::from(index))
}

fn cursor_event(time: PlanTime, node: NodeIndex) -> Event {
    event(time, CURSOR_BIT | u64::from(node))
}

/// Buffers reused across searches, so a router answering many queries allocates once.
#[derive(Debug, Default)]
pub struct Scratch {
    labels: Vec<Label>,
    heap: BinaryHeap<Event>,
    best_hops: Vec<u16>,
    best_label: Vec<u32>,
    /// Per node: global position in the plan's edges of the next contact to visit, and the end
    /// of the node's edges.
    cursor: Vec<(u32, u32)>,
    open: Vec<Edge>,
    /// Per node, the best label pushed so far (not yet settled, maybe): a new label it
    /// dominates need not enter the heap.
    tentative: Vec<u32>,
    /// For big bundles: the nodes from which some chain of contacts big enough leads to the
    /// destination. Empty when not computed.
    alive: Vec<bool>,
    queue: Vec<NodeIndex>,
}

impl Scratch {
    fn reset(&mut self, nodes: usize) {
        self.labels.clear();
        self.heap.clear();
        self.best_hops.clear();
        self.best_hops.resize(nodes, u16::MAX);
        self.best_label.clear();
        self.best_label.resize(nodes, NONE);
        self.cursor.clear();
        self.cursor.resize(nodes, (NONE, NONE));
        self.tentative.clear();
        self.tentative.resize(nodes, NONE);
        self.alive.clear();
    }

    /// Marks the nodes that reach `destination` over sender→receiver pairs whose largest
    /// contact carries `size` bytes (ignoring time: a superset of where a route can pass).
    fn mark_alive(&mut self, plan: &ContactPlan, destination: NodeIndex, size: u64) {
        self.alive.clear();
        self.alive.resize(plan.node_count(), false);
        self.queue.clear();
        self.queue.push(destination);
        if let Some(a) = self.alive.get_mut(destination as usize) {
            *a = true;
        }
        while let Some(node) = self.queue.pop() {
            for &(from, volume) in plan.senders(node) {
                if volume < size {
                    break;
                }
                if let Some(a) = self.alive.get_mut(from as usize).filter(|a| !**a) {
                    *a = true;
                    self.queue.push(from);
                }
            }
        }
    }
}

/// The earliest-arrival route for `query`, or `None` when no route exists.
pub fn search(plan: &ContactPlan, query: &RouteQuery, state: &impl ContactState) -> Option<Route> {
    search_with(plan, query, state, &mut Scratch::default())
}

/// [`search`] reusing `scratch`'s buffers.
pub fn search_with(
    plan: &ContactPlan,
    query: &RouteQuery,
    state: &impl ContactState,
    scratch: &mut Scratch,
) -> Option<Route> {
    let source = plan.node_index(query.source)?;
    let destination = plan.node_index(query.destination)?;
    if source == destination {
        return None;
    }
    scratch.reset(plan.node_count());
    // A bundle bigger than most contacts can pass through few nodes: find them first, so an
    // unroutable 1 TB bundle costs a small graph walk, not a whole day of contacts.
    if query.size > plan.median_volume() {
        scratch.mark_alive(plan, destination, query.size);
        if !scratch.alive.get(source as usize).copied().unwrap_or(false) {
            return None;
        }
    }
    let mut search = Search { plan, query, state, s: scratch, source };
    search.push_label(Label {
        node: source,
        arrival: query.start,
        hops: 0,
        termination: PlanTime::NEVER,
        entry: 0,
        parent: NONE,
        via: 0,
    });
    while let Some(Reverse(key)) = search.s.heap.pop() {
        let low = key as u64;
        if low & CURSOR_BIT != 0 {
            search.advance_cursor(low as u32);
            continue;
        }
        let mut index = low as u32;
        let mut label = *search.s.labels.get(index as usize)?;
        let node = label.node as usize;
        if search.s.best_hops.get(node).is_none_or(|&h| label.hops >= h) {
            continue;
        }
        // Among labels tying on (arrival, hops), the node's tentative best wins on termination
        // and entry node.
        let tentative = search.s.tentative.get(node).copied().unwrap_or(NONE);
        if let Some(best) =
            search.s.labels.get(tentative as usize).filter(|b| (b.arrival, b.hops) == (label.arrival, label.hops))
        {
            index = tentative;
            label = *best;
        }
        if let (Some(hops), Some(best)) = (search.s.best_hops.get_mut(node), search.s.best_label.get_mut(node)) {
            *hops = label.hops;
            *best = index;
        }
        if label.node == destination {
            return Some(search.route(index));
        }
        search.settle(index, label);
    }
    None
}

/// SABR's order of preference: earlier arrival, fewer hops, later termination, lower entry node.
fn rank(l: &Label) -> (PlanTime, u16, Reverse<PlanTime>, NodeIndex) {
    (l.arrival, l.hops, Reverse(l.termination), l.entry)
}

/// True when `a` is at least as good as `b` on every criterion, so `b` can never win: no later
/// and no more hops, and when both tie, no worse on termination and entry node.
fn dominates(a: &Label, b: &Label) -> bool {
    if a.arrival > b.arrival || a.hops > b.hops {
        return false;
    }
    if a.arrival < b.arrival || a.hops < b.hops {
        return true;
    }
    (Reverse(a.termination), a.entry) <= (Reverse(b.termination), b.entry)
}

struct Search<'a, S> {
    plan: &'a ContactPlan,
    query: &'a RouteQuery,
    state: &'a S,
    s: &'a mut Scratch,
    source: NodeIndex,
}

impl<S: ContactState> Search<'_, S> {
    fn push_label(&mut self, label: Label) {
        let index = self.s.labels.len() as u32;
        let node = label.node as usize;
        if let Some(&t) = self.s.tentative.get(node).and_then(|&t| self.s.labels.get(t as usize)) {
            if dominates(&t, &label) {
                return;
            }
            if let Some(slot) = self.s.tentative.get_mut(node).filter(|_| rank(&label) < rank(&t)) {
                *slot = index;
            }
        } else if let Some(slot) = self.s.tentative.get_mut(node) {
            *slot = index;
        }
        self.s.labels.push(label);
        self.s.heap.push(label_event(&label, index));
    }

    /// Relaxes the contacts open at the label's arrival and starts the node's cursor.
    fn settle(&mut self, index: u32, label: Label) {
        let plan = self.plan;
        let mut open = core::mem::take(&mut self.s.open);
        open.clear();
        let (next, end) = plan.visit(label.node, label.arrival, |e| open.push(*e));
        for e in &open {
            self.relax(index, &label, e);
        }
        self.s.open = open;
        let node = label.node as usize;
        if let Some(cursor) = self.s.cursor.get_mut(node).filter(|c| c.0 == NONE) {
            *cursor = (next as u32, end as u32);
            self.push_cursor(label.node);
        }
    }

    /// Moves the node's cursor to its next contact that could carry the bundle at all (enough
    /// volume, long enough, not suppressed) and schedules it. Skipping here costs a memory walk;
    /// a heap event per hopeless contact would dominate searches for huge bundles.
    fn push_cursor(&mut self, node: NodeIndex) {
        let Some(&(mut position, end)) = self.s.cursor.get(node as usize) else { return };
        while position < end {
            if let Some(e) = self.plan.edge(position as usize).filter(|e| self.could_carry(e)) {
                let start = e.start;
                if let Some(cursor) = self.s.cursor.get_mut(node as usize) {
                    cursor.0 = position;
                }
                self.s.heap.push(cursor_event(start, node));
                return;
            }
            position += 1;
        }
        if let Some(cursor) = self.s.cursor.get_mut(node as usize) {
            cursor.0 = position;
        }
    }

    /// Whether the contact could carry the bundle from its start, whatever the label.
    fn could_carry(&self, e: &Edge) -> bool {
        if self.state.suppressed(e.id) {
            return false;
        }
        let booked = self.state.booked_bytes(e.id);
        e.volume.saturating_sub(booked) >= self.query.size
            && e.start
                .plus(transmission_nanos(booked, e.rate_bytes_per_sec))
                .plus(e.transmission_nanos(self.query.size))
                <= e.end
    }

    /// A contact of `node` starts now: take it with the node's best label so far.
    fn advance_cursor(&mut self, node: NodeIndex) {
        let n = node as usize;
        let Some(&(position, _)) = self.s.cursor.get(n) else { return };
        let best = self.s.best_label.get(n).copied().unwrap_or(NONE);
        if let (Some(e), Some(&label)) = (self.plan.edge(position as usize), self.s.labels.get(best as usize)) {
            let e = *e;
            self.relax(best, &label, &e);
        }
        if let Some(cursor) = self.s.cursor.get_mut(n) {
            cursor.0 = position + 1;
        }
        self.push_cursor(node);
    }

    fn relax(&mut self, parent: u32, label: &Label, e: &Edge) {
        if !self.s.alive.is_empty() && !self.s.alive.get(e.to as usize).copied().unwrap_or(false) {
            return;
        }
        let hops = label.hops.saturating_add(1);
        if self.s.best_hops.get(e.to as usize).is_none_or(|&h| hops >= h) || self.state.suppressed(e.id) {
            return;
        }
        let first_hop = label.node == self.source;
        if first_hop && self.query.excluded_first_hops.contains(&self.plan.node_id(e.to)) {
            return;
        }
        let booked = self.state.booked_bytes(e.id);
        if e.volume.saturating_sub(booked) < self.query.size {
            return;
        }
        let backlog = transmission_nanos(booked, e.rate_bytes_per_sec);
        let tx = label.arrival.max(e.start.plus(backlog));
        let done = tx.plus(e.transmission_nanos(self.query.size));
        if done > e.end {
            return;
        }
        let arrival = done.plus(e.owlt_nanos);
        if arrival > self.query.deadline {
            return;
        }
        self.push_label(Label {
            node: e.to,
            arrival,
            hops,
            termination: label.termination.min(e.end),
            entry: if first_hop { e.to } else { label.entry },
            parent,
            via: e.id,
        });
    }

    fn route(&self, index: u32) -> Route {
        let mut contacts = Vec::new();
        let mut at = index;
        let last = self.s.labels.get(index as usize).copied();
        while let Some(label) = self.s.labels.get(at as usize) {
            if label.parent == NONE {
                break;
            }
            contacts.push(label.via);
            at = label.parent;
        }
        contacts.reverse();
        let (arrival, termination, entry_node) =
            last.map_or((PlanTime(0), PlanTime(0), 0), |l| (l.arrival, l.termination, self.plan.node_id(l.entry)));
        Route { contacts, arrival, termination, entry_node }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::routing::contact::Contact;

    fn contact(from: NodeId, to: NodeId, start: i64, end: i64) -> Contact {
        Contact {
            from,
            to,
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(end),
            rate_bytes_per_sec: 0,
            owlt_nanos: 1_000_000_000,
            confidence: 1.0,
        }
    }

    fn route(contacts: alloc::vec::Vec<Contact>) -> Route {
        let plan = ContactPlan::new(contacts, None);
        search(&plan, &RouteQuery::new(1, 9, PlanTime::from_secs(0), 10), &EmptyNetwork).unwrap()
    }

    #[test]
    fn ties_go_to_the_later_terminating_route() {
        // Two 2-hop routes arriving at 2 s; via 3 the route lasts until 50 s, via 2 until 20 s.
        let r = route(vec![contact(1, 2, 0, 20), contact(2, 9, 0, 100), contact(1, 3, 0, 50), contact(3, 9, 0, 100)]);
        assert_eq!(r.arrival, PlanTime::from_secs(2));
        assert_eq!((r.entry_node, r.termination), (3, PlanTime::from_secs(50)));
    }

    #[test]
    fn then_to_the_lower_entry_node() {
        let r = route(vec![contact(1, 5, 0, 20), contact(5, 9, 0, 100), contact(1, 4, 0, 20), contact(4, 9, 0, 100)]);
        assert_eq!(r.entry_node, 4);
    }

    #[test]
    fn fewer_hops_win_at_equal_arrival() {
        // Direct at 5 s (1 hop) against 2 hops arriving at 2 s: the earlier wins; then at equal
        // arrival the direct contact wins.
        let r = route(vec![contact(1, 9, 4, 20), contact(1, 2, 0, 20), contact(2, 9, 0, 20)]);
        assert_eq!((r.arrival, r.hops()), (PlanTime::from_secs(2), 2));
        let r = route(vec![contact(1, 9, 1, 20), contact(1, 2, 0, 20), contact(2, 9, 0, 20)]);
        assert_eq!((r.arrival, r.hops()), (PlanTime::from_secs(2), 1));
    }
}
