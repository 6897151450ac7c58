//! BPSec on one bundle, in one process, side by side: our BIB-HMAC-SHA-384 sign and verify
//! and BCB-AES-256-GCM encrypt and decrypt (whole-bundle operations: parse, IPPT/AAD, MAC or
//! cipher, rebuilt bundle) on RustCrypto (the flight build) and on ring (the gateway's
//! provider); ring's primitive alone over the payload (the floor); and hardy-bpv7 0.6 doing
//! the same operation on the same bundle. Payloads of 1 KiB, 64 KiB and 1 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use base64::Engine;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{
    Crypto, Encrypt, KeyMaterial, Placement, RustCrypto, Security, Sign, accept_bcb, encrypt, sign, verify_bib,
};
use dtn_core::bundle::{Bundle, BundleBuilder};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};
use gateway::bpsec_ring::RingCrypto;
use hardy_bpv7::bpsec::rfc9173::ScopeFlags;
use hardy_bpv7::bpsec::{encryptor, key, signer};

const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];
const MAC_KEY: [u8; 32] = [0x5a; 32];
const CEK: [u8; 32] = [0x3c; 32];
const IV: [u8; 12] = [7; 12];

fn plain(size: usize) -> Bundle {
    BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .crc(CrcType::Crc32c)
        .creation(CreationTimestamp::new(DtnTime(851_990_400_000), 1))
        .payload(vec![0xa7u8; size])
        .build()
        .unwrap()
}

fn jwk(k: &[u8], alg: &str, enc: Option<&str>) -> key::Key {
    let ops = if enc.is_some() { vec!["encrypt", "decrypt"] } else { vec!["sign", "verify"] };
    let mut v = serde_json::json!({
        "kty": "oct", "alg": alg, "key_ops": ops,
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k),
    });
    if let Some(enc) = enc {
        v["enc"] = serde_json::json!(enc);
    }
    serde_json::from_value(v).unwrap()
}

fn sign_op() -> Sign<'static> {
    Sign {
        targets: &[1],
        source: Eid::ipn(2, 0),
        variant: ShaVariant::Sha384,
        scope: 7,
        key: KeyMaterial::Direct(&MAC_KEY),
        placement: Placement::default(),
    }
}

fn encrypt_op() -> Encrypt<'static> {
    Encrypt {
        targets: &[1],
        source: Eid::ipn(2, 0),
        variant: AesVariant::A256,
        scope: 7,
        iv: &IV,
        key: KeyMaterial::Direct(&CEK),
        placement: Placement::default(),
    }
}

fn providers() -> [(&'static str, &'static dyn Crypto); 2] {
    [("ours-rustcrypto", &RustCrypto), ("ours-ring", &RingCrypto)]
}

fn bib(c: &mut Criterion) {
    let mut sign_group = c.benchmark_group("bib_hmac_sha384_sign");
    for (size, name) in SIZES {
        let bundle = plain(size);
        sign_group.throughput(Throughput::Bytes(size as u64));
        for (label, crypto) in providers() {
            sign_group.bench_with_input(BenchmarkId::new(label, name), &bundle, |b, bundle| {
                b.iter(|| sign(crypto, bundle, &sign_op()).unwrap())
            });
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA384, &MAC_KEY);
        sign_group.bench_with_input(BenchmarkId::new("ring-primitive", name), &bundle, |b, bundle| {
            b.iter(|| ring::hmac::sign(&key, bundle.payload()))
        });
        let jwk = jwk(&MAC_KEY, "HS384", None);
        let data = bundle.to_bytes();
        let none = key::KeySet::new(vec![]);
        sign_group.bench_with_input(BenchmarkId::new("hardy", name), &data, |b, data| {
            b.iter(|| {
                let parsed = hardy_bpv7::bundle::ParsedBundle::parse_with_keys(data, &none).unwrap().bundle;
                signer::Signer::new(&parsed, data)
                    .sign_block(1, signer::Context::HMAC_SHA2(ScopeFlags::default()), "ipn:2.0".parse().unwrap(), &jwk)
                    .map_err(|(_, e)| e)
                    .unwrap()
                    .rebuild()
                    .unwrap()
            })
        });
    }
    sign_group.finish();

    let mut verify_group = c.benchmark_group("bib_hmac_sha384_verify");
    for (size, name) in SIZES {
        let signed = sign(&RustCrypto, &plain(size), &sign_op()).unwrap();
        let wire = signed.to_bytes();
        verify_group.throughput(Throughput::Bytes(size as u64));
        for (label, crypto) in providers() {
            verify_group.bench_with_input(BenchmarkId::new(label, name), &wire, |b, wire| {
                b.iter(|| {
                    // From the received bytes: parse, rules, MAC.
                    let bundle = Bundle::parse(wire.clone(), ParseMode::Strict).unwrap();
                    let security = Security::of(&bundle).unwrap();
                    let n = security.blocks()[0].number();
                    verify_bib(crypto, &bundle, &security, n, &[&MAC_KEY]).unwrap()
                })
            });
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA384, &MAC_KEY);
        let tag = ring::hmac::sign(&key, signed.payload());
        verify_group.bench_with_input(BenchmarkId::new("ring-primitive", name), &signed, |b, signed| {
            b.iter(|| ring::hmac::verify(&key, signed.payload(), tag.as_ref()).unwrap())
        });
        let keys = key::KeySet::new(vec![jwk(&MAC_KEY, "HS384", None)]);
        verify_group.bench_with_input(BenchmarkId::new("hardy", name), &wire, |b, wire| {
            b.iter(|| {
                let parsed = hardy_bpv7::bundle::ParsedBundle::parse_with_keys(wire, &keys).unwrap().bundle;
                assert!(parsed.verify_block(1, wire, &keys).unwrap());
            })
        });
    }
    verify_group.finish();
}

