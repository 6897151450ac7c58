//! The agent in small in-memory networks: delivery, forwarding, expiry, reports, reassembly,
//! storage limits and restarts.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;

use super::*;
use crate::admin::AdminRecord;
use crate::bundle::{BlockFlags, BundleBuilder};
use crate::routing::StaticRouter;
use crate::store::MemoryStore;

type Agent = Bpa<MemoryStore, StaticRouter>;

const T0: DtnTime = DtnTime(757_382_400_000);

fn agent(node: NodeId, routes: &[(NodeId, NodeId)]) -> Agent {
    let mut router = StaticRouter::new();
    for &(dst, hop) in routes {
        router.add(dst, hop);
    }
    let mut config = NodeConfig::new(node);
    config.reports = ReportPolicy::ALL;
    Bpa::new(config, MemoryStore::new(1 << 20), router)
}

/// Agents joined by links; link `LinkId(j)` at agent `i` leads to agent `j`.
struct Net {
    agents: Vec<Agent>,
    delivered: Vec<(usize, Delivery)>,
    other: Vec<(usize, Action)>,
    /// Links that fail what is sent on them (the CLA says so): (from, to).
    broken: Vec<(usize, usize)>,
    /// Links that lose what is sent on them silently (the CLA thinks it went): (from, to).
    lossy: Vec<(usize, usize)>,
}

impl Net {
    fn new(agents: Vec<Agent>) -> Self {
        Net { agents, delivered: Vec::new(), other: Vec::new(), broken: Vec::new(), lossy: Vec::new() }
    }

    fn node(&self, i: usize) -> NodeId {
        self.agents[i].config().node
    }

    fn connect(&mut self, a: usize, b: usize, now: DtnTime) {
        let (na, nb) = (self.node(a), self.node(b));
        self.agents[a].handle(Event::LinkUp { link: LinkId(b as u32), peer: nb }, now).unwrap();
        self.agents[b].handle(Event::LinkUp { link: LinkId(a as u32), peer: na }, now).unwrap();
    }

    fn run(&mut self, now: DtnTime) {
        loop {
            let mut progressed = false;
            for i in 0..self.agents.len() {
                while let Some(action) = self.agents[i].poll_action() {
                    progressed = true;
                    match action {
                        Action::Transmit { link, bundle, bytes } => {
                            if let Some(&limit) = self.agents[i].link_limits.get(&link) {
                                assert!(bytes.len() as u64 <= limit, "{} bytes on a link taking {limit}", bytes.len());
                            }
                            let j = link.0 as usize;
                            let ok = !self.broken.contains(&(i, j));
                            if ok && !self.lossy.contains(&(i, j)) {
                                self.agents[j].handle(Event::Received { link: LinkId(i as u32), bytes }, now).unwrap();
                            }
                            self.agents[i].handle(Event::Transmitted { link, bundle, ok }, now).unwrap();
                        }
                        Action::Deliver(d) => self.delivered.push((i, d)),
                        other => self.other.push((i, other)),
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn tick(&mut self, now: DtnTime) {
        for a in &mut self.agents {
            a.handle_timeout(now).unwrap();
        }
        self.run(now);
    }
}

/// Bundles an agent holds (its store also keeps its own state and tombstones of deliveries).
fn held(net: &Net, i: usize) -> usize {
    net.agents[i].bundles().count()
}

fn submit(token: u64, to: Eid, payload: &'static [u8]) -> Event {
    Event::Submit(Submission {
        token,
        source: None,
        destination: to,
        payload: Bytes::from_static(payload),
        lifetime_ms: 60_000,
        flags: BundleFlags::default(),
        priority: Priority::Normal,
        reference: None,
        protection: Default::default(),
    })
}

fn register(endpoint: Eid) -> Event {
    Event::Register { endpoint, mode: DeliveryMode::Active }
}

#[test]
fn delivers_locally_after_acknowledging_the_submit() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(register(Eid::ipn(1, 7)), T0).unwrap();
    net.agents[0].handle(submit(42, Eid::ipn(1, 7), b"hi"), T0).unwrap();
    net.run(T0);
    assert!(matches!(net.other[0].1, Action::Accepted { token: 42, .. }));
    assert_eq!(net.delivered.len(), 1);
    assert_eq!(&net.delivered[0].1.payload[..], b"hi");
    assert_eq!(held(&net, 0), 0, "delivered bundles are released");
}

#[test]
fn forwards_through_a_chain_updating_per_hop_blocks() {
    let mut net = Net::new(vec![agent(1, &[(3, 2)]), agent(2, &[(3, 3)]), agent(3, &[])]);
    net.connect(0, 1, T0);
    net.connect(1, 2, T0);
    net.agents[2].handle(register(Eid::ipn(3, 1)), T0).unwrap();
    net.agents[0].handle(submit(1, Eid::ipn(3, 1), b"checkpoint"), T0).unwrap();
    net.run(T0);
    assert_eq!(net.delivered.len(), 1);
    assert_eq!(net.delivered[0].0, 2);
    assert!((0..3).all(|i| held(&net, i) == 0));
}

#[test]
fn queues_until_the_link_comes_up() {
    let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"later"), T0).unwrap();
    net.run(T0);
    assert!(net.delivered.is_empty());
    assert_eq!(held(&net, 0), 1);
    net.connect(0, 1, T0.saturating_add_millis(5_000));
    net.run(T0.saturating_add_millis(5_000));
    assert_eq!(net.delivered.len(), 1);
}

#[test]
fn failed_transmission_is_retried_later_not_in_a_loop() {
    let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net.broken.push((0, 1));
    net.connect(0, 1, T0);
    net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
    net.run(T0);
    assert!(net.delivered.is_empty());
    assert_eq!(held(&net, 0), 1, "nothing is lost on failure");
    net.broken.clear();
    net.tick(T0.saturating_add_millis(10_000));
    assert_eq!(net.delivered.len(), 1);
    assert_eq!(held(&net, 0), 0);
}

#[test]
fn an_expired_passive_delivery_goes_with_its_bundle() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(Event::Register { endpoint: Eid::ipn(1, 9), mode: DeliveryMode::Passive }, T0).unwrap();
    let mut short = submit(1, Eid::ipn(1, 9), b"short-lived");
    if let Event::Submit(s) = &mut short {
        s.lifetime_ms = 1_000;
    }
    net.agents[0].handle(short, T0).unwrap();
    net.run(T0);
    assert_eq!(net.agents[0].deliveries(&Eid::ipn(1, 9)).count(), 1);
    let later = T0.saturating_add_millis(5_000);
    net.agents[0].handle_timeout(later).unwrap();
    assert_eq!(net.agents[0].deliveries(&Eid::ipn(1, 9)).count(), 0, "expired with its bundle");
    // Another bundle takes the freed id; taking the old delivery must not release it.
    net.agents[0].handle(submit(1, Eid::ipn(1, 8), b"kept"), later).unwrap();
    net.run(later);
    assert!(net.agents[0].take_delivery(&Eid::ipn(1, 9)).unwrap().is_none());
    assert_eq!(held(&net, 0), 1, "the other bundle is still held");
}

#[test]
fn passive_deliveries_can_be_taken_out_of_order() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(Event::Register { endpoint: Eid::ipn(1, 9), mode: DeliveryMode::Passive }, T0).unwrap();
    for adu in [&b"one"[..], b"two", b"three"] {
        net.agents[0].handle(submit(1, Eid::ipn(1, 9), adu), T0).unwrap();
    }
    net.run(T0);
    let waiting: Vec<_> =
        net.agents[0].deliveries(&Eid::ipn(1, 9)).map(|d| (d.source.clone(), d.creation, d.payload.clone())).collect();
    assert_eq!(waiting.len(), 3);
    let (source, creation, payload) = waiting[1].clone();
    let taken = net.agents[0].take_delivery_of(&Eid::ipn(1, 9), &source, creation).unwrap().unwrap();
    assert_eq!(taken.payload, payload);
    assert!(net.agents[0].take_delivery_of(&Eid::ipn(1, 9), &source, creation).unwrap().is_none(), "taken once");
    assert_eq!(net.agents[0].deliveries(&Eid::ipn(1, 9)).count(), 2);
    assert_eq!(held(&net, 0), 2, "the taken one's bundle is released, the others kept");
}

