//! Two sessions joined in memory: establishment, transfers both ways in segments, refusals,
//! keepalive and idle timeout, termination, and bytes split anywhere (proptest).

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::msg::{EXT_TRANSFER_LENGTH, Limits, frame_len};
use super::*;

fn config(node: &str, segment: u64) -> SessionConfig {
    // Tiny segments exercise segmenting; the floor that refuses them is tested on its own.
    SessionConfig {
        segment_mru: segment,
        max_segment: segment,
        keepalive_s: 10,
        min_peer_segment_mru: 1,
        ..SessionConfig::new(node)
    }
}

/// Moves every queued byte from `from` to `to`, in pieces of at most `piece` bytes.
fn pump(from: &mut Session, to: &mut Session, piece: usize, now: u64) -> usize {
    let mut stream = Vec::new();
    while let Some(chunk) = from.poll_transmit() {
        stream.extend_from_slice(&chunk);
    }
    for part in stream.chunks(piece.max(1)) {
        to.receive(part, now);
    }
    stream.len()
}

fn settle(a: &mut Session, b: &mut Session, piece: usize, now: u64) {
    while pump(a, b, piece, now) + pump(b, a, piece, now) > 0 {}
}

fn events(s: &mut Session) -> Vec<SessionEvent> {
    core::iter::from_fn(|| s.poll_event()).collect()
}

fn established(segment: u64) -> (Session, Session) {
    let mut a = Session::new(config("ipn:1.0", segment), Role::Active, 0);
    let mut b = Session::new(config("ipn:2.0", segment), Role::Passive, 0);
    settle(&mut a, &mut b, usize::MAX, 0);
    let (ea, eb) = (events(&mut a), events(&mut b));
    assert!(
        ea.iter().any(|e| matches!(e, SessionEvent::Established { peer_node_id, .. } if peer_node_id == "ipn:2.0"))
    );
    assert!(
        eb.iter().any(|e| matches!(e, SessionEvent::Established { peer_node_id, .. } if peer_node_id == "ipn:1.0"))
    );
    (a, b)
}

#[test]
fn bundles_cross_both_ways_in_segments() {
    let (mut a, mut b) = established(100);
    let big = Bytes::from((0..1_000u32).map(|i| i as u8).collect::<Vec<_>>());
    let id = a.send_bundle(big.clone()).unwrap();
    let back = b.send_bundle(Bytes::from_static(b"reply")).unwrap();
    settle(&mut a, &mut b, 7, 1);
    assert_eq!(
        events(&mut b),
        vec![SessionEvent::Received { transfer_id: id, bundle: big }, SessionEvent::Delivered { transfer_id: back }]
    );
    assert_eq!(
        events(&mut a),
        vec![
            SessionEvent::Received { transfer_id: back, bundle: Bytes::from_static(b"reply") },
            SessionEvent::Delivered { transfer_id: id }
        ]
    );
    assert_eq!((a.unacknowledged(), b.unacknowledged()), (0, 0));
}

#[test]
fn an_ack_covering_the_whole_transfer_delivers_it_whatever_its_flags() {
    // dtn7-rs acknowledges every segment with no flags set.
    let (mut a, _) = established(40);
    let id = a.send_bundle(Bytes::from(vec![3u8; 100])).unwrap();
    while a.poll_transmit().is_some() {}
    let ack = |length| Message::XferAck { flags: SegmentFlags::default(), transfer_id: id, length }.encode();
    a.receive(&ack(40), 1);
    a.receive(&ack(80), 1);
    assert!(events(&mut a).is_empty(), "partial acks deliver nothing");
    a.receive(&ack(100), 1);
    assert_eq!(events(&mut a), vec![SessionEvent::Delivered { transfer_id: id }]);
    assert_eq!(a.unacknowledged(), 0);
}

