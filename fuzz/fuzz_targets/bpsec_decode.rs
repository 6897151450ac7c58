//! Any bytes as the data of a BPSec block (an abstract security block) and as a bundle whose
//! BIBs and BCBs are decoded, checked against RFC 9172's rules, verified and accepted with
//! fixed keys: no panics, and an accepted block re-encodes to what decodes the same in the
//! same mode.
#![no_main]

use bytes::Bytes;
use dtn_core::bpsec::{Asb, BLOCK_TYPE_BCB, BLOCK_TYPE_BIB, RustCrypto, Security, accept_bcb, accept_bib, verify_bib};
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
        let keys: [&[u8]; 2] = [&[0x1a; 16], &[0x71; 32]];
        if let Ok(security) = Security::of(&bundle) {
            for block in security.blocks() {
                let n = block.number();
                if block.is_bib() {
                    let _ = verify_bib(&RustCrypto, &bundle, &security, n, &keys);
                    let _ = accept_bib(&RustCrypto, &bundle, n, &keys);
                } else {
                    let _ = accept_bcb(&RustCrypto, &bundle, n, &keys);
                }
            }
        }
    }
});
