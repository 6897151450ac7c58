//! Any bytes as the data of a BPSec block (an abstract security block) and as a bundle whose
//! BIBs and BCBs are decoded, checked against RFC 9172's rules, verified and accepted with
//! fixed keys: no panics, and an accepted block re-encodes to what decodes the same in the
//! same mode.
#![no_main]

use bytes::Bytes;
use dtn_core::bpsec::cose::{CoseKey, KeyKind};
use dtn_core::bpsec::{Asb, BLOCK_TYPE_BCB, BLOCK_TYPE_BIB, RustCrypto, Security, accept_bcb, accept_bib, verify_bib};
use dtn_core::bundle::Bundle;
use dtn_core::parse_mode::ParseMode;
use libfuzzer_sys::fuzz_target;

/// 32 bytes as an Ed25519 public key (a point that does not decode is refused, not a panic).
const ED25519_PUBLIC: [u8; 32] = [
    0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb, 0x2d, 0x3c, 0xba, 0x5d, 0x72, 0xca, 0x67, 0x09,
    0xbf, 0x1d, 0x94, 0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c,
];

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
        // RFC 9173 keys, and COSE_Keys (an HMAC/AES key, an Ed25519 public key) for context 3.
        let symmetric = CoseKey { kid: None, alg: None, kind: KeyKind::Symmetric { k: vec![0x71; 32], base_iv: None } };
        let ed = CoseKey { kid: None, alg: None, kind: KeyKind::Ed25519 { x: ED25519_PUBLIC.to_vec(), d: None } };
        let (symmetric, ed) = (symmetric.encode(), ed.encode());
        let keys: [&[u8]; 4] = [&[0x1a; 16], &[0x71; 32], &symmetric, &ed];
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
