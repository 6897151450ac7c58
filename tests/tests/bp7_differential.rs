//! Differential tests against the `bp7` crate: what we encode, bp7 decodes to the same fields;
//! what bp7 encodes (with CRCs), we decode to the same fields.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bp7::canonical::{
    CanonicalBlock as Bp7Block, new_bundle_age_block, new_hop_count_block, new_payload_block, new_previous_node_block,
};
use bp7::eid::EndpointID;
use bp7::flags::BlockControlFlags;
use bytes::Bytes;
use dtn_core::bundle::{Bundle, BundleBuilder, BundleFlags};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};
use proptest::prelude::*;

/// The fields both codecs can express.
#[derive(Debug, Clone)]
struct Spec {
    source: Eid,
    destination: Eid,
    report_to: Eid,
    flags: u64,
    time_ms: u64,
    sequence: u64,
    lifetime_ms: u64,
    crc: CrcType,
    hop_count: Option<(u8, u8)>,
    age_ms: Option<u64>,
    previous_node: Option<Eid>,
    payload: Vec<u8>,
}

fn any_eid() -> impl Strategy<Value = Eid> {
    prop_oneof![
        (1u32..100_000, 0u32..1000).prop_map(|(n, s)| Eid::ipn(n, s)),
        ("[a-z][a-z0-9-]{0,10}", "[a-z0-9]{0,8}")
            .prop_map(|(node, svc)| format!("dtn://{node}/{svc}").parse().unwrap()),
    ]
}

