//! BPSec differential against hardy (`hardy-bpv7` 0.6, RFC 9173 contexts): bundles hardy
//! signs or encrypts verify and decrypt here, and ours verify and decrypt in hardy, over
//! generated payloads, extension blocks, key sizes, SHA variants, key wrapping and scope
//! flags. Keys are JWKs, as both sides read them.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use bytes::Bytes;
use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{
    Encrypt, KeyMaterial, Placement, RustCrypto, Security, Sign, accept_bcb, accept_bcbs, accept_bib, encrypt, sign,
    verify_bib,
};
use dtn_core::bundle::{Bundle, BundleBuilder};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};
use hardy_bpv7::bpsec::rfc9173::ScopeFlags;
use hardy_bpv7::bpsec::{encryptor, key, signer};
use proptest::prelude::*;

fn b64(k: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)
}

/// A hardy key (a JWK) for integrity (no `enc`) or confidentiality. Hardy picks the first
/// key whose `key_ops` allow the operation, so each key allows only its own.
fn jwk(k: &[u8], alg: &str, enc: Option<&str>) -> key::Key {
    let mut ops = if enc.is_some() { vec!["encrypt", "decrypt"] } else { vec!["sign", "verify"] };
    if alg.contains("KW") {
        ops.extend(["wrapKey", "unwrapKey"]);
    }
    let mut v = serde_json::json!({ "kty": "oct", "alg": alg, "k": b64(k), "key_ops": ops });
    if let Some(enc) = enc {
        v["enc"] = serde_json::json!(enc);
    }
    serde_json::from_value(v).expect("a JWK hardy reads")
}

fn scope(bits: u64) -> ScopeFlags {
    ScopeFlags {
        include_primary_block: bits & 1 != 0,
        include_target_header: bits & 2 != 0,
        include_security_header: bits & 4 != 0,
        unrecognised: None,
    }
}

fn hs(variant: ShaVariant) -> &'static str {
    match variant {
        ShaVariant::Sha256 => "HS256",
        ShaVariant::Sha384 => "HS384",
        ShaVariant::Sha512 => "HS512",
    }
}

fn kw(kek_len: usize) -> &'static str {
    match kek_len {
        16 => "A128KW",
        24 => "A192KW",
        _ => "A256KW",
    }
}

fn plain(payload: &[u8], extensions: u8) -> Bundle {
    let mut b = BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .crc(CrcType::Crc32c)
        .creation(CreationTimestamp::new(DtnTime(851_990_400_000), 3))
        .lifetime_ms(3_600_000);
    if extensions & 1 != 0 {
        b = b.bundle_age_ms(1_500);
    }
    if extensions & 2 != 0 {
        b = b.hop_count(32, 2);
    }
    if extensions & 4 != 0 {
        b = b.previous_node(&Eid::ipn(7, 0));
    }
    b.payload(payload.to_vec()).build().unwrap()
}

fn hardy_parse(data: &[u8], keys: &key::KeySet) -> hardy_bpv7::bundle::Bundle {
    hardy_bpv7::bundle::ParsedBundle::parse_with_keys(data, keys).expect("hardy parses the bundle").bundle
}

fn ours(data: &[u8]) -> Bundle {
    Bundle::parse(Bytes::copy_from_slice(data), ParseMode::Strict).expect("we parse hardy's bundle")
}

fn sha() -> impl Strategy<Value = ShaVariant> {
    prop_oneof![Just(ShaVariant::Sha256), Just(ShaVariant::Sha384), Just(ShaVariant::Sha512)]
}

