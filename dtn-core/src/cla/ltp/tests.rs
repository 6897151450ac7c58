//! The engine, deterministically: two engines joined by a wire with light time and a loss
//! rule, in virtual time.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::segment::{Body, CancelReason, DataKind, RedEnd, Segment, Side};
use super::*;

const A: u64 = 1;
const B: u64 = 2;

/// Which segment kind a loss rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Data,
    Checkpoint,
    Green,
    Report,
    ReportAck,
    Cancel,
    CancelAck,
}

fn kind_of(segment: &Segment) -> Kind {
    match &segment.body {
        Body::Data(d) => match d.kind {
            DataKind::Red => Kind::Data,
            DataKind::Checkpoint { .. } => Kind::Checkpoint,
            DataKind::Green { .. } => Kind::Green,
        },
        Body::Report(_) => Kind::Report,
        Body::ReportAck { .. } => Kind::ReportAck,
        Body::Cancel { .. } => Kind::Cancel,
        Body::CancelAck { .. } => Kind::CancelAck,
    }
}

type LossRule = dyn FnMut(u64, &Segment, u64) -> bool;

/// Two engines, A (1) and B (2), and the wire between them.
struct Pair {
    a: Engine,
    b: Engine,
    now: u64,
    owlt: u64,
    /// (arrival time, sequence, to, datagram)
    in_flight: BTreeMap<(u64, u64), (u64, Bytes)>,
    seq: u64,
    /// Decides, for (from, segment, now), whether the wire loses it.
    lose: Box<LossRule>,
    /// Whether the wire carries anything now (a contact).
    wire_up: bool,
    events: Vec<(u64, Event)>,
    sent: BTreeMap<Kind, u64>,
}

fn span(remote: u64, owlt: u64) -> SpanConfig {
    SpanConfig { owlt_ms: owlt, margin_ms: 50, ..SpanConfig::new(remote) }
}

impl Pair {
    fn new(owlt: u64) -> Self {
        Pair::with(owlt, EngineConfig::new(A), EngineConfig::new(B), span(B, owlt), span(A, owlt))
    }

