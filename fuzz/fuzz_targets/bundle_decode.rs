//! Any bytes: the bundle parser never panics, in strict or relaxed mode, and whatever it
//! accepts re-encodes to bytes it accepts again with the same fields; the per-hop editor and
//! fragmentation keep accepted bundles valid.
#![no_main]

use bytes::Bytes;
use dtn_core::bundle::Bundle;
use dtn_core::eid::Eid;
use dtn_core::fragment::{Reassembly, fragment_by_size};
use dtn_core::parse_mode::ParseMode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    for mode in [ParseMode::Strict, ParseMode::Relaxed] {
        let Ok(bundle) = Bundle::parse(input.clone(), mode) else { continue };
        let again = Bundle::parse(bundle.to_bytes(), ParseMode::Relaxed).expect("re-encoded bundle parses");
        assert_eq!(again.primary(), bundle.primary());
        assert_eq!(again.payload(), bundle.payload());
        let mut editor = bundle.edit();
        editor.set_previous_node(&Eid::ipn(7, 0)).set_bundle_age_ms(1);
        editor.increment_hop_count();
        let edited = editor.build().expect("edited bundle parses");
        assert_eq!(edited.payload(), bundle.payload());
        if let Ok(fragments) = fragment_by_size(&bundle, 200) {
            if fragments.len() > 1 {
                let mut iter = fragments.into_iter().rev();
                let mut reassembly = Reassembly::new(iter.next().expect("one fragment")).expect("fragment");
                for f in iter {
                    reassembly.add(f).expect("same ADU");
                }
                assert_eq!(reassembly.finish().expect("complete").payload(), bundle.payload());
            }
        }
    }
});
