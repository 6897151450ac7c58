//! The security blocks of RFC 9173 Appendix A (`shared/spec/bpsec-rfc9173-vectors.json`):
//! every BIB and BCB in the four output bundles decodes as an abstract security block and
//! encodes back byte for byte, with the targets, context and results the RFC gives.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use dtn_core::bpsec::{Asb, BLOCK_TYPE_BCB, BLOCK_TYPE_BIB, CONTEXT_BCB_AES_GCM, CONTEXT_BIB_HMAC_SHA2};
use dtn_core::bundle::Bundle;
use dtn_core::parse_mode::ParseMode;
use dtn_tests::{hex_decode, spec_json};

#[test]
fn every_appendix_a_security_block_round_trips_byte_for_byte() {
    let vectors = spec_json("bpsec-rfc9173-vectors.json");
    let examples = vectors["examples"].as_object().expect("examples");
    let mut seen = Vec::new();
    for (name, example) in examples {
        let bytes = hex_decode(example["output_bundle"].as_str().expect("output_bundle")).expect("hex");
        // The RFC's bundles lack the primary CRC RFC 9171 asks for: relaxed.
        let bundle = Bundle::parse(Bytes::from(bytes), ParseMode::Relaxed).unwrap_or_else(|e| panic!("{name}: {e}"));
        let security = || bundle.blocks().iter().filter(|b| [BLOCK_TYPE_BIB, BLOCK_TYPE_BCB].contains(&b.block_type));
        // A block a BCB encrypts holds ciphertext (A.4 encrypts its BIB).
        let encrypted: Vec<u64> = security()
            .filter(|b| b.block_type == BLOCK_TYPE_BCB)
            .flat_map(|b| Asb::decode(&b.data, ParseMode::Strict).map(|a| a.targets).unwrap_or_default())
            .collect();
        for block in security() {
            if encrypted.contains(&block.number) {
                seen.push((name.clone(), block.block_type, vec![]));
                continue;
            }
            let asb = Asb::decode(&block.data, ParseMode::Strict).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(asb.to_vec(), block.data.as_ref(), "{name}: block {} re-encodes differently", block.number);
            let context = if block.block_type == BLOCK_TYPE_BIB { CONTEXT_BIB_HMAC_SHA2 } else { CONTEXT_BCB_AES_GCM };
            assert_eq!(asb.context_id, context, "{name}");
            for &target in &asb.targets {
                assert!(target == 0 || bundle.block(target).is_some(), "{name}: target {target} is not in the bundle");
            }
            seen.push((name.clone(), block.block_type, asb.targets.clone()));
        }
        // The block the vector spells out alone is the one in the bundle.
        for key in ["bib_asb", "bcb_asb"] {
            if let Some(asb) = example.get(key).and_then(|v| v.as_str()) {
                let asb = hex_decode(asb).unwrap();
                assert!(
                    bundle.blocks().iter().any(|b| b.data.as_ref() == asb.as_slice()),
                    "{name}: {key} is not in the output bundle"
                );
            }
        }
    }
    // A.1: a BIB on the payload; A.2: a BCB on the payload; A.3: a BIB on the primary and
    // bundle-age blocks and a BCB on the payload; A.4: a BIB on the payload and a BCB over
    // both it and the payload (so the BIB is ciphertext here: no targets to read).
    let expect = |name: &str, kind: u64, targets: &[u64]| {
        assert!(
            seen.iter().any(|(n, k, t)| n == name && *k == kind && t == targets),
            "{name}: no block of type {kind} with targets {targets:?} in {seen:?}"
        );
    };
    expect("A.1", BLOCK_TYPE_BIB, &[1]);
    expect("A.2", BLOCK_TYPE_BCB, &[1]);
    expect("A.3", BLOCK_TYPE_BIB, &[0, 2]);
    expect("A.3", BLOCK_TYPE_BCB, &[1]);
    expect("A.4", BLOCK_TYPE_BIB, &[]);
    expect("A.4", BLOCK_TYPE_BCB, &[3, 1]);
    assert_eq!(seen.len(), 6, "{seen:?}");
}

