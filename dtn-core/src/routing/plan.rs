//! The contact plan: every contact, indexed per sending node for route search.
//!
//! Per node, contacts are kept sorted by start time in one contiguous run of [`Edge`]s, and
//! split into *persistent* ones (an hour or longer: terrestrial links, formation ISLs, relay
//! feeder links) and *short* ones (passes), so "which contacts are open at time t" costs an
//! interpolation search plus the few contacts that overlap t, not a scan of the node's day.

use alloc::vec::Vec;

use super::contact::{Contact, ContactId, NodeId};
use super::time::{NANOS_PER_SEC, PlanTime};
use crate::time::DtnTime;

/// Contacts at least this long are checked on every visit instead of being searched by time.
const PERSISTENT_NANOS: i64 = 3600 * NANOS_PER_SEC;

/// Index of a node in the plan's node table.
pub(crate) type NodeIndex = u32;

/// A contact as the route search reads it: everything in one 56-byte record, stored with the
/// other contacts of its sending node in start order, so settling a node walks one stretch of
/// memory instead of chasing ids across the whole plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub id: ContactId,
    pub to: NodeIndex,
    pub start: PlanTime,
    pub end: PlanTime,
    pub rate_bytes_per_sec: u64,
    pub owlt_nanos: i64,
    pub volume: u64,
    /// For short contacts: the latest end among this node's short contacts up to this one;
    /// `PlanTime(i64::MIN)` for persistent contacts.
    short_max_end: PlanTime,
}

impl Edge {
    /// Time to send `size` bytes.
    pub fn transmission_nanos(&self, size: u64) -> i64 {
        super::time::transmission_nanos(size, self.rate_bytes_per_sec)
    }
}

/// A contact plan ready for routing.
#[derive(Debug, Clone, Default)]
pub struct ContactPlan {
    contacts: Vec<Contact>,
    nodes: Vec<NodeId>,
    /// Every contact as an [`Edge`], grouped by sending node, each group in start order.
    edges: Vec<Edge>,
    /// `starts[i]` = `edges[i].start`, for searching by time in a dense array.
    starts: Vec<PlanTime>,
    /// Node `n`'s edges are `edges[edge_offsets[n]..edge_offsets[n + 1]]`.
    edge_offsets: Vec<u32>,
    /// Positions in `edges` of persistent contacts, grouped by node like `edges`.
    persistent: Vec<u32>,
    persistent_offsets: Vec<u32>,
    /// `position[id]` = where contact `id` sits in `edges`.
    position: Vec<u32>,
    reference: Option<DtnTime>,
}