#[derive(Debug, Clone)]
struct Case {
    payload: Vec<u8>,
    extensions: u8,
    variant: ShaVariant,
    mac_key: Vec<u8>,
    wrap: Option<Vec<u8>>,
    bib_scope: u64,
    a256: bool,
    bcb_scope: u64,
    iv_len: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(any::<u8>(), 0..3000),
        0u8..8,
        sha(),
        prop_oneof![Just(16usize), Just(32), Just(48), Just(64)],
        proptest::option::of(prop_oneof![Just(16usize), Just(24), Just(32)]),
        0u64..8,
        any::<bool>(),
        0u64..8,
        8usize..=16,
    )
        .prop_map(|(payload, extensions, variant, key_len, wrap, bib_scope, a256, bcb_scope, iv_len)| Case {
            payload,
            extensions,
            variant,
            mac_key: (0..key_len as u8).map(|i| i.wrapping_mul(37)).collect(),
            wrap: wrap.map(|n| vec![0xa5; n]),
            bib_scope,
            a256,
            bcb_scope,
            iv_len,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Ours signs and encrypts; hardy verifies and decrypts.
    #[test]
    fn what_we_protect_hardy_opens(c in case()) {
        let bundle = plain(&c.payload, c.extensions);
        let aes = if c.a256 { AesVariant::A256 } else { AesVariant::A128 };
        let cek: Vec<u8> = vec![0x3c; aes.key_len()];
        let session: Vec<u8> = vec![0x6b; 32];
        let (mac_material, mac_jwk) = match &c.wrap {
            None => (KeyMaterial::Direct(&c.mac_key), jwk(&c.mac_key, hs(c.variant), None)),
            Some(kek) => (
                KeyMaterial::Wrapped { kek, session: &session },
                jwk(kek, &format!("{}+{}", hs(c.variant), kw(kek.len())), None),
            ),
        };
        let signed = sign(&RustCrypto, &bundle, &Sign {
            targets: &[1],
            source: Eid::ipn(2, 0),
            variant: c.variant,
            scope: c.bib_scope,
            key: mac_material,
            placement: Placement::default(),
        }).unwrap();
        let data = signed.to_bytes();
        let keys = key::KeySet::new(vec![mac_jwk.clone()]);
        prop_assert!(hardy_parse(&data, &keys).verify_block(1, &data, &keys).unwrap(), "hardy verifies our BIB");

        let iv = vec![0x42; c.iv_len];
        let enc = if c.a256 { "A256GCM" } else { "A128GCM" };
        let (cek_material, cek_jwk) = match &c.wrap {
            None => (KeyMaterial::Direct(&cek), jwk(&cek, "dir", Some(enc))),
            Some(kek) => (KeyMaterial::Wrapped { kek, session: &cek }, jwk(kek, kw(kek.len()), Some(enc))),
        };
        let encrypted = encrypt(&RustCrypto, &signed, &Encrypt {
            targets: &[1],
            source: Eid::ipn(2, 0),
            variant: aes,
            scope: c.bcb_scope,
            iv: &iv,
            key: cek_material,
            placement: Placement::default(),
        }).unwrap();
        let data = encrypted.to_bytes();
        let keys = key::KeySet::new(vec![cek_jwk.clone()]);
        let parsed = hardy_parse(&data, &keys);
        let payload = parsed.block_data(1, &data, &keys).expect("hardy decrypts our BCB");
        prop_assert_eq!(payload.as_ref(), c.payload.as_slice());
        let bib = Security::of(&signed).unwrap().blocks()[0].number();
        let bib_plain = parsed.block_data(bib, &data, &keys).expect("hardy decrypts our BIB");
        prop_assert_eq!(bib_plain.as_ref(), signed.block(bib).unwrap().data.as_ref());
        if c.wrap.is_none() {
            // Hardy takes the first key whose `key_ops` fit, whatever its algorithm: with two
            // wrapping keys it would unwrap the MAC key with the content key's entry, so the
            // full check under encryption runs with direct keys.
            let keys = key::KeySet::new(vec![cek_jwk, mac_jwk]);
            let parsed = hardy_parse(&data, &keys);
            prop_assert!(parsed.verify_block(1, &data, &keys).unwrap(), "hardy verifies our BIB under our BCB");
        }
    }

    /// Hardy signs and encrypts; ours verifies and decrypts.
    #[test]
    fn what_hardy_protects_we_open(c in case()) {
        let bundle = plain(&c.payload, c.extensions);
        let data = bundle.to_bytes();
        let enc = if c.a256 { "A256GCM" } else { "A128GCM" };
        let (mac_jwk, mac_key) = match &c.wrap {
            None => (jwk(&c.mac_key, hs(c.variant), None), c.mac_key.clone()),
            Some(kek) => (jwk(kek, &format!("{}+{}", hs(c.variant), kw(kek.len())), None), kek.clone()),
        };
        let cek: Vec<u8> = vec![0x3c; if c.a256 { 32 } else { 16 }];
        let (cek_jwk, cek_key) = match &c.wrap {
            None => (jwk(&cek, "dir", Some(enc)), cek.clone()),
            Some(kek) => (jwk(kek, kw(kek.len()), Some(enc)), kek.clone()),
        };
        let none = key::KeySet::new(vec![]);
        let parsed = hardy_parse(&data, &none);
        let signed = signer::Signer::new(&parsed, &data)
            .sign_block(1, signer::Context::HMAC_SHA2(scope(c.bib_scope)), "ipn:2.0".parse().unwrap(), &mac_jwk)
            .map_err(|(_, e)| e)
            .unwrap()
            .rebuild()
            .unwrap();
        let ours_signed = ours(&signed);
        let security = Security::of(&ours_signed).unwrap();
        let bib = security.blocks()[0].number();
        verify_bib(&RustCrypto, &ours_signed, &security, bib, &[&mac_key]).unwrap();

        let keys = key::KeySet::new(vec![mac_jwk.clone()]);
        let parsed = hardy_parse(&signed, &keys);
        let encrypted = encryptor::Encryptor::new(&parsed, &signed)
            .encrypt_block(1, encryptor::Context::AES_GCM(scope(c.bcb_scope)), "ipn:2.0".parse().unwrap(), &cek_jwk)
            .map_err(|(_, e)| e)
            .unwrap()
            .rebuild()
            .unwrap();
        let ours_encrypted = ours(&encrypted);
        // Hardy puts the BIB and the payload in a BCB each: both are accepted together.
        let security = Security::of(&ours_encrypted).unwrap();
        let bcbs: Vec<u64> = security.blocks().iter().filter(|b| !b.is_bib()).map(|b| b.number()).collect();
        let keys: &[&[u8]] = &[&cek_key];
        let with_keys: Vec<(u64, &[&[u8]])> = bcbs.iter().map(|&n| (n, keys)).collect();
        let decrypted = accept_bcbs(&RustCrypto, &ours_encrypted, &with_keys).unwrap();
        prop_assert_eq!(decrypted.payload().as_ref(), c.payload.as_slice());
        let accepted = accept_bib(&RustCrypto, &decrypted, bib, &[&mac_key]).unwrap();
        prop_assert_eq!(accepted.payload().as_ref(), c.payload.as_slice());
        // And the wrong key opens nothing.
        let wrong = vec![0u8; cek_key.len()];
        let err = accept_bcb(&RustCrypto, &ours_encrypted, bcbs[0], &[&wrong]).unwrap_err();
        prop_assert_eq!(err.reason().code(), 15);
    }
}
