use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::routing::contact::Contact;

fn contact(from: NodeId, to: NodeId, start: i64, end: i64, rate: u64) -> Contact {
    Contact {
        from,
        to,
        start: PlanTime::from_secs(start),
        end: PlanTime::from_secs(end),
        rate_bytes_per_sec: rate,
        owlt_nanos: 1_000_000,
        confidence: 1.0,
    }
}

fn request(local: NodeId, destination: NodeId, size: u64) -> RouteRequest {
    RouteRequest {
        avoid: Vec::new(),
        local,
        destination,
        now: PlanTime::from_secs(0),
        size,
        priority: Priority::Normal,
        expiry: PlanTime::NEVER,
        previous_hop: None,
    }
}

/// 1 → 2 direct (100 bytes of volume, early), or 1 → 3 → 2 (plenty, later).
fn diamond() -> CgrRouter {
    CgrRouter::new(ContactPlan::new(
        vec![contact(1, 2, 0, 10, 10), contact(1, 3, 20, 30, 1000), contact(3, 2, 40, 50, 1000)],
        None,
    ))
}

#[test]
fn routes_to_a_destination_numbered_below_the_source() {
    // HDTN's libcgr found no route when the destination number was below the source's.
    let mut router = CgrRouter::new(ContactPlan::new(vec![contact(5, 4, 0, 10, 100), contact(4, 3, 0, 10, 100)], None));
    let f = router.route(&request(5, 3, 10)).unwrap();
    assert_eq!(f.next_hop, 4);
    assert_eq!(f.route.unwrap().hops(), 2);
}

#[test]
fn booked_volume_reduces_later_choices() {
    // HDTN never updated contact volumes; here the second bundle no longer fits the direct one.
    let mut router = diamond();
    let first = router.route(&request(1, 2, 80)).unwrap();
    assert_eq!(first.next_hop, 2);
    let second = router.route(&request(1, 2, 80)).unwrap();
    assert_eq!(second.next_hop, 3);
    assert!(second.route.unwrap().arrival > first.route.unwrap().arrival);
}

#[test]
fn released_volume_is_available_again() {
    let mut router = diamond();
    let first = router.route(&request(1, 2, 80)).unwrap();
    router.release(first.booking.unwrap());
    assert_eq!(router.booked_at_or_above(0, Priority::Bulk), 0);
    assert_eq!(router.route(&request(1, 2, 80)).unwrap().next_hop, 2);
}

#[test]
fn higher_priority_bumps_lower_priority_bookings() {
    let mut router = diamond();
    let bulk = router.route(&RouteRequest { priority: Priority::Bulk, ..request(1, 2, 80) }).unwrap();
    assert_eq!(bulk.next_hop, 2);
    let urgent = router.route(&RouteRequest { priority: Priority::Expedited, ..request(1, 2, 80) }).unwrap();
    assert_eq!(urgent.next_hop, 2, "expedited takes the volume booked by bulk");
    assert_eq!(urgent.bumped, vec![bulk.booking.unwrap()]);
    assert!(router.booked_at_or_above(0, Priority::Bulk) <= 100);
}

#[test]
fn excludes_the_previous_hop() {
    let mut router = diamond();
    let f = router.route(&RouteRequest { previous_hop: Some(2), ..request(1, 2, 10) }).unwrap();
    assert_eq!(f.next_hop, 2, "the destination itself is never excluded");
    let mut router = CgrRouter::new(ContactPlan::new(
        vec![
            contact(1, 3, 0, 10, 100),
            contact(1, 4, 0, 10, 100),
            contact(3, 2, 0, 10, 100),
            contact(4, 2, 0, 10, 100),
        ],
        None,
    ));
    let f = router.route(&RouteRequest { previous_hop: Some(3), ..request(1, 2, 10) }).unwrap();
    assert_eq!(f.next_hop, 4);
}

#[test]
fn tells_no_known_route_from_no_timely_contact() {
    let mut router = diamond();
    assert_eq!(router.route(&request(2, 1, 10)), Err(NoRoute::NoKnownRoute));
    let late = RouteRequest { expiry: PlanTime::from_secs(5), ..request(1, 2, 500) };
    assert_eq!(router.route(&late), Err(NoRoute::NoTimelyContact));
    assert_eq!(NoRoute::NoTimelyContact.reason_code().code(), 7);
}

#[test]
fn negative_answers_are_cached_until_the_plan_changes() {
    let mut router = diamond();
    assert!(router.route(&request(2, 1, 10)).is_err());
    assert!(router.known_miss(&request(2, 1, 10)).is_some());
    router.add_contacts(&[contact(2, 1, 60, 70, 100)]);
    assert!(router.known_miss(&request(2, 1, 10)).is_none());
    assert_eq!(router.route(&request(2, 1, 10)).unwrap().next_hop, 1);
}

#[test]
fn plan_changes_invalidate_only_affected_routes() {
    let mut router = CgrRouter::new(ContactPlan::new(
        vec![contact(1, 2, 0, 10, 1000), contact(1, 3, 0, 10, 1000), contact(3, 4, 100, 110, 1000)],
        None,
    ));
    router.route(&request(1, 2, 10)).unwrap();
    router.route(&request(1, 4, 10)).unwrap();
    // A contact starting at 50 could beat the route to 4 (arrives ~100 s), not the one to 2.
    router.add_contacts(&[contact(1, 4, 50, 60, 1000)]);
    assert_eq!(router.cached_routes(1, 2).len(), 1);
    assert!(router.cached_routes(1, 4).is_empty());
    assert_eq!(router.route(&request(1, 4, 10)).unwrap().next_hop, 4);
    router.contact_down(0);
    assert!(router.cached_routes(1, 2).is_empty());
    assert_eq!(router.route(&request(1, 2, 10)), Err(NoRoute::NoKnownRoute));
}