impl ContactPlan {
    /// Indexes `contacts` (kept in the given order: a contact's id is its position).
    pub fn new(contacts: Vec<Contact>, reference: Option<DtnTime>) -> Self {
        let mut nodes: Vec<NodeId> = contacts.iter().flat_map(|c| [c.from, c.to]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let index_of = |n: NodeId| nodes.binary_search(&n).map_or(0, |i| i as NodeIndex);
        let mut order: Vec<ContactId> = (0..contacts.len() as ContactId).collect();
        order.sort_unstable_by_key(|&id| contacts.get(id as usize).map(|c| (index_of(c.from), c.start, c.end, id)));
        let mut edges = Vec::with_capacity(contacts.len());
        let mut position = alloc::vec![0u32; contacts.len()];
        let mut edge_offsets = alloc::vec![0u32; nodes.len() + 1];
        let mut persistent = Vec::new();
        let mut persistent_offsets = alloc::vec![0u32; nodes.len() + 1];
        let mut max_end = PlanTime(i64::MIN);
        let mut current = NodeIndex::MAX;
        for id in order {
            let Some(c) = contacts.get(id as usize) else { continue };
            let from = index_of(c.from);
            if from != current {
                current = from;
                max_end = PlanTime(i64::MIN);
            }
            let is_persistent = c.duration_nanos() >= PERSISTENT_NANOS;
            if is_persistent {
                persistent.push(edges.len() as u32);
                if let Some(o) = persistent_offsets.get_mut(from as usize + 1) {
                    *o += 1;
                }
            } else {
                max_end = max_end.max(c.end);
            }
            if let Some(p) = position.get_mut(id as usize) {
                *p = edges.len() as u32;
            }
            if let Some(o) = edge_offsets.get_mut(from as usize + 1) {
                *o += 1;
            }
            edges.push(Edge {
                id,
                to: index_of(c.to),
                start: c.start,
                end: c.end,
                rate_bytes_per_sec: c.rate_bytes_per_sec,
                owlt_nanos: c.owlt_nanos,
                volume: c.volume(),
                short_max_end: if is_persistent { PlanTime(i64::MIN) } else { max_end },
            });
        }
        for offsets in [&mut edge_offsets, &mut persistent_offsets] {
            for i in 1..offsets.len() {
                let previous = offsets.get(i - 1).copied().unwrap_or(0);
                if let Some(o) = offsets.get_mut(i) {
                    *o += previous;
                }
            }
        }
        let starts = edges.iter().map(|e| e.start).collect();
        ContactPlan { contacts, nodes, edges, starts, edge_offsets, persistent, persistent_offsets, position, reference }
    }

    /// All contacts; a contact's [`ContactId`] is its index.
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    /// One contact.
    pub fn contact(&self, id: ContactId) -> Option<&Contact> {
        self.contacts.get(id as usize)
    }

    /// Bytes a contact can carry (see [`Contact::volume`]); 0 for an unknown id.
    pub fn volume(&self, id: ContactId) -> u64 {
        self.position.get(id as usize).and_then(|&p| self.edges.get(p as usize)).map_or(0, |e| e.volume)
    }

    /// Every node that sends or receives in some contact, ascending.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The plan's reference time (ION's `@` line), if it has one.
    pub fn reference(&self) -> Option<DtnTime> {
        self.reference
    }

    /// Earliest start and latest end over all contacts.
    pub fn span(&self) -> Option<(PlanTime, PlanTime)> {
        let start = self.contacts.iter().map(|c| c.start).min()?;
        let end = self.contacts.iter().map(|c| c.end).max()?;
        Some((start, end))
    }

    pub(crate) fn node_index(&self, node: NodeId) -> Option<NodeIndex> {
        self.nodes.binary_search(&node).ok().map(|i| i as NodeIndex)
    }

    pub(crate) fn node_id(&self, index: NodeIndex) -> NodeId {
        self.nodes.get(index as usize).copied().unwrap_or_default()
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The range of `edges` holding `node`'s contacts.
    fn edge_range(&self, node: NodeIndex) -> core::ops::Range<usize> {
        let start = self.edge_offsets.get(node as usize).copied().unwrap_or(0) as usize;
        let end = self.edge_offsets.get(node as usize + 1).copied().unwrap_or(0) as usize;
        start..end.max(start)
    }

    /// The edge at a global position.
    pub(crate) fn edge(&self, position: usize) -> Option<&Edge> {
        self.edges.get(position)
    }

    /// Global position of `node`'s first contact starting after `t`, and of its last contact + 1.
    pub(crate) fn edges_starting_after(&self, node: NodeIndex, t: PlanTime) -> (usize, usize) {
        let range = self.edge_range(node);
        let starts = self.starts.get(range.clone()).unwrap_or(&[]);
        (range.start + count_not_after(starts, t), range.end)
    }

    /// Calls `f` for each outgoing contact of `node` open at `t` (start ≤ t ≤ end: a zero-byte
    /// bundle can still go at the very end).
    pub(crate) fn for_each_open(&self, node: NodeIndex, t: PlanTime, mut f: impl FnMut(&Edge)) {
        let p_start = self.persistent_offsets.get(node as usize).copied().unwrap_or(0) as usize;
        let p_end = self.persistent_offsets.get(node as usize + 1).copied().unwrap_or(0) as usize;
        for &position in self.persistent.get(p_start..p_end).unwrap_or(&[]) {
            if let Some(e) = self.edges.get(position as usize).filter(|e| e.start <= t && t <= e.end) {
                f(e);
            }
        }
        let range = self.edge_range(node);
        let starts = self.starts.get(range.clone()).unwrap_or(&[]);
        let upto = range.start + count_not_after(starts, t);
        for position in (range.start..upto).rev() {
            let Some(e) = self.edges.get(position) else { break };
            if e.short_max_end.0 == i64::MIN {
                continue;
            }
            if e.short_max_end < t {
                break;
            }
            if t <= e.end {
                f(e);
            }
        }
    }
}

/// How many of the sorted `starts` are ≤ `t`. Contacts spread fairly evenly over a plan, so
/// the search guesses the position by interpolation and gallops from there: a couple of
/// probes instead of a dozen cache-missing binary-search steps on a ground station's day.
fn count_not_after(starts: &[PlanTime], t: PlanTime) -> usize {
    let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else { return 0 };
    if t < first {
        return 0;
    }
    if t >= last {
        return starts.len();
    }
    let span = (last.0 - first.0).max(1) as i128;
    let guess = ((t.0 - first.0) as i128 * (starts.len() - 1) as i128 / span) as usize;
    let guess = guess.min(starts.len() - 1);
    let not_after = |i: usize| starts.get(i).is_some_and(|&s| s <= t);
    // Gallop to a bracket [lo, hi) with starts[lo] <= t < starts[hi], then bisect it.
    let (mut lo, mut hi);
    if not_after(guess) {
        lo = guess;
        let mut step = 1;
        hi = guess + 1;
        while hi < starts.len() && not_after(hi) {
            lo = hi;
            hi = (hi + step).min(starts.len());
            step *= 2;
        }
    } else {
        hi = guess;
        let mut step = 1;
        lo = guess.saturating_sub(1);
        while lo > 0 && !not_after(lo) {
            hi = lo;
            lo = lo.saturating_sub(step);
            step *= 2;
        }
        if !not_after(lo) {
            return 0;
        }
    }
    lo + 1 + starts.get(lo + 1..hi).map_or(0, |range| range.partition_point(|&s| s <= t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(from: NodeId, to: NodeId, start: i64, end: i64) -> Contact {
        Contact {
            from,
            to,
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(end),
            rate_bytes_per_sec: 1000,
            owlt_nanos: 0,
            confidence: 1.0,
        }
    }

    proptest::proptest! {
        #[test]
        fn count_not_after_matches_partition_point(
            mut starts in proptest::collection::vec(-50i64..200, 0..60),
            t in -60i64..220,
        ) {
            starts.sort_unstable();
            let starts: Vec<PlanTime> = starts.into_iter().map(PlanTime).collect();
            proptest::prop_assert_eq!(count_not_after(&starts, PlanTime(t)), starts.partition_point(|&s| s <= PlanTime(t)));
        }
    }

    #[test]
    fn open_contacts_at_a_time() {
        let plan = ContactPlan::new(
            alloc::vec![contact(1, 2, 0, 86_400), contact(1, 3, 10, 20), contact(1, 4, 15, 100), contact(1, 5, 30, 40)],
            None,
        );
        let node = plan.node_index(1).unwrap();
        let open = |t: i64| {
            let mut ids = Vec::new();
            plan.for_each_open(node, PlanTime::from_secs(t), |e| ids.push(e.id));
            ids.sort_unstable();
            ids
        };
        assert_eq!(open(5), [0]);
        assert_eq!(open(16), [0, 1, 2]);
        assert_eq!(open(20), [0, 1, 2]);
        assert_eq!(open(21), [0, 2]);
        assert_eq!(open(35), [0, 2, 3]);
        assert_eq!(open(101), [0]);
        assert_eq!(plan.edges_starting_after(node, PlanTime::from_secs(15)), (3, 4));
        assert_eq!(plan.volume(3), 10_000);
        assert_eq!(plan.nodes(), [1, 2, 3, 4, 5]);
        assert_eq!(plan.span(), Some((PlanTime::from_secs(0), PlanTime::from_secs(86_400))));
    }
}