#[test]
fn transfers_above_a_limit_are_refused() {
    let mut strict = config("ipn:2.0", 100);
    strict.transfer_mru = 500;
    let mut a = Session::new(config("ipn:1.0", 100), Role::Active, 0);
    let mut b = Session::new(strict, Role::Passive, 0);
    settle(&mut a, &mut b, usize::MAX, 0);
    events(&mut b);
    // A sender that reads the MRU does not even start.
    assert_eq!(a.send_bundle(Bytes::from(vec![0u8; 501])), Err(SessionError::TooLarge { len: 501, mru: 500 }));
    // One that ignores it is refused from its Transfer Length.
    let segment = Message::XferSegment {
        flags: SegmentFlags { start: true, end: false },
        transfer_id: 9,
        extensions: vec![ExtItem {
            critical: false,
            item_type: EXT_TRANSFER_LENGTH,
            value: Bytes::copy_from_slice(&800u64.to_be_bytes()),
        }],
        data: Bytes::from(vec![1u8; 50]),
    };
    b.receive(&segment.encode(), 1);
    let refusal: Vec<u8> = core::iter::from_fn(|| b.poll_transmit()).flat_map(|c| c.to_vec()).collect();
    assert_eq!(refusal, Message::XferRefuse { reason: RefuseReason::NotAcceptable, transfer_id: 9 }.encode());
    assert!(events(&mut b).is_empty() && !b.is_closed(), "the session goes on");
}

#[test]
fn a_refused_transfer_stops_sending() {
    let (mut a, _) = established(10);
    let id = a.send_bundle(Bytes::from(vec![5u8; 100])).unwrap();
    // The first segment's head is on the wire: its data must follow, the rest is dropped.
    let head = a.poll_transmit().unwrap();
    a.receive(&Message::XferRefuse { reason: RefuseReason::NoResources, transfer_id: id }.encode(), 1);
    assert_eq!(events(&mut a), vec![SessionEvent::Refused { transfer_id: id, reason: RefuseReason::NoResources }]);
    assert_eq!(a.poll_transmit().map(|d| d.len()), Some(10), "the started segment is finished");
    assert_eq!(a.queued_bytes(), 0, "its unsent segments were dropped");
    assert!(head.len() > 10);
}

#[test]
fn an_oversize_segment_ends_the_session() {
    let (mut a, mut b) = established(100);
    let segment = Message::XferSegment {
        flags: SegmentFlags { start: true, end: true },
        transfer_id: 0,
        extensions: Vec::new(),
        data: Bytes::from(vec![0u8; 101]),
    };
    b.receive(&segment.encode(), 1);
    assert_eq!(events(&mut b), vec![SessionEvent::Ended { reason: TermReason::ResourceExhaustion, by_peer: true }]);
    pump(&mut b, &mut a, usize::MAX, 1);
    assert!(events(&mut a).contains(&SessionEvent::Ended { reason: TermReason::ResourceExhaustion, by_peer: true }));
}

#[test]
fn keepalives_flow_and_silence_ends_the_session() {
    let (mut a, mut b) = established(100);
    assert_eq!(a.poll_timeout(), Some(10_000));
    a.handle_timeout(10_000);
    assert_eq!(a.poll_transmit(), Some(Bytes::from_static(&[0x04])));
    pump(&mut a, &mut b, usize::MAX, 10_000);
    assert!(events(&mut b).is_empty(), "a keepalive is no event");
    b.handle_timeout(25_000);
    assert_eq!(events(&mut b), vec![SessionEvent::Ended { reason: TermReason::IdleTimeout, by_peer: false }]);
}

#[test]
fn a_host_that_reports_every_turn_still_sends_keepalives() {
    // The host calls `transmitted` on every turn, also turns that only received. A side that
    // gets the peer's keepalive must still send its own, or the peer times it out.
    let (mut a, mut b) = established(100);
    let mut now = 0;
    for _ in 0..100 {
        now += 1_000;
        for s in [&mut a, &mut b] {
            s.handle_timeout(now);
        }
        pump(&mut a, &mut b, usize::MAX, now);
        pump(&mut b, &mut a, usize::MAX, now);
        a.transmitted(now);
        b.transmitted(now);
    }
    assert!(!a.is_closed() && !b.is_closed(), "{:?} / {:?}", events(&mut a), events(&mut b));
}

