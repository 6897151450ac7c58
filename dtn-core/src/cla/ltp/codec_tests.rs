//! The segment codec: every type round-trips, and hostile fields fail cleanly.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::SessionId;
use super::sdnv;
use super::segment::*;

fn id() -> SessionId {
    SessionId { originator: 7, number: 0x1_0000_0001 }
}

fn round_trip(segment: &Segment) -> Segment {
    let bytes = Bytes::from(segment.to_vec());
    Segment::decode(&bytes).expect("our own encoding decodes")
}

fn decode(bytes: &[u8]) -> Result<Segment, SegmentError> {
    Segment::decode(&Bytes::copy_from_slice(bytes))
}

/// Header for a session 1/1 segment of `kind`, no extensions.
fn header(kind: u8) -> Vec<u8> {
    vec![kind, 1, 1, 0]
}

#[test]
fn red_checkpoint_with_end_of_block_has_type_3_and_both_serials() {
    let segment = Segment {
        session: id(),
        body: Body::Data(DataSegment {
            kind: DataKind::Checkpoint { checkpoint_serial: 9, report_serial: 4, end: RedEnd::Block },
            client_service: 1,
            offset: 300,
            data: Bytes::from_static(b"abc"),
        }),
    };
    let bytes = segment.to_vec();
    assert_eq!(bytes[0], 0x03);
    assert_eq!(&bytes[bytes.len() - 5..], [9, 4, b'a', b'b', b'c']);
    assert_eq!(round_trip(&segment), segment);
}

#[test]
fn every_control_type_round_trips_with_its_code() {
    let report = Report {
        serial: 5,
        checkpoint_serial: 9,
        upper: 5000,
        lower: 1000,
        claims: vec![Claim { offset: 1000, length: 500 }, Claim { offset: 2000, length: 3000 }],
    };
    let cases = [
        (Body::Report(report), 8u8),
        (Body::ReportAck { serial: 5 }, 9),
        (Body::Cancel { by: Side::Sender, reason: CancelReason::RetransmitLimit }, 12),
        (Body::CancelAck { of: Side::Sender }, 13),
        (Body::Cancel { by: Side::Receiver, reason: CancelReason::Reserved(77) }, 14),
        (Body::CancelAck { of: Side::Receiver }, 15),
    ];
    for (body, code) in cases {
        let segment = Segment { session: id(), body };
        assert_eq!(segment.to_vec()[0], code);
        assert_eq!(round_trip(&segment), segment);
    }
}

#[test]
fn report_claim_offsets_are_relative_to_the_lower_bound_on_the_wire() {
    let mut bytes = header(8);
    bytes.extend([1, 0, 100, 50, 1, 10, 20]); // serial 1, cp 0, upper 100, lower 50, one claim at +10
    let Body::Report(report) = decode(&bytes).unwrap().body else { panic!("a report") };
    assert_eq!(report.claims, [Claim { offset: 60, length: 20 }]);
}

#[test]
fn header_and_trailer_extensions_are_skipped() {
    let mut bytes = vec![9, 1, 1, 0x21];
    bytes.extend([0x00, 2, 0xaa, 0xbb, 0x01, 0]); // two header extensions
    bytes.push(3); // report-ack serial 3
    bytes.extend([0x05, 1, 0xcc]); // one trailer extension
    assert_eq!(decode(&bytes).unwrap().body, Body::ReportAck { serial: 3 });
    // An extension longer than the segment.
    let mut long = vec![9, 1, 1, 0x10, 0x00, 50];
    long.push(3);
    assert_eq!(decode(&long).unwrap_err().kind, SegmentErrorKind::Truncated("header extension"));
}

#[test]
fn rejects_other_versions_undefined_types_and_trailing_bytes() {
    assert_eq!(decode(&[0x19, 1, 1, 0, 3]).unwrap_err().kind, SegmentErrorKind::Version(1));
    for kind in [5u8, 6, 10, 11] {
        assert_eq!(decode(&header(kind)).unwrap_err().kind, SegmentErrorKind::UndefinedType(kind));
    }
    let err = decode(&[9, 1, 1, 0, 3, 0xff]).unwrap_err();
    assert_eq!((err.offset, err.kind), (5, SegmentErrorKind::Trailing(1)));
}

#[test]
fn a_data_length_beyond_the_datagram_is_refused_at_its_field() {
    let mut bytes = header(0);
    bytes.extend([1, 0]);
    sdnv::encode(&mut bytes, u64::MAX);
    bytes.extend([1, 2, 3]);
    let err = decode(&bytes).unwrap_err();
    assert_eq!(err.offset, 6);
    assert!(matches!(err.kind, SegmentErrorKind::DataLength { declared: u64::MAX, available: 3 }));
}

#[test]
fn data_ending_past_2_to_the_64_is_refused() {
    let mut bytes = header(4);
    bytes.push(1);
    sdnv::encode(&mut bytes, u64::MAX);
    bytes.extend([2, 0xaa, 0xbb]);
    assert_eq!(decode(&bytes).unwrap_err().kind, SegmentErrorKind::OffsetOverflow);
}