#[test]
fn passive_registration_and_late_registration() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(submit(1, Eid::ipn(1, 9), b"early"), T0).unwrap();
    net.run(T0);
    assert_eq!(held(&net, 0), 1, "kept until someone registers");
    net.agents[0].handle(Event::Register { endpoint: Eid::ipn(1, 9), mode: DeliveryMode::Passive }, T0).unwrap();
    let d = net.agents[0].take_delivery(&Eid::ipn(1, 9)).unwrap().unwrap();
    assert_eq!(&d.payload[..], b"early");
    assert!(net.agents[0].take_delivery(&Eid::ipn(1, 9)).unwrap().is_none());
    assert_eq!(held(&net, 0), 0, "released once taken");
    assert!(net.agents[0].handle(register(Eid::ipn(5, 1)), T0).is_err(), "not this node's endpoint");
}

fn received(net: &mut Net, at: usize, bundle: &crate::bundle::Bundle) {
    net.agents[at].handle(Event::Received { link: LinkId(99), bytes: bundle.raw().clone() }, T0).unwrap();
    net.run(T0);
}

fn deleted_reasons(net: &Net) -> Vec<ReasonCode> {
    net.other
        .iter()
        .filter_map(|(_, a)| if let Action::Deleted { reason, .. } = a { Some(*reason) } else { None })
        .collect()
}

fn bundle_to(dst: Eid) -> BundleBuilder {
    BundleBuilder::new(Eid::ipn(5, 1), dst).creation(CreationTimestamp::new(T0, 1)).lifetime_ms(60_000)
}

#[test]
fn expires_by_clock_and_reports_deletion() {
    let mut net = Net::new(vec![agent(1, &[]), agent(5, &[])]);
    let b = bundle_to(Eid::ipn(7, 1)).flags(BundleFlags::REPORT_DELETION).report_to(Eid::ipn(5, 0)).build().unwrap();
    received(&mut net, 0, &b);
    assert!(deleted_reasons(&net).is_empty());
    net.tick(T0.saturating_add_millis(61_000));
    assert_eq!(deleted_reasons(&net), [ReasonCode::NoKnownRoute], "held without a route, then expired");
    // The deletion report waits for a route to node 5; it is a status report about our bundle.
    let (report_id, _) = net.agents[0].bundles().next().unwrap();
    let bytes = net.agents[0].store().bytes(report_id).unwrap();
    let report = crate::bundle::Bundle::parse(bytes, crate::parse_mode::ParseMode::Strict).unwrap();
    let AdminRecord::StatusReport(r) = AdminRecord::from_bundle(&report).unwrap() else { panic!("not a report") };
    assert!(r.deleted.asserted);
    assert_eq!(r.reason, ReasonCode::NoKnownRoute);
    assert_eq!(r.creation, b.creation());
}

#[test]
fn expires_by_age_without_a_clock() {
    let mut net = Net::new(vec![agent(1, &[])]);
    let b =
        BundleBuilder::new(Eid::ipn(5, 1), Eid::ipn(7, 1)).lifetime_ms(10_000).bundle_age_ms(9_000).build().unwrap();
    received(&mut net, 0, &b);
    net.tick(T0.saturating_add_millis(999));
    assert!(deleted_reasons(&net).is_empty());
    net.tick(T0.saturating_add_millis(1_000));
    assert_eq!(deleted_reasons(&net).len(), 1);
    let old =
        BundleBuilder::new(Eid::ipn(5, 1), Eid::ipn(7, 1)).lifetime_ms(10_000).bundle_age_ms(10_000).build().unwrap();
    received(&mut net, 0, &old);
    assert_eq!(deleted_reasons(&net)[1], ReasonCode::LifetimeExpired);
}

#[test]
fn deletes_on_hop_limit() {
    let mut net = Net::new(vec![agent(1, &[])]);
    received(&mut net, 0, &bundle_to(Eid::ipn(7, 1)).hop_count(2, 3).build().unwrap());
    assert_eq!(deleted_reasons(&net), [ReasonCode::HopLimitExceeded]);
}

#[test]
fn applies_unknown_block_flags() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
    let delete =
        bundle_to(Eid::ipn(1, 1)).block(200, BlockFlags::DELETE_BUNDLE_IF_UNPROCESSABLE, vec![1]).build().unwrap();
    received(&mut net, 0, &delete);
    assert_eq!(deleted_reasons(&net), [ReasonCode::BlockUnsupported]);
    let discard = bundle_to(Eid::ipn(1, 1))
        .creation(CreationTimestamp::new(T0, 2))
        .block(201, BlockFlags::DISCARD_IF_UNPROCESSABLE, vec![1])
        .build()
        .unwrap();
    received(&mut net, 0, &discard);
    assert_eq!(net.delivered.len(), 1, "the block is dropped, the bundle kept");
}

#[test]
fn suppresses_duplicates() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
    let b = bundle_to(Eid::ipn(1, 1)).build().unwrap();
    received(&mut net, 0, &b);
    received(&mut net, 0, &b);
    assert_eq!(net.delivered.len(), 1);
    // Even after a restart, the delivered bundle's tombstone recognises the copy.
    let store = net.agents[0].store().after_crash();
    net.agents[0] = Bpa::recover(NodeConfig::new(1), store, StaticRouter::new(), T0).unwrap();
    net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
    received(&mut net, 0, &b);
    assert_eq!(net.delivered.len(), 1);
    // Tombstones go when the bundle would have expired.
    net.tick(T0.saturating_add_millis(61_000));
    assert!(net.agents[0].store().is_empty());
}

