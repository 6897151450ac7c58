use alloc::vec;

use proptest::prelude::*;

use super::*;
use crate::bundle::{BundleBuilder, BundleFlags};
use crate::eid::Eid;
use crate::time::{CreationTimestamp, DtnTime};

fn subject(flags: BundleFlags) -> Bundle {
    BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
        .creation(CreationTimestamp::new(DtnTime(757_382_400_000), 6))
        .flags(flags)
        .payload(vec![0u8; 20])
        .build()
        .unwrap()
}

#[test]
fn status_time_only_when_requested() {
    let now = DtnTime(757_382_405_000);
    let plain = StatusReport::about(&subject(BundleFlags::default()), ReasonCode::NoInformation).assert(
        StatusAssertion::Delivered,
        now,
        BundleFlags::default(),
    );
    assert_eq!(plain.delivered, StatusItem { asserted: true, time: None });
    let flags = BundleFlags::STATUS_TIME_REQUESTED;
    let timed =
        StatusReport::about(&subject(flags), ReasonCode::NoInformation).assert(StatusAssertion::Delivered, now, flags);
    assert_eq!(timed.delivered.time, Some(now));
}

#[test]
fn fragment_report_carries_fragment_payload_length() {
    let whole = subject(BundleFlags::default());
    let (_, second) = crate::fragment::fragment_at(&whole, 8).unwrap();
    let report = StatusReport::about(&second, ReasonCode::LifetimeExpired);
    assert_eq!(report.fragment, Some((8, 12)), "offset and this fragment's length, not the ADU's");
    let encoded = AdminRecord::StatusReport(report.clone()).encode();
    assert_eq!(AdminRecord::decode(&encoded), Ok(AdminRecord::StatusReport(report)));
}

#[test]
fn rejects_three_element_report() {
    // [1, [[[false],[false],[true],[false]], 0, [2,[1,1]]]]
    let bytes =
        [0x82, 0x01, 0x83, 0x84, 0x81, 0xf4, 0x81, 0xf4, 0x81, 0xf5, 0x81, 0xf4, 0x00, 0x82, 0x02, 0x82, 0x01, 0x01];
    assert!(matches!(AdminRecord::decode(&bytes), Err(AdminError::InvalidStatusReport { .. })));
}

#[test]
fn rejects_time_on_unasserted_item() {
    let mut out = vec![];
    let report = StatusReport::about(&subject(BundleFlags::default()), ReasonCode::NoInformation);
    AdminRecord::StatusReport(report).encode().clone_into(&mut out);
    // First status item [false] -> [false, 5]
    let at = out.iter().position(|b| *b == 0x81).unwrap();
    out.splice(at..at + 2, [0x82, 0xf4, 0x05]);
    assert!(AdminRecord::decode(&out).is_err());
}

#[test]
fn keeps_unknown_record_types() {
    let bytes = [0x82, 0x18, 0x40, 0x83, 0x01, 0x02, 0x03];
    let record = AdminRecord::decode(&bytes).unwrap();
    assert_eq!(record, AdminRecord::Other { record_type: 64, content: vec![0x83, 0x01, 0x02, 0x03] });
    assert_eq!(record.encode(), bytes);
}

#[test]
fn non_admin_bundle_is_not_a_record() {
    assert_eq!(AdminRecord::from_bundle(&subject(BundleFlags::default())), Err(AdminError::NotAdminRecord));
}

fn any_item() -> impl Strategy<Value = StatusItem> {
    prop_oneof![
        any::<bool>().prop_map(|asserted| StatusItem { asserted, time: None }),
        any::<u64>().prop_map(|t| StatusItem { asserted: true, time: Some(DtnTime(t)) }),
    ]
}

proptest! {
    #[test]
    fn status_reports_round_trip(
        items in prop::array::uniform4(any_item()),
        reason in 0u64..40,
        node in 1u32..,
        time in any::<u64>(),
        seq in any::<u64>(),
        fragment in prop::option::of((any::<u64>(), any::<u64>())),
    ) {
        let report = StatusReport {
            received: items[0], forwarded: items[1], delivered: items[2], deleted: items[3],
            reason: ReasonCode::from_code(reason),
            source: Eid::ipn(node, 0),
            creation: CreationTimestamp::new(DtnTime(time), seq),
            fragment,
        };
        let record = AdminRecord::StatusReport(report);
        prop_assert_eq!(AdminRecord::decode(&record.encode()), Ok(record));
    }

    #[test]
    fn arbitrary_records_never_panic(data in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = AdminRecord::decode(&data);
    }
}