#[test]
fn a_peer_segment_mru_below_the_floor_refuses_the_session() {
    let mut a = Session::new(SessionConfig::new("ipn:1.0"), Role::Active, 0);
    let tiny = SessionConfig { segment_mru: 1, min_peer_segment_mru: 1, ..SessionConfig::new("ipn:2.0") };
    let mut b = Session::new(tiny, Role::Passive, 0);
    settle(&mut a, &mut b, usize::MAX, 0);
    let ended = events(&mut a);
    assert_eq!(ended.last(), Some(&SessionEvent::Ended { reason: TermReason::ContactFailure, by_peer: false }));
    assert!(!ended.iter().any(|e| matches!(e, SessionEvent::Established { .. })));
    assert!(a.cause().unwrap().contains("below this node's floor of 1024"), "{:?}", a.cause());
    assert_eq!(a.send_bundle(Bytes::from_static(b"x")), Err(SessionError::Ending));
    assert!(b.is_closed(), "the peer is told (SESS_TERM)");
}

#[test]
fn a_peer_that_never_acknowledges_is_dropped() {
    let (mut a, mut b) = established(100);
    a.send_bundle(Bytes::from(vec![7u8; 1_000])).unwrap();
    // Everything is written; b reads it but its acknowledgements never come back.
    pump(&mut a, &mut b, usize::MAX, 1_000);
    a.transmitted(1_000);
    while b.poll_transmit().is_some() {}
    assert_eq!(a.poll_timeout(), Some(11_000), "the keepalive comes first");
    a.handle_timeout(11_000);
    // b's keepalives keep the session from idling out, but acknowledge nothing.
    b.handle_timeout(11_000);
    pump(&mut b, &mut a, usize::MAX, 11_000);
    pump(&mut a, &mut b, usize::MAX, 11_000);
    a.transmitted(11_000);
    assert_eq!(a.poll_timeout(), Some(21_000), "twice the keepalive after the last write");
    a.handle_timeout(21_000);
    assert!(a.is_closed());
    assert!(a.cause().unwrap().contains("acknowledged nothing for 20000 ms"), "{:?}", a.cause());
}

#[test]
fn acknowledgements_keep_a_long_transfer_alive() {
    let (mut a, mut b) = established(100);
    a.send_bundle(Bytes::from(vec![7u8; 1_000])).unwrap();
    let mut now = 0;
    // One segment a second for ten seconds, each acknowledged: longer than the stall bound.
    while a.unacknowledged() > 0 && now < 100_000 {
        now += 5_000;
        if let Some(chunk) = a.poll_transmit() {
            b.receive(&chunk, now);
        }
        a.transmitted(now);
        pump(&mut b, &mut a, usize::MAX, now);
        a.handle_timeout(now);
        assert!(!a.is_closed(), "at {now}: {:?}", a.cause());
    }
    assert_eq!(a.unacknowledged(), 0);
}

#[test]
fn a_transfer_refused_midway_lets_go_of_its_data_and_the_sender_stops() {
    let (mut a, mut b) = established(100);
    let id = a.send_bundle(Bytes::from(vec![9u8; 1_000])).unwrap();
    // Three segments arrive, then the receiver runs out of room.
    for _ in 0..6 {
        let chunk = a.poll_transmit().unwrap();
        b.receive(&chunk, 1);
    }
    assert!(b.receiving_bytes() >= 300, "{}", b.receiving_bytes());
    assert!(b.refuse_incoming(RefuseReason::NoResources));
    assert_eq!(b.receiving_bytes(), 0);
    assert!(!b.refuse_incoming(RefuseReason::NoResources), "refused once");
    settle(&mut a, &mut b, usize::MAX, 2);
    assert!(events(&mut a).contains(&SessionEvent::Refused { transfer_id: id, reason: RefuseReason::NoResources }));
    assert!(!events(&mut b).iter().any(|e| matches!(e, SessionEvent::Received { .. })));
    // The session goes on.
    let next = a.send_bundle(Bytes::from_static(b"small")).unwrap();
    settle(&mut a, &mut b, usize::MAX, 3);
    assert!(events(&mut a).contains(&SessionEvent::Delivered { transfer_id: next }));
}