#[test]
fn reassembles_out_of_order() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
    let whole = bundle_to(Eid::ipn(1, 1)).payload(&b"0123456789abcdefghij0123456789abcdefghij"[..]).build().unwrap();
    let pieces = crate::fragment::fragment_by_size(&whole, whole.raw().len() - 25).unwrap();
    assert!(pieces.len() >= 2, "{} pieces", pieces.len());
    for f in pieces.iter().rev() {
        received(&mut net, 0, f);
    }
    assert_eq!(net.delivered.len(), 1);
    assert_eq!(&net.delivered[0].1.payload[..], b"0123456789abcdefghij0123456789abcdefghij");
    assert_eq!(held(&net, 0), 0);
}

#[test]
fn refuses_when_storage_is_full() {
    let mut config = NodeConfig::new(1);
    config.reports = ReportPolicy::ALL;
    let mut a: Agent = Bpa::new(config, MemoryStore::new(100), StaticRouter::new());
    a.handle(submit(1, Eid::ipn(2, 1), &[0u8; 200]), T0).unwrap();
    assert_eq!(a.poll_action(), Some(Action::Refused { token: 1, reason: ReasonCode::DepletedStorage }));
    let big = bundle_to(Eid::ipn(2, 1)).payload(vec![0u8; 200]).build().unwrap();
    a.handle(Event::Received { link: LinkId(0), bytes: big.raw().clone() }, T0).unwrap();
    assert!(matches!(a.poll_action(), Some(Action::Deleted { reason: ReasonCode::DepletedStorage, .. })));
}

#[test]
fn rejects_garbage_with_the_rule_broken() {
    let mut a = agent(1, &[]);
    a.handle(Event::Received { link: LinkId(3), bytes: Bytes::from_static(b"\x9f\x00") }, T0).unwrap();
    assert!(matches!(a.poll_action(), Some(Action::Rejected { link: LinkId(3), .. })));
}

#[test]
fn restart_from_store_resumes_queued_bundles() {
    let mut a = agent(1, &[(2, 2)]);
    a.handle(submit(1, Eid::ipn(2, 1), b"survives"), T0).unwrap();
    assert!(matches!(a.poll_action(), Some(Action::Accepted { .. })));
    let store = a.store().after_crash();
    drop(a);
    let mut router = StaticRouter::new();
    router.add(2, 2);
    let mut b = Bpa::recover(NodeConfig::new(1), store, router, T0).unwrap();
    assert_eq!(b.bundles().count(), 1);
    b.handle(Event::LinkUp { link: LinkId(7), peer: 2 }, T0).unwrap();
    let Some(Action::Transmit { bytes, .. }) = b.poll_action() else { panic!("not resumed") };
    let sent = crate::bundle::Bundle::parse(bytes, crate::parse_mode::ParseMode::Strict).unwrap();
    assert_eq!(&sent.payload()[..], b"survives");
    assert_eq!(sent.previous_node(), Some(&Eid::ipn(1, 0)));
}

#[test]
fn status_reports_go_to_report_to_when_asked() {
    let mut net = Net::new(vec![agent(1, &[(5, 5)]), agent(5, &[])]);
    net.connect(0, 1, T0);
    net.agents[1].handle(register(Eid::ipn(5, 0)), T0).unwrap();
    net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
    let b = bundle_to(Eid::ipn(1, 1))
        .flags(BundleFlags::REPORT_DELIVERY | BundleFlags::REPORT_RECEPTION | BundleFlags::STATUS_TIME_REQUESTED)
        .report_to(Eid::ipn(5, 0))
        .build()
        .unwrap();
    received(&mut net, 0, &b);
    let reports: Vec<_> = net.delivered.iter().filter(|(i, _)| *i == 1).collect();
    assert_eq!(reports.len(), 2, "received and delivered");
    for (_, d) in reports {
        let AdminRecord::StatusReport(r) = AdminRecord::decode(&d.payload).unwrap() else { panic!() };
        assert_eq!(r.creation, b.creation());
        assert!(r.received.time.is_some() || r.delivered.time.is_some(), "status time requested");
    }
}

mod custody {
    use super::*;
    use crate::custody::CustodyConfig;

    fn custodial(node: NodeId, routes: &[(NodeId, NodeId)], peers: &[NodeId]) -> Agent {
        let mut a = agent(node, routes);
        a.config.custody = Some(CustodyConfig::with_peers(peers.iter().copied()));
        a
    }

    fn pair() -> Net {
        let mut net = Net::new(vec![custodial(1, &[(2, 2)], &[2]), custodial(2, &[(1, 1)], &[])]);
        net.connect(0, 1, T0);
        net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
        net
    }

