//! The liveness oracle: a bundle never sits still while a way exists.
//!
//! The safety oracles (no duplicate, no early delivery, no silent loss, custody never released
//! early) hold for an agent that never sends anything. This one says it must: a bundle held at
//! a node — waiting for a route or a link, or for a custody signal — is **stuck** when the
//! node's plan (as the agents know it then) has a route for it to its destination before it
//! expires, not back to the node it came from (SABR's rule), whose first contact is open now,
//! the node's agent has believed that link up, and the link has carried nothing, for longer
//! than [`STUCK_AFTER_NANOS`], and the node has not sent the bundle in that time either.
//! Nothing a correct agent does waits that long with an idle usable link: a refused or failed
//! bundle is routed again within the retry interval (10 s), a custody signal is awaited for at
//! most 64 round trips plus margins (under five minutes on the lunar hop).
//!
//! A bundle handed to a link must get its verdict within [`UNJUDGED_AFTER_NANOS`]: one
//! that stays "in flight" longer is stuck too (a convergence layer that holds it forever).
//!
//! At the end of a run every undelivered bundle is given its cause — deleted with a reason,
//! on the wire, being sent, awaiting a custody signal, waiting for a contact after the end, no
//! route left (its contacts are gone or were missed), lost by the channel without custody —
//! and a bundle with none of these, or a stuck one, is a violation.

use std::collections::{BTreeMap, BTreeSet};

use dtn_core::bpa::BundleState;
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, search};
use dtn_core::routing::{NodeId, PlanTime};
use dtn_core::store::BundleStore;

use super::ledger::Ledger;
use super::world::World;

/// How long a bundle may sit at a node beside an idle, usable, open link: ten minutes.
pub const STUCK_AFTER_NANOS: i64 = 600 * 1_000_000_000;

/// How long a bundle may stay handed to a link without a verdict: half an hour. A frame gets
/// one when its last byte leaves; an LTP session when its red part is acknowledged or it is
/// cancelled — it may wait out a contact gap of up to ten minutes
/// ([`super::ltp::SUSPEND_LIMIT_NANOS`]) and its retries, never longer.
pub const UNJUDGED_AFTER_NANOS: i64 = 1_800 * 1_000_000_000;

/// A bundle sitting still beside a usable link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    /// The node holding it.
    pub node: NodeId,
    /// Its id there.
    pub id: u64,
    /// The neighbour an open contact leads to on a route to its destination.
    pub hop: NodeId,
    /// Since when the bundle has waited beside that open, idle link.
    pub since: PlanTime,
    /// Its state at the node.
    pub state: BundleState,
}

/// Where a node's held bundle stands, as far as a way out is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Standing {
    /// Sitting still beside a usable link for too long.
    Stuck(Stuck),
    /// Its route's first contact opens at this time (after now).
    WaitingForContact(NodeId, PlanTime),
    /// Waits, but not yet for long (or the link it would take is busy).
    Waiting(NodeId),
    /// The plan has no route to its destination before it expires.
    NoRoute,
}

fn standing(world: &World, node: NodeId, id: u64, e: &dtn_core::bpa::BundleEntry, now: PlanTime) -> Standing {
    let received = world.plan_time_of(node, e.received_at);
    let mut since = received.max(world.last_sent(node, id).unwrap_or(PlanTime(i64::MIN)));
    let Some(destination) = e.destination.map(u64::from) else { return Standing::NoRoute };
    let mut query = RouteQuery::new(node, destination, now, u64::from(e.size));
    query.deadline = world.plan_time_of(node, e.expiry);
    // As SABR routes (CCSDS 734.3-B-1 3.2.6): not straight back where it came from, and (as
    // the agent routes) not to a hop copies of it came back round a loop through.
    query.excluded_first_hops.extend(e.previous_hop.map(u64::from).filter(|&p| p != destination));
    if let Some((_, agent)) = world.agents().find(|(n, _)| *n == node) {
        query.excluded_first_hops.extend(agent.avoided_hops(id).into_iter().filter(|&h| h != destination));
    }
    let plan = world.plan();
    let Some(route) = search(plan, &query, &EmptyNetwork) else { return Standing::NoRoute };
    let Some(first) = route.contacts.first().and_then(|c| plan.contact(*c)) else { return Standing::NoRoute };
    let hop = first.to;
    let Some(link) = world.link(node, hop) else { return Standing::Waiting(hop) };
    let open = link.open_at(now).map(|w| w.start.plus(link.acquisition_lag_nanos()));
    let (Some(open_since), Some(up_since)) = (open, world.link_up_since(node, hop)) else {
        return if first.start > now { Standing::WaitingForContact(hop, first.start) } else { Standing::Waiting(hop) };
    };
    since = since.max(open_since).max(up_since).max(link.busy_until());
    if now.0.saturating_sub(since.0) > STUCK_AFTER_NANOS {
        Standing::Stuck(Stuck { node, id, hop, since, state: e.state })
    } else {
        Standing::Waiting(hop)
    }
}

/// Whether a held bundle is one the oracle judges: waiting for a route, a link or a custody
/// signal (a bundle on a link, or waiting for its application or its other fragments, is not
/// the agent's to move).
fn judged(state: BundleState) -> bool {
    matches!(state, BundleState::Waiting | BundleState::AwaitingCustody)
}

