//! Running a scenario: traffic, the run, the invariant oracles and the report.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use dtn_core::bpa::{DeliveryMode, Event, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, search};
use dtn_core::routing::{ContactPlan, NodeId, PlanTime, Priority};
use serde_json::{Value, json};

use super::ledger::Ledger;
use super::liveness;
use super::scenario::Scenario;
use super::world::{LatePass, SimConfig, World};
use crate::model::link::{Impairments, Window};
use crate::model::loss::FrameLoss;
use crate::model::rng::LinkRng;

/// One generated bundle.
#[derive(Debug, Clone)]
struct Planned {
    token: u64,
    source: NodeId,
    destination: NodeId,
    at: PlanTime,
    size: u64,
    lifetime_ms: u64,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The JSON report.
    pub report: Value,
    /// Invariant violations (empty for a good run).
    pub violations: Vec<String>,
    /// The trace hash.
    pub trace_hash: u64,
    /// SVG figures, as (file name, document).
    pub plots: Vec<(String, String)>,
}

fn traffic(scenario: &Scenario, seed: u64, plan_nodes: &BTreeSet<NodeId>) -> Vec<Planned> {
    let mut rng = LinkRng::from_state(seed ^ 0x7472_6166_6669_6321);
    let mut planned = Vec::new();
    let mut token = 0;
    for flow in &scenario.traffic {
        let (sources, destinations) = (flow.sources.resolve(plan_nodes), flow.destinations.resolve(plan_nodes));
        if sources.is_empty() || destinations.is_empty() {
            continue;
        }
        // A Poisson process given its count: that many uniform times, in order.
        let span = (flow.end_s - flow.start_s).max(0.0);
        let mut times: Vec<f64> = (0..flow.bundles).map(|_| flow.start_s + span * rng.uniform()).collect();
        times.sort_by(f64::total_cmp);
        for t in times {
            let source = sources[(rng.next_u64() % sources.len() as u64) as usize];
            let candidates: Vec<NodeId> = destinations.iter().copied().filter(|d| *d != source).collect();
            if candidates.is_empty() {
                continue;
            }
            let destination = candidates[(rng.next_u64() % candidates.len() as u64) as usize];
            let [lo, hi] = flow.size_bytes;
            let (lo, hi) = (lo.max(9) as f64, hi.max(lo.max(9)) as f64);
            let size = ((lo * (hi / lo).powf(rng.uniform())).round() as u64 / scenario.run.size_scale.max(1)).max(8);
            planned.push(Planned {
                token,
                source,
                destination,
                at: PlanTime((t * 1e9) as i64),
                size,
                lifetime_ms: (flow.lifetime_s * 1000.0) as u64,
            });
            token += 1;
        }
    }
    planned
}

/// Runs a scenario over its plan's windows; `progress` is called with the fraction done.
pub fn run(
    scenario: &Scenario,
    windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>,
    seed: u64,
    progress: impl FnMut(f64, u64),
) -> Outcome {
    let scale = scenario.run.size_scale.max(1);
    if scale == 1 {
        return run_over(scenario, windows, seed, progress);
    }
    // Rates divided like the sizes: every transmission takes as long as at full size.
    let mut scaled = windows.clone();
    for w in scaled.values_mut().flatten() {
        if w.rate_bytes_per_sec > 0 {
            w.rate_bytes_per_sec = (w.rate_bytes_per_sec / scale).max(1);
        }
    }
    let mut outcome = run_over(scenario, &scaled, seed, progress);
    outcome.report["size_scale"] = scale.into();
    outcome
}