    #[test]
    fn custodian_releases_only_after_acceptance() {
        let mut net = pair();
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"checkpoint"), T0).unwrap();
        // Hand-run: the BPDU leaves, but hold the signal back.
        let actions: Vec<Action> = core::iter::from_fn(|| net.agents[0].poll_action()).collect();
        assert!(actions.iter().any(|a| matches!(a, Action::Accepted { token: 1, .. })));
        let Some(Action::Transmit { link, bundle, bytes }) =
            actions.into_iter().find(|a| matches!(a, Action::Transmit { .. }))
        else {
            panic!("no transmit")
        };
        net.agents[0].handle(Event::Transmitted { link, bundle, ok: true }, T0).unwrap();
        assert_eq!(held(&net, 0), 1, "kept until the peer accepts");
        net.agents[1].handle(Event::Received { link: LinkId(0), bytes }, T0).unwrap();
        net.run(T0);
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 0, "released on the accepting signal");
    }

    #[test]
    fn lost_bpdu_is_sent_again_under_a_new_id() {
        let mut net = pair();
        net.lossy.push((0, 1));
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
        net.run(T0);
        assert_eq!(held(&net, 0), 1);
        net.lossy.clear();
        net.tick(T0.saturating_add_millis(4_000));
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 0);
    }

    #[test]
    fn a_bpdu_lost_on_a_pass_that_ended_is_routed_again_at_the_deadline() {
        let mut net = pair();
        net.lossy.push((0, 1));
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
        net.run(T0);
        // The pass ends; the peer will not be in view again for a long time.
        net.agents[0].handle(Event::LinkDown { link: LinkId(1) }, T0).unwrap();
        net.tick(T0.saturating_add_millis(4_000));
        let states: Vec<BundleState> = net.agents[0].bundles().map(|(_, e)| e.state).collect();
        assert_eq!(states, vec![BundleState::Waiting], "released from the lost transmission, routed again");
        assert!(net.agents[0].bundles().all(|(_, e)| e.custody.is_none()));
    }

    #[test]
    fn a_peer_that_never_answers_is_retried_ever_less_often() {
        let mut net = pair();
        net.lossy.push((1, 0)); // no signal ever gets back
        // Long-lived: an expired bundle is not sent again.
        let Event::Submit(mut long) = submit(1, Eid::ipn(2, 1), b"x") else { unreachable!() };
        long.lifetime_ms = 3_600_000;
        net.agents[0].handle(Event::Submit(long), T0).unwrap();
        net.run(T0);
        let deadline =
            |net: &Net| net.agents[0].bundles().find_map(|(_, e)| e.custody.as_deref().map(|c| c.deadline)).unwrap();
        let (mut gaps, mut t) = (Vec::new(), T0);
        for _ in 0..4 {
            let d = deadline(&net);
            gaps.push(d.0 - t.0);
            t = d;
            net.tick(d);
        }
        assert_eq!(gaps[1..], [2 * gaps[0], 4 * gaps[0], 8 * gaps[0]], "{gaps:?}");
        // A signal from the peer resets the pace.
        net.lossy.clear();
        net.tick(deadline(&net));
        assert_eq!(held(&net, 0), 0);
        assert!(net.agents[0].custody_backoff.is_empty());
    }

    #[test]
    fn lost_signal_ends_in_redundant_and_one_delivery() {
        let mut net = pair();
        net.lossy.push((1, 0));
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
        net.run(T0);
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 1, "no signal yet");
        net.lossy.clear();
        net.tick(T0.saturating_add_millis(4_000));
        assert_eq!(net.delivered.len(), 1, "the retransmission is a duplicate");
        assert_eq!(held(&net, 0), 0, "redundant releases too");
    }

    #[test]
    fn a_bundle_routed_back_to_a_released_custodian_is_taken_in_again() {
        // 1 → 2 → 3 → 1: node 1 releases custody to 2, and the bundle comes back to it from 3.
        let peers = [1, 2, 3];
        let mut net = Net::new(vec![
            custodial(1, &[(4, 2), (2, 2), (3, 3)], &peers),
            custodial(2, &[(4, 3), (1, 1), (3, 3)], &peers),
            custodial(3, &[(4, 1), (1, 1), (2, 2)], &peers),
        ]);
        net.connect(0, 1, T0);
        net.agents[0].handle(submit(1, Eid::ipn(4, 1), b"looped"), T0).unwrap();
        net.run(T0);
        assert_eq!((held(&net, 0), held(&net, 1)), (0, 1), "node 2 took custody");
        net.agents[0].handle(Event::LinkDown { link: LinkId(1) }, T0).unwrap();
        net.agents[1].handle(Event::LinkDown { link: LinkId(0) }, T0).unwrap();
        net.connect(1, 2, T0);
        net.run(T0);
        assert_eq!((held(&net, 1), held(&net, 2)), (0, 1), "node 3 took custody");
        net.connect(2, 0, T0);
        net.run(T0);
        assert_eq!(held(&net, 2), 0, "node 3 released it to node 1");
        assert_eq!(held(&net, 0), 1, "node 1 holds it again rather than calling it redundant");
    }

    #[test]
    fn depleted_storage_refuses_custody() {
        let mut net = pair();
        net.agents[1].store = MemoryStore::new(10);
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"too big for the peer"), T0).unwrap();
        net.run(T0);
        assert!(net.delivered.is_empty());
        assert_eq!(held(&net, 0), 1, "refused: the custodian keeps it");
        net.agents[1].store = MemoryStore::new(1 << 20);
        net.tick(T0.saturating_add_millis(10_000));
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 0);
    }

    #[test]
    fn restart_resumes_custody_timers() {
        let mut net = pair();
        net.lossy.push((0, 1));
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
        net.run(T0);
        let (id, entry) = net.agents[0].bundles().next().map(|(id, e)| (id, e.clone())).unwrap();
        assert_eq!(entry.state, BundleState::AwaitingCustody);
        let deadline = entry.custody.unwrap().deadline;
        // Crash and rebuild the custodian from its store.
        let store = net.agents[0].store().after_crash();
        let mut router = StaticRouter::new();
        router.add(2, 2);
        let mut config = NodeConfig::new(1);
        config.custody = Some(CustodyConfig::with_peers([2]));
        net.agents[0] = Bpa::recover(config, store, router, T0).unwrap();
        let restored = net.agents[0].bundles().find(|(i, _)| *i == id).map(|(_, e)| e.clone()).unwrap();
        assert_eq!(restored.state, BundleState::AwaitingCustody);
        assert_eq!(net.agents[0].poll_timeout(), Some(deadline.min(restored.expiry)));
        net.lossy.clear();
        net.agents[0].handle(Event::LinkUp { link: LinkId(1), peer: 2 }, T0).unwrap();
        net.tick(deadline);
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 0);
    }

    #[test]
    fn a_batch_is_acknowledged_with_one_aggregated_signal() {
        let mut net = pair();
        for token in 0..5 {
            net.agents[0].handle(submit(token, Eid::ipn(2, 1), b"x"), T0).unwrap();
        }
        let bpdus: Vec<Event> = core::iter::from_fn(|| net.agents[0].poll_action())
            .filter_map(|a| match a {
                Action::Transmit { bytes, .. } => Some(Event::Received { link: LinkId(0), bytes }),
                _ => None,
            })
            .collect();
        assert_eq!(bpdus.len(), 5);
        net.agents[1].handle_batch(bpdus, T0).unwrap();
        let signals: Vec<Bytes> = core::iter::from_fn(|| net.agents[1].poll_action())
            .filter_map(|a| match a {
                Action::Transmit { bytes, .. } => Some(bytes),
                _ => None,
            })
            .collect();
        assert_eq!(signals.len(), 1, "one signal for the whole batch");
        let outer = crate::bundle::Bundle::parse(signals[0].clone(), crate::parse_mode::ParseMode::Strict).unwrap();
        let AdminRecord::CustodySignal(signal) = AdminRecord::from_bundle(&outer).unwrap() else {
            panic!("not a signal")
        };
        assert_eq!(signal.ids().count(), 5);
        assert_eq!(signal.ranges.len(), 1);
    }

    #[test]
    fn ion_record_codes_interoperate() {
        let mut net = pair();
        for a in &mut net.agents {
            if let Some(c) = a.config.custody.as_mut() {
                c.codes = crate::admin::CustodyCodes::ION;
            }
        }
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"x"), T0).unwrap();
        let actions: Vec<Action> = core::iter::from_fn(|| net.agents[0].poll_action()).collect();
        let Some(Action::Transmit { bytes, .. }) = actions.into_iter().find(|a| matches!(a, Action::Transmit { .. }))
        else {
            panic!()
        };
        let outer = crate::bundle::Bundle::parse(bytes.clone(), crate::parse_mode::ParseMode::Strict).unwrap();
        assert_eq!(outer.payload()[1], 7, "BPDU under ION's record type");
        net.agents[1].handle(Event::Received { link: LinkId(0), bytes }, T0).unwrap();
        net.run(T0);
        assert_eq!(net.delivered.len(), 1);
    }
}