#[test]
fn termination_is_answered_and_closes_both() {
    let (mut a, mut b) = established(100);
    a.terminate(TermReason::Busy);
    assert_eq!(a.send_bundle(Bytes::from_static(b"late")), Err(SessionError::Ending));
    settle(&mut a, &mut b, usize::MAX, 1);
    assert_eq!(events(&mut b), vec![SessionEvent::Ended { reason: TermReason::Busy, by_peer: true }]);
    assert_eq!(events(&mut a), vec![SessionEvent::Ended { reason: TermReason::Busy, by_peer: false }]);
    assert!(a.is_closed() && b.is_closed());
}

#[test]
fn a_stranger_is_dropped_without_a_word_and_v3_gets_a_version_mismatch() {
    let mut b = Session::new(config("ipn:2.0", 100), Role::Passive, 0);
    b.receive(b"GET / HTTP/1.1\r\n", 0);
    assert_eq!(b.poll_transmit(), None);
    assert_eq!(events(&mut b), vec![SessionEvent::Ended { reason: TermReason::ContactFailure, by_peer: true }]);
    let mut b = Session::new(config("ipn:2.0", 100), Role::Passive, 0);
    b.receive(&[0x64, 0x74, 0x6e, 0x21, 0x03, 0x00], 0);
    let sent: Vec<u8> = core::iter::from_fn(|| b.poll_transmit()).flat_map(|c| c.to_vec()).collect();
    assert_eq!(&sent[6..], &[0x05, 0x00, 0x02]);
}

#[test]
fn unknown_message_types_are_rejected_and_end_the_session() {
    let (_, mut b) = established(100);
    b.receive(&[0x08], 1);
    let sent: Vec<u8> = core::iter::from_fn(|| b.poll_transmit()).flat_map(|c| c.to_vec()).collect();
    assert_eq!(&sent[..3], &[0x06, 0x01, 0x08]);
    assert!(b.is_closed());
}

#[test]
fn tls_is_used_when_both_offer_it() {
    let mut ca = config("ipn:1.0", 100);
    ca.can_tls = true;
    let mut cb = config("ipn:2.0", 100);
    cb.can_tls = true;
    let mut a = Session::new(ca, Role::Active, 0);
    let mut b = Session::new(cb, Role::Passive, 0);
    settle(&mut a, &mut b, usize::MAX, 0);
    assert_eq!(events(&mut a), vec![SessionEvent::ContactHeaders { tls: true }]);
    assert_eq!(events(&mut b), vec![SessionEvent::ContactHeaders { tls: true }]);
    assert!(a.take_unprocessed().is_empty());
    a.tls_established(1);
    b.tls_established(1);
    settle(&mut a, &mut b, usize::MAX, 1);
    assert!(matches!(events(&mut a).as_slice(), [SessionEvent::Established { .. }]));
}

