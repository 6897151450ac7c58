//! RFC 9173 Appendix A end to end, both directions: the security source turns each input
//! bundle into the RFC's output bundle byte for byte (IPPTs, AADs, wrapped key, tags,
//! ciphertext and block layout), and the acceptor turns each output back into the input.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use dtn_core::bpsec::bcb_aes_gcm::{Aad, AesVariant};
use dtn_core::bpsec::hmac_sha2::{BlockHeader, ShaVariant};
use dtn_core::bpsec::{
    Encrypt, KeyMaterial, Placement, RustCrypto, Security, Sign, accept_bcb, accept_bib, encrypt, sign, verify_bib,
};
use dtn_core::bundle::Bundle;
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_tests::{hex_decode, spec_json};
use serde_json::Value;

fn hex(v: &Value) -> Vec<u8> {
    hex_decode(v.as_str().expect("a hex string")).expect("hex")
}

/// The RFC's bundles lack the primary CRC RFC 9171 asks for: relaxed.
fn bundle(v: &Value) -> Bundle {
    Bundle::parse(Bytes::from(hex(v)), ParseMode::Relaxed).expect("an RFC 9173 bundle parses")
}

fn at(number: u64, index: usize) -> Placement {
    Placement { number: Some(number), index }
}

fn sha(v: &Value) -> ShaVariant {
    ShaVariant::from_code(v.as_u64().unwrap()).unwrap()
}

fn aes(v: &Value) -> AesVariant {
    AesVariant::from_code(v.as_u64().unwrap()).unwrap()
}

#[test]
fn a1_integrity_over_the_payload() {
    let v = &spec_json("bpsec-rfc9173-vectors.json")["examples"]["A.1"];
    let key = hex(&v["key"]);
    let op = Sign {
        targets: &[1],
        source: Eid::ipn(2, 1),
        variant: sha(&v["sha_variant"]),
        scope: v["scope_flags"].as_u64().unwrap(),
        key: KeyMaterial::Direct(&key),
        placement: at(2, 0),
    };
    let signed = sign(&RustCrypto, &bundle(&v["input_bundle"]), &op).unwrap();
    assert_eq!(signed.raw().as_ref(), hex(&v["output_bundle"]), "A.1 output bundle");
    let accepted = accept_bib(&RustCrypto, &bundle(&v["output_bundle"]), 2, &[&key]).unwrap();
    assert_eq!(accepted.raw().as_ref(), hex(&v["input_bundle"]), "A.1 accepted");
}

#[test]
fn a2_confidentiality_with_a_wrapped_key() {
    let v = &spec_json("bpsec-rfc9173-vectors.json")["examples"]["A.2"];
    let (kek, cek, iv) = (hex(&v["key_encryption_key"]), hex(&v["content_encryption_key"]), hex(&v["iv"]));
    let op = Encrypt {
        targets: &[1],
        source: Eid::ipn(2, 1),
        variant: aes(&v["aes_variant"]),
        scope: v["scope_flags"].as_u64().unwrap(),
        iv: &iv,
        key: KeyMaterial::Wrapped { kek: &kek, session: &cek },
        placement: at(2, 0),
    };
    let input = bundle(&v["input_bundle"]);
    let encrypted = encrypt(&RustCrypto, &input, &op).unwrap();
    assert_eq!(encrypted.payload().as_ref(), hex(&v["payload_ciphertext"]), "A.2 ciphertext");
    assert_eq!(encrypted.raw().as_ref(), hex(&v["output_bundle"]), "A.2 output bundle");
    // The AAD of scope 0 is the scope alone.
    let aad = Aad {
        scope: 0,
        primary: input.primary_raw(),
        target: BlockHeader { block_type: 1, number: 1, flags: 0 },
        security: BlockHeader { block_type: 12, number: 2, flags: 1 },
    };
    assert_eq!(aad.to_vec(), hex(&v["aad"]));
    let accepted = accept_bcb(&RustCrypto, &bundle(&v["output_bundle"]), 2, &[&kek]).unwrap();
    assert_eq!(accepted.raw().as_ref(), hex(&v["input_bundle"]), "A.2 accepted");
    // The content key itself is not a key-encryption key for it.
    let err = accept_bcb(&RustCrypto, &bundle(&v["output_bundle"]), 2, &[&cek]).unwrap_err();
    assert_eq!(err.reason().code(), 15, "{err}");
}