mod proactive_fragmentation {
    use super::*;
    use crate::routing::{CgrRouter, Contact, ContactPlan, PlanTime};

    fn cgr_agent(node: NodeId, contacts: &[Contact]) -> Bpa<MemoryStore, CgrRouter> {
        let mut config = NodeConfig::new(node);
        config.plan_epoch = T0;
        Bpa::new(config, MemoryStore::new(1 << 20), CgrRouter::new(ContactPlan::new(contacts.to_vec(), None)))
    }

    /// A submission of `size` bytes to ipn:2.1 living an hour.
    fn sized(size: usize, flags: BundleFlags) -> Event {
        Event::Submit(Submission {
            token: 1,
            source: None,
            destination: Eid::ipn(2, 1),
            payload: Bytes::from(vec![9u8; size]),
            lifetime_ms: 3_600_000,
            flags,
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        })
    }

    fn contact(start: i64, end: i64) -> Contact {
        Contact {
            from: 1,
            to: 2,
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(end),
            rate_bytes_per_sec: 100,
            owlt_nanos: 0,
            confidence: 1.0,
        }
    }

    #[test]
    fn splits_a_bundle_no_single_contact_can_carry() {
        // Two 1,000-byte contacts; a 1,500-byte bundle fits neither.
        let plan = [contact(0, 10), contact(20, 30)];
        let mut a = cgr_agent(1, &plan);
        let mut b = cgr_agent(2, &plan);
        b.handle(register(Eid::ipn(2, 1)), T0).unwrap();
        a.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, T0).unwrap();
        a.handle(sized(1_500, BundleFlags::default()), T0).unwrap();
        let sent: Vec<Bytes> = core::iter::from_fn(|| a.poll_action())
            .filter_map(|x| if let Action::Transmit { bytes, .. } = x { Some(bytes) } else { None })
            .collect();
        assert!(sent.len() >= 2, "sent as {} fragments", sent.len());
        assert!(sent.iter().all(|f| f.len() <= 1_000));
        for bytes in sent {
            b.handle(Event::Received { link: LinkId(1), bytes }, T0).unwrap();
        }
        let delivered: Vec<Delivery> = core::iter::from_fn(|| b.poll_action())
            .filter_map(|x| if let Action::Deliver(d) = x { Some(d) } else { None })
            .collect();
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].payload.len(), 1_500);
    }

    #[test]
    fn a_plan_update_moves_queued_bundles_to_a_better_new_contact() {
        let hop = |from, to, start| Contact { from, to, ..contact(start, start + 100) };
        // Known at first: only through node 3, from t = 1,000 s.
        let mut a = cgr_agent(1, &[hop(1, 3, 1_000), hop(3, 2, 1_000)]);
        a.handle(sized(100, BundleFlags::default()), T0).unwrap();
        while a.poll_action().is_some() {}
        // The update brings a direct contact at t = 10 s: the queued bundle takes it.
        a.handle(Event::ContactsAdded(vec![hop(1, 2, 10)]), T0).unwrap();
        let at = DtnTime(T0.0 + 10_000);
        a.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, at).unwrap();
        let sent: Vec<LinkId> = core::iter::from_fn(|| a.poll_action())
            .filter_map(|x| if let Action::Transmit { link, .. } = x { Some(link) } else { None })
            .collect();
        assert_eq!(sent, vec![LinkId(2)]);
        // And nothing is left queued for node 3.
        a.handle(Event::LinkUp { link: LinkId(3), peer: 3 }, at).unwrap();
        assert!(core::iter::from_fn(|| a.poll_action()).all(|x| !matches!(x, Action::Transmit { .. })));
    }

    #[test]
    fn a_big_bundle_is_split_per_contact_not_into_slivers() {
        // Contacts of 1,000, 100,000 and 100,000 bytes: a 150,000-byte bundle goes as a head
        // that fills the second and one fragment for the third, not as 150 slivers starting
        // with the first.
        let contacts = [contact(0, 10), contact(20, 1_020), contact(2_000, 3_000)];
        let mut a = cgr_agent(1, &contacts);
        a.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, T0).unwrap();
        a.handle(sized(150_000, BundleFlags::default()), T0).unwrap();
        let sent: Vec<usize> = core::iter::from_fn(|| a.poll_action())
            .filter_map(|x| if let Action::Transmit { bytes, .. } = x { Some(bytes.len()) } else { None })
            .collect();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(sent.iter().all(|&s| (49_000..=100_000).contains(&s)), "{sent:?}");
        // A contact with only a sliver left is not worth a fragment: a 1 MB bundle waits for
        // a contact that can take a useful part of it.
        let mut b = cgr_agent(1, &[contact(0, 10), contact(20, 1_020)]);
        b.handle(sized(1_000_000, BundleFlags::default()), T0).unwrap();
        let stored: Vec<u64> = b.bundles().map(|(_, e)| u64::from(e.size)).collect();
        assert!(stored.len() == 2 && stored.iter().all(|&s| s > 99_000), "{stored:?}");
    }

    #[test]
    fn never_fragments_a_must_not_fragment_bundle() {
        let mut a = cgr_agent(1, &[contact(0, 10)]);
        a.handle(sized(1_500, BundleFlags::MUST_NOT_FRAGMENT), T0).unwrap();
        assert_eq!(a.bundles().count(), 1, "held whole, waiting for a bigger contact");
    }
}

/// Regressions for a review of the agent (each failed before its fix).
mod review {
    use super::*;
    use crate::admin::{CustodySignal, Disposition};
    use crate::custody::CustodyConfig;
    use crate::routing::{CgrRouter, Contact, ContactPlan, PlanTime};