fn bcb(c: &mut Criterion) {
    let ring_key =
        || ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &CEK).unwrap());
    let mut encrypt_group = c.benchmark_group("bcb_aes256_gcm_encrypt");
    for (size, name) in SIZES {
        let bundle = plain(size);
        encrypt_group.throughput(Throughput::Bytes(size as u64));
        for (label, crypto) in providers() {
            encrypt_group.bench_with_input(BenchmarkId::new(label, name), &bundle, |b, bundle| {
                b.iter(|| encrypt(crypto, bundle, &encrypt_op()).unwrap())
            });
        }
        let key = ring_key();
        encrypt_group.bench_with_input(BenchmarkId::new("ring-primitive", name), &bundle, |b, bundle| {
            b.iter(|| {
                let mut data = bundle.payload().to_vec();
                let nonce = ring::aead::Nonce::assume_unique_for_key(IV);
                let tag = key.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), &mut data).unwrap();
                (data, tag)
            })
        });
        let jwk = jwk(&CEK, "dir", Some("A256GCM"));
        let data = bundle.to_bytes();
        let none = key::KeySet::new(vec![]);
        encrypt_group.bench_with_input(BenchmarkId::new("hardy", name), &data, |b, data| {
            b.iter(|| {
                let parsed = hardy_bpv7::bundle::ParsedBundle::parse_with_keys(data, &none).unwrap().bundle;
                encryptor::Encryptor::new(&parsed, data)
                    .encrypt_block(
                        1,
                        encryptor::Context::AES_GCM(ScopeFlags::default()),
                        "ipn:2.0".parse().unwrap(),
                        &jwk,
                    )
                    .map_err(|(_, e)| e)
                    .unwrap()
                    .rebuild()
                    .unwrap()
            })
        });
    }
    encrypt_group.finish();

    let mut decrypt_group = c.benchmark_group("bcb_aes256_gcm_decrypt");
    for (size, name) in SIZES {
        let sealed = encrypt(&RustCrypto, &plain(size), &encrypt_op()).unwrap();
        let wire = sealed.to_bytes();
        decrypt_group.throughput(Throughput::Bytes(size as u64));
        for (label, crypto) in providers() {
            decrypt_group.bench_with_input(BenchmarkId::new(label, name), &wire, |b, wire| {
                b.iter(|| {
                    let bundle = Bundle::parse(wire.clone(), ParseMode::Strict).unwrap();
                    let n = Security::of(&bundle).unwrap().blocks()[0].number();
                    accept_bcb(crypto, &bundle, n, &[&CEK]).unwrap()
                })
            });
        }
        let key = ring_key();
        let mut ciphertext = plain(size).payload().to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(IV),
                ring::aead::Aad::from(b"aad"),
                &mut ciphertext,
            )
            .unwrap();
        let ciphertext = Bytes::from(ciphertext);
        decrypt_group.bench_with_input(BenchmarkId::new("ring-primitive", name), &ciphertext, |b, ct| {
            b.iter(|| {
                let mut data = ct.to_vec();
                let nonce = ring::aead::Nonce::assume_unique_for_key(IV);
                key.open_in_place_separate_tag(nonce, ring::aead::Aad::from(b"aad"), tag, &mut data, 0..).unwrap();
                data
            })
        });
        let keys = key::KeySet::new(vec![jwk(&CEK, "dir", Some("A256GCM"))]);
        decrypt_group.bench_with_input(BenchmarkId::new("hardy", name), &wire, |b, wire| {
            b.iter(|| {
                let parsed = hardy_bpv7::bundle::ParsedBundle::parse_with_keys(wire, &keys).unwrap().bundle;
                parsed.block_data(1, wire, &keys).unwrap().as_ref().len()
            })
        });
    }
    decrypt_group.finish();
}