/// BIB-HMAC-SHA2: the IPPT and the MAC of every BIB target in A.1, A.3 and A.4, byte for
/// byte, and each MAC verifies (and fails with one bit flipped).
#[test]
fn every_appendix_a_ippt_and_mac_is_reproduced() {
    use dtn_core::bpsec::hmac_sha2::{BlockHeader, Ippt, ShaVariant, mac, verify};
    let vectors = spec_json("bpsec-rfc9173-vectors.json");
    let hex = |v: &serde_json::Value| hex_decode(v.as_str().expect("hex string")).expect("hex");
    let primary = hex(&vectors["common"]["primary_block"]["hex"]);
    let payload = hex(&vectors["common"]["payload_plaintext"]["hex"]);
    let header = |block_type, number| BlockHeader { block_type, number, flags: 0 };
    let mut checked = 0;
    let mut check = |name: &str, bib: &serde_json::Value, ippt: Ippt<'_>, want_ippt: &str, want_mac: &str| {
        let variant = ShaVariant::from_code(bib["sha_variant"].as_u64().unwrap()).unwrap();
        let key = hex(&bib["key"]);
        let got = ippt.to_vec();
        assert_eq!(got, hex(&bib[want_ippt]), "{name}: IPPT");
        let expected = hex(&bib[want_mac]);
        assert_eq!(mac(variant, &key, &got), expected, "{name}: MAC");
        assert!(verify(variant, &key, &got, &expected), "{name}");
        let mut flipped = got.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(!verify(variant, &key, &flipped, &expected), "{name}: a flipped bit verified");
        checked += 1;
    };
    let a1 = &vectors["examples"]["A.1"];
    let ippt =
        Ippt { scope: 0, primary: &primary, target: header(1, 1), security: header(11, 2), target_data: &payload };
    check("A.1", a1, ippt, "ippt", "hmac");
    let a3 = &vectors["examples"]["A.3"]["bib"];
    // The vector gives the block's data as it sits in the block: a CBOR byte string.
    let age_wrapped = hex(&a3["bundle_age_block_data"]);
    let age = dtn_core::cbor::Reader::new(&age_wrapped).bytes().expect("a byte string").to_vec();
    let ippt =
        Ippt { scope: 0, primary: &primary, target: header(0, 0), security: header(11, 3), target_data: &primary };
    check("A.3 primary", a3, ippt, "primary_block_ippt", "primary_block_hmac");
    let ippt = Ippt { scope: 0, primary: &primary, target: header(7, 2), security: header(11, 3), target_data: &age };
    check("A.3 bundle age", a3, ippt, "bundle_age_block_ippt", "bundle_age_block_hmac");
    let a4 = &vectors["examples"]["A.4"]["bib"];
    let ippt =
        Ippt { scope: 7, primary: &primary, target: header(1, 1), security: header(11, 3), target_data: &payload };
    check("A.4", a4, ippt, "ippt", "hmac");
    assert_eq!(checked, 4);
}

/// AES key wrap (RFC 3394) as A.2 uses it: the wrapped key unwraps to the content key under
/// the key-encryption key, and under any other key it does not.
#[test]
fn the_appendix_a2_wrapped_key_unwraps() {
    use dtn_core::bpsec::key_wrap::unwrap_key;
    let vectors = spec_json("bpsec-rfc9173-vectors.json");
    let a2 = &vectors["examples"]["A.2"];
    let hex = |k: &str| hex_decode(a2[k].as_str().expect("hex string")).expect("hex");
    let (kek, wrapped, cek) = (hex("key_encryption_key"), hex("aes_wrapped_key"), hex("content_encryption_key"));
    assert_eq!(unwrap_key(&kek, &wrapped), Some(cek));
    let mut wrong = kek.clone();
    wrong[0] ^= 1;
    assert_eq!(unwrap_key(&wrong, &wrapped), None);
    assert_eq!(unwrap_key(&kek[..15], &wrapped), None, "a KEK of 15 bytes");
    assert_eq!(unwrap_key(&kek, &wrapped[..7]), None, "shorter than the integrity check");
}
