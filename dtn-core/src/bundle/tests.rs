//! Unit and property tests of the bundle codec, one rule per test.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::crc::CrcType;
use crate::parse_mode::{ParseMode, Relaxation};
use crate::time::DtnTime;

fn sample() -> BundleBuilder {
    BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
        .creation(CreationTimestamp::new(DtnTime(757_382_400_000), 1))
        .payload(&b"Hello, DTN!"[..])
}

fn strict(bytes: Vec<u8>) -> Result<Bundle, BundleError> {
    Bundle::parse(Bytes::from(bytes), ParseMode::Strict)
}

#[test]
fn crc32c_covers_zeroed_crc_field() {
    let mut bytes = sample().crc(CrcType::Crc32c).encode();
    assert!(strict(bytes.clone()).is_ok());
    let last_payload_crc_byte = bytes.len() - 2;
    bytes[last_payload_crc_byte] ^= 1;
    assert_eq!(strict(bytes).unwrap_err().kind, BundleErrorKind::CrcMismatch { block: 1 });
}

#[test]
fn rejects_payload_bit_error_under_crc16() {
    let mut bytes = sample().crc(CrcType::Crc16).encode();
    let pos = bytes.windows(5).position(|w| w == b"Hello").unwrap();
    bytes[pos] = b'h';
    assert_eq!(strict(bytes).unwrap_err().kind, BundleErrorKind::CrcMismatch { block: 1 });
}

#[test]
fn rejects_trailing_bytes_but_parse_prefix_reports_length() {
    let mut bytes = sample().encode();
    let len = bytes.len();
    bytes.push(0);
    assert_eq!(strict(bytes.clone()).unwrap_err(), BundleError::new(BundleErrorKind::TrailingData, len));
    let (_, used) = Bundle::parse_prefix(Bytes::from(bytes), ParseMode::Strict).unwrap();
    assert_eq!(used, len);
}

#[test]
fn every_truncation_is_rejected_without_panic() {
    let bytes = sample().hop_count(5, 1).bundle_age_ms(3).crc(CrcType::Crc16).encode();
    for cut in 0..bytes.len() {
        let err = strict(bytes[..cut].to_vec()).unwrap_err();
        assert!(err.offset <= cut, "cut {cut}: {err}");
    }
}

#[test]
fn relaxed_mode_accepts_definite_outer_array_and_reencodes_canonically() {
    let canonical = sample().encode();
    let mut definite = canonical.clone();
    definite[0] = 0x82;
    definite.pop();
    assert_eq!(strict(definite.clone()).unwrap_err().kind, BundleErrorKind::BundleNotIndefiniteArray);
    let bundle = Bundle::parse(Bytes::from(definite), ParseMode::Relaxed).unwrap();
    assert!(bundle.relaxations().contains(Relaxation::DefiniteBundleArray));
    assert_eq!(bundle.to_bytes(), Bytes::from(canonical));
}

#[test]
fn canonical_bundle_forwards_its_own_bytes() {
    let bundle = sample().build().unwrap();
    let again = bundle.to_bytes();
    assert_eq!(again.as_ptr(), bundle.raw().as_ptr(), "no copy for a canonical bundle");
}

#[test]
fn editor_rewrites_only_per_hop_blocks() {
    let original = sample()
        .block(200, BlockFlags::default(), vec![9, 9])
        .hop_count(3, 0)
        .bundle_age_ms(10)
        .crc(CrcType::Crc32c)
        .build()
        .unwrap();
    let mut editor = original.edit();
    editor.set_previous_node(&Eid::ipn(7, 0)).set_bundle_age_ms(250);
    assert_eq!(editor.increment_hop_count(), Some(HopCount { limit: 3, count: 1 }));
    let chunks = editor.chunks();
    let payload = original.payload_block().raw();
    assert!(chunks.iter().any(|c| c.as_ptr() == payload.as_ptr()), "payload block forwarded from the original buffer");
    let unknown = original.blocks().iter().find(|b| b.block_type == 200).unwrap();
    assert!(chunks.iter().any(|c| c.as_ptr() == unknown.raw().as_ptr()), "untouched block not re-encoded");
    let edited = editor.build().unwrap();
    let reparsed = strict(edited.raw().to_vec()).unwrap();
    assert_eq!(reparsed.previous_node(), Some(&Eid::ipn(7, 0)));
    assert_eq!(reparsed.bundle_age_ms(), Some(250));
    assert_eq!(reparsed.hop_count(), Some(HopCount { limit: 3, count: 1 }));
    assert_eq!(reparsed.payload(), original.payload());
    assert_eq!(reparsed.primary_raw(), original.primary_raw());
}