    #[test]
    fn a_custody_signal_with_a_huge_range_costs_nothing() {
        let mut a = agent(1, &[]);
        let record = AdminRecord::CustodySignal(CustodySignal {
            disposition: Disposition::Accepted,
            ranges: vec![(1, u64::MAX - 1)],
        });
        let b = BundleBuilder::new(Eid::ipn(2, 0), Eid::ipn(1, 0))
            .creation(CreationTimestamp::new(T0, 1))
            .flags(BundleFlags::ADMIN_RECORD)
            .payload(Bytes::from(record.encode()))
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        a.handle(Event::Received { link: LinkId(2), bytes: b.raw().clone() }, T0).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn an_early_signal_does_not_free_an_id_the_link_still_holds() {
        let mut c0 = agent(1, &[(2, 2), (3, 3)]);
        c0.config.custody = Some(CustodyConfig::with_peers([2]));
        let mut c1 = agent(2, &[(1, 1)]);
        c1.handle(register(Eid::ipn(2, 1)), T0).unwrap();
        c0.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, T0).unwrap();
        c0.handle(Event::LinkUp { link: LinkId(3), peer: 3 }, T0).unwrap();
        c1.handle(Event::LinkUp { link: LinkId(1), peer: 1 }, T0).unwrap();
        c0.handle(submit(1, Eid::ipn(2, 1), b"A"), T0).unwrap();
        let (a_id, a_bytes) = core::iter::from_fn(|| c0.poll_action())
            .find_map(|x| if let Action::Transmit { bundle, bytes, .. } = x { Some((bundle, bytes)) } else { None })
            .unwrap();
        c1.handle(Event::Received { link: LinkId(1), bytes: a_bytes }, T0).unwrap();
        let signal = core::iter::from_fn(|| c1.poll_action())
            .find_map(|x| if let Action::Transmit { bytes, .. } = x { Some(bytes) } else { None })
            .unwrap();
        // The signal arrives before the link reports the BPDU sent.
        c0.handle(Event::Received { link: LinkId(2), bytes: signal }, T0).unwrap();
        c0.handle(submit(2, Eid::ipn(3, 1), b"B"), T0).unwrap();
        let b_id = core::iter::from_fn(|| c0.poll_action())
            .find_map(|x| if let Action::Transmit { bundle, .. } = x { Some(bundle) } else { None })
            .unwrap();
        assert_ne!(a_id, b_id, "the id stays taken until the link reports");
        c0.handle(Event::Transmitted { link: LinkId(2), bundle: a_id, ok: true }, T0).unwrap();
        c0.handle(Event::Transmitted { link: LinkId(3), bundle: b_id, ok: false }, T0).unwrap();
        assert_eq!(c0.bundles().count(), 1, "B is kept: its transmission failed");
    }

    #[test]
    fn passive_deliveries_survive_a_restart_until_taken() {
        let mut a = agent(1, &[]);
        a.handle(Event::Register { endpoint: Eid::ipn(1, 7), mode: DeliveryMode::Passive }, T0).unwrap();
        a.handle(submit(1, Eid::ipn(1, 7), b"adu"), T0).unwrap();
        let mut b = Bpa::recover(NodeConfig::new(1), a.store().after_crash(), StaticRouter::new(), T0).unwrap();
        b.handle(Event::Register { endpoint: Eid::ipn(1, 7), mode: DeliveryMode::Passive }, T0).unwrap();
        let d = b.take_delivery(&Eid::ipn(1, 7)).unwrap().expect("still there after the restart");
        assert_eq!(&d.payload[..], b"adu");
        let mut c = Bpa::recover(NodeConfig::new(1), b.store().after_crash(), StaticRouter::new(), T0).unwrap();
        c.handle(Event::Register { endpoint: Eid::ipn(1, 7), mode: DeliveryMode::Passive }, T0).unwrap();
        assert!(c.take_delivery(&Eid::ipn(1, 7)).unwrap().is_none(), "taken means gone, also after a restart");
    }

    fn contact(rate: u64) -> Contact {
        Contact {
            from: 1,
            to: 2,
            start: PlanTime::from_secs(0),
            end: PlanTime::from_secs(10),
            rate_bytes_per_sec: rate,
            owlt_nanos: 0,
            confidence: 1.0,
        }
    }

    #[test]
    fn recovery_restores_every_record_before_routing_any() {
        let mut config = NodeConfig::new(1);
        config.plan_epoch = T0;
        let mut a = Bpa::new(
            config.clone(),
            MemoryStore::new(1 << 20),
            CgrRouter::new(ContactPlan::new(vec![contact(1000)], None)),
        );
        let big = Submission {
            token: 1,
            source: None,
            destination: Eid::ipn(2, 1),
            payload: Bytes::from(vec![9u8; 1_500]),
            lifetime_ms: 3_600_000,
            flags: BundleFlags::default(),
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        };
        a.handle(Event::Submit(big), T0).unwrap();
        a.handle(submit(2, Eid::ipn(2, 1), b"small-B"), T0).unwrap();
        // After the restart the contact is smaller: the big bundle is fragmented on recovery.
        let mut b = Bpa::recover(
            config,
            a.store().after_crash(),
            CgrRouter::new(ContactPlan::new(vec![contact(100)], None)),
            T0,
        )
        .unwrap();
        let mut peer = Bpa::new(NodeConfig::new(2), MemoryStore::new(1 << 20), StaticRouter::new());
        peer.handle(register(Eid::ipn(2, 1)), T0).unwrap();
        b.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, T0).unwrap();
        let actions: Vec<Action> = core::iter::from_fn(|| b.poll_action()).collect();
        assert!(!actions.iter().any(|x| matches!(x, Action::Deleted { .. })));
        for action in actions {
            if let Action::Transmit { bytes, .. } = action {
                peer.handle(Event::Received { link: LinkId(1), bytes }, T0).unwrap();
            }
        }
        let got: Vec<Delivery> = core::iter::from_fn(|| peer.poll_action())
            .filter_map(|x| if let Action::Deliver(d) = x { Some(d) } else { None })
            .collect();
        assert!(got.iter().any(|d| &d.payload[..] == b"small-B"), "B lost");
        // The 1,000-byte contact cannot carry the whole 1,500-byte ADU: what did not fit waits.
        assert!(b.bundles().count() > 0, "the rest of the big ADU is still held");
    }

    #[test]
    fn an_adu_arriving_whole_and_in_fragments_is_delivered_once() {
        let mut net = Net::new(vec![agent(1, &[])]);
        net.agents[0].handle(register(Eid::ipn(1, 1)), T0).unwrap();
        let whole =
            bundle_to(Eid::ipn(1, 1)).payload(&b"0123456789abcdefghij0123456789abcdefghij"[..]).build().unwrap();
        let pieces = crate::fragment::fragment_by_size(&whole, whole.raw().len() - 25).unwrap();
        // A fragment first, then the whole bundle, then the other fragments.
        received(&mut net, 0, &pieces[0]);
        received(&mut net, 0, &whole);
        for f in &pieces[1..] {
            received(&mut net, 0, f);
        }
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(held(&net, 0), 0);
    }

    #[test]
    fn proactive_fragmentation_never_outgrows_the_store() {
        let mut config = NodeConfig::new(1);
        config.plan_epoch = T0;
        let big = bundle_to(Eid::ipn(2, 1)).lifetime_ms(3_600_000).payload(vec![7u8; 1_500]).build().unwrap();
        let budget = big.raw().len() as u64 + 10;
        let mut a =
            Bpa::new(config, MemoryStore::new(budget), CgrRouter::new(ContactPlan::new(vec![contact(100)], None)));
        a.handle(Event::Received { link: LinkId(9), bytes: big.raw().clone() }, T0).unwrap();
        let actions: Vec<Action> = core::iter::from_fn(|| a.poll_action()).collect();
        assert!(
            !actions.iter().any(|x| matches!(x, Action::Deleted { .. })),
            "no part of an accepted bundle is deleted"
        );
        assert_eq!(a.bundles().count(), 1, "kept whole instead");
    }

    #[test]
    fn sequence_numbers_never_repeat_after_a_restart() {
        let mut a = agent(1, &[]);
        a.handle(submit(1, Eid::ipn(2, 1), b"first"), T0).unwrap();
        let first = a.bundles().next().map(|(id, _)| a.stored_bundle(id).unwrap().creation()).unwrap();
        let mut b = Bpa::recover(NodeConfig::new(1), a.store().after_crash(), StaticRouter::new(), T0).unwrap();
        b.handle(submit(2, Eid::ipn(2, 1), b"second"), T0).unwrap();
        let creations: Vec<CreationTimestamp> =
            b.bundles().map(|(id, _)| b.stored_bundle(id).unwrap().creation()).collect();
        assert_eq!(creations.len(), 2);
        assert!(creations.iter().filter(|c| **c == first).count() == 1, "{creations:?}");
    }
}

