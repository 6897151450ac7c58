//! The contact plan: every contact, indexed per sending node for route search.
//!
//! Per node, contacts are kept sorted by start time, and split into *persistent* ones (an hour
//! or longer: terrestrial links, formation ISLs, relay feeder links) and *short* ones (passes),
//! so "which contacts are open at time t" costs a binary search plus the few contacts that
//! overlap t, not a scan of the node's whole day.

use alloc::vec::Vec;

use super::contact::{Contact, ContactId, NodeId};
use super::time::{NANOS_PER_SEC, PlanTime};
use crate::time::DtnTime;

/// Contacts at least this long are checked on every visit instead of being searched by time.
const PERSISTENT_NANOS: i64 = 3600 * NANOS_PER_SEC;

/// Index of a node in the plan's node table.
pub(crate) type NodeIndex = u32;

#[derive(Debug, Clone, Default)]
struct NodeContacts {
    /// Every outgoing contact, by start time.
    by_start: Vec<ContactId>,
    /// `starts[i]` = start of `by_start[i]`: binary searches stay in one cache-friendly array.
    starts: Vec<PlanTime>,
    /// Outgoing contacts of an hour or more.
    persistent: Vec<ContactId>,
    /// The other outgoing contacts, by start time, as parallel arrays.
    short: Vec<ContactId>,
    short_starts: Vec<PlanTime>,
    short_ends: Vec<PlanTime>,
    /// `short_max_end[i]` = latest end among `short[..=i]`.
    short_max_end: Vec<PlanTime>,
}

/// A contact plan ready for routing.
#[derive(Debug, Clone, Default)]
pub struct ContactPlan {
    contacts: Vec<Contact>,
    /// `volumes[id]` = `contacts[id].volume()`, precomputed for the search's inner loop.
    volumes: Vec<u64>,
    to_index: Vec<NodeIndex>,
    nodes: Vec<NodeId>,
    out: Vec<NodeContacts>,
    reference: Option<DtnTime>,
}

impl ContactPlan {
    /// Indexes `contacts` (kept in the given order: a contact's id is its position).
    pub fn new(contacts: Vec<Contact>, reference: Option<DtnTime>) -> Self {
        let mut nodes: Vec<NodeId> = contacts.iter().flat_map(|c| [c.from, c.to]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let index_of = |n: NodeId| nodes.binary_search(&n).map_or(0, |i| i as NodeIndex);
        let to_index: Vec<NodeIndex> = contacts.iter().map(|c| index_of(c.to)).collect();
        let mut out = alloc::vec![NodeContacts::default(); nodes.len()];
        let from_index: Vec<NodeIndex> = contacts.iter().map(|c| index_of(c.from)).collect();
        let mut order: Vec<ContactId> = (0..contacts.len() as ContactId).collect();
        order.sort_unstable_by_key(|&id| contacts.get(id as usize).map(|c| (c.start, c.end, id)));
        for id in order {
            let (Some(c), Some(&from)) = (contacts.get(id as usize), from_index.get(id as usize)) else { continue };
            let Some(node) = out.get_mut(from as usize) else { continue };
            node.by_start.push(id);
            node.starts.push(c.start);
            if c.duration_nanos() >= PERSISTENT_NANOS {
                node.persistent.push(id);
            } else {
                let max_end = node.short_max_end.last().map_or(c.end, |m| (*m).max(c.end));
                node.short.push(id);
                node.short_starts.push(c.start);
                node.short_ends.push(c.end);
                node.short_max_end.push(max_end);
            }
        }
        let volumes = contacts.iter().map(Contact::volume).collect();
        ContactPlan { contacts, volumes, to_index, nodes, out, reference }
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
        self.volumes.get(id as usize).copied().unwrap_or(0)
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

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn to_index(&self, id: ContactId) -> NodeIndex {
        self.to_index.get(id as usize).copied().unwrap_or_default()
    }

    /// Outgoing contacts of `node` in start order.
    pub(crate) fn outgoing(&self, node: NodeIndex) -> &[ContactId] {
        self.out.get(node as usize).map_or(&[], |n| &n.by_start)
    }

    /// Position in [`Self::outgoing`] of the first contact starting after `t`.
    pub(crate) fn first_starting_after(&self, node: NodeIndex, t: PlanTime) -> usize {
        self.out.get(node as usize).map_or(0, |n| count_not_after(&n.starts, t))
    }

    /// Calls `f` for each outgoing contact of `node` open at `t` (start ≤ t ≤ end: a zero-byte
    /// bundle can still go at the very end).
    pub(crate) fn for_each_open(&self, node: NodeIndex, t: PlanTime, mut f: impl FnMut(ContactId, &Contact)) {
        let Some(n) = self.out.get(node as usize) else { return };
        for &id in &n.persistent {
            if let Some(c) = self.contacts.get(id as usize).filter(|c| c.start <= t && t <= c.end) {
                f(id, c);
            }
        }
        let upto = count_not_after(&n.short_starts, t);
        for i in (0..upto).rev() {
            if n.short_max_end.get(i).is_none_or(|m| *m < t) {
                break;
            }
            let (Some(&end), Some(&id)) = (n.short_ends.get(i), n.short.get(i)) else { break };
            if let Some(c) = self.contacts.get(id as usize).filter(|_| t <= end) {
                f(id, c);
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
            plan.for_each_open(node, PlanTime::from_secs(t), |id, _| ids.push(id));
            ids.sort_unstable();
            ids
        };
        assert_eq!(open(5), [0]);
        assert_eq!(open(16), [0, 1, 2]);
        assert_eq!(open(20), [0, 1, 2]);
        assert_eq!(open(21), [0, 2]);
        assert_eq!(open(35), [0, 2, 3]);
        assert_eq!(open(101), [0]);
        assert_eq!(plan.first_starting_after(node, PlanTime::from_secs(15)), 3);
        assert_eq!(plan.nodes(), [1, 2, 3, 4, 5]);
        assert_eq!(plan.span(), Some((PlanTime::from_secs(0), PlanTime::from_secs(86_400))));
    }
}
