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

use super::contact::{Contact, ContactId, NodeId};
use super::plan::{ContactPlan, NodeIndex};
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
    entry: NodeId,
    parent: u32,
    via: ContactId,
}

/// Heap order: arrival, then labels before cursor events, hops, later termination, lower
/// entry node; the last field is a label index or a node index.
type Event = Reverse<(PlanTime, u8, u16, Reverse<PlanTime>, NodeId, u32)>;

const LABEL: u8 = 0;
const CURSOR: u8 = 1;

/// Buffers reused across searches, so a router answering many queries allocates once.
#[derive(Debug, Default)]
pub struct Scratch {
    labels: Vec<Label>,
    heap: BinaryHeap<Event>,
    best_hops: Vec<u16>,
    best_label: Vec<u32>,
    cursor: Vec<u32>,
    open: Vec<ContactId>,
    /// Per node, the best label pushed so far (not yet settled, maybe): a new label it
    /// dominates need not enter the heap.
    tentative: Vec<u32>,
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
        self.cursor.resize(nodes, NONE);
        self.tentative.clear();
        self.tentative.resize(nodes, NONE);
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
    while let Some(Reverse((time, kind, _, _, _, index))) = search.s.heap.pop() {
        if kind == CURSOR {
            search.advance_cursor(index, time);
            continue;
        }
        let label = *search.s.labels.get(index as usize)?;
        let node = label.node as usize;
        if search.s.best_hops.get(node).is_none_or(|&h| label.hops >= h) {
            continue;
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
            if let Some(slot) =
                self.s.tentative.get_mut(node).filter(|_| (label.arrival, label.hops) < (t.arrival, t.hops))
            {
                *slot = index;
            }
        } else if let Some(slot) = self.s.tentative.get_mut(node) {
            *slot = index;
        }
        self.s.labels.push(label);
        self.s.heap.push(Reverse((label.arrival, LABEL, label.hops, Reverse(label.termination), label.entry, index)));
    }

    /// Relaxes the contacts open at the label's arrival and starts the node's cursor.
    fn settle(&mut self, index: u32, label: Label) {
        let plan = self.plan;
        let mut open = core::mem::take(&mut self.s.open);
        open.clear();
        plan.for_each_open(label.node, label.arrival, |id, _| open.push(id));
        for &id in &open {
            if let Some(c) = plan.contact(id) {
                self.relax(index, &label, id, c);
            }
        }
        self.s.open = open;
        let node = label.node as usize;
        if self.s.cursor.get(node) == Some(&NONE) {
            let next = plan.first_starting_after(label.node, label.arrival);
            if let Some(cursor) = self.s.cursor.get_mut(node) {
                *cursor = next as u32;
            }
            self.push_cursor(label.node);
        }
    }

    /// Moves the node's cursor to its next contact that could carry the bundle at all (enough
    /// volume, long enough, not suppressed) and schedules it. Skipping here costs a memory walk;
    /// a heap event per hopeless contact would dominate searches for huge bundles.
    fn push_cursor(&mut self, node: NodeIndex) {
        let Some(&start) = self.s.cursor.get(node as usize) else { return };
        let outgoing = self.plan.outgoing(node);
        let size = self.query.size;
        let mut position = start as usize;
        while let Some(&id) = outgoing.get(position) {
            if let Some(c) = self.plan.contact(id).filter(|c| self.could_carry(id, c, size)) {
                if let Some(cursor) = self.s.cursor.get_mut(node as usize) {
                    *cursor = position as u32;
                }
                self.s.heap.push(Reverse((c.start, CURSOR, 0, Reverse(PlanTime(0)), 0, node)));
                return;
            }
            position += 1;
        }
        if let Some(cursor) = self.s.cursor.get_mut(node as usize) {
            *cursor = position as u32;
        }
    }

    /// Whether the contact could carry the bundle from its start, whatever the label.
    fn could_carry(&self, id: ContactId, c: &Contact, size: u64) -> bool {
        if self.state.suppressed(id) {
            return false;
        }
        let booked = self.state.booked_bytes(id);
        self.plan.volume(id).saturating_sub(booked) >= size
            && c.start.plus(transmission_nanos(booked, c.rate_bytes_per_sec)).plus(c.transmission_nanos(size)) <= c.end
    }

    /// A contact of `node` starts now: take it with the node's best label so far.
    fn advance_cursor(&mut self, node: NodeIndex, _now: PlanTime) {
        let n = node as usize;
        let position = self.s.cursor.get(n).copied().unwrap_or(NONE);
        let Some(&id) = self.plan.outgoing(node).get(position as usize) else { return };
        let best = self.s.best_label.get(n).copied().unwrap_or(NONE);
        if let (Some(c), Some(&label)) = (self.plan.contact(id), self.s.labels.get(best as usize)) {
            self.relax(best, &label, id, c);
        }
        if let Some(cursor) = self.s.cursor.get_mut(n) {
            *cursor = position + 1;
        }
        self.push_cursor(node);
    }

    fn relax(&mut self, parent: u32, label: &Label, id: ContactId, c: &Contact) {
        let to = self.plan.to_index(id);
        let hops = label.hops.saturating_add(1);
        if self.s.best_hops.get(to as usize).is_none_or(|&h| hops >= h) || self.state.suppressed(id) {
            return;
        }
        if label.node == self.source && self.query.excluded_first_hops.contains(&c.to) {
            return;
        }
        let booked = self.state.booked_bytes(id);
        if self.plan.volume(id).saturating_sub(booked) < self.query.size {
            return;
        }
        let backlog = transmission_nanos(booked, c.rate_bytes_per_sec);
        let tx = label.arrival.max(c.start.plus(backlog));
        let done = tx.plus(c.transmission_nanos(self.query.size));
        if done > c.end {
            return;
        }
        let arrival = done.plus(c.owlt_nanos);
        if arrival > self.query.deadline {
            return;
        }
        let first_hop = label.node == self.source;
        self.push_label(Label {
            node: to,
            arrival,
            hops,
            termination: label.termination.min(c.end),
            entry: if first_hop { c.to } else { label.entry },
            parent,
            via: id,
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
            last.map_or((PlanTime(0), PlanTime(0), 0), |l| (l.arrival, l.termination, l.entry));
        Route { contacts, arrival, termination, entry_node }
    }
}