fn any_spec() -> impl Strategy<Value = Spec> {
    let flags =
        prop::sample::select(vec![0u64, 0x04, 0x20, 0x40 | 0x4000, 0x1_0000 | 0x2_0000 | 0x4_0000, 0x04 | 0x2_0000]);
    (
        (any_eid(), any_eid(), any_eid(), flags),
        (1u64..=u64::from(u32::MAX) * 1000, any::<u32>(), 1u64..1_000_000_000),
        prop_oneof![Just(CrcType::Crc16), Just(CrcType::Crc32c)],
        (prop::option::of((1u8..=255, any::<u8>())), prop::option::of(0u64..1 << 40), prop::option::of(any_eid())),
        prop::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(
            |((source, destination, report_to, flags), (time_ms, seq, lifetime_ms), crc, (hc, age, prev), payload)| {
                Spec {
                    source,
                    destination,
                    report_to,
                    flags,
                    time_ms,
                    sequence: u64::from(seq),
                    lifetime_ms,
                    crc,
                    hop_count: hc.map(|(limit, count)| (limit, count.min(limit))),
                    age_ms: age,
                    previous_node: prev,
                    payload,
                }
            },
        )
}

fn to_bp7_eid(eid: &Eid) -> EndpointID {
    match eid {
        Eid::Ipn(ipn) => EndpointID::with_ipn(u64::from(ipn.node), u64::from(ipn.service)).unwrap(),
        Eid::Dtn(dtn) => EndpointID::with_dtn(dtn.ssp()).unwrap(),
        other => panic!("no bp7 form for {other}"),
    }
}

fn ours(spec: &Spec) -> Vec<u8> {
    let mut b = BundleBuilder::new(spec.source.clone(), spec.destination.clone())
        .report_to(spec.report_to.clone())
        .flags(BundleFlags(spec.flags))
        .creation(CreationTimestamp::new(DtnTime(spec.time_ms), spec.sequence))
        .lifetime_ms(spec.lifetime_ms)
        .crc(spec.crc)
        .payload(spec.payload.clone());
    if let Some(node) = &spec.previous_node {
        b = b.previous_node(node);
    }
    if let Some((limit, count)) = spec.hop_count {
        b = b.hop_count(u64::from(limit), u64::from(count));
    }
    if let Some(age) = spec.age_ms {
        b = b.bundle_age_ms(age);
    }
    b.build().expect("valid spec builds").raw().to_vec()
}

fn theirs(spec: &Spec) -> Vec<u8> {
    theirs_with_crc(spec, if spec.crc == CrcType::Crc16 { bp7::crc::CRC_16 } else { bp7::crc::CRC_32 })
}

fn theirs_with_crc(spec: &Spec, crc: bp7::crc::CrcRawType) -> Vec<u8> {
    let primary = bp7::primary::PrimaryBlockBuilder::default()
        .bundle_control_flags(spec.flags)
        .destination(to_bp7_eid(&spec.destination))
        .source(to_bp7_eid(&spec.source))
        .report_to(to_bp7_eid(&spec.report_to))
        .creation_timestamp(bp7::dtntime::CreationTimestamp::with_time_and_seq(spec.time_ms, spec.sequence))
        .lifetime(Duration::from_millis(spec.lifetime_ms))
        .build()
        .unwrap();
    let mut blocks: Vec<Bp7Block> = Vec::new();
    let mut number = 2;
    if let Some(node) = &spec.previous_node {
        blocks.push(new_previous_node_block(number, BlockControlFlags::empty(), to_bp7_eid(node)));
        number += 1;
    }
    if let Some((limit, count)) = spec.hop_count {
        // Our builder flags the hop count "replicate in every fragment", as a hop limit must survive fragmentation.
        let mut block = new_hop_count_block(number, BlockControlFlags::BLOCK_REPLICATE, limit);
        for _ in 0..count {
            block.hop_count_increase();
        }
        blocks.push(block);
        number += 1;
    }
    if let Some(age) = spec.age_ms {
        blocks.push(new_bundle_age_block(number, BlockControlFlags::empty(), age));
    }
    blocks.push(new_payload_block(BlockControlFlags::empty(), spec.payload.clone()));
    let mut bundle = bp7::bundle::Bundle::new(primary, blocks);
    bundle.set_crc(crc);
    bundle.to_cbor()
}

fn assert_bp7_matches(spec: &Spec, mut b: bp7::bundle::Bundle) {
    b.validate().expect("bp7 validates our bundle");
    assert!(b.crc_valid(), "bp7 checks our CRCs");
    let p = &b.primary;
    assert_eq!(p.bundle_control_flags, spec.flags);
    assert_eq!(p.destination.to_string(), spec.destination.to_string());
    assert_eq!(p.source.to_string(), spec.source.to_string());
    assert_eq!(p.report_to.to_string(), spec.report_to.to_string());
    assert_eq!(p.creation_timestamp.dtntime(), spec.time_ms);
    assert_eq!(p.creation_timestamp.seqno(), spec.sequence);
    assert_eq!(p.lifetime, Duration::from_millis(spec.lifetime_ms));
    assert_eq!(b.payload().map(Vec::as_slice), Some(spec.payload.as_slice()));
    let hc = b.canonicals.iter().find_map(Bp7Block::hop_count_get);
    assert_eq!(hc, spec.hop_count);
    let age = b.canonicals.iter().find_map(Bp7Block::bundle_age_get);
    assert_eq!(age, spec.age_ms.map(u128::from));
    let prev = b.canonicals.iter().find_map(|c| c.previous_node_get().map(ToString::to_string));
    assert_eq!(prev, spec.previous_node.as_ref().map(ToString::to_string));
}

fn assert_ours_matches(spec: &Spec, b: &Bundle) {
    let p = b.primary();
    assert_eq!(p.flags.0, spec.flags);
    assert_eq!(p.destination, spec.destination);
    assert_eq!(p.source, spec.source);
    assert_eq!(p.report_to, spec.report_to);
    assert_eq!(p.creation, CreationTimestamp::new(DtnTime(spec.time_ms), spec.sequence));
    assert_eq!(p.lifetime_ms, spec.lifetime_ms);
    assert_eq!(p.crc_type, spec.crc);
    assert_eq!(b.payload().as_ref(), spec.payload.as_slice());
    assert_eq!(b.hop_count().map(|h| (h.limit as u8, h.count as u8)), spec.hop_count);
    assert_eq!(b.bundle_age_ms(), spec.age_ms);
    assert_eq!(b.previous_node(), spec.previous_node.as_ref());
    assert!(b.blocks().iter().all(|blk| blk.crc_type == spec.crc));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bp7_decodes_what_we_encode(spec in any_spec()) {
        let bytes = ours(&spec);
        let decoded = bp7::bundle::Bundle::try_from(bytes.as_slice()).expect("bp7 decodes our bundle");
        assert_bp7_matches(&spec, decoded);
    }

    #[test]
    fn we_decode_what_bp7_encodes(spec in any_spec()) {
        let bytes = theirs(&spec);
        let bundle = Bundle::parse(Bytes::from(bytes), ParseMode::Strict).expect("strict parse of bp7 output");
        assert_ours_matches(&spec, &bundle);
    }

    #[test]
    fn relaxed_mode_accepts_bp7_bundles_without_crc(spec in any_spec()) {
        // bp7 emits a primary block without CRC when asked; RFC 9171 4.3.1 forbids that
        // (no BIB here), so strict mode refuses and relaxed mode accepts and says why.
        let bytes = Bytes::from(theirs_with_crc(&spec, bp7::crc::CRC_NO));
        let err = Bundle::parse(bytes.clone(), ParseMode::Strict).unwrap_err();
        prop_assert_eq!(err.kind.name(), "MissingPrimaryCrc");
        let bundle = Bundle::parse(bytes, ParseMode::Relaxed).unwrap();
        prop_assert!(bundle.relaxations().contains(dtn_core::parse_mode::Relaxation::MissingPrimaryCrc));
        prop_assert_eq!(bundle.payload().as_ref(), spec.payload.as_slice());
        prop_assert_eq!(&bundle.primary().destination, &spec.destination);
    }

    #[test]
    fn both_encoders_agree_byte_for_byte(spec in any_spec()) {
        // Same fields, same block order and numbers: canonical CBOR leaves one encoding.
        prop_assert_eq!(ours(&spec), theirs(&spec));
    }
}