mod hostile;
mod liveness;
mod loops;
mod quota;
mod security;

/// A submission retried with the same reference (its answer was lost) is the same ADU.
mod resubmission {
    use super::*;

    fn with_reference(token: u64, reference: u64, payload: &'static [u8]) -> Event {
        let Event::Submit(s) = submit(token, Eid::ipn(2, 1), payload) else { unreachable!() };
        Event::Submit(Submission { source: Some(Eid::ipn(1, 5)), reference: Some(reference), ..s })
    }

    fn accepted(a: &mut Agent) -> Vec<(u64, CreationTimestamp)> {
        let mut out = Vec::new();
        while let Some(action) = a.poll_action() {
            if let Action::Accepted { token, creation } = action {
                out.push((token, creation));
            }
        }
        out
    }

    #[test]
    fn a_retry_is_answered_like_the_first_and_stores_nothing() {
        let mut a = agent(1, &[]);
        a.handle(with_reference(1, 77, b"once"), T0).unwrap();
        let first = accepted(&mut a);
        assert_eq!(first.len(), 1);
        // Later, after the first left the store (expired here: no route) and after a restart.
        a.handle(with_reference(2, 77, b"once"), T0.saturating_add_millis(5)).unwrap();
        assert_eq!(accepted(&mut a), [(2, first[0].1)]);
        assert_eq!(a.bundles().count(), 1);
        let store = a.store().after_crash();
        let mut b: Agent = Bpa::recover(NodeConfig::new(1), store, StaticRouter::new(), T0).unwrap();
        b.handle(with_reference(3, 77, b"once"), T0.saturating_add_millis(10)).unwrap();
        assert_eq!(accepted(&mut b), [(3, first[0].1)]);
        assert_eq!(b.bundles().count(), 1);
        b.handle_timeout(T0.saturating_add_millis(61_000)).unwrap();
        assert_eq!(b.bundles().count(), 0, "expired");
        b.handle(with_reference(4, 77, b"once"), T0.saturating_add_millis(61_001)).unwrap();
        assert_eq!(accepted(&mut b), [(4, first[0].1)], "remembered beyond the bundle itself");
        // Another reference, or no reference, is another ADU.
        b.handle(with_reference(5, 78, b"once"), T0.saturating_add_millis(61_002)).unwrap();
        let Event::Submit(plain) = submit(6, Eid::ipn(2, 1), b"once") else { unreachable!() };
        b.handle(Event::Submit(Submission { source: Some(Eid::ipn(1, 5)), ..plain }), T0).unwrap();
        let answers = accepted(&mut b);
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(|(_, c)| *c != first[0].1));
        assert_eq!(b.bundles().count(), 2);
    }

    #[test]
    fn a_retry_in_the_same_batch_waits_for_the_first_ones_commit() {
        let mut a = agent(1, &[]);
        a.handle_batch([with_reference(1, 9, b"x"), with_reference(2, 9, b"x")], T0).unwrap();
        let answers = accepted(&mut a);
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].1, answers[1].1);
        assert_eq!(a.bundles().count(), 1);
        // A crash before the commit (none happened here) would lose both: the receipt is in
        // the commit that stores the bundle, never apart from it.
        let store = a.store().after_crash();
        let b: Agent = Bpa::recover(NodeConfig::new(1), store, StaticRouter::new(), T0).unwrap();
        assert_eq!(b.bundles().count(), 1);
        assert_eq!(b.receipts.len(), 1);
    }

    #[test]
    fn only_the_latest_receipts_per_source_are_kept_in_ram_and_store() {
        const KEPT: usize = 100;
        let mut a = agent(1, &[]);
        a.config.receipts_per_source = KEPT;
        let n = KEPT as u64 + 10;
        let events: Vec<Event> = (0..n).map(|r| with_reference(r, r, b"r")).collect();
        a.handle_batch(events, T0).unwrap();
        assert_eq!(accepted(&mut a).len() as u64, n);
        assert_eq!(a.receipts.len(), KEPT);
        // Expire the bundles: what stays in the store are the receipts (and node state).
        a.handle_timeout(T0.saturating_add_millis(61_000)).unwrap();
        let store = a.store().after_crash();
        let mut config = NodeConfig::new(1);
        config.receipts_per_source = KEPT;
        let b: Agent = Bpa::recover(config, store, StaticRouter::new(), T0).unwrap();
        assert_eq!(b.receipts.len(), KEPT);
        assert!(b.store().recover().unwrap().len() <= KEPT + 1);
        let mut b = b;
        b.handle(with_reference(n + 1, 3, b"r"), T0).unwrap();
        assert_eq!(b.bundles().count(), 1, "reference 3 was forgotten: a new bundle");
        b.handle(with_reference(n + 2, n - 1, b"r"), T0).unwrap();
        assert_eq!(b.bundles().count(), 1, "the latest is remembered");
    }
}

/// A link that takes bundles only up to a size (a TCPCL peer's transfer MRU).
mod link_limit {
    use super::*;

    fn big(token: u64, payload: &'static [u8], flags: BundleFlags) -> Event {
        let Event::Submit(s) = submit(token, Eid::ipn(2, 1), payload) else { unreachable!() };
        Event::Submit(Submission { flags, ..s })
    }