#[test]
fn hop_limit_exceeded_after_increment() {
    let bundle = sample().hop_count(1, 1).build().unwrap();
    assert!(bundle.check_hop_limit().is_ok());
    let mut editor = bundle.edit();
    assert!(editor.increment_hop_count().unwrap().exceeded());
    let err = editor.build().unwrap().check_hop_limit().unwrap_err();
    assert_eq!(err.kind, BundleErrorKind::HopLimitExceeded { limit: 1, count: 2 });
    assert_eq!(err.reason_code(), Some(crate::admin::ReasonCode::HopLimitExceeded));
}

#[test]
fn editor_removes_blocks_but_not_the_payload() {
    let bundle = sample().block(200, BlockFlags::DISCARD_IF_UNPROCESSABLE, vec![1]).build().unwrap();
    let mut editor = bundle.edit();
    assert!(!editor.remove_block(1));
    assert!(editor.remove_block(2));
    assert_eq!(editor.build().unwrap().blocks().len(), 1);
}

#[test]
fn bib_on_primary_allows_primary_without_crc() {
    // A BIB whose first ASB item, the target list, names block 0.
    let asb = vec![0x81, 0x00, 0x01, 0x00, 0x82, 0x02, 0x82, 0x01, 0x00, 0x80];
    let bytes = sample().primary_crc(CrcType::None).block(block_type::BIB, BlockFlags::default(), asb).encode();
    assert!(strict(bytes).unwrap().relaxations().is_empty());
    let without_bib = sample().primary_crc(CrcType::None).encode();
    assert_eq!(strict(without_bib).unwrap_err().kind, BundleErrorKind::MissingPrimaryCrc);
}