/// Every bundle of a running node that is stuck now.
pub fn stuck(world: &World) -> Vec<Stuck> {
    let now = world.now();
    let mut out = Vec::new();
    for (node, agent) in world.agents() {
        for (id, e) in agent.bundles() {
            // Cheap test first: a bundle that moved lately is not stuck, whatever the links.
            let received = world.plan_time_of(node, e.received_at);
            let moved = received.max(world.last_sent(node, id).unwrap_or(PlanTime(i64::MIN)));
            if e.state == BundleState::InFlight && now.0.saturating_sub(moved.0) > UNJUDGED_AFTER_NANOS {
                let hop = e.next_hop.map_or(0, u64::from);
                out.push(Stuck { node, id, hop, since: moved, state: e.state });
                continue;
            }
            if !judged(e.state) || now.0.saturating_sub(moved.0) <= STUCK_AFTER_NANOS {
                continue;
            }
            if let Standing::Stuck(s) = standing(world, node, id, e, now) {
                out.push(s);
            }
        }
    }
    out
}

/// The submission token of a stuck bundle, if it is a submitted bundle (or a fragment of one).
pub fn token(world: &World, ledger: &Ledger, s: &Stuck) -> Option<u64> {
    world
        .agents()
        .find(|(n, _)| *n == s.node)
        .and_then(|(_, a)| a.store().bytes(s.id))
        .and_then(|b| ledger.token(&b, s.node))
}

/// One line for a stuck bundle, naming it by its submission token where it is one.
pub fn describe(world: &World, ledger: &Ledger, s: &Stuck) -> String {
    let token = token(world, ledger, s).map_or_else(|| format!("a bundle (id {})", s.id), |t| format!("bundle {t}"));
    let entry = world
        .agents()
        .find(|(n, _)| *n == s.node)
        .and_then(|(_, a)| a.bundles().find(|(id, _)| *id == s.id).map(|(_, e)| e.clone()));
    let avoided = world.agents().find(|(n, _)| *n == s.node).map(|(_, a)| a.avoided_hops(s.id)).unwrap_or_default();
    let what = entry.map_or_else(String::new, |e| {
        format!(
            ", {} bytes, routed to {:?}, to node {:?}, previous hop {:?}, avoiding {avoided:?}",
            e.size, e.next_hop, e.destination, e.previous_hop
        )
    });
    if s.state == BundleState::InFlight {
        return format!(
            "{token} stuck at node {} ({:?}{what}): handed to the link to {} at {:.1} s and never given a verdict",
            s.node,
            s.state,
            s.hop,
            s.since.0 as f64 / 1e9
        );
    }
    format!(
        "{token} stuck at node {} ({:?}{what}) since {:.1} s: the contact {}→{} is open, up and idle and leads to its destination in time",
        s.node,
        s.state,
        s.since.0 as f64 / 1e9,
        s.node,
        s.hop
    )
}

/// Why each undelivered accepted bundle is not delivered at the end of the run, by token. A
/// token missing from the map has no cause: the caller reports it.
pub fn causes(
    world: &World,
    ledger: &Ledger,
    in_flight: &BTreeSet<u64>,
    channel_lost: &BTreeSet<u64>,
) -> BTreeMap<u64, String> {
    let now = world.now();
    let mut causes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (source, creation, reason) in world.deleted() {
        if let dtn_core::eid::Eid::Ipn(ipn) = source
            && let Some(t) = ledger.creation_of.get(&(ipn.fqnn(), *creation))
        {
            causes.entry(*t).or_default().push(format!("deleted: {reason:?}"));
        }
    }
    for t in in_flight {
        causes.entry(*t).or_default().push("on the wire at the end".into());
    }
    for t in channel_lost {
        causes.entry(*t).or_default().push("lost by the channel (no custody to send it again)".into());
    }
    for (node, agent) in world.agents() {
        for (id, e) in agent.bundles() {
            let Some(token) = agent.store().bytes(id).and_then(|b| ledger.token(&b, node)) else { continue };
            let cause = match e.state {
                BundleState::InFlight | BundleState::Released | BundleState::Refused => {
                    format!("being sent by node {node}")
                }
                BundleState::AwaitingDelivery | BundleState::QueuedForApplication => {
                    format!("at node {node}, waiting for its application")
                }
                BundleState::AwaitingReassembly => format!("at node {node}, waiting for its other fragments"),
                BundleState::Waiting | BundleState::AwaitingCustody => match standing(world, node, id, e, now) {
                    // Stuck bundles are violations, reported by `stuck`; no cause here.
                    Standing::Stuck(_) => continue,
                    Standing::NoRoute => {
                        format!(
                            "at node {node}: no route before it expires (its route's contacts are gone or were missed)"
                        )
                    }
                    Standing::WaitingForContact(hop, at) => {
                        format!("at node {node}, waiting for the contact {node}→{hop} at {:.1} s", at.0 as f64 / 1e9)
                    }
                    Standing::Waiting(hop) if e.state == BundleState::AwaitingCustody => {
                        format!("at node {node}, sent towards {hop}, awaiting the custody signal")
                    }
                    Standing::Waiting(hop) => format!("at node {node}, waiting for the link to {hop}"),
                },
            };
            causes.entry(token).or_default().push(cause);
        }
    }
    for (node, bytes) in world.stored_while_down() {
        if let Some(t) = ledger.token(&bytes, node) {
            causes.entry(t).or_default().push(format!("at node {node}, which is down"));
        }
    }
    causes.into_iter().map(|(t, c)| (t, c.join("; "))).collect()
}