    fn with(owlt: u64, a: EngineConfig, b: EngineConfig, a_span: SpanConfig, b_span: SpanConfig) -> Self {
        let mut a = Engine::new(a);
        let mut b = Engine::new(b);
        a.add_span(a_span, 0);
        b.add_span(b_span, 0);
        Pair {
            a,
            b,
            now: 0,
            owlt,
            in_flight: BTreeMap::new(),
            seq: 0,
            lose: Box::new(|_, _, _| false),
            wire_up: true,
            events: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    fn engine(&mut self, id: u64) -> &mut Engine {
        if id == A { &mut self.a } else { &mut self.b }
    }

    /// Both engines send all they have; the wire carries or loses each segment.
    fn transmit(&mut self) {
        for (from, to) in [(A, B), (B, A)] {
            loop {
                let mut out = Vec::new();
                let now = self.now;
                if !self.engine(from).poll_transmit(to, now, &mut out) {
                    break;
                }
                let bytes = Bytes::from(out);
                let segment = Segment::decode(&bytes).expect("engines send valid segments");
                *self.sent.entry(kind_of(&segment)).or_default() += 1;
                if self.wire_up && !(self.lose)(from, &segment, now) {
                    self.seq += 1;
                    self.in_flight.insert((now + self.owlt, self.seq), (to, bytes));
                }
            }
        }
    }

    fn collect_events(&mut self) {
        for id in [A, B] {
            while let Some(event) = self.engine(id).poll_event() {
                self.events.push((id, event));
            }
        }
    }

    /// Runs until `until` or until nothing is left to happen.
    fn run(&mut self, until: u64) {
        loop {
            self.transmit();
            self.collect_events();
            let next = [self.in_flight.keys().next().map(|&(t, _)| t), self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|&t| t <= until) else {
                self.now = self.now.max(until);
                return;
            };
            self.now = self.now.max(next);
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let (to, bytes) = entry.remove();
                let from = if to == A { B } else { A };
                let now = self.now;
                self.engine(to).handle_datagram(from, &bytes, now).expect("valid segment from a span peer");
            }
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
        }
    }

    fn set_link(&mut self, up: bool) {
        let now = self.now;
        self.wire_up = up;
        self.a.set_link(B, up, now);
        self.b.set_link(A, up, now);
    }

    fn red_parts(&self) -> Vec<Bytes> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::RedPart { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }

    fn done(&self) -> usize {
        self.count(|e| matches!(e, Event::ExportDone { .. }))
    }

    fn cancelled(&self) -> usize {
        self.count(|e| matches!(e, Event::ExportCancelled { .. }))
    }

    fn idle(&self) -> bool {
        self.a.export_sessions() == 0 && self.b.import_sessions() == 0 && self.b.import_bytes() == 0
    }
}

fn block(len: usize, seed: u8) -> Bytes {
    Bytes::from((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect::<Vec<u8>>())
}

/// Loses the `nth` (0-based) segment of `kind` sent by `from`.
fn lose_nth(from_engine: u64, kind: Kind, nth: u64) -> Box<LossRule> {
    let mut seen = 0;
    Box::new(move |from, segment, _| {
        if from != from_engine || kind_of(segment) != kind {
            return false;
        }
        seen += 1;
        seen == nth + 1
    })
}

#[test]
fn a_red_block_arrives_whole_and_the_sender_hears_so() {
    let mut pair = Pair::new(100);
    let data = block(10_000, 1);
    pair.a.send_block(B, 1, data.clone(), data.len() as u64).unwrap();
    pair.run(10_000);
    assert_eq!(pair.red_parts(), [data]);
    assert_eq!(pair.done(), 1);
    assert!(pair.idle(), "both sessions closed");
    assert_eq!(pair.sent[&Kind::Checkpoint], 1);
    assert_eq!(pair.sent[&Kind::Report], 1);
    assert_eq!(pair.sent[&Kind::ReportAck], 1);
    // 10,000 bytes in segments of at most 1,400.
    assert_eq!(pair.sent[&Kind::Data] + 1, 8);
}

#[test]
fn losing_any_one_segment_of_any_kind_still_completes_the_block() {
    let cases = [
        (A, Kind::Data, 0),
        (A, Kind::Data, 3),
        (A, Kind::Checkpoint, 0),
        (B, Kind::Report, 0),
        (A, Kind::ReportAck, 0),
        // The retransmission's own checkpoint.
        (A, Kind::Data, 2),
    ];
    for (from, kind, nth) in cases {
        let mut pair = Pair::new(50);
        pair.lose = lose_nth(from, kind, nth);
        let data = block(8_000, 2);
        pair.a.send_block(B, 1, data.clone(), data.len() as u64).unwrap();
        pair.run(60_000);
        assert_eq!(pair.red_parts(), [data], "losing {kind:?} #{nth} from {from}");
        assert_eq!(pair.done(), 1, "losing {kind:?} #{nth}");
        assert!(pair.idle(), "losing {kind:?} #{nth}: sessions left open");
    }
}

#[test]
fn losing_the_last_data_segment_and_then_its_retransmission_checkpoint_still_completes() {
    let mut pair = Pair::new(50);
    let mut checkpoints = 0;
    pair.lose = Box::new(move |from, segment, _| {
        if from == A && kind_of(segment) == Kind::Checkpoint {
            checkpoints += 1;
            return checkpoints <= 2;
        }
        false
    });
    let data = block(3_000, 3);
    pair.a.send_block(B, 1, data.clone(), 3_000).unwrap();
    pair.run(60_000);
    assert_eq!(pair.red_parts(), [data]);
    assert_eq!(pair.done(), 1);
}

#[test]
fn losing_one_of_several_report_segments_does_not_strand_the_session() {
    // ION #14: one report split over several segments, one of them lost.
    let mut cfg_a = span(B, 20);
    cfg_a.mtu = 200;
    let mut cfg_b = span(A, 20);
    cfg_b.mtu = 200;
    let mut pair = Pair::with(20, EngineConfig::new(A), EngineConfig::new(B), cfg_a, cfg_b);
    // Lose every other data segment on the first pass: many gaps, so many claims.
    let mut n = 0;
    let mut reports = 0;
    pair.lose = Box::new(move |from, segment, _| match kind_of(segment) {
        Kind::Data if from == A => {
            n += 1;
            n <= 200 && n % 2 == 0
        }
        Kind::Report => {
            reports += 1;
            reports == 2
        }
        _ => false,
    });
    let data = block(40_000, 4);
    pair.a.send_block(B, 1, data.clone(), 40_000).unwrap();
    pair.run(120_000);
    assert!(pair.sent[&Kind::Report] > 3, "the report was split");
    assert_eq!(pair.red_parts(), [data]);
    assert_eq!(pair.done(), 1);
    assert!(pair.idle());
}

#[test]
fn a_contact_gap_longer_than_the_timers_suspends_them_and_the_block_completes_after() {
    let mut pair = Pair::new(500);
    let data = block(20_000, 5);
    pair.a.send_block(B, 1, data.clone(), 20_000).unwrap();
    // The first pass goes out, then the contact ends before any report can come back.
    pair.transmit();
    pair.set_link(false);
    pair.in_flight.clear();
    // Down for 100 round trips: far beyond every retry.
    pair.run(100 * 1_050);
    assert_eq!(pair.cancelled(), 0, "timers ran while the link was down");
    assert!(pair.red_parts().is_empty());
    pair.set_link(true);
    pair.run(200_000);
    assert_eq!(pair.red_parts(), [data]);
    assert_eq!(pair.done(), 1);
}

#[test]
fn without_suspension_the_same_gap_cancels_after_the_retries() {
    // The same silent gap, but the engine is not told the link is down.
    let mut pair = Pair::new(500);
    pair.lose = Box::new(|_, _, now| now > 0);
    pair.a.send_block(B, 1, block(20_000, 6), 20_000).unwrap();
    pair.run(100 * 1_050);
    assert_eq!(pair.cancelled(), 1);
    assert!(pair.events.iter().any(|(_, e)| matches!(
        e,
        Event::ExportCancelled { by: Side::Sender, reason: CancelReason::RetransmitLimit, .. }
    )));
}

#[test]
fn a_cancel_from_the_sender_is_retried_until_acknowledged() {
    let mut pair = Pair::new(30);
    // No checkpoint arrives, so the receiver holds a partial block; the first cancel is lost.
    let mut cancels = 0;
    pair.lose = Box::new(move |_, segment, _| match kind_of(segment) {
        Kind::Checkpoint => true,
        Kind::Cancel => {
            cancels += 1;
            cancels == 1
        }
        _ => false,
    });
    let id = pair.a.send_block(B, 1, block(50_000, 7), 50_000).unwrap();
    // Let part of the block through, then cancel.
    pair.run(31);
    pair.a.cancel_block(id.number, pair.now);
    pair.run(10_000);
    assert_eq!(pair.cancelled(), 1);
    assert_eq!(pair.count(|e| matches!(e, Event::ImportCancelled { by: Side::Sender, .. })), 1);
    assert_eq!(pair.sent[&Kind::Cancel], 2, "the lost cancel was sent again");
    assert!(pair.idle());
}

#[test]
fn green_data_is_delivered_in_order_and_a_lost_green_segment_is_not_sent_again() {
    let mut pair = Pair::new(10);
    pair.lose = lose_nth(A, Kind::Green, 2);
    let data = block(7_000, 8);
    pair.a.send_block(B, 1, data.clone(), 0).unwrap();
    pair.run(10_000);
    let green: Vec<(u64, usize)> = pair
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Green { offset, data, .. } => Some((*offset, data.len())),
            _ => None,
        })
        .collect();
    let offsets: Vec<u64> = green.iter().map(|g| g.0).collect();
    let mut sorted = offsets.clone();
    sorted.sort_unstable();
    assert_eq!(offsets, sorted, "in order of offset");
    let delivered: usize = green.iter().map(|g| g.1).sum();
    assert!(delivered < 7_000 && delivered > 5_000);
    assert_eq!(pair.sent[&Kind::Green], 6, "six segments, none sent twice");
    assert_eq!(pair.done(), 1, "a green block is done once sent");
    assert!(pair.idle());
}