fn run_over(
    scenario: &Scenario,
    windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>,
    seed: u64,
    mut progress: impl FnMut(f64, u64),
) -> Outcome {
    let link = &scenario.link;
    let loss = FrameLoss::new(link.bit_error_rate, link.flat_loss).unwrap_or(FrameLoss::NONE);
    let impairments = Impairments {
        acquisition_lag_nanos: (link.acquisition_lag_s * 1e9) as i64,
        loss,
        varying_light_time: link.vary_light_time,
        ..Impairments::default()
    };
    let late_passes = scenario
        .late_pass
        .iter()
        .map(|l| LatePass { from: l.from, to: l.to, pass: l.pass, known_at: PlanTime((l.known_at_s * 1e9) as i64) })
        .collect();
    let ltp = (link.cla == super::scenario::LinkCla::Ltp)
        .then(|| super::ltp::LtpSettings { mtu: link.ltp_mtu.clamp(dtn_core::cla::ltp::SpanConfig::MIN_MTU, 1 << 20) });
    let config = SimConfig {
        seed,
        custody: scenario.run.custody,
        bpsec: scenario.run.bpsec,
        impairments,
        late_passes,
        ltp,
        ..SimConfig::default()
    };
    let mut world = World::new(windows, config);
    for m in &scenario.missed_pass {
        world.miss_pass(m.from, m.to, m.pass);
    }
    for c in &scenario.clock_offset {
        world.clock_offset(c.node, (c.offset_s * 1000.0) as i64);
    }
    for o in &scenario.outage {
        world.outage(o.node, PlanTime((o.at_s * 1e9) as i64), (o.for_s * 1e9) as i64);
    }
    for r in &scenario.reboot {
        world.reboot(r.node, PlanTime((r.at_s * 1e9) as i64), (r.down_s * 1e9) as i64);
    }
    let plan_nodes: BTreeSet<NodeId> = windows.keys().flat_map(|&(a, b)| [a, b]).collect();
    let planned = traffic(scenario, seed, &plan_nodes);
    let destinations: std::collections::BTreeSet<NodeId> = planned.iter().map(|p| p.destination).collect();
    for d in destinations {
        world.register(d, Event::Register { endpoint: Eid::ipn(d as u32, 1), mode: DeliveryMode::Active });
    }
    for p in &planned {
        let mut payload = vec![0u8; p.size.max(8) as usize];
        payload[..8].copy_from_slice(&p.token.to_be_bytes());
        world.submit(
            p.source,
            p.at,
            Submission {
                token: p.token,
                source: None,
                destination: Eid::ipn(p.destination as u32, 1),
                payload: Bytes::from(payload),
                lifetime_ms: p.lifetime_ms,
                flags: BundleFlags::default(),
                priority: Priority::Normal,
                reference: None,
                protection: Default::default(),
            },
        );
    }
    let end = PlanTime((scenario.run.duration_s * 1e9) as i64);
    // Checkpoints: progress, and with custody the custody oracle (a full scan of the stores).
    let steps = 200;
    let mut early = Vec::new();
    // Liveness at every checkpoint too: a bundle stuck for hours mid-run may have moved on
    // by the end. Each stuck bundle is reported once.
    let mut stuck_seen = BTreeSet::new();
    for step in 1..=steps {
        world.run_until(PlanTime(end.0 / steps * step));
        if scenario.run.custody && early.len() < 10 {
            for token in Ledger::of(&world).unheld(&world) {
                early.push(format!("custody released early: bundle {token} is in no node's store at {}", world.now()));
            }
        }
        let stuck = liveness::stuck(&world);
        if !stuck.is_empty() && stuck_seen.len() < 10 {
            let ledger = Ledger::of(&world);
            for s in stuck {
                if stuck_seen.insert((s.node, s.id, s.since)) {
                    early.push(liveness::describe(&world, &ledger, &s));
                }
            }
        }
        progress(step as f64 / steps as f64, world.events());
    }
    judge(&world, windows, &planned, end, scenario.run.custody, early)
}

