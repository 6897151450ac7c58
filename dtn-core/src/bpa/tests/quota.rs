//! Storage policy: a lifetime cap, per-peer and per-source quotas, bounded holds for
//! endpoints nobody registered.

use super::*;

fn from_peer(net: &mut Net, at: usize, link: u32, bundle: &crate::bundle::Bundle) {
    net.agents[at].handle(Event::Received { link: LinkId(link), bytes: bundle.raw().clone() }, T0).unwrap();
    net.run(T0);
}

#[test]
fn a_bundle_asking_to_be_kept_longer_than_the_cap_is_refused() {
    let mut net = Net::new(vec![agent(1, &[(7, 7)])]);
    net.agents[0].config.storage.max_lifetime_ms = Some(30 * 86_400_000);
    let year = bundle_to(Eid::ipn(7, 1)).lifetime_ms(365 * 86_400_000).build().unwrap();
    received(&mut net, 0, &year);
    assert_eq!(deleted_reasons(&net), [ReasonCode::TrafficPared]);
    assert_eq!(held(&net, 0), 0);
    let month =
        bundle_to(Eid::ipn(7, 1)).creation(CreationTimestamp::new(T0, 2)).lifetime_ms(86_400_000).build().unwrap();
    received(&mut net, 0, &month);
    assert_eq!(held(&net, 0), 1, "within the cap: kept");
    let mut submit_year = submit(9, Eid::ipn(7, 1), b"for a year");
    if let Event::Submit(s) = &mut submit_year {
        s.lifetime_ms = 365 * 86_400_000;
    }
    net.agents[0].handle(submit_year, T0).unwrap();
    net.run(T0);
    assert!(net.other.iter().any(|(_, a)| matches!(a, Action::Refused { token: 9, reason: ReasonCode::TrafficPared })));
}

#[test]
fn one_peer_cannot_fill_the_store_for_the_others() {
    let mut net = Net::new(vec![agent(1, &[(7, 7)])]);
    net.agents[0].config.storage.per_peer_bytes = Some(1_000);
    net.agents[0].handle(Event::LinkUp { link: LinkId(5), peer: 5 }, T0).unwrap();
    net.agents[0].handle(Event::LinkUp { link: LinkId(6), peer: 6 }, T0).unwrap();
    // Node 5 sends bundles of about 300 bytes for node 7, which is not reachable now.
    let from_five = |i: u64| {
        BundleBuilder::new(Eid::ipn(5, 1), Eid::ipn(7, 1))
            .creation(CreationTimestamp::new(T0, i))
            .lifetime_ms(60_000)
            .payload(vec![5u8; 250])
            .build()
            .unwrap()
    };
    for i in 0..5 {
        from_peer(&mut net, 0, 5, &from_five(i));
    }
    assert_eq!(held(&net, 0), 3, "node 5's quota holds three");
    assert_eq!(deleted_reasons(&net), [ReasonCode::DepletedStorage, ReasonCode::DepletedStorage]);
    assert!(net.agents[0].usage.of_peer(5) <= 1_000);
    // Node 6 still gets in.
    let from_six = BundleBuilder::new(Eid::ipn(6, 1), Eid::ipn(7, 1))
        .creation(CreationTimestamp::new(T0, 1))
        .lifetime_ms(60_000)
        .payload(vec![6u8; 250])
        .build()
        .unwrap();
    from_peer(&mut net, 0, 6, &from_six);
    assert_eq!(held(&net, 0), 4);
    // Node 5's bundles leave (node 7's link comes up): its quota is free again.
    net.agents[0].handle(Event::LinkUp { link: LinkId(7), peer: 7 }, T0).unwrap();
    let sent = core::iter::from_fn(|| net.agents[0].poll_action())
        .filter_map(|a| if let Action::Transmit { link, bundle, .. } = a { Some((link, bundle)) } else { None })
        .collect::<Vec<_>>();
    for (link, bundle) in sent {
        net.agents[0].handle(Event::Transmitted { link, bundle, ok: true }, T0).unwrap();
    }
    assert_eq!(net.agents[0].usage.of_peer(5), 0);
    let again = from_five(10).raw().clone();
    net.agents[0].handle(Event::Received { link: LinkId(5), bytes: again }, T0).unwrap();
    assert!(net.agents[0].usage.of_peer(5) > 0, "taken in again");
}

#[test]
fn bundles_for_an_endpoint_nobody_registered_are_held_for_a_bounded_time_and_size() {
    let mut net = Net::new(vec![agent(1, &[])]);
    net.agents[0].config.storage.unregistered_hold_ms = Some(10_000);
    net.agents[0].config.storage.unregistered_bytes = Some(600);
    let to_nobody = |i: u64| {
        bundle_to(Eid::ipn(1, 9)).creation(CreationTimestamp::new(T0, i)).payload(vec![1u8; 200]).build().unwrap()
    };
    for i in 0..3 {
        received(&mut net, 0, &to_nobody(i));
    }
    assert_eq!(held(&net, 0), 2, "two fit in the 600 bytes");
    assert_eq!(deleted_reasons(&net), [ReasonCode::DestinationUnavailable]);
    assert!(net.agents[0].usage.unregistered_bytes() <= 600);
    // Ten seconds on, nobody registered: deleted, and said why.
    net.tick(T0.saturating_add_millis(10_000));
    assert_eq!(held(&net, 0), 0);
    assert_eq!(deleted_reasons(&net).len(), 3);
    assert!(deleted_reasons(&net).iter().all(|r| *r == ReasonCode::DestinationUnavailable));
    assert_eq!(net.agents[0].usage.unregistered_bytes(), 0);
    // A registration within the hold delivers, and the bundle keeps its own lifetime.
    received(&mut net, 0, &to_nobody(7));
    net.agents[0].handle(Event::Register { endpoint: Eid::ipn(1, 9), mode: DeliveryMode::Passive }, T0).unwrap();
    net.tick(T0.saturating_add_millis(20_000));
    assert_eq!(net.agents[0].deliveries(&Eid::ipn(1, 9)).count(), 1, "held past the hold once registered");
    assert_eq!(net.agents[0].usage.unregistered_bytes(), 0);
}
