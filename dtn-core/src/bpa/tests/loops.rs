//! Routing loops: nodes whose contact plans (or bookings) disagree can pass a bundle round a
//! cycle; a custodian that gets back a bundle it released sends it another way.

use super::*;
use crate::admin::AdminRecord;
use crate::custody::CustodyConfig;
use crate::routing::{CgrRouter, Contact, ContactPlan, PlanTime};

fn contact(from: NodeId, to: NodeId, start: i64) -> Contact {
    Contact {
        from,
        to,
        start: PlanTime::from_secs(start),
        end: PlanTime::from_secs(1_000),
        rate_bytes_per_sec: 1_000_000,
        owlt_nanos: 0,
        confidence: 1.0,
    }
}

fn custodian(node: NodeId, plan: &[Contact], peers: &[NodeId]) -> Bpa<MemoryStore, CgrRouter> {
    let mut config = NodeConfig::new(node);
    config.plan_epoch = T0;
    config.custody = Some(CustodyConfig::with_peers(peers.iter().copied()));
    let mut agent = Bpa::new(config, MemoryStore::new(1 << 20), CgrRouter::new(ContactPlan::new(plan.to_vec(), None)));
    for &peer in peers {
        agent.handle(Event::LinkUp { link: LinkId(peer as u32), peer }, T0).unwrap();
    }
    agent
}

fn transmitted(agent: &mut Bpa<MemoryStore, CgrRouter>) -> Vec<(LinkId, Bytes)> {
    let sent: Vec<(LinkId, u64, Bytes)> =
        core::iter::from_fn(|| agent.poll_action())
            .filter_map(|a| {
                if let Action::Transmit { link, bundle, bytes } = a { Some((link, bundle, bytes)) } else { None }
            })
            .collect();
    for (link, bundle, _) in &sent {
        agent.handle(Event::Transmitted { link: *link, bundle: *bundle, ok: true }, T0).unwrap();
    }
    sent.into_iter().map(|(link, _, bytes)| (link, bytes)).collect()
}

/// Node `one` sends a bundle to node 4 through node 2 (its link 2), which takes custody and
/// releases it; returns the bundle as sent (out of its custody envelope).
fn hand_over_in_custody(
    one: &mut Bpa<MemoryStore, CgrRouter>,
    two: &mut Bpa<MemoryStore, CgrRouter>,
    payload: &'static [u8],
) -> Bytes {
    one.handle(submit(1, Eid::ipn(4, 1), payload), T0).unwrap();
    let sent = transmitted(one);
    assert_eq!(sent.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![LinkId(2)]);
    // Node 2 takes custody; its signal releases node 1.
    two.handle(Event::Received { link: LinkId(1), bytes: sent[0].1.clone() }, T0).unwrap();
    for (_, bytes) in transmitted(two).into_iter().filter(|(l, _)| *l == LinkId(1)) {
        one.handle(Event::Received { link: LinkId(2), bytes }, T0).unwrap();
    }
    assert_eq!(one.bundles().count(), 0, "released");
    let outer = crate::bundle::Bundle::parse(sent[0].1.clone(), crate::parse_mode::ParseMode::Relaxed).unwrap();
    let Ok(AdminRecord::Bpdu(bpdu)) = AdminRecord::from_bundle(&outer) else { panic!("not a BPDU") };
    bpdu.bundle
}

#[test]
fn a_bundle_back_from_a_loop_goes_another_way() {
    // Node 1 reaches 4 best through 2, then through 5, then through 3.
    let plan1 = [
        contact(1, 2, 0),
        contact(2, 4, 0),
        contact(1, 5, 10),
        contact(5, 4, 10),
        contact(1, 3, 20),
        contact(3, 4, 20),
    ];
    let mut one = custodian(1, &plan1, &[2, 3, 5]);
    let mut two = custodian(2, &[contact(2, 4, 0), contact(2, 1, 0)], &[1]);
    let sent = hand_over_in_custody(&mut one, &mut two, b"round and round");
    // The bundle comes back from node 3 (node 2 thought 4 was best reached through 3, and
    // node 3 through 1). Node 1 takes it in and sends it through 5, not 2 again.
    // Nodes 2 and 3 each counted a hop.
    let inner = crate::bundle::Bundle::parse(sent, crate::parse_mode::ParseMode::Strict).unwrap();
    let mut editor = inner.edit();
    editor.increment_hop_count();
    editor.increment_hop_count();
    let back = editor.build().unwrap().raw().clone();
    one.handle(Event::Received { link: LinkId(3), bytes: back }, T0).unwrap();
    let again = transmitted(&mut one);
    assert_eq!(again.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![LinkId(5)]);
}

#[test]
fn a_copy_with_too_few_hops_to_have_looped_is_not_taken_for_a_loop() {
    // As above, but the copy that comes back from node 3 has no more hops than the one node
    // 1 sent: a duplicate made upstream, not this node's copy round a loop.
    let plan1 = [contact(1, 2, 0), contact(2, 4, 0), contact(1, 3, 20), contact(3, 4, 20)];
    let mut one = custodian(1, &plan1, &[2, 3]);
    let mut two = custodian(2, &[contact(2, 4, 0), contact(2, 1, 0)], &[1]);
    let sent = hand_over_in_custody(&mut one, &mut two, b"twice, not round");
    one.handle(Event::Received { link: LinkId(3), bytes: sent }, T0).unwrap();
    let again = transmitted(&mut one);
    assert_eq!(again.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![LinkId(2)], "routed as usual, through 2");
    assert!(one.looped.is_empty());
}