#[test]
#[cfg(feature = "std")]
fn huge_claimed_bib_target_count_is_cheap() {
    // Found by fuzzing: a BIB whose target array claims 2.6 billion entries in 7 bytes.
    let input = [
        0x9f, 0x88, 0x07, 0x00, 0x00, 0x82, 0x02, 0x82, 0x01, 0x02, 0x82, 0x02, 0x82, 0x02, 0x01, 0x82, 0x02, 0x82,
        0x02, 0x01, 0x82, 0x00, 0x18, 0x28, 0x1a, 0xd9, 0xdd, 0x49, 0x40, 0x85, 0x0b, 0x03, 0x00, 0x00, 0x58, 0x07,
        0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x89, 0x90, 0x9f, 0x07, 0x30, 0x7e, 0x22, 0xff,
    ];
    let started = std::time::Instant::now();
    for mode in [ParseMode::Strict, ParseMode::Relaxed] {
        assert!(Bundle::parse(Bytes::copy_from_slice(&input), mode).is_err());
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn unknown_blocks_are_kept_byte_for_byte() {
    let bundle = sample().block(250, BlockFlags::REPLICATE, vec![0xde, 0xad]).build().unwrap();
    let unprocessable = bundle.unprocessable_blocks(block_type::is_known);
    assert_eq!(unprocessable.len(), 1);
    assert!(!unprocessable[0].delete_bundle && !unprocessable[0].discard_block);
    assert_eq!(&bundle.block(2).unwrap().data[..], &[0xde, 0xad]);
}

#[test]
fn dtn_scheme_bundle_round_trips() {
    let src: Eid = "dtn://orbiter-7/".parse().unwrap();
    let dst: Eid = "dtn://ground/ops/telemetry".parse().unwrap();
    let bundle = BundleBuilder::new(src.clone(), dst.clone()).bundle_age_ms(0).payload(vec![1u8; 300]).build().unwrap();
    assert_eq!(bundle.source(), &src);
    assert_eq!(bundle.destination(), &dst);
    assert!(bundle.primary().expiry().is_none());
}

fn any_eid() -> impl Strategy<Value = Eid> {
    prop_oneof![
        (1u32.., any::<u32>()).prop_map(|(n, s)| Eid::ipn(n, s)),
        (1u32.., 1u32.., any::<u32>()).prop_map(|(a, n, s)| Eid::Ipn(crate::eid::IpnEid::new(a, n, s))),
        "[a-z][a-z0-9-]{0,12}".prop_map(|n| alloc::format!("dtn://{n}/app").parse().unwrap()),
    ]
}

fn any_crc() -> impl Strategy<Value = CrcType> {
    prop_oneof![Just(CrcType::None), Just(CrcType::Crc16), Just(CrcType::Crc32c)]
}

prop_compose! {
    fn any_builder()(
        source in any_eid(),
        destination in any_eid(),
        report_to in any_eid(),
        flags in prop::sample::select(vec![0u64, 0x04, 0x20, 0x40, 0x4000 | 0x4_0000, 0x80_0000]),
        time in 1u64..,
        seq in any::<u64>(),
        lifetime in any::<u64>(),
        primary_crc in prop_oneof![Just(CrcType::Crc16), Just(CrcType::Crc32c)],
        block_crc in any_crc(),
        hop in prop::option::of((1u64..=255, any::<u64>())),
        age in prop::option::of(any::<u64>()),
        prev in prop::option::of(any_eid()),
        unknown in prop::collection::vec((13u64..300, any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)), 0..3),
        payload in prop::collection::vec(any::<u8>(), 0..2000),
    ) -> BundleBuilder {
        let mut b = BundleBuilder::new(source, destination)
            .report_to(report_to)
            .flags(BundleFlags(flags))
            .creation(CreationTimestamp::new(DtnTime(time), seq))
            .lifetime_ms(lifetime)
            .primary_crc(primary_crc)
            .block_crc(block_crc)
            .payload(payload);
        if let Some(node) = prev { b = b.previous_node(&node); }
        if let Some((limit, count)) = hop { b = b.hop_count(limit, count); }
        if let Some(age) = age { b = b.bundle_age_ms(age); }
        for (t, f, data) in unknown {
            b = b.block(t, BlockFlags(u64::from(f) & !0x02), data);
        }
        b
    }
}

proptest! {
    #[test]
    fn arbitrary_bundles_round_trip(builder in any_builder()) {
        let bytes = builder.encode();
        let bundle = strict(bytes.clone()).unwrap();
        prop_assert!(bundle.relaxations().is_empty());
        prop_assert_eq!(bundle.primary(), builder.primary());
        prop_assert_eq!(&bundle.to_bytes()[..], &bytes[..]);
        let rebuilt = BundleBuilder::from_bundle(&bundle).encode();
        prop_assert_eq!(rebuilt, bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        for mode in [ParseMode::Strict, ParseMode::Relaxed] {
            if let Ok(bundle) = Bundle::parse(Bytes::from(data.clone()), mode) {
                prop_assert!(Bundle::parse(bundle.to_bytes(), ParseMode::Relaxed).is_ok());
            }
        }
    }

    #[test]
    fn mutated_bundles_never_panic(builder in any_builder(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = builder.encode();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        for mode in [ParseMode::Strict, ParseMode::Relaxed] {
            match Bundle::parse(Bytes::from(bytes.clone()), mode) {
                Ok(bundle) => { let _ = bundle.edit().build(); }
                Err(e) => prop_assert!(e.offset <= bytes.len()),
            }
        }
    }

    #[test]
    fn editor_output_reparses_strictly(builder in any_builder(), age in any::<u64>(), node in any_eid()) {
        let bundle = builder.build().unwrap();
        let mut editor = bundle.edit();
        editor.set_bundle_age_ms(age).set_previous_node(&node);
        editor.increment_hop_count();
        let edited = strict(editor.build().unwrap().raw().to_vec()).unwrap();
        prop_assert_eq!(edited.bundle_age_ms(), Some(age));
        prop_assert_eq!(edited.previous_node(), Some(&node));
        prop_assert_eq!(edited.payload(), bundle.payload());
        prop_assert_eq!(edited.primary_raw(), bundle.primary_raw());
    }
}

#[test]
fn the_primary_block_alone_names_a_bundle() {
    let whole = BundleBuilder::new(Eid::ipn(7, 3), Eid::ipn(9, 1))
        .creation(CreationTimestamp::new(crate::time::DtnTime(757_382_400_000), 42))
        .lifetime_ms(60_000)
        .payload(alloc::vec![5u8; 300])
        .build()
        .unwrap();
    assert_eq!(primary_identity(whole.raw()), Some((whole.source().clone(), whole.creation(), false)));
    let pieces = crate::fragment::fragment_by_size(&whole, 200).unwrap();
    assert_eq!(primary_identity(pieces[1].raw()), Some((whole.source().clone(), whole.creation(), true)));
    assert_eq!(primary_identity(b"\x9f\x00"), None);
    assert_eq!(primary_identity(b""), None);
}

/// A bundle of `n` one-byte extension blocks (about 1 MiB at 100,000): the shape that took
/// the quadratic duplicate-number check 17.8 s to reject.
fn many_blocks(n: u64, duplicate_last: bool) -> Vec<u8> {
    let mut builder = sample();
    for i in 0..n {
        let number = if duplicate_last && i + 1 == n { 2 } else { i + 2 };
        builder = builder.numbered_block(200, number, BlockFlags::DISCARD_IF_UNPROCESSABLE, CrcType::None, vec![7]);
    }
    builder.encode()
}

#[test]
#[cfg(feature = "std")]
fn a_hundred_thousand_blocks_parse_in_linear_time() {
    let valid = many_blocks(100_000, false);
    let duplicate = many_blocks(100_000, true);
    assert!(valid.len() > 700_000, "{} bytes", valid.len());
    let started = std::time::Instant::now();
    let bundle = strict(valid).unwrap();
    assert_eq!(bundle.blocks().len(), 100_001);
    let err = strict(duplicate).unwrap_err();
    assert_eq!(err.kind, BundleErrorKind::DuplicateBlockNumber(2));
    // Both parses together; the quadratic check needed seconds even in release builds. The
    // bound leaves room for unoptimised test builds on a slow machine.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");

    let started = std::time::Instant::now();
    let mut editor = bundle.edit();
    let numbers: Vec<u64> = (2..100_002).collect();
    assert_eq!(editor.remove_blocks(&numbers), 100_000);
    assert_eq!(editor.build().unwrap().blocks().len(), 1);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "removal took {took:?}");
}

#[test]
fn a_block_numbered_u64_max_still_leaves_room_for_new_blocks() {
    let bundle = sample()
        .numbered_block(200, u64::MAX, BlockFlags::default(), CrcType::None, vec![1])
        .numbered_block(201, 2, BlockFlags::default(), CrcType::None, vec![2])
        .build()
        .unwrap();
    let mut editor = bundle.edit();
    editor.set_previous_node(&Eid::ipn(9, 0)).set_bundle_age_ms(5);
    let edited = strict(editor.build().unwrap().raw().to_vec()).unwrap();
    let mut numbers: Vec<u64> = edited.blocks().iter().map(|b| b.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4, u64::MAX]);
}

#[test]
fn removing_several_blocks_keeps_the_payload_and_the_others() {
    let bundle = sample()
        .block(200, BlockFlags::default(), vec![1])
        .block(201, BlockFlags::default(), vec![2])
        .block(202, BlockFlags::default(), vec![3])
        .build()
        .unwrap();
    let mut editor = bundle.edit();
    assert_eq!(editor.remove_blocks(&[4, 1, 2, 99]), 2);
    let left: Vec<u64> = editor.build().unwrap().blocks().iter().map(|b| b.block_type).collect();
    assert_eq!(left, vec![201, block_type::PAYLOAD]);
}