#[test]
fn a_claim_count_of_2_to_the_64_minus_1_fails_before_allocating() {
    let mut bytes = header(8);
    bytes.extend([1, 0, 100, 0]);
    sdnv::encode(&mut bytes, u64::MAX);
    bytes.extend([0, 10]);
    assert!(matches!(decode(&bytes).unwrap_err().kind, SegmentErrorKind::ClaimCount { count: u64::MAX, .. }));
}

#[test]
fn overlapping_empty_unordered_and_out_of_bounds_claims_are_refused() {
    let report = |claims: &[(u8, u8)]| {
        let mut bytes = header(8);
        bytes.extend([1, 0, 100, 10, claims.len() as u8]);
        for &(offset, length) in claims {
            bytes.extend([offset, length]);
        }
        decode(&bytes)
    };
    assert!(report(&[(0, 10), (10, 5)]).is_ok(), "adjacent claims are fine");
    assert_eq!(report(&[(0, 10), (5, 10)]).unwrap_err().kind, SegmentErrorKind::Claim { index: 1 });
    assert_eq!(report(&[(20, 10), (0, 5)]).unwrap_err().kind, SegmentErrorKind::Claim { index: 1 });
    assert_eq!(report(&[(0, 0)]).unwrap_err().kind, SegmentErrorKind::Claim { index: 0 });
    assert_eq!(report(&[(80, 11)]).unwrap_err().kind, SegmentErrorKind::Claim { index: 0 });
    let mut inverted = header(8);
    inverted.extend([1, 0, 10, 20, 0]);
    assert!(matches!(decode(&inverted).unwrap_err().kind, SegmentErrorKind::Bounds { lower: 20, upper: 10 }));
}

#[test]
fn every_truncation_of_a_valid_segment_fails_without_panicking() {
    let segment = Segment {
        session: id(),
        body: Body::Report(Report {
            serial: 300,
            checkpoint_serial: 2,
            upper: 1 << 40,
            lower: 1 << 20,
            claims: vec![Claim { offset: 1 << 21, length: 1 << 30 }],
        }),
    };
    let bytes = segment.to_vec();
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len]).is_err(), "prefix of {len} bytes");
    }
}

fn arb_kind() -> impl Strategy<Value = DataKind> {
    prop_oneof![
        Just(DataKind::Red),
        (any::<u64>(), any::<u64>(), 0..3u8).prop_map(|(c, r, e)| DataKind::Checkpoint {
            checkpoint_serial: c,
            report_serial: r,
            end: [RedEnd::None, RedEnd::RedPart, RedEnd::Block][e as usize],
        }),
        any::<bool>().prop_map(|end_of_block| DataKind::Green { end_of_block }),
    ]
}

fn arb_body() -> impl Strategy<Value = Body> {
    let data = (arb_kind(), any::<u64>(), 0..u64::MAX / 2, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
        |(kind, client_service, offset, data)| {
            Body::Data(DataSegment { kind, client_service, offset, data: Bytes::from(data) })
        },
    );
    let report =
        (any::<u64>(), any::<u64>(), 0..1u64 << 40, proptest::collection::vec((0..1000u64, 1..1000u64), 0..20))
            .prop_map(|(serial, checkpoint_serial, lower, gaps)| {
                let mut claims = Vec::new();
                let mut at = lower;
                for (gap, length) in gaps {
                    claims.push(Claim { offset: at + gap, length });
                    at += gap + length;
                }
                Body::Report(Report { serial, checkpoint_serial, upper: at + 5, lower, claims })
            });
    let side = prop_oneof![Just(Side::Sender), Just(Side::Receiver)];
    prop_oneof![
        data,
        report,
        any::<u64>().prop_map(|serial| Body::ReportAck { serial }),
        (side.clone(), any::<u8>()).prop_map(|(by, code)| Body::Cancel { by, reason: CancelReason::from_code(code) }),
        side.prop_map(|of| Body::CancelAck { of }),
    ]
}

proptest! {
    #[test]
    fn every_segment_round_trips(originator: u64, number: u64, body in arb_body()) {
        let segment = Segment { session: SessionId { originator, number }, body };
        prop_assert_eq!(round_trip(&segment), segment);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn a_mutated_segment_decodes_or_fails_cleanly(body in arb_body(), at: usize, byte: u8) {
        let mut bytes = Segment { session: id(), body }.to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        if let Ok(Segment { body: Body::Data(d), .. }) = decode(&bytes) {
            prop_assert!(d.offset.checked_add(d.data.len() as u64).is_some());
        }
    }

    #[test]
    fn the_data_header_length_is_what_is_written(kind in arb_kind(), client: u64, offset: u64, len in 0..u64::MAX) {
        let mut out = Vec::new();
        write_data_header(&mut out, id(), kind, client, offset, len);
        prop_assert_eq!(out.len(), data_header_len(id(), kind, client, offset, len));
    }
}
