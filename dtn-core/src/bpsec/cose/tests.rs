//! The draft's Appendix A examples (revision 17), byte for byte where the operation is
//! deterministic (HMAC, AES-GCM under a given IV), verified where it is not (its ECDSA
//! signature); then our own signatures with every algorithm, and tampering.

use alloc::vec::Vec;

use bytes::Bytes;

use super::aad::AadScope;
use super::*;
use crate::bpsec::hmac_sha2::ShaVariant;
use crate::bpsec::{Placement, RustCrypto, Security};
use crate::bundle::Bundle;
use crate::eid::Eid;
use crate::parse_mode::ParseMode;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn bundle(h: &str) -> Bundle {
    Bundle::parse(Bytes::from(hex(h)), ParseMode::Strict).unwrap()
}

const ORIGINAL: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c98601010002466568656c6c6f444ec359d2ff";
const A1: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c9850b0300005860810103018201662f2f7372632f818205a2000120018181821158458443a10106a1044a4578616d706c65412e31f65830ec8260a38a1a00fef2cd4aae063f50f01c5645e84c6c4893ca895eed44ef60a5f50f9adf5cc5654499b881e5896378058601010002466568656c6c6f444ec359d2ff";
const A1_KEY: &str = "3a5c74e32ab4558a99581ec3a816576812aabe895db04494cda25b711d7b5ed4077466e677860648412f1bf8c91d0624";
const A2: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c9850b0300005891810103018201662f2f7372632f818205a2000120018181821258768444a1013832a1044a4578616d706c65412e32f658609c64328dfe9570262f5be687c35cc51ced48b8682d2a61d8baadfd3410233634251c2c1862b0a194b8503985931051a77731a74a1514b83092d7c662e6dbcda2629af72b24bf1cc3c5e2552f54ddfcc1762e6bc46fd5e6c2137e4a695e563eae8601010002466568656c6c6f444ec359d2ff";
const A4: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c9850c0300005831810103018201662f2f7372632f818205a20001200181818210578343a10103a2044a4578616d706c65412e340642484af68601010002561fd25f64a2eee2ff1a1ab29812ba221874380974c13b442086c017ff";
const A11_IN: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c98506020000498201662f2f7372632f8601010002466568656c6c6f444ec359d2ff";
const A11: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c9850b0300005862810203018201662f2f7372632f818205a30001010320018181821158458443a10106a1044a4578616d706c65412e31f65830d0218bcc266210d32be089950e733ef3ff8b502df628710c7085b72a29eb0867d2deaa71c2cab26a9efba0465e9b55218506020000498201662f2f7372632f8601010002466568656c6c6f444ec359d2ff";
const A12: &str = "9f890700028201692f2f6473742f7376638201692f2f7372632f7376638201662f2f7372632f821b000000bd51281400001a000f42404482a081c9850b0300005864810103018201662f2f7372632f8282034da1044a4578616d706c65412e318205a2000120018181821158398443a10106a0f6583073d54e469fcc5e66f4a3dd81a1486012f08c4d662a15eaba7516d1aa2ed6d23785659682317543ba5fc7e7dd19d46d988601010002466568656c6c6f444ec359d2ff";

fn symmetric(k: &str, kid: &[u8], base_iv: Option<&str>) -> CoseKey {
    CoseKey { kid: Some(kid.to_vec()), alg: None, kind: KeyKind::Symmetric { k: hex(k), base_iv: base_iv.map(hex) } }
}

fn a2_key() -> CoseKey {
    CoseKey {
        kid: Some(b"ExampleA.2".to_vec()),
        alg: Some(-51),
        kind: KeyKind::Ec2 {
            curve: Curve::P384,
            x: hex("02dfc49747f5d3d219fe6185744729fa1672ef7d11cb57ca0320c632be06ca3fdcc118e63140ba3ec57ea7b85d419568"),
            y: hex("4526e81bf0d9ea0924f05a3453ad75b92806671511544c993f6bd908a7a4239d476cfdfd74d6c68836488ad1e60b0e7d"),
            d: Some(hex(
                "3494803544d85a84d802400b50f51eea23b72d7d850b53cbf3006e5be2940d4a2c18d510a412efc7dc7875fbba22cca9",
            )),
        },
    }
}

fn src() -> Eid {
    "dtn://src/".parse().unwrap()
}

fn scope(entries: &[(i64, u64)]) -> Option<AadScope> {
    Some(AadScope::new(entries.to_vec()).unwrap())
}

fn mac_op<'a>(targets: &'a [u64], key: &'a CoseKey, s: Option<AadScope>, extra: &'a [u8]) -> CoseSign<'a> {
    CoseSign {
        targets,
        source: src(),
        alg: Alg::Hmac(ShaVariant::Sha384),
        key,
        scope: s,
        additional_protected: extra,
        placement: Placement { number: Some(3), index: 0 },
    }
}