/// Node 1 → 2 → 3 (destination 4 beyond 3), custody on every hop. Returns the agents and the
/// BPDU node 1 sent to node 2.
fn chain() -> (Bpa<MemoryStore, CgrRouter>, Bpa<MemoryStore, CgrRouter>, Bytes) {
    let plan = [contact(1, 2, 0), contact(2, 1, 0), contact(2, 3, 0), contact(3, 2, 0), contact(3, 4, 0)];
    let mut one = custodian(1, &plan, &[2]);
    let two = custodian(2, &plan, &[1, 3]);
    one.handle(submit(1, Eid::ipn(4, 1), b"sent twice"), T0).unwrap();
    let sent = transmitted(&mut one);
    assert_eq!(sent.len(), 1);
    (one, two, sent[0].1.clone())
}

fn custody_signals(sent: &[(LinkId, Bytes)], to: LinkId) -> Vec<crate::admin::CustodySignal> {
    sent.iter()
        .filter(|(l, _)| *l == to)
        .filter_map(|(_, bytes)| crate::bundle::Bundle::parse(bytes.clone(), crate::parse_mode::ParseMode::Strict).ok())
        .filter_map(|b| match AdminRecord::from_bundle(&b) {
            Ok(AdminRecord::CustodySignal(s)) => Some(s),
            _ => None,
        })
        .collect()
}

/// Node 1's custody timer runs out (node 2's signal was lost): it sends the bundle again.
fn retransmission(one: &mut Bpa<MemoryStore, CgrRouter>) -> Bytes {
    one.handle_timeout(T0.saturating_add_millis(10_000)).unwrap();
    let again = transmitted(one);
    assert_eq!(again.len(), 1, "sent again after the timer");
    again[0].1.clone()
}

#[test]
fn a_retransmission_while_custody_is_pending_downstream_is_taken_back_and_sent_on_as_usual() {
    let (mut one, mut two, bpdu) = chain();
    two.handle(Event::Received { link: LinkId(1), bytes: bpdu }, T0).unwrap();
    let sent = transmitted(&mut two);
    assert_eq!(sent.iter().filter(|(l, _)| *l == LinkId(3)).count(), 1, "on to node 3");
    // Node 2's signal to node 1 is lost; node 3 has not answered yet.
    let again = retransmission(&mut one);
    two.handle(Event::Received { link: LinkId(1), bytes: again }, T0).unwrap();
    let answer = transmitted(&mut two);
    let signals = custody_signals(&answer, LinkId(1));
    assert_eq!(signals.len(), 1);
    assert!(signals[0].disposition.releases(), "{:?}", signals[0].disposition);
    // Node 2 holds it under a new transfer (the first one's signal, if it comes, cannot
    // release it: node 3 might have passed it round to node 1) — to node 3 again, not
    // routed away from it as after a loop.
    assert_eq!(answer.iter().filter(|(l, _)| *l == LinkId(3)).count(), 1, "sent to node 3 again: {answer:?}");
    let pending: Vec<_> = two.bundles().map(|(_, e)| (e.state, e.custody.as_deref().map(|c| c.peer))).collect();
    assert_eq!(pending, vec![(BundleState::AwaitingCustody, Some(3))]);
    assert!(two.looped.is_empty(), "not taken for a loop");
}

#[test]
fn a_retransmission_after_custody_went_on_is_taken_in_and_sent_on_as_usual() {
    let (mut one, mut two, bpdu) = chain();
    let mut three = custodian(3, &[contact(3, 2, 0), contact(3, 4, 0)], &[2]);
    two.handle(Event::Received { link: LinkId(1), bytes: bpdu }, T0).unwrap();
    for (_, bytes) in transmitted(&mut two).into_iter().filter(|(l, _)| *l == LinkId(3)) {
        three.handle(Event::Received { link: LinkId(2), bytes }, T0).unwrap();
    }
    for (_, bytes) in transmitted(&mut three).into_iter().filter(|(l, _)| *l == LinkId(2)) {
        two.handle(Event::Received { link: LinkId(3), bytes }, T0).unwrap();
    }
    assert_eq!(two.bundles().count(), 0, "node 3 took custody: node 2 let go");
    let again = retransmission(&mut one);
    two.handle(Event::Received { link: LinkId(1), bytes: again }, T0).unwrap();
    let answer = transmitted(&mut two);
    let signals = custody_signals(&answer, LinkId(1));
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].disposition, crate::admin::Disposition::Accepted, "node 2 takes custody of it again");
    assert_eq!(answer.iter().filter(|(l, _)| *l == LinkId(3)).count(), 1, "to node 3, its best way: {answer:?}");
    assert!(two.looped.is_empty());
    for (_, bytes) in answer.into_iter().filter(|(l, _)| *l == LinkId(1)) {
        one.handle(Event::Received { link: LinkId(2), bytes }, T0).unwrap();
    }
    assert_eq!(one.bundles().count(), 0, "node 1 released");
}
