//! Any bytes as the COSE context's pieces a peer or a key file hands us: a COSE message (with
//! and without a tag), an AAD-scope map, a header map, a COSE_Key. No panics; a key that
//! decodes re-encodes to one that decodes the same, and a scope that decodes re-encodes to
//! itself.
#![no_main]

use dtn_core::bpsec::cose::message::{Headers, Message, read_headers};
use dtn_core::bpsec::cose::{AadScope, CoseKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Message::decode(data, true);
    let _ = Message::decode(data, false);
    let _ = read_headers(data, &mut Headers::default(), &mut Vec::new());
    if let Ok(scope) = AadScope::decode(data) {
        let mut again = Vec::new();
        scope.encode(&mut again);
        assert_eq!(AadScope::decode(&again).expect("a re-encoded scope decodes"), scope);
    }
    if let Ok(key) = CoseKey::decode(data) {
        assert_eq!(CoseKey::decode(&key.encode()).expect("a re-encoded key decodes"), key);
    }
});