/// The oracles and the report.
fn judge(
    world: &World,
    windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>,
    planned: &[Planned],
    end: PlanTime,
    custody: bool,
    early: Vec<String>,
) -> Outcome {
    let mut violations = early;
    let by_token: BTreeMap<u64, &Planned> = planned.iter().map(|p| (p.token, p)).collect();
    let ledger = Ledger::of(world);
    let deliveries = &ledger.deliveries;
    for (token, times) in deliveries {
        if times.len() > 1 {
            violations.push(format!("bundle {token} delivered {} times", times.len()));
        }
    }
    // No delivery before the earliest arrival physics allows (minimum light time).
    let fastest = plan_with(windows, |w| w.owlt_min_nanos);
    let reference = plan_with(windows, |w| w.owlt_max_nanos);
    let mut ratios = Vec::new();
    let mut latencies = Vec::new();
    let mut pairs = Vec::new();
    for (token, times) in deliveries {
        let Some(p) = by_token.get(token) else { continue };
        let query = RouteQuery::new(p.source, p.destination, p.at, p.size);
        let at = times[0];
        match search(&fastest, &query, &EmptyNetwork) {
            Some(r) if at.0 + 1_000_000 < r.arrival.0 => {
                violations.push(format!("bundle {token} delivered at {at} before the fastest possible {}", r.arrival));
            }
            None => violations.push(format!("bundle {token} delivered at {at} though the plan has no path for it")),
            Some(_) => {}
        }
        latencies.push((at.0 - p.at.0) as f64 / 1e9);
        if let Some(r) = search(&reference, &query, &EmptyNetwork) {
            let best = (r.arrival.0 - p.at.0) as f64;
            pairs.push((best / 1e9, (at.0 - p.at.0) as f64 / 1e9));
            if best > 0.0 {
                ratios.push((at.0 - p.at.0) as f64 / best);
            }
        }
    }
    // No silent loss: each accepted bundle is delivered, deleted with a reason, or still held.
    let deleted = &ledger.deleted;
    let holders = ledger.holders(world);
    let held: BTreeSet<u64> = holders.keys().copied().collect();
    // A bundle on the wire at the cut-off is neither lost nor held by anyone yet.
    let mut in_flight = std::collections::BTreeSet::new();
    for (from, _, bytes) in world.in_flight() {
        if let Some(t) = ledger.token(bytes, from) {
            in_flight.insert(t);
        }
    }
    // Without custody nothing re-sends a frame the channel lost (or that reached a node while
    // it was down): the network lost it, not the agents.
    let mut channel_lost = std::collections::BTreeSet::new();
    if !custody {
        for identity in world.lost_bundles() {
            if let Some(&t) = ledger.creation_of.get(identity) {
                channel_lost.insert(t);
            }
        }
    }
    let accepted: Vec<u64> = world.accepted().iter().map(|a| a.token).collect();
    let mut lost = 0;
    for token in &accepted {
        if !deliveries.contains_key(token)
            && !deleted.contains(token)
            && !held.contains(token)
            && !in_flight.contains(token)
            && !channel_lost.contains(token)
        {
            lost += 1;
            violations
                .push(format!("bundle {token} accepted, then neither delivered, deleted with a reason, nor held"));
        }
    }
    // Routable: delivered, or the plan (idle, maximum light time, no pass missed) brings it
    // to its destination by the cut-off.
    let mut unroutable = 0u64;
    for token in &accepted {
        let Some(p) = by_token.get(token).filter(|_| !deliveries.contains_key(token)) else { continue };
        let query = RouteQuery::new(p.source, p.destination, p.at, p.size);
        if search(&reference, &query, &EmptyNetwork).is_none_or(|r| r.arrival > end) {
            unroutable += 1;
        }
    }
    let routable = accepted.len() as u64 - unroutable;
    // Liveness: every undelivered bundle has a cause (the stuck ones were reported at the
    // checkpoints, the last of which is the end).
    let causes = liveness::causes(world, &ledger, &in_flight, &channel_lost);
    let stuck_now: BTreeSet<u64> =
        liveness::stuck(world).iter().filter_map(|s| liveness::token(world, &ledger, s)).collect();
    let mut unexplained = 0u64;
    for token in accepted.iter().filter(|t| !deliveries.contains_key(t)) {
        if !causes.contains_key(token) && !stuck_now.contains(token) {
            unexplained += 1;
            violations.push(format!("bundle {token} is undelivered at the end without a cause"));
        }
    }
    let mut by_cause: BTreeMap<String, u64> = BTreeMap::new();
    for token in accepted.iter().filter(|t| !deliveries.contains_key(t)) {
        let cause = causes.get(token).map_or("stuck", |c| cause_kind(c));
        *by_cause.entry(cause.to_string()).or_default() += 1;
    }
    // The first undelivered bundles, to see where they are stuck.
    let mut undelivered = Vec::new();
    for token in accepted.iter().filter(|t| !deliveries.contains_key(t)).take(50) {
        let Some(p) = by_token.get(token) else { continue };
        let query = RouteQuery::new(p.source, p.destination, p.at, p.size);
        let reference_s = search(&reference, &query, &EmptyNetwork).map(|r| r.arrival.0 as f64 / 1e9);
        undelivered.push(json!({
            "token": token,
            "from": p.source,
            "to": p.destination,
            "size_bytes": p.size,
            "submitted_s": p.at.0 as f64 / 1e9,
            "reference_arrival_s": reference_s,
            "held_at": holders.get(token),
            "how": ledger.describe(world, *token),
            "cause": causes.get(token),
            "deleted": deleted.contains(token),
        }));
    }
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for (source, creation, reason) in world.deleted() {
        if let Eid::Ipn(ipn) = source
            && ledger.creation_of.contains_key(&(ipn.fqnn(), *creation))
        {
            *reasons.entry(format!("{reason:?}")).or_default() += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    ratios.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied();
    let report = json!({
        "simulated_s": end.0 as f64 / 1e9,
        "events": world.events(),
        "reboots": world.reboots(),
        "trace_hash": format!("{:016x}", world.trace_hash()),
        "bundles": {
            "generated": planned.len(),
            "accepted": accepted.len(),
            "delivered": deliveries.len(),
            "deleted_with_reason": deleted.iter().filter(|t| !deliveries.contains_key(t)).count(),
            "held_at_end": held.iter().filter(|t| !deliveries.contains_key(t)).count(),
            "in_flight_at_end": in_flight.iter().filter(|t| !deliveries.contains_key(t) && !held.contains(t)).count(),
            "lost_in_channel_without_custody": channel_lost.iter().filter(|t| !deliveries.contains_key(t)).count(),
            "silently_lost": lost,
            "undelivered_without_cause": unexplained,
            "undelivered_by_cause": by_cause,
            "routable": routable,
            "delivered_of_routable": if routable == 0 { 1.0 } else { deliveries.len() as f64 / routable as f64 },
            "deletions_by_reason_all_copies": reasons,
        },
        "latency_s": { "median": median(&latencies), "p99": latencies.get(latencies.len().saturating_sub(1).min(latencies.len() * 99 / 100)).copied() },
        "latency_over_reference_earliest_arrival": { "median": median(&ratios) },
        "violations": violations,
        "undelivered": undelivered,
    });
    let plots = super::figures::all(world, windows, &pairs, end);
    Outcome { report, violations, trace_hash: world.trace_hash(), plots }
}

/// The kind of a cause line, for counting: its words before any node number or time.
fn cause_kind(cause: &str) -> &str {
    let first = cause.split(';').next().unwrap_or(cause);
    let end = first.find(|c: char| c.is_ascii_digit() || c == ':').unwrap_or(first.len());
    first[..end].trim_end_matches([' ', ',']).trim()
}

fn plan_with(windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>, owlt: impl Fn(&Window) -> i64) -> ContactPlan {
    let contacts = windows
        .iter()
        .flat_map(|(&(from, to), ws)| ws.iter().map(|w| w.contact(from, to, owlt(w))).collect::<Vec<_>>())
        .collect();
    ContactPlan::new(contacts, None)
}