#[test]
fn bpdu_round_trips_under_both_code_sets() {
    let bpdu = Bpdu {
        transmission_id: 7,
        retransmission_time: 757_382_460_000,
        bundle: bytes::Bytes::from_static(b"\x9f\xff"),
    };
    let record = AdminRecord::Bpdu(bpdu.clone());
    let draft = record.encode();
    assert_eq!(&draft[..3], &[0x82, 0x03, 0x83]);
    assert_eq!(AdminRecord::decode(&draft), Ok(record.clone()));
    let ion = record.encode_with(CustodyCodes::ION);
    assert_eq!(ion[1], 0x07);
    assert_eq!(AdminRecord::decode(&ion), Ok(record));
}

#[test]
fn custody_signal_aggregates_ranges() {
    let signal = CustodySignal::aggregate(Disposition::Accepted, [5, 3, 4, 9, 4, 10, 0]);
    assert_eq!(signal.ranges, vec![(3, 3), (9, 2)]);
    assert_eq!(signal.ids().collect::<alloc::vec::Vec<_>>(), vec![3, 4, 5, 9, 10]);
    let record = AdminRecord::CustodySignal(signal);
    let bytes = record.encode_with(CustodyCodes::ION);
    assert_eq!(AdminRecord::decode(&bytes), Ok(record));
}

#[test]
fn custody_signal_rejects_overlapping_or_empty_ranges() {
    // [4, [0, [[3, 2], [4, 1]]]]
    let overlapping = [0x82, 0x04, 0x82, 0x00, 0x82, 0x82, 0x03, 0x02, 0x82, 0x04, 0x01];
    assert!(matches!(AdminRecord::decode(&overlapping), Err(AdminError::InvalidCustodySignal { .. })));
    let empty = [0x82, 0x04, 0x82, 0x00, 0x81, 0x82, 0x03, 0x00];
    assert!(matches!(AdminRecord::decode(&empty), Err(AdminError::InvalidCustodySignal { .. })));
    // Indefinite-length range list (ION may send it).
    let indefinite = [0x82, 0x08, 0x82, 0x03, 0x9f, 0x82, 0x01, 0x02, 0xff];
    let AdminRecord::CustodySignal(s) = AdminRecord::decode(&indefinite).unwrap() else { panic!("not a signal") };
    assert_eq!((s.disposition, s.ranges), (Disposition::Redundant, vec![(1, 2)]));
}

#[test]
fn dispositions_keep_their_codes() {
    for code in 0..12 {
        assert_eq!(Disposition::from_code(code).code(), code);
    }
    assert!(Disposition::Redundant.releases() && !Disposition::DepletedStorage.releases());
}

proptest! {
    #[test]
    fn custody_signals_round_trip(ids in prop::collection::vec(1u64..10_000, 0..50), code in 0u64..10) {
        let signal = CustodySignal::aggregate(Disposition::from_code(code), ids.clone());
        let mut expected: alloc::vec::Vec<u64> = ids;
        expected.sort_unstable();
        expected.dedup();
        prop_assert_eq!(signal.ids().collect::<alloc::vec::Vec<_>>(), expected);
        let record = AdminRecord::CustodySignal(signal);
        prop_assert_eq!(AdminRecord::decode(&record.encode()), Ok(record));
    }

    #[test]
    fn bpdus_round_trip(id in any::<u64>(), time in any::<u64>(), bundle in prop::collection::vec(any::<u8>(), 0..300)) {
        let record = AdminRecord::Bpdu(Bpdu { transmission_id: id, retransmission_time: time, bundle: bytes::Bytes::from(bundle) });
        prop_assert_eq!(AdminRecord::decode(&record.encode()), Ok(record));
    }
}
