use alloc::vec::Vec;

use proptest::prelude::*;

use super::{CborErrorKind, Major, Reader, writer};

#[test]
fn reads_shortest_uints() {
    for (hex, value) in [
        (&[0x00][..], 0u64),
        (&[0x17], 23),
        (&[0x18, 0x18], 24),
        (&[0x19, 0x01, 0x00], 256),
        (&[0x1a, 0x00, 0x01, 0x00, 0x00], 65536),
        (&[0x1b, 0, 0, 0, 1, 0, 0, 0, 0], 1 << 32),
    ] {
        assert_eq!(Reader::new(hex).uint(), Ok(value));
    }
}

#[test]
fn rejects_non_shortest_uint_in_strict_mode() {
    let err = Reader::new(&[0x18, 0x05]).uint().unwrap_err();
    assert_eq!(err.kind, CborErrorKind::NonShortest);
    assert_eq!(err.offset, 0);
}

#[test]
fn relaxed_mode_records_first_non_shortest_head() {
    let input = [0x01, 0x19, 0x00, 0x05];
    let mut r = Reader::with_strictness(&input, false);
    assert_eq!(r.uint(), Ok(1));
    assert_eq!(r.uint(), Ok(5));
    assert_eq!(r.non_canonical_at(), Some(1));
}

#[test]
fn truncated_head_names_item_offset() {
    let mut r = Reader::new(&[0x00, 0x1a, 0x00]);
    r.uint().unwrap();
    let err = r.uint().unwrap_err();
    assert_eq!((err.kind, err.offset), (CborErrorKind::Truncated, 1));
}

#[test]
fn wrong_type_is_reported() {
    let err = Reader::new(&[0x61, b'a']).uint().unwrap_err();
    assert_eq!(err.kind, CborErrorKind::WrongType { expected: Major::Unsigned, found: Major::Text });
}

#[test]
fn indefinite_byte_string_is_not_a_definite_one() {
    let err = Reader::new(&[0x5f, 0x41, 0x00, 0xff]).bytes().unwrap_err();
    assert_eq!(err.kind, CborErrorKind::IndefiniteLength);
}

#[test]
fn reserved_additional_information_is_rejected() {
    assert_eq!(Reader::new(&[0x1c]).uint().unwrap_err().kind, CborErrorKind::Reserved);
    assert_eq!(Reader::new(&[0x1f]).uint().unwrap_err().kind, CborErrorKind::Reserved);
}

#[test]
fn two_byte_simple_value_below_32_is_malformed_in_any_mode() {
    for strict in [true, false] {
        let err = Reader::with_strictness(&[0xf8, 0x02], strict).skip().unwrap_err();
        assert_eq!(err.kind, CborErrorKind::Reserved);
    }
    assert!(Reader::new(&[0xf8, 0x20]).skip().is_ok());
}

#[test]
fn skip_handles_nested_and_indefinite_items() {
    // [1, {"a": [h'00']}, (_ h'01', h'02'), 1.5f16] then 7
    let input =
        [0x84, 0x01, 0xa1, 0x61, b'a', 0x81, 0x41, 0x00, 0x5f, 0x41, 0x01, 0x41, 0x02, 0xff, 0xf9, 0x3e, 0x00, 0x07];
    let mut r = Reader::new(&input);
    r.skip().unwrap();
    assert_eq!(r.uint(), Ok(7));
    assert!(r.is_empty());
}

#[test]
fn skip_limits_depth() {
    let input = [0x81; 100];
    assert_eq!(Reader::new(&input).skip().unwrap_err().kind, CborErrorKind::TooDeep);
}

#[test]
fn huge_length_is_truncated_not_a_panic() {
    let input = [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(Reader::new(&input).bytes().is_err());
}

proptest! {
    #[test]
    fn uint_round_trips_in_shortest_form(value in any::<u64>()) {
        let mut out = Vec::new();
        writer::uint(&mut out, value);
        prop_assert_eq!(out.len(), writer::head_len(value));
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.uint(), Ok(value));
        prop_assert!(r.is_empty());
    }

    #[test]
    fn bytes_and_text_round_trip(data in proptest::collection::vec(any::<u8>(), 0..300), s in ".{0,40}") {
        let mut out = Vec::new();
        writer::bytes(&mut out, &data);
        writer::text(&mut out, &s);
        writer::bool(&mut out, true);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.bytes().unwrap(), &data[..]);
        prop_assert_eq!(r.text().unwrap(), s.as_str());
        prop_assert_eq!(r.bool(), Ok(true));
        prop_assert!(r.is_empty());
    }

    #[test]
    fn skip_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut r = Reader::new(&data);
        let _ = r.skip();
        prop_assert!(r.position() <= data.len());
    }
}
