//! Any bytes as the data of a BPSec block (an abstract security block) and as a bundle whose
//! BIBs and BCBs are decoded: no panics, and an accepted block re-encodes to what decodes the
//! same in the same mode.
#![no_main]

use bytes::Bytes;
use dtn_core::bpsec::{Asb, BLOCK_TYPE_BCB, BLOCK_TYPE_BIB};
use dtn_core::bundle::Bundle;
use dtn_core::parse_mode::ParseMode;
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    for mode in [ParseMode::Strict, ParseMode::Relaxed] {
        if let Ok(asb) = Asb::decode(data, mode) {
            // Values are kept as sent (a relaxed read keeps a non-canonical one): the same mode
            // reads the re-encoding.
            let again = Asb::decode(&asb.to_vec(), mode).expect("a re-encoded block decodes");
            assert_eq!(again, asb);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(bundle) = Bundle::parse(Bytes::copy_from_slice(data), ParseMode::Relaxed) {
        for block in bundle.blocks().iter().filter(|b| [BLOCK_TYPE_BIB, BLOCK_TYPE_BCB].contains(&b.block_type)) {
            check(&block.data);
        }
    }
});