    #[test]
    fn bundles_too_big_for_the_link_go_as_fragments_and_arrive_whole() {
        static PAYLOAD: [u8; 5_000] = [7; 5_000];
        let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
        net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
        net.agents[0].handle(Event::LinkLimit { link: LinkId(1), max_bundle: 1_200 }, T0).unwrap();
        net.connect(0, 1, T0);
        // Watch what goes on the link.
        net.agents[0].handle(big(1, &PAYLOAD, BundleFlags::default()), T0).unwrap();
        let mut sizes = Vec::new();
        loop {
            let mut moved = false;
            while let Some(action) = net.agents[0].poll_action() {
                if let Action::Transmit { link, bundle, bytes } = action {
                    moved = true;
                    sizes.push(bytes.len());
                    net.agents[1].handle(Event::Received { link: LinkId(0), bytes }, T0).unwrap();
                    net.agents[0].handle(Event::Transmitted { link, bundle, ok: true }, T0).unwrap();
                }
            }
            if !moved {
                break;
            }
        }
        net.run(T0);
        assert!(sizes.len() >= 5 && sizes.iter().all(|&n| n <= 1_200), "{sizes:?}");
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(&net.delivered[0].1.payload[..], &PAYLOAD[..]);
        assert_eq!(held(&net, 0), 0, "nothing left behind");
    }

    #[test]
    fn custody_transfers_fit_too_with_their_encapsulation() {
        static PAYLOAD: [u8; 5_000] = [9; 5_000];
        let mut sender = agent(1, &[(2, 2)]);
        sender.config.custody = Some(crate::custody::CustodyConfig::with_peers([2]));
        let mut receiver = agent(2, &[(1, 1)]);
        receiver.config.custody = Some(crate::custody::CustodyConfig::with_peers([]));
        let mut net = Net::new(vec![sender, receiver]);
        net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
        net.agents[0].handle(Event::LinkLimit { link: LinkId(1), max_bundle: 1_200 }, T0).unwrap();
        net.connect(0, 1, T0);
        net.agents[0].handle(big(1, &PAYLOAD, BundleFlags::default()), T0).unwrap();
        net.run(T0);
        assert_eq!(net.delivered.len(), 1);
        assert_eq!(&net.delivered[0].1.payload[..], &PAYLOAD[..]);
        assert!(deleted_reasons(&net).is_empty());
        assert_eq!(held(&net, 0), 0, "custody of every fragment went to node 2");
    }

    #[test]
    fn a_bundle_that_must_not_be_fragmented_waits_instead_of_going_out_too_big() {
        static PAYLOAD: [u8; 5_000] = [7; 5_000];
        let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
        net.agents[0].handle(Event::LinkLimit { link: LinkId(1), max_bundle: 1_200 }, T0).unwrap();
        net.connect(0, 1, T0);
        net.agents[0].handle(big(1, &PAYLOAD, BundleFlags::MUST_NOT_FRAGMENT), T0).unwrap();
        net.run(T0);
        // Not sent (Net checks every transmission against the limit), not deleted: it may be
        // in this node's custody; it waits for another way and expires in the end.
        assert!(deleted_reasons(&net).is_empty());
        assert_eq!(held(&net, 0), 1);
        net.tick(T0.saturating_add_millis(30_000));
        assert_eq!(held(&net, 0), 1, "retried, still not sent");
        // A small one still goes.
        net.agents[0].handle(big(2, b"small", BundleFlags::MUST_NOT_FRAGMENT), T0).unwrap();
        net.run(T0);
        assert_eq!(held(&net, 1), 1, "held at node 2 (no registration)");
        // At its expiry the one that waited goes, for want of a contact that takes it.
        net.tick(T0.saturating_add_millis(61_000));
        assert_eq!(deleted_reasons(&net), [ReasonCode::NoTimelyContact]);
        assert_eq!(held(&net, 0), 0);
    }

    #[test]
    fn fragments_keep_the_time_the_bundle_came() {
        static PAYLOAD: [u8; 5_000] = [3; 5_000];
        let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
        net.agents[0].handle(Event::LinkLimit { link: LinkId(1), max_bundle: 1_200 }, T0).unwrap();
        net.agents[0].handle(big(1, &PAYLOAD, BundleFlags::default()), T0).unwrap();
        // The link comes up later; the fragments cut then still date from T0.
        net.connect(0, 1, T0.saturating_add_millis(5_000));
        let entries: Vec<_> = net.agents[0].bundles().map(|(_, e)| e.received_at).collect();
        assert!(entries.len() > 1, "{entries:?}");
        assert!(entries.iter().all(|&t| t == T0), "{entries:?}");
    }

    #[test]
    fn a_limit_too_small_to_be_real_is_ignored() {
        static PAYLOAD: [u8; 5_000] = [7; 5_000];
        let mut net = Net::new(vec![agent(1, &[(2, 2)]), agent(2, &[])]);
        net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
        net.agents[0].handle(Event::LinkLimit { link: LinkId(1), max_bundle: 70 }, T0).unwrap();
        net.connect(0, 1, T0);
        net.agents[0].handle(big(1, &PAYLOAD, BundleFlags::default()), T0).unwrap();
        net.run(T0);
        assert_eq!(net.delivered.len(), 1);
        assert!(net.agents[0].link_limits.is_empty());
    }
}

#[test]
fn passive_deliveries_taken_in_a_batch_go_in_one_commit_and_stay_taken() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].handle(Event::Register { endpoint: Eid::ipn(1, 1), mode: DeliveryMode::Passive }, T0).unwrap();
    let bundles: Vec<_> = (1..=3)
        .map(|seq| bundle_to(Eid::ipn(1, 1)).creation(CreationTimestamp::new(T0, seq)).build().unwrap())
        .collect();
    for b in &bundles {
        received(&mut net, 0, b);
    }
    let a = &mut net.agents[0];
    let waiting: Vec<(Eid, CreationTimestamp)> =
        a.deliveries(&Eid::ipn(1, 1)).map(|d| (d.source.clone(), d.creation)).collect();
    assert_eq!(waiting.len(), 3);
    let commits = a.store().commits();
    assert_eq!(a.take_deliveries_of(&Eid::ipn(1, 1), &waiting[..2]).unwrap(), 2);
    assert_eq!(a.store().commits(), commits + 1, "one commit for the batch");
    assert_eq!(a.take_deliveries_of(&Eid::ipn(1, 1), &waiting[..2]).unwrap(), 0, "already taken");
    // After a crash only the third is delivered again; the two taken are duplicates now.
    let store = a.store().after_crash();
    let mut b: Agent = Bpa::recover(NodeConfig::new(1), store, StaticRouter::new(), T0).unwrap();
    b.handle(Event::Register { endpoint: Eid::ipn(1, 1), mode: DeliveryMode::Passive }, T0).unwrap();
    let again: Vec<CreationTimestamp> = b.deliveries(&Eid::ipn(1, 1)).map(|d| d.creation).collect();
    assert_eq!(again, [waiting[2].1]);
    b.handle(Event::Received { link: LinkId(9), bytes: bundles[0].raw().clone() }, T0).unwrap();
    assert_eq!(b.deliveries(&Eid::ipn(1, 1)).count(), 1, "a copy of a taken one is a duplicate");
}
