//! Any bytes as a CBOR EID and as a text EID: no panics, and accepted EIDs round-trip.
#![no_main]

use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for mode in [ParseMode::Strict, ParseMode::Relaxed] {
        if let Ok((eid, _)) = Eid::from_cbor(data, mode) {
            let (again, _) = Eid::from_cbor(&eid.to_cbor(), mode).expect("re-encoded EID parses");
            assert_eq!(again, eid);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(eid) = text.parse::<Eid>() {
            assert_eq!(eid.to_string().parse::<Eid>().expect("display form parses"), eid);
        }
    }
});
