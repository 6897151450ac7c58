use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::bundle::{BlockFlags, BundleBuilder};
use crate::crc::CrcType;
use crate::eid::Eid;
use crate::time::{CreationTimestamp, DtnTime};

fn original(payload: Vec<u8>) -> Bundle {
    BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
        .creation(CreationTimestamp::new(DtnTime(757_382_400_000), 9))
        .hop_count(16, 0)
        .bundle_age_ms(0)
        .block(200, BlockFlags::default(), vec![7, 7])
        .crc(CrcType::Crc16)
        .payload(payload)
        .build()
        .unwrap()
}

#[test]
fn honours_must_not_fragment() {
    let bundle = BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
        .flags(BundleFlags::MUST_NOT_FRAGMENT)
        .bundle_age_ms(0)
        .payload(vec![1u8; 100])
        .build()
        .unwrap();
    assert_eq!(fragment_at(&bundle, 10).unwrap_err(), FragmentError::MustNotFragment);
    assert_eq!(fragment_by_size(&bundle, 60).unwrap_err(), FragmentError::MustNotFragment);
}

#[test]
fn only_replicated_blocks_after_the_first_fragment() {
    let (first, second) = fragment_at(&original(vec![5u8; 40]), 10).unwrap();
    assert_eq!(first.blocks().len(), 4);
    let types: Vec<u64> = second.blocks().iter().map(|b| b.block_type).collect();
    assert_eq!(types, [crate::bundle::block_type::HOP_COUNT, crate::bundle::block_type::PAYLOAD]);
}

#[test]
fn clockless_fragments_all_carry_bundle_age() {
    let bundle =
        BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1)).bundle_age_ms(40).payload(vec![3u8; 30]).build().unwrap();
    let (_, second) = fragment_at(&bundle, 10).unwrap();
    let strict = Bundle::parse(second.raw().clone(), crate::parse_mode::ParseMode::Strict).unwrap();
    assert_eq!(strict.bundle_age_ms(), Some(40));
}

#[test]
fn fragments_of_fragments_keep_adu_offsets() {
    let (_, second) = fragment_at(&original((0..40).collect()), 10).unwrap();
    let (a, b) = fragment_at(&second, 5).unwrap();
    assert_eq!(a.primary().fragment, Some(FragmentInfo { offset: 10, total_adu_length: 40 }));
    assert_eq!(b.primary().fragment, Some(FragmentInfo { offset: 15, total_adu_length: 40 }));
    assert_eq!(b.payload()[0], 15);
}

#[test]
fn rejects_split_outside_payload() {
    let bundle = original(vec![1u8; 4]);
    assert!(matches!(fragment_at(&bundle, 0), Err(FragmentError::InvalidOffset { .. })));
    assert!(matches!(fragment_at(&bundle, 4), Err(FragmentError::InvalidOffset { .. })));
}

#[test]
fn size_limit_too_small_is_an_error() {
    assert!(matches!(fragment_by_size(&original(vec![1u8; 400]), 20), Err(FragmentError::LimitTooSmall { .. })));
}

#[test]
fn reassembly_rejects_foreign_fragments() {
    let (a, _) = fragment_at(&original(vec![1u8; 40]), 10).unwrap();
    let other =
        BundleBuilder::new(Eid::ipn(9, 1), Eid::ipn(2, 1)).bundle_age_ms(0).payload(vec![1u8; 40]).build().unwrap();
    let (x, _) = fragment_at(&other, 10).unwrap();
    let mut r = Reassembly::new(a).unwrap();
    assert!(matches!(r.add(x), Err(FragmentError::Mismatch(_))));
    assert!(matches!(r.finish(), Err(FragmentError::Incomplete { missing: 30, total: 40 })));
}

proptest! {
    #[test]
    fn fragment_and_shuffled_reassembly_returns_original(
        payload in prop::collection::vec(any::<u8>(), 1..3000),
        limit in 120usize..1200,
        order in any::<prop::sample::Index>(),
        duplicate in any::<bool>(),
    ) {
        let bundle = original(payload);
        let mut fragments = fragment_by_size(&bundle, limit).unwrap();
        for f in &fragments {
            prop_assert!(Bundle::parse(f.raw().clone(), crate::parse_mode::ParseMode::Strict).is_ok());
        }
        if fragments.len() > 1 {
            for f in &fragments {
                prop_assert!(f.raw().len() <= limit, "fragment of {} bytes over the {limit}-byte limit", f.raw().len());
            }
        }
        if duplicate {
            let again = fragments[0].clone();
            fragments.push(again);
        }
        let rotate = order.index(fragments.len());
        fragments.rotate_left(rotate);
        fragments.reverse();
        let mut iter = fragments.into_iter();
        let mut reassembly = match iter.next() {
            Some(f) if f.is_fragment() => Reassembly::new(f).unwrap(),
            Some(f) => { prop_assert_eq!(f.raw(), bundle.raw()); return Ok(()); }
            None => unreachable!(),
        };
        for f in iter { reassembly.add(f).unwrap(); }
        let whole = reassembly.finish().unwrap();
        prop_assert_eq!(whole.raw(), bundle.raw());
    }

    #[test]
    fn overlapping_fragments_reassemble(payload in prop::collection::vec(any::<u8>(), 4..500), cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..5)) {
        let bundle = original(payload);
        let len = bundle.payload().len() as u64;
        let mut pieces = Vec::new();
        // Two independent fragmentation episodes at different points overlap each other.
        for cut in cuts {
            let at = 1 + cut.index(len as usize - 1) as u64;
            let (a, b) = fragment_at(&bundle, at).unwrap();
            pieces.push(b);
            pieces.push(a);
        }
        let mut iter = pieces.into_iter();
        let mut r = Reassembly::new(iter.next().unwrap()).unwrap();
        for p in iter { r.add(p).unwrap(); }
        prop_assert!(r.is_complete());
        let whole = r.finish().unwrap();
        prop_assert_eq!(whole.raw(), bundle.raw());
    }
}

proptest! {
    /// The head fits the limit, the two together are the original, for bundles and fragments.
    #[test]
    fn split_to_fit_heads_within_the_limit_and_loses_nothing(
        payload in prop::collection::vec(any::<u8>(), 3..3000),
        limit in 0usize..1200,
        refragment in any::<bool>(),
    ) {
        let mut bundle = original(payload.clone());
        if refragment {
            bundle = fragment_at(&bundle, 1).unwrap().1;
        }
        match split_to_fit(&bundle, limit) {
            Ok((head, rest)) => {
                prop_assert!(head.raw().len() <= limit || head.payload().len() == 1);
                let offset = |b: &Bundle| b.primary().fragment.map_or(0, |f| f.offset);
                prop_assert_eq!(offset(&head) + head.payload().len() as u64, offset(&rest));
                prop_assert_eq!(head.payload().len() + rest.payload().len(), bundle.payload().len());
                let mut r = Reassembly::new(head).unwrap();
                r.add(rest).unwrap();
                if refragment {
                    r.add(fragment_at(&original(payload.clone()), 1).unwrap().0).unwrap();
                }
                let whole = r.finish().unwrap();
                prop_assert_eq!(whole.payload().as_ref(), payload.as_slice());
            }
            Err(FragmentError::LimitTooSmall { min, .. }) => prop_assert!(limit < min),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