#[test]
fn a_mixed_block_delivers_its_red_part_reliably_and_its_green_part_after_it() {
    let mut pair = Pair::new(10);
    pair.lose = lose_nth(A, Kind::Data, 1);
    let data = block(9_000, 9);
    pair.a.send_block(B, 1, data.clone(), 5_000).unwrap();
    pair.run(10_000);
    assert_eq!(pair.red_parts(), [data.slice(..5_000)]);
    let green: Vec<u8> = pair
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Green { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(green, data.slice(5_000..).to_vec());
    assert_eq!(pair.done(), 1);
}

#[test]
fn a_sender_that_goes_silent_before_any_checkpoint_is_cleaned_up_as_stale() {
    // HDTN #19: red data, no checkpoint ever, sender gone.
    let mut pair = Pair::new(10);
    pair.lose = Box::new(|from, segment, _| from == A && kind_of(segment) == Kind::Checkpoint);
    pair.a.send_block(B, 1, block(5_000, 10), 5_000).unwrap();
    pair.run(20);
    assert_eq!(pair.b.import_sessions(), 1);
    assert!(pair.b.import_bytes() > 0);
    // The sender gives up (its cancel lost too) and the receiver hears nothing more.
    pair.lose = Box::new(|_, _, _| true);
    pair.run(3_600_000);
    assert_eq!(pair.b.import_sessions(), 0);
    assert_eq!(pair.b.import_bytes(), 0);
    assert!(pair.events.iter().any(|(id, e)| *id == B && matches!(e, Event::ImportCancelled { .. })));
}

/// Engine B with spans to A and to a hostile engine 3.
fn hostile_engine(b_limits: impl FnOnce(&mut EngineConfig, &mut SpanConfig)) -> Engine {
    let mut config = EngineConfig::new(B);
    let mut span = SpanConfig::new(3);
    b_limits(&mut config, &mut span);
    let mut b = Engine::new(config);
    b.add_span(span, 0);
    b.add_span(SpanConfig::new(A), 0);
    b
}

/// A red data segment from engine 3 to B.
fn send(b: &mut Engine, number: u64, offset: u64, now: u64, data: &[u8]) {
    let segment = Segment {
        session: SessionId { originator: 3, number },
        body: Body::Data(super::segment::DataSegment {
            kind: DataKind::Red,
            client_service: 1,
            offset,
            data: Bytes::copy_from_slice(data),
        }),
    };
    b.handle_datagram(3, &Bytes::from(segment.to_vec()), now).unwrap();
}

#[test]
fn a_peer_opening_thousands_of_sessions_gets_only_its_share() {
    let mut b = hostile_engine(|_, span| {
        span.max_import_sessions = 100;
        span.max_import_bytes = 1 << 20;
    });
    for number in 1..=10_000 {
        send(&mut b, number, 0, 0, &[0u8; 1000]);
    }
    assert_eq!(b.import_sessions(), 100);
    assert!(b.import_bytes() <= 1 << 20);
    let stats = b.stats(3).unwrap();
    assert_eq!(stats.refused_sessions, 9_900);
    // Each refusal is one cancel segment, and nothing more is kept for it.
    let mut out = Vec::new();
    let mut cancels = 0;
    while b.poll_transmit(3, 0, &mut out) {
        cancels += 1;
    }
    assert_eq!(cancels, 9_900);
    // The other span is untouched: A's block still gets in.
    let mut a = Engine::new(EngineConfig::new(A));
    a.add_span(SpanConfig::new(B), 0);
    a.send_block(B, 1, block(3_000, 11), 3_000).unwrap();
    let mut buf = Vec::new();
    while a.poll_transmit(B, 0, &mut buf) {
        b.handle_datagram(A, &Bytes::from(core::mem::take(&mut buf)), 0).unwrap();
    }
    assert!(core::iter::from_fn(|| b.poll_event()).any(|e| matches!(e, Event::RedPart { from: A, .. })));
}

#[test]
fn one_byte_segments_pay_for_their_bookkeeping_and_the_memory_cap_holds() {
    let mut b = hostile_engine(|_, span| span.max_import_bytes = 100_000);
    // Every other byte of a huge block, one byte per segment.
    for i in 0..1_000_000u64 {
        send(&mut b, 1, i * 2, 0, &[0xaa]);
    }
    assert!(b.import_bytes() <= 100_000, "{} bytes held", b.import_bytes());
    assert!(b.stats(3).unwrap().dropped_no_room > 990_000);
}

#[test]
fn the_engine_wide_memory_cap_holds_across_spans() {
    let mut b = hostile_engine(|config, _| config.max_import_bytes = 50_000);
    for number in 1..=1000 {
        send(&mut b, number, 0, 0, &[1u8; 1000]);
    }
    assert!(b.import_bytes() <= 50_000);
}

#[test]
fn data_beyond_the_block_limit_or_for_another_client_service_is_refused() {
    let mut b = hostile_engine(|config, _| config.max_block_bytes = 10_000);
    send(&mut b, 1, 9_999, 0, &[1, 2]);
    let segment = Segment {
        session: SessionId { originator: 3, number: 2 },
        body: Body::Data(super::segment::DataSegment {
            kind: DataKind::Red,
            client_service: 99,
            offset: 0,
            data: Bytes::from_static(b"x"),
        }),
    };
    b.handle_datagram(3, &Bytes::from(segment.to_vec()), 0).unwrap();
    assert_eq!(b.import_sessions(), 0);
    let mut reasons = Vec::new();
    let mut out = Vec::new();
    while b.poll_transmit(3, 0, &mut out) {
        if let Body::Cancel { by: Side::Receiver, reason } =
            Segment::decode(&Bytes::from(core::mem::take(&mut out))).unwrap().body
        {
            reasons.push(reason);
        }
    }
    assert_eq!(reasons, [CancelReason::SystemCancelled, CancelReason::Unreachable]);
}

#[test]
fn red_data_past_the_end_of_the_red_part_cancels_as_miscolored() {
    let mut b = hostile_engine(|_, _| {});
    let data = |kind, offset: u64, len: usize| {
        let segment = Segment {
            session: SessionId { originator: 3, number: 1 },
            body: Body::Data(super::segment::DataSegment {
                kind,
                client_service: 1,
                offset,
                data: Bytes::from(vec![0u8; len]),
            }),
        };
        Bytes::from(segment.to_vec())
    };
    let eorp = DataKind::Checkpoint { checkpoint_serial: 1, report_serial: 0, end: RedEnd::RedPart };
    b.handle_datagram(3, &data(DataKind::Red, 0, 50), 0).unwrap();
    b.handle_datagram(3, &data(eorp, 100, 100), 0).unwrap();
    b.handle_datagram(3, &data(DataKind::Red, 200, 10), 0).unwrap();
    assert!(
        core::iter::from_fn(|| b.poll_event())
            .any(|e| matches!(e, Event::ImportCancelled { reason: CancelReason::Miscolored, .. }))
    );
    assert_eq!(b.import_bytes(), 0);
}

#[test]
fn a_datagram_from_the_wrong_engine_or_an_unknown_one_is_refused() {
    let mut b = hostile_engine(|_, _| {});
    let segment = Segment { session: SessionId { originator: A, number: 1 }, body: Body::ReportAck { serial: 1 } };
    let bytes = Bytes::from(segment.to_vec());
    assert!(matches!(b.handle_datagram(3, &bytes, 0), Err(IngressError::WrongPeer { from: 3, originator: A, .. })));
    assert!(matches!(b.handle_datagram(99, &bytes, 0), Err(IngressError::UnknownEngine(99))));
    assert!(matches!(b.handle_datagram(3, &Bytes::from_static(&[0xff]), 0), Err(IngressError::Malformed(_))));
}

#[test]
fn the_window_bounds_open_export_sessions() {
    let mut cfg = span(B, 10);
    cfg.max_export_sessions = 2;
    let mut pair = Pair::with(10, EngineConfig::new(A), EngineConfig::new(B), cfg, span(A, 10));
    pair.a.send_block(B, 1, block(100, 1), 100).unwrap();
    pair.a.send_block(B, 1, block(100, 2), 100).unwrap();
    assert_eq!(pair.a.send_block(B, 1, block(100, 3), 100), Err(SendError::WindowFull(2)));
    assert!(!pair.a.can_send(B));
    pair.run(1_000);
    assert!(pair.a.can_send(B));
    assert_eq!(pair.done(), 2);
}

#[test]
fn session_numbers_stay_below_2_to_the_32_in_32_bit_mode() {
    let mut config = EngineConfig::new(A);
    config.session_numbers_32_bit = true;
    config.first_session_number = u64::from(u32::MAX);
    let mut a = Engine::new(config);
    a.add_span(SpanConfig::new(B), 0);
    let first = a.send_block(B, 1, block(10, 0), 10).unwrap();
    let second = a.send_block(B, 1, block(10, 0), 10).unwrap();
    assert_eq!((first.number, second.number), (u64::from(u32::MAX), 1));
}

/// A deterministic pseudo-random loss rule.
fn random_loss(seed: u64, percent: u64) -> Box<LossRule> {
    let mut state = seed | 1;
    Box::new(move |_, _, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 100 < percent
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Under random loss of every segment kind, every block is delivered exactly once and
    /// intact, its sender hears so, and nothing stays open.
    #[test]
    fn blocks_under_random_loss_arrive_once_and_intact(
        seed: u64,
        percent in 0u64..15,
        sizes in proptest::collection::vec(1usize..30_000, 1..6),
        owlt in 1u64..400,
    ) {
        let mut pair = Pair::new(owlt);
        pair.lose = random_loss(seed, percent);
        let blocks: Vec<Bytes> = sizes.iter().enumerate().map(|(i, &len)| block(len, i as u8)).collect();
        for b in &blocks {
            pair.a.send_block(B, 1, b.clone(), b.len() as u64).unwrap();
        }
        pair.run(10_000_000);
        let mut got = pair.red_parts();
        got.sort();
        let mut want = blocks.clone();
        want.sort();
        // With up to 15 % loss and 8 retries, a cancel is possible but must be reported.
        let cancelled = pair.cancelled();
        prop_assert_eq!(pair.done() + cancelled, blocks.len());
        if cancelled == 0 {
            prop_assert_eq!(got, want);
        } else {
            prop_assert!(got.len() <= blocks.len());
            for g in &got { prop_assert!(want.contains(g)); }
        }
        prop_assert!(pair.idle(), "sessions or memory left");
    }
}

#[test]
fn an_import_session_costs_what_it_received_plus_a_bounded_overhead() {
    let mut b = hostile_engine(|config, span| {
        config.max_import_sessions = 4096;
        span.max_import_sessions = 2000;
        span.max_import_bytes = 1 << 30;
    });
    // 1,000 sessions open at once, each holding two pieces of 1,000 bytes with a gap between.
    for number in 1..=1000 {
        send(&mut b, number, 0, 0, &[7u8; 1000]);
        send(&mut b, number, 2000, 0, &[7u8; 1000]);
    }
    assert_eq!(b.import_sessions(), 1000);
    assert_eq!(b.import_bytes(), 1000 * (2000 + 2 * super::import::PIECE_OVERHEAD));
    // A repeat costs nothing more.
    send(&mut b, 1, 0, 0, &[7u8; 1000]);
    assert_eq!(b.import_bytes(), 1000 * (2000 + 2 * super::import::PIECE_OVERHEAD));
}

#[test]
fn a_restarted_peer_reusing_session_numbers_is_heard_once_the_old_sessions_are_long_closed() {
    // ION counts its sessions from 1 at every start.
    let mut pair = Pair::new(10);
    pair.a.send_block(B, 1, block(500, 1), 500).unwrap();
    pair.run(200);
    assert_eq!((pair.red_parts().len(), pair.b.import_sessions()), (1, 0), "delivered and closed");
    let mut reborn = Engine::new(EngineConfig::new(A));
    reborn.add_span(span(B, 10), pair.now);
    pair.a = reborn;
    // At once, session 1 is still remembered as closed: its segments are taken as late ones,
    // and the reborn sender gives the session up.
    pair.a.send_block(B, 1, block(500, 2), 500).unwrap();
    pair.run(pair.now + 2_000);
    assert_eq!(pair.red_parts().len(), 1);
    assert_eq!(pair.cancelled(), 1);
    // Its next session has a new number, and once the old one is long closed, so may 1 again.
    pair.a.send_block(B, 1, block(500, 3), 500).unwrap();
    pair.run(pair.now + 60_000);
    assert_eq!(pair.red_parts(), [block(500, 1), block(500, 3)]);
    let mut again = Engine::new(EngineConfig::new(A));
    again.add_span(span(B, 10), pair.now);
    pair.a = again;
    pair.a.send_block(B, 1, block(500, 4), 500).unwrap();
    pair.run(pair.now + 60_000);
    assert_eq!(pair.red_parts().len(), 3, "session 1, closed a minute ago, is new again");
}

#[test]
fn the_peer_of_a_datagram_is_read_from_its_session() {
    let mut pair = Pair::new(10);
    let id = pair.a.send_block(B, 1, block(100, 1), 100).unwrap();
    let mut out = Vec::new();
    assert!(pair.a.poll_transmit(B, 0, &mut out));
    assert_eq!(pair.b.peer_of(&Bytes::from(out)), Some(A), "data names its sender");
    let report = Segment {
        session: id,
        body: Body::Report(super::segment::Report {
            serial: 1,
            checkpoint_serial: 1,
            upper: 100,
            lower: 0,
            claims: vec![],
        }),
    };
    assert_eq!(pair.a.peer_of(&Bytes::from(report.to_vec())), Some(B), "a report names our session to B");
    assert_eq!(pair.a.peer_of(&Bytes::from_static(&[0xff])), None);
}