/// The COSE context: a COSE_Sign1 per target with Ed25519 and ESP256 (whole operation:
/// rules, external AAD, Sig_structure, signature, the bundle rebuilt; verify parses the
/// received bytes), beside ring's signature primitive alone over the same payload.
fn cose(c: &mut Criterion) {
    use dtn_core::bpsec::cose::{self, Alg, CoseKey, Curve, GenerateKind, generate};
    use ring::signature::{self as rs, KeyPair};
    let key = |kind| CoseKey { kid: Some(b"g".to_vec()), alg: None, kind: generate(kind, &[0x42; 32]).unwrap() };
    let algs = [
        ("ed25519", Alg::Ed25519, key(GenerateKind::Ed25519)),
        ("esp256", Alg::Ecdsa(Curve::P256), key(GenerateKind::Ecdsa(Curve::P256))),
    ];
    let rng = ring::rand::SystemRandom::new();
    let ed = rs::Ed25519KeyPair::from_seed_unchecked(&[0x42; 32]).unwrap();
    let p256_pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let p256 = rs::EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, p256_pkcs8.as_ref(), &rng).unwrap();
    for op in ["cose-sign", "cose-verify"] {
        let mut group = c.benchmark_group(op);
        for (size, name) in SIZES.iter().take(2).copied() {
            group.throughput(Throughput::Bytes(size as u64));
            let bundle = plain(size);
            for (label, alg, key) in &algs {
                let sign_op = cose::CoseSign {
                    targets: &[1],
                    source: Eid::ipn(2, 0),
                    alg: *alg,
                    key,
                    scope: None,
                    additional_protected: &[],
                    placement: Placement::default(),
                };
                if op == "cose-sign" {
                    group.bench_with_input(BenchmarkId::new(format!("ours-{label}"), name), &bundle, |b, bundle| {
                        b.iter(|| cose::sign(&RustCrypto, bundle, &sign_op).unwrap())
                    });
                } else {
                    let wire = cose::sign(&RustCrypto, &bundle, &sign_op).unwrap().to_bytes();
                    let public = key.public().encode();
                    group.bench_with_input(BenchmarkId::new(format!("ours-{label}"), name), &wire, |b, wire| {
                        b.iter(|| {
                            let received = Bundle::parse(wire.clone(), ParseMode::Strict).unwrap();
                            let security = Security::of(&received).unwrap();
                            let n = security.blocks()[0].number();
                            verify_bib(&RingCrypto, &received, &security, n, &[&public]).unwrap();
                        })
                    });
                }
            }
            let payload = vec![0xa7u8; size];
            if op == "cose-sign" {
                group.bench_with_input(BenchmarkId::new("ring-ed25519", name), &payload, |b, p| b.iter(|| ed.sign(p)));
                group.bench_with_input(BenchmarkId::new("ring-p256", name), &payload, |b, p| {
                    b.iter(|| p256.sign(&rng, p).unwrap())
                });
            } else {
                let sig = ed.sign(&payload);
                let public = rs::UnparsedPublicKey::new(&rs::ED25519, ed.public_key().as_ref().to_vec());
                group.bench_with_input(BenchmarkId::new("ring-ed25519", name), &payload, |b, p| {
                    b.iter(|| public.verify(p, sig.as_ref()).unwrap())
                });
                let sig = p256.sign(&rng, &payload).unwrap();
                let public =
                    rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, p256.public_key().as_ref().to_vec());
                group.bench_with_input(BenchmarkId::new("ring-p256", name), &payload, |b, p| {
                    b.iter(|| public.verify(p, sig.as_ref()).unwrap())
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bib, bcb, cose);
criterion_main!(benches);