fn message() -> impl Strategy<Value = Message> {
    let flags = (any::<bool>(), any::<bool>()).prop_map(|(start, end)| SegmentFlags { start, end });
    let item = (any::<bool>(), any::<u16>(), prop::collection::vec(any::<u8>(), 0..20))
        .prop_map(|(critical, item_type, v)| ExtItem { critical, item_type, value: Bytes::from(v) });
    prop_oneof![
        (any::<u16>(), any::<u64>(), any::<u64>(), "[a-z:0-9./]{1,30}", prop::collection::vec(item.clone(), 0..3))
            .prop_map(|(k, s, t, id, extensions)| Message::SessInit(SessInit {
                keepalive_s: k,
                segment_mru: s,
                transfer_mru: t,
                node_id: id,
                extensions
            })),
        (flags.clone(), any::<u64>(), prop::collection::vec(item, 0..3), prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(flags, transfer_id, ext, data)| Message::XferSegment {
                flags,
                transfer_id,
                extensions: if flags.start { ext } else { Vec::new() },
                data: Bytes::from(data)
            }),
        (flags, any::<u64>(), any::<u64>()).prop_map(|(flags, transfer_id, length)| Message::XferAck {
            flags,
            transfer_id,
            length
        }),
        (0u8..10, any::<u64>())
            .prop_map(|(c, transfer_id)| Message::XferRefuse { reason: RefuseReason::from_code(c), transfer_id }),
        Just(Message::Keepalive),
        (any::<bool>(), 0u8..10).prop_map(|(reply, c)| Message::SessTerm { reply, reason: TermReason::from_code(c) }),
        (1u8..6, any::<u8>()).prop_map(|(c, header)| Message::MsgReject { reason: RejectReason::from_code(c), header }),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips_and_frames_only_when_whole(m in message()) {
        let bytes = Bytes::from(m.encode());
        let limits = Limits { segment_mru: u64::MAX, ..Limits::default() };
        for k in 0..bytes.len() {
            prop_assert_eq!(frame_len(&bytes[..k], &limits), Ok(None));
        }
        prop_assert_eq!(frame_len(&bytes, &limits), Ok(Some(bytes.len())));
        prop_assert_eq!(Message::parse(&bytes, &limits), Ok(m));
    }

    #[test]
    fn bundles_survive_any_segmenting_and_any_split(
        bundles in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..6),
        segment in 1u64..300,
        piece in 1usize..64,
    ) {
        let (mut a, mut b) = established(segment);
        let mut ids = Vec::new();
        for bundle in &bundles {
            ids.push(a.send_bundle(Bytes::from(bundle.clone())).unwrap());
        }
        settle(&mut a, &mut b, piece, 1);
        let received: Vec<Vec<u8>> = events(&mut b)
            .into_iter()
            .filter_map(|e| if let SessionEvent::Received { bundle, .. } = e { Some(bundle.to_vec()) } else { None })
            .collect();
        prop_assert_eq!(received, bundles);
        let delivered: Vec<u64> = events(&mut a)
            .into_iter()
            .filter_map(|e| if let SessionEvent::Delivered { transfer_id } = e { Some(transfer_id) } else { None })
            .collect();
        prop_assert_eq!(delivered, ids);
    }

    /// Garbage after establishment never panics and ends in a closed session or more input
    /// wanted, with nothing unbounded queued.
    #[test]
    fn garbage_never_panics(noise in prop::collection::vec(any::<u8>(), 0..400)) {
        let (_, mut b) = established(100);
        b.receive(&noise, 1);
        prop_assert!(b.queued_bytes() < 1_000);
    }

    /// The running count of queued octets is what is queued, through sends, refusals and
    /// partial draining.
    #[test]
    fn queued_bytes_counts_what_is_queued(
        sizes in prop::collection::vec(0usize..700, 1..6),
        take in 0usize..20,
        refuse in any::<prop::sample::Index>(),
    ) {
        let (mut a, _b) = established(100);
        let ids: Vec<u64> = sizes.iter().map(|&n| a.send_bundle(Bytes::from(vec![1u8; n])).unwrap()).collect();
        let mut taken = Vec::new();
        for _ in 0..take {
            match a.poll_transmit() {
                Some(chunk) => taken.extend_from_slice(&chunk),
                None => break,
            }
        }
        let refused = ids[refuse.index(ids.len())];
        let refusal = Message::XferRefuse { reason: RefuseReason::NotAcceptable, transfer_id: refused }.encode();
        a.receive(&refusal, 1);
        let counted = a.queued_bytes();
        let mut rest = 0;
        while let Some(chunk) = a.poll_transmit() {
            rest += chunk.len();
        }
        prop_assert_eq!(counted, rest);
        prop_assert_eq!(a.queued_bytes(), 0);
    }
}