#[test]
fn cached_routes_are_reused_and_revalidated() {
    let mut router = diamond();
    router.route(&request(1, 3, 10)).unwrap();
    assert_eq!(router.cached_routes(1, 3).len(), 1);
    let later = RouteRequest { now: PlanTime::from_secs(25), ..request(1, 3, 10) };
    let f = router.route(&later).unwrap();
    assert_eq!(router.cached_routes(1, 3).len(), 1, "served from the cache");
    assert!(f.route.unwrap().arrival >= PlanTime::from_secs(25));
    let too_late = RouteRequest { now: PlanTime::from_secs(31), ..request(1, 3, 10) };
    assert!(router.route(&too_late).is_err());
}

#[test]
fn route_list_suppresses_limiting_contacts() {
    let mut router = diamond();
    let routes = router.route_list(&RouteQuery::new(1, 2, PlanTime::from_secs(0), 10), 5);
    assert_eq!(routes.len(), 2);
    assert!(routes[0].arrival < routes[1].arrival);
    assert_ne!(routes[0].contacts, routes[1].contacts);
}

#[test]
fn static_router_uses_table_then_default() {
    let mut router = StaticRouter::new();
    router.add(2, 7).set_default(Some(9));
    assert_eq!(router.route(&request(1, 2, 1)).unwrap().next_hop, 7);
    assert_eq!(router.route(&request(1, 5, 1)).unwrap().next_hop, 9);
    assert_eq!(router.route(&RouteRequest { previous_hop: Some(9), ..request(1, 5, 1) }), Err(NoRoute::NoKnownRoute));
    let mut empty = StaticRouter::new();
    assert_eq!(empty.route(&request(1, 5, 1)), Err(NoRoute::NoKnownRoute));
}

#[derive(Debug, Clone)]
enum Op {
    Route { from: NodeId, to: NodeId, size: u64, priority: Priority, at: i64 },
    Release(usize),
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..5, 1u64..5, 1u64..400, 0u8..3, 0i64..60).prop_map(|(from, to, size, p, at)| Op::Route {
            from,
            to,
            size,
            priority: [Priority::Bulk, Priority::Normal, Priority::Expedited][p as usize],
            at
        }),
        any::<usize>().prop_map(Op::Release),
    ]
}

proptest! {
    #[test]
    fn bookings_never_exceed_volume_and_add_up(ops in prop::collection::vec(any_op(), 1..60)) {
        let mut router = CgrRouter::new(ContactPlan::new(
            vec![
                contact(1, 2, 0, 10, 50), contact(2, 3, 5, 20, 40), contact(1, 3, 30, 40, 20),
                contact(3, 4, 0, 100, 30), contact(4, 1, 0, 100, 30), contact(2, 4, 10, 30, 60),
            ],
            None,
        ));
        let mut live: Vec<BookingId> = Vec::new();
        for op in ops {
            match op {
                Op::Route { from, to, size, priority, at } => {
                    let req = RouteRequest { priority, now: PlanTime::from_secs(at), ..request(from, to, size) };
                    if let Ok(f) = router.route(&req) {
                        let route = f.route.unwrap();
                        prop_assert!(route.arrival >= req.now);
                        live.retain(|b| !f.bumped.contains(b));
                        live.push(f.booking.unwrap());
                    }
                }
                Op::Release(i) if !live.is_empty() => {
                    let b = live.remove(i % live.len());
                    router.release(b);
                }
                Op::Release(_) => {}
            }
            for (id, c) in router.plan().contacts().iter().enumerate() {
                let id = id as ContactId;
                let total = router.booked_at_or_above(id, Priority::Bulk);
                prop_assert!(total <= c.volume(), "contact {id} booked {total} > {}", c.volume());
                let expected: u64 = router.bookings.values().filter(|b| b.contacts.contains(&id)).map(|b| b.size).sum();
                prop_assert_eq!(total, expected);
            }
        }
    }
}

#[test]
fn a_miss_for_a_short_lived_bundle_does_not_refuse_a_longer_lived_one() {
    // The only way arrives at 41 s: a bundle expiring at 30 s has none, one living longer has.
    let mut router =
        CgrRouter::new(ContactPlan::new(vec![contact(1, 3, 20, 30, 1000), contact(3, 2, 40, 50, 1000)], None));
    let short = RouteRequest { expiry: PlanTime::from_secs(30), ..request(1, 2, 10) };
    assert_eq!(router.route(&short).map(|f| f.next_hop), Err(NoRoute::NoTimelyContact));
    assert_eq!(router.route(&short).map(|f| f.next_hop), Err(NoRoute::NoTimelyContact), "remembered, same answer");
    let long = RouteRequest { expiry: PlanTime::from_secs(60), ..request(1, 2, 10) };
    assert_eq!(router.route(&long).map(|f| f.next_hop), Ok(3));
}
