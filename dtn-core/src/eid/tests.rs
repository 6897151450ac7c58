use alloc::string::ToString;

use proptest::prelude::*;

use super::*;
use crate::parse_mode::{ParseMode, Relaxation};

fn strict(bytes: &[u8]) -> Result<Eid, EidError> {
    Eid::from_cbor(bytes, ParseMode::Strict).map(|(eid, _)| eid)
}

#[test]
fn null_is_dtn_none_and_ipn_0_0() {
    assert!(strict(&[0x82, 0x01, 0x00]).unwrap().is_null());
    assert!(strict(&[0x82, 0x02, 0x82, 0x00, 0x00]).unwrap().is_null());
    assert!(!strict(&[0x82, 0x02, 0x82, 0x00, 0x01]).unwrap().is_null());
}

#[test]
fn dtn_none_as_text_only_in_relaxed_mode() {
    let bytes = [0x82, 0x01, 0x64, b'n', b'o', b'n', b'e'];
    assert_eq!(strict(&bytes).unwrap_err().kind, EidErrorKind::InvalidDtnSsp);
    let (eid, relaxed) = Eid::from_cbor(&bytes, ParseMode::Relaxed).unwrap();
    assert_eq!(eid, Eid::Null);
    assert!(relaxed.contains(Relaxation::DtnNoneAsText));
}

#[test]
fn legacy_fqnn_equals_three_element_form() {
    let two: Eid = "ipn:4196183048193.1".parse().unwrap();
    let three: Eid = "ipn:977.1.1".parse().unwrap();
    assert_eq!(two, three);
    assert_eq!(three.to_string(), "ipn:977.1.1");
}

#[test]
fn text_round_trips() {
    for text in ["dtn:none", "ipn:2.1", "ipn:977000.1.1", "dtn://node/", "dtn://node/svc/x", "dtn://n/~group"] {
        let eid: Eid = text.parse().unwrap();
        assert_eq!(eid.to_string(), text);
    }
}

#[test]
fn rejects_bad_text() {
    for (text, kind) in [
        ("ipn:1", EidErrorKind::IpnElementCount),
        ("ipn:1.2.3.4", EidErrorKind::IpnElementCount),
        ("ipn:1.x", EidErrorKind::InvalidNumber),
        ("ipn:1.-2", EidErrorKind::InvalidNumber),
        ("ipn:1.4294967296", EidErrorKind::IpnComponentTooLarge),
        ("ipn:!.1", EidErrorKind::LocalNodeNotAllowed),
        ("dtn:node", EidErrorKind::InvalidDtnSsp),
        ("dtn:///x", EidErrorKind::InvalidDtnSsp),
        ("dtn://node", EidErrorKind::InvalidDtnSsp),
        ("dtn://no de/", EidErrorKind::InvalidDtnSsp),
        ("http://x/", EidErrorKind::UnknownTextScheme),
    ] {
        assert_eq!(text.parse::<Eid>().unwrap_err().kind, kind, "{text}");
    }
}

#[test]
fn dtn_parts() {
    let Eid::Dtn(dtn) = "dtn://ground-1/ops/telemetry".parse::<Eid>().unwrap() else { panic!("not dtn") };
    assert_eq!(dtn.node_name(), "ground-1");
    assert_eq!(dtn.demux(), "ops/telemetry");
    assert!(dtn.is_singleton());
    assert_eq!(Eid::Dtn(dtn).node_id().unwrap().to_string(), "dtn://ground-1/");
}

#[test]
fn unknown_scheme_keeps_ssp_bytes() {
    let bytes = [0x82, 0x03, 0x66, b'o', b'p', b'a', b'q', b'u', b'e'];
    let eid = strict(&bytes).unwrap();
    assert!(matches!(eid, Eid::Unknown { scheme: 3, .. }));
    assert_eq!(eid.to_cbor(), bytes);
}

#[test]
fn rejects_trailing_bytes() {
    assert!(strict(&[0x82, 0x01, 0x00, 0x00]).is_err());
}

fn any_eid() -> impl Strategy<Value = Eid> {
    prop_oneof![
        Just(Eid::Null),
        (any::<u32>(), any::<u32>()).prop_map(|(n, s)| Eid::ipn(n, s)),
        (1u32.., any::<u32>(), any::<u32>()).prop_map(|(a, n, s)| Eid::Ipn(IpnEid::new(a, n, s))),
        ("[a-z0-9.-]{1,12}", "[a-z0-9/~._-]{0,20}")
            .prop_map(|(node, demux)| Eid::Dtn(DtnEid::from_ssp(&alloc::format!("//{node}/{demux}")).unwrap())),
    ]
}

proptest! {
    #[test]
    fn cbor_round_trips(eid in any_eid()) {
        let bytes = eid.to_cbor();
        prop_assert_eq!(strict(&bytes).unwrap(), eid.clone());
        prop_assert_eq!(strict(&bytes).unwrap().to_cbor(), bytes);
    }

    #[test]
    fn text_form_round_trips(eid in any_eid()) {
        prop_assert_eq!(eid.to_string().parse::<Eid>().unwrap(), eid);
    }

    #[test]
    fn arbitrary_cbor_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = Eid::from_cbor(&data, ParseMode::Strict);
        let _ = Eid::from_cbor(&data, ParseMode::Relaxed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = text.parse::<Eid>();
    }
}