#[test]
fn a3_operations_from_two_sources() {
    let v = &spec_json("bpsec-rfc9173-vectors.json")["examples"]["A.3"];
    let (bib, bcb) = (&v["bib"], &v["bcb"]);
    let (mac_key, cek, iv) = (hex(&bib["key"]), hex(&bcb["content_encryption_key"]), hex(&bcb["iv"]));
    let encrypt_op = Encrypt {
        targets: &[1],
        source: Eid::ipn(2, 1),
        variant: aes(&bcb["aes_variant"]),
        scope: bcb["scope_flags"].as_u64().unwrap(),
        iv: &iv,
        key: KeyMaterial::Direct(&cek),
        placement: at(4, 0),
    };
    // The source encrypts the payload; waypoint ipn:3.0 signs the primary and age blocks.
    let encrypted = encrypt(&RustCrypto, &bundle(&v["input_bundle"]), &encrypt_op).unwrap();
    let sign_op = Sign {
        targets: &[0, 2],
        source: Eid::ipn(3, 0),
        variant: sha(&bib["sha_variant"]),
        scope: bib["scope_flags"].as_u64().unwrap(),
        key: KeyMaterial::Direct(&mac_key),
        placement: at(3, 0),
    };
    let signed = sign(&RustCrypto, &encrypted, &sign_op).unwrap();
    assert_eq!(signed.raw().as_ref(), hex(&v["output_bundle"]), "A.3 output bundle");

    // Back: the destination accepts both. With no BIB over it any more, the primary block
    // gets the CRC RFC 9171 asks for; everything else is the input's.
    let output = bundle(&v["output_bundle"]);
    let decrypted = accept_bcb(&RustCrypto, &output, 4, &[&cek]).unwrap();
    verify_bib(&RustCrypto, &decrypted, &Security::of(&decrypted).unwrap(), 3, &[&mac_key]).unwrap();
    let accepted = accept_bib(&RustCrypto, &decrypted, 3, &[&mac_key]).unwrap();
    let input = bundle(&v["input_bundle"]);
    assert_eq!(accepted.primary().crc_type, CrcType::Crc32c);
    let mut primary = accepted.primary().clone();
    primary.crc_type = CrcType::None;
    assert_eq!(&primary, input.primary());
    let raws = |b: &Bundle| b.blocks().iter().map(|x| x.raw().clone()).collect::<Vec<_>>();
    assert_eq!(raws(&accepted), raws(&input), "A.3 accepted: the canonical blocks");
    // A strict parser takes the result (the input itself it refuses).
    Bundle::parse(accepted.to_bytes(), ParseMode::Strict).unwrap();
}

#[test]
fn a4_full_scope_with_the_bib_encrypted_too() {
    let v = &spec_json("bpsec-rfc9173-vectors.json")["examples"]["A.4"];
    let (bib, bcb) = (&v["bib"], &v["bcb"]);
    let (mac_key, key, iv) = (hex(&bib["key"]), hex(&bcb["key"]), hex(&bcb["iv"]));
    let sign_op = Sign {
        targets: &[1],
        source: Eid::ipn(2, 1),
        variant: sha(&bib["sha_variant"]),
        scope: bib["scope_flags"].as_u64().unwrap(),
        key: KeyMaterial::Direct(&mac_key),
        placement: at(3, 0),
    };
    let input = bundle(&v["input_bundle"]);
    let signed = sign(&RustCrypto, &input, &sign_op).unwrap();
    assert_eq!(signed.block(3).unwrap().raw().as_ref(), hex(&bib["block_plaintext"]), "A.4 BIB");
    // Encrypting the payload takes the BIB over it along, listed first.
    let encrypt_op = Encrypt {
        targets: &[1],
        source: Eid::ipn(2, 1),
        variant: aes(&bcb["aes_variant"]),
        scope: bcb["scope_flags"].as_u64().unwrap(),
        iv: &iv,
        key: KeyMaterial::Direct(&key),
        placement: at(2, 1),
    };
    let encrypted = encrypt(&RustCrypto, &signed, &encrypt_op).unwrap();
    assert_eq!(encrypted.block(3).unwrap().data.as_ref(), hex(&bcb["bib_ciphertext"]), "A.4 BIB ciphertext");
    assert_eq!(encrypted.payload().as_ref(), hex(&bcb["payload_ciphertext"]), "A.4 payload ciphertext");
    assert_eq!(encrypted.raw().as_ref(), hex(&v["output_bundle"]), "A.4 output bundle");
    let header = |block_type, number, flags| BlockHeader { block_type, number, flags };
    for (target, want) in [(header(1, 1, 0), "payload_aad"), (header(11, 3, 0), "bib_aad")] {
        let aad = Aad { scope: 7, primary: input.primary_raw(), target, security: header(12, 2, 1) };
        assert_eq!(aad.to_vec(), hex(&bcb[want]), "A.4 {want}");
    }

    let output = bundle(&v["output_bundle"]);
    // The BIB is ciphertext until the BCB is accepted.
    let err = verify_bib(&RustCrypto, &output, &Security::of(&output).unwrap(), 3, &[&mac_key]).unwrap_err();
    assert_eq!(err.reason().code(), 13, "{err}");
    let decrypted = accept_bcb(&RustCrypto, &output, 2, &[&key]).unwrap();
    assert_eq!(decrypted.raw(), signed.raw(), "A.4 decrypted: the signed bundle");
    let accepted = accept_bib(&RustCrypto, &decrypted, 3, &[&mac_key]).unwrap();
    assert_eq!(accepted.raw().as_ref(), hex(&v["input_bundle"]), "A.4 accepted");
}