/// Verifies BIB 3 of `b` with `keys` (COSE_Key encodings).
fn verify(b: &Bundle, keys: &[&CoseKey]) -> Result<(), crate::bpsec::SecurityError> {
    let encoded: Vec<Vec<u8>> = keys.iter().map(|k| k.encode()).collect();
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let security = Security::of(b)?;
    crate::bpsec::verify_bib(&RustCrypto, b, &security, 3, &refs)
}

#[test]
fn a1_mac0_both_ways_byte_for_byte() {
    let key = symmetric(A1_KEY, b"ExampleA.1", None);
    let out = sign(&RustCrypto, &bundle(ORIGINAL), &mac_op(&[1], &key, scope(&[(0, 1), (-1, 1)]), &[])).unwrap();
    assert_eq!(out.to_bytes().as_ref(), hex(A1).as_slice());
    verify(&bundle(A1), &[&key]).unwrap();
    let wrong = symmetric(&"11".repeat(48), b"ExampleA.1", None);
    assert_eq!(verify(&bundle(A1), &[&wrong]).unwrap_err().reason().code(), 15);
}

#[test]
fn a11_expanded_scope_and_a12_additional_protected_byte_for_byte() {
    let key = symmetric(A1_KEY, b"ExampleA.1", None);
    let a11 = mac_op(&[2], &key, scope(&[(0, 1), (1, 3), (-1, 1)]), &[]);
    assert_eq!(sign(&RustCrypto, &bundle(A11_IN), &a11).unwrap().to_bytes().as_ref(), hex(A11).as_slice());
    verify(&bundle(A11), &[&key]).unwrap();
    // A.12 names the key in the additional protected header only.
    let unnamed = CoseKey { kid: None, ..key.clone() };
    let extra = hex("a1044a4578616d706c65412e31");
    let a12 = mac_op(&[1], &unnamed, scope(&[(0, 1), (-1, 1)]), &extra);
    assert_eq!(sign(&RustCrypto, &bundle(ORIGINAL), &a12).unwrap().to_bytes().as_ref(), hex(A12).as_slice());
    verify(&bundle(A12), &[&key]).unwrap();
}

#[test]
fn a2_esp384_signature_verifies_and_ours_verify_with_the_public_key_alone() {
    let key = a2_key();
    verify(&bundle(A2), &[&key.public()]).unwrap();
    let op = CoseSign { alg: Alg::Ecdsa(Curve::P384), ..mac_op(&[1], &key, scope(&[(0, 1), (-1, 1)]), &[]) };
    let ours = sign(&RustCrypto, &bundle(ORIGINAL), &op).unwrap();
    verify(&ours, &[&key.public()]).unwrap();
    // A public key cannot sign.
    assert!(sign(&RustCrypto, &bundle(ORIGINAL), &CoseSign { key: &key.public(), ..op.clone() }).is_err());
}

#[test]
fn a4_encrypt0_opens_and_our_ciphertext_under_its_nonce_is_the_same() {
    let key = symmetric(
        "13bf9cead057c0aca2c9e52471ca4b19ddfaf4c0784e3f3e8e3999dbae4ce45c",
        b"ExampleA.4",
        Some("6f3093eba5d85143c3dc0000"),
    );
    let encoded = key.encode();
    let sealed = bundle(A4);
    let opened = crate::bpsec::accept_bcb(&RustCrypto, &sealed, 3, &[&encoded]).unwrap();
    assert_eq!(opened.to_bytes().as_ref(), hex(ORIGINAL).as_slice());
    // Sealed by us under the nonce the Partial IV makes (sent as a whole IV): the same
    // target block, ciphertext and CRC.
    let iv: [u8; 12] = hex("6f3093eba5d85143c3dc484a").try_into().unwrap();
    let op = CoseEncrypt {
        targets: &[1],
        source: src(),
        alg: Alg::Gcm(crate::bpsec::bcb_aes_gcm::AesVariant::A256),
        key: &key,
        iv,
        scope: scope(&[(0, 1), (-1, 1)]),
        placement: Placement { number: Some(3), index: 0 },
    };
    let ours = encrypt(&RustCrypto, &bundle(ORIGINAL), &op).unwrap();
    assert_eq!(ours.payload_block().raw, sealed.payload_block().raw);
    let back = crate::bpsec::accept_bcb(&RustCrypto, &ours, 3, &[&encoded]).unwrap();
    assert_eq!(back.to_bytes().as_ref(), hex(ORIGINAL).as_slice());
}

