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

/// Node `n`'s contacts are `edges[first..end]`, its persistent ones `persistent[p_first..p_end]`:
/// one 16-byte record read per visit.
#[derive(Debug, Clone, Copy, Default)]
struct NodeSpan {
    first: u32,
    end: u32,
    p_first: u32,
    p_end: u32,
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
    /// Where each node's edges and persistent edges lie.
    spans: Vec<NodeSpan>,
    /// Copies of the persistent contacts' edges, grouped by node: checked on every visit.
    persistent: Vec<Edge>,
    /// `position[id]` = where contact `id` sits in `edges`.
    position: Vec<u32>,
    /// Per receiving node, its senders with the largest volume any of their contacts to it
    /// carries, largest first: `senders[sender_offsets[n]..sender_offsets[n + 1]]`.
    senders: Vec<(NodeIndex, u64)>,
    sender_offsets: Vec<u32>,
    /// The median contact volume: bundles above it are rare enough that pruning the search to
    /// nodes that can pass them on pays off.
    median_volume: u64,
    reference: Option<DtnTime>,
}

impl ContactPlan {
    /// Indexes `contacts` (kept in the given order: a contact's id is its position).
    pub fn new(contacts: Vec<Contact>, reference: Option<DtnTime>) -> Self {
        let mut nodes: Vec<NodeId> = contacts.iter().flat_map(|c| [c.from, c.to]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let index_of = |n: NodeId| nodes.binary_search(&n).map_or(0, |i| i as NodeIndex);
        // Sort plain keys, not ids through a closure: 600 k contacts make the difference
        // between 50 ms and most of a second.
        let mut keys: Vec<(NodeIndex, PlanTime, PlanTime, ContactId)> =
            contacts.iter().enumerate().map(|(id, c)| (index_of(c.from), c.start, c.end, id as ContactId)).collect();
        keys.sort_unstable();
        let order = keys.into_iter().map(|(_, _, _, id)| id);
        let mut edges: Vec<Edge> = Vec::with_capacity(contacts.len());
        let mut position = alloc::vec![0u32; contacts.len()];
        let mut spans = alloc::vec![NodeSpan::default(); nodes.len()];
        let mut persistent = Vec::new();
        let mut max_end = PlanTime(i64::MIN);
        let mut current = NodeIndex::MAX;
        for id in order {
            let Some(c) = contacts.get(id as usize) else { continue };
            let from = index_of(c.from);
            let Some(span) = spans.get_mut(from as usize) else { continue };
            if from != current {
                current = from;
                max_end = PlanTime(i64::MIN);
                *span = NodeSpan {
                    first: edges.len() as u32,
                    end: edges.len() as u32,
                    p_first: persistent.len() as u32,
                    p_end: persistent.len() as u32,
                };
            }
            let is_persistent = c.duration_nanos() >= PERSISTENT_NANOS;
            if !is_persistent {
                max_end = max_end.max(c.end);
            }
            if let Some(p) = position.get_mut(id as usize) {
                *p = edges.len() as u32;
            }
            let edge = Edge {
                id,
                to: index_of(c.to),
                start: c.start,
                end: c.end,
                rate_bytes_per_sec: c.rate_bytes_per_sec,
                owlt_nanos: c.owlt_nanos,
                volume: c.volume(),
                short_max_end: if is_persistent { PlanTime(i64::MIN) } else { max_end },
            };
            edges.push(edge);
            span.end += 1;
            if is_persistent {
                persistent.push(edge);
                span.p_end += 1;
            }
        }
        let starts = edges.iter().map(|e| e.start).collect();
        let (senders, sender_offsets) = senders_by_volume(&edges, &spans, nodes.len());
        let mut volumes: Vec<u64> = edges.iter().map(|e| e.volume).collect();
        let median_volume = if volumes.is_empty() {
            0
        } else {
            let mid = volumes.len() / 2;
            *volumes.select_nth_unstable(mid).1
        };
        ContactPlan {
            contacts,
            nodes,
            edges,
            starts,
            spans,
            persistent,
            position,
            senders,
            sender_offsets,
            median_volume,
            reference,
        }
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

    /// The longest one-way light time of any contact `from → to` (looks at `from`'s contacts
    /// only).
    pub fn max_owlt_nanos(&self, from: NodeId, to: NodeId) -> Option<i64> {
        let (from, to) = (self.node_index(from)?, self.node_index(to)?);
        let span = self.spans.get(from as usize)?;
        self.edges
            .get(span.first as usize..span.end as usize)?
            .iter()
            .filter(|e| e.to == to)
            .map(|e| e.owlt_nanos)
            .max()
    }

    /// The median contact volume.
    pub(crate) fn median_volume(&self) -> u64 {
        self.median_volume
    }

    /// Senders to `node` with the largest volume their contacts to it carry, largest first.
    pub(crate) fn senders(&self, node: NodeIndex) -> &[(NodeIndex, u64)] {
        let start = self.sender_offsets.get(node as usize).copied().unwrap_or(0) as usize;
        let end = self.sender_offsets.get(node as usize + 1).copied().unwrap_or(0) as usize;
        self.senders.get(start..end).unwrap_or(&[])
    }

    /// The edge at a global position.
    pub(crate) fn edge(&self, position: usize) -> Option<&Edge> {
        self.edges.get(position)
    }

    /// Calls `f` for each outgoing contact of `node` open at `t` (start ≤ t ≤ end: a zero-byte
    /// bundle can still go at the very end), and returns the global positions of the node's
    /// first contact starting after `t` and of the end of its contacts.
    pub(crate) fn visit(&self, node: NodeIndex, t: PlanTime, mut f: impl FnMut(&Edge)) -> (usize, usize) {
        let Some(span) = self.spans.get(node as usize) else { return (0, 0) };
        for e in self.persistent.get(span.p_first as usize..span.p_end as usize).unwrap_or(&[]) {
            if e.start <= t && t <= e.end {
                f(e);
            }
        }
        let (first, end) = (span.first as usize, span.end as usize);
        let upto = first + count_not_after(self.starts.get(first..end).unwrap_or(&[]), t);
        for position in (first..upto).rev() {
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
        (upto, end)
    }
}

/// For each receiving node, its senders and the largest volume of their contacts to it, largest
/// first, as a flat list with per-node offsets.
fn senders_by_volume(edges: &[Edge], spans: &[NodeSpan], nodes: usize) -> (Vec<(NodeIndex, u64)>, Vec<u32>) {
    let mut pairs: Vec<(NodeIndex, NodeIndex, u64)> = Vec::with_capacity(edges.len());
    for (from, span) in spans.iter().enumerate() {
        for e in edges.get(span.first as usize..span.end as usize).unwrap_or(&[]) {
            pairs.push((e.to, from as NodeIndex, e.volume));
        }
    }
    pairs.sort_unstable_by_key(|p| (p.0, p.1, core::cmp::Reverse(p.2)));
    pairs.dedup_by_key(|p| (p.0, p.1));
    pairs.sort_unstable_by_key(|p| (p.0, core::cmp::Reverse(p.2)));
    let mut offsets = alloc::vec![0u32; nodes + 1];
    for p in &pairs {
        if let Some(o) = offsets.get_mut(p.0 as usize + 1) {
            *o += 1;
        }
    }
    for i in 1..offsets.len() {
        let previous = offsets.get(i - 1).copied().unwrap_or(0);
        if let Some(o) = offsets.get_mut(i) {
            *o += previous;
        }
    }
    (pairs.into_iter().map(|(_, from, volume)| (from, volume)).collect(), offsets)
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
            plan.visit(node, PlanTime::from_secs(t), |e| ids.push(e.id));
            ids.sort_unstable();
            ids
        };
        assert_eq!(open(5), [0]);
        assert_eq!(open(16), [0, 1, 2]);
        assert_eq!(open(20), [0, 1, 2]);
        assert_eq!(open(21), [0, 2]);
        assert_eq!(open(35), [0, 2, 3]);
        assert_eq!(open(101), [0]);
        assert_eq!(plan.visit(node, PlanTime::from_secs(15), |_| {}), (3, 4));
        assert_eq!(plan.volume(3), 10_000);
        let two = plan.node_index(2).unwrap();
        assert_eq!(plan.senders(two), [(node, 86_400_000)]);
        assert_eq!(plan.nodes(), [1, 2, 3, 4, 5]);
        assert_eq!(plan.span(), Some((PlanTime::from_secs(0), PlanTime::from_secs(86_400))));
    }
}