#[test]
fn every_algorithm_signs_or_seals_and_a_changed_byte_is_caught() {
    let mut seed = [0u8; 48];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    let keypair = |kind| CoseKey { kid: Some(b"k".to_vec()), alg: None, kind: generate(kind, &seed[..32]).unwrap() };
    let p384 = CoseKey {
        kid: Some(b"k".to_vec()),
        alg: None,
        kind: generate(GenerateKind::Ecdsa(Curve::P384), &seed).unwrap(),
    };
    let keys = [
        (Alg::Ed25519, keypair(GenerateKind::Ed25519)),
        (Alg::Ecdsa(Curve::P256), keypair(GenerateKind::Ecdsa(Curve::P256))),
        (Alg::Ecdsa(Curve::P384), p384),
        (Alg::Hmac(ShaVariant::Sha256), symmetric(&"42".repeat(32), b"k", None)),
        (Alg::Hmac(ShaVariant::Sha512), symmetric(&"42".repeat(64), b"k", None)),
    ];
    for (alg, key) in &keys {
        let op = CoseSign { alg: *alg, ..mac_op(&[1], key, None, &[]) };
        let signed = sign(&RustCrypto, &bundle(ORIGINAL), &op).unwrap();
        let public = key.public();
        verify(&signed, &[&public]).unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        // The payload changed: no longer verifies.
        let mut editor = signed.edit();
        editor.set_block_data(1, Bytes::from_static(b"jello!"), crate::crc::CrcType::Crc32c);
        let tampered = editor.build().unwrap();
        assert_eq!(verify(&tampered, &[&public]).unwrap_err().reason().code(), 15, "{alg:?}");
        // A key of another kind is not even tried.
        let other = &keys[if matches!(alg, Alg::Ed25519) { 1 } else { 0 }].1.public();
        assert!(verify(&signed, &[other]).is_err(), "{alg:?}");
        // And the key survives its COSE_Key encoding.
        assert_eq!(&CoseKey::decode(&key.encode()).unwrap(), key);
    }
    for variant in [crate::bpsec::bcb_aes_gcm::AesVariant::A128, crate::bpsec::bcb_aes_gcm::AesVariant::A256] {
        let key = symmetric(&"24".repeat(variant.key_len()), b"c", None);
        let op = CoseEncrypt {
            targets: &[1],
            source: src(),
            alg: Alg::Gcm(variant),
            key: &key,
            iv: [9; 12],
            scope: None,
            placement: Placement::default(),
        };
        let sealed = encrypt(&RustCrypto, &bundle(ORIGINAL), &op).unwrap();
        assert_ne!(sealed.payload().as_ref(), b"ehello");
        let n = Security::of(&sealed).unwrap().bcb_over(1).unwrap().number();
        let opened = crate::bpsec::accept_bcb(&RustCrypto, &sealed, n, &[&key.encode()]).unwrap();
        assert_eq!(opened.payload(), bundle(ORIGINAL).payload());
    }
}

#[test]
#[cfg(feature = "std")]
fn a_scope_over_every_block_times_every_target_is_refused_not_computed() {
    use crate::bpsec::asb::{Asb, SecurityItem};
    use crate::bundle::{BlockFlags, BundleBuilder, CanonicalBlock};
    let n = 20_000u64;
    let mut builder = BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .creation(crate::time::CreationTimestamp::new(crate::time::DtnTime(1), 1))
        .payload(b"x".to_vec());
    for i in 0..n {
        builder = builder.numbered_block(200, i + 2, BlockFlags::default(), crate::crc::CrcType::None, vec![1]);
    }
    let plain = builder.build().unwrap();
    let targets: Vec<u64> = (2..n + 2).collect();
    let scope = AadScope::new(targets.iter().map(|&t| (t as i64, 1)).collect()).unwrap();
    let mut scope_value = Vec::new();
    scope.encode(&mut scope_value);
    let mac0 = message::Message::encode(&message::protected_alg(6), None, None, Some(&[0; 48]));
    let asb = Asb {
        targets: targets.clone(),
        context_id: CONTEXT_COSE,
        context_flags: 1,
        source: Eid::ipn(2, 0),
        parameters: Some(alloc::vec![SecurityItem { id: PARAM_AAD_SCOPE, value: scope_value }]),
        results: targets.iter().map(|_| alloc::vec![SecurityItem::bytes(RESULT_MAC0, &mac0)]).collect(),
    };
    let mut editor = plain.edit();
    editor.insert_block(
        0,
        CanonicalBlock::new(11, n + 5, BlockFlags::default(), crate::crc::CrcType::None, asb.to_vec().into()),
    );
    let hostile = editor.build().unwrap();
    let key = symmetric(A1_KEY, b"k", None).encode();
    let started = std::time::Instant::now();
    let security = Security::of(&hostile).unwrap();
    let e = crate::bpsec::verify_bib(&RustCrypto, &hostile, &security, n + 5, &[&key]).unwrap_err();
    assert!(e.message.contains("more than this node hashes"), "{e:?}");
    // 20,000 targets × an AAD of 20,000 blocks: 4 × 10^8 steps had it been built per target.
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
    // A source is refused the same.
    let k = symmetric(A1_KEY, b"k", None);
    assert!(
        sign(
            &RustCrypto,
            &plain,
            &CoseSign { placement: Placement::default(), ..mac_op(&targets, &k, Some(scope), &[]) }
        )
        .is_err()
    );
}
