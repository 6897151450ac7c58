//! The roles and rules together: round trips over generated bundles and keys, and each
//! rule of RFC 9172 broken on purpose.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use proptest::prelude::*;

use super::bcb_aes_gcm::AesVariant;
use super::hmac_sha2::ShaVariant;
use super::*;
use crate::bundle::{BlockFlags, Bundle, BundleBuilder, block_type};
use crate::crc::CrcType;
use crate::eid::Eid;
use crate::parse_mode::ParseMode;

const MAC_KEY: [u8; 32] = [0x5a; 32];
const CEK: [u8; 32] = [0x3c; 32];
const IV: [u8; 12] = [7; 12];

fn plain(payload: &[u8]) -> Bundle {
    BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .crc(CrcType::Crc32c)
        .bundle_age_ms(300)
        .hop_count(30, 1)
        .payload(payload.to_vec())
        .build()
        .unwrap()
}

fn sign_op(targets: &[u64]) -> Sign<'_> {
    Sign {
        targets,
        source: Eid::ipn(2, 0),
        variant: ShaVariant::Sha384,
        scope: 7,
        key: KeyMaterial::Direct(&MAC_KEY),
        placement: Placement::default(),
    }
}

fn encrypt_op(targets: &[u64]) -> Encrypt<'_> {
    Encrypt {
        targets,
        source: Eid::ipn(2, 0),
        variant: AesVariant::A256,
        scope: 7,
        iv: &IV,
        key: KeyMaterial::Direct(&CEK),
        placement: Placement::default(),
    }
}

fn code(e: SecurityError) -> u64 {
    e.reason().code()
}

/// A bundle with a hand-made security block (an ASB of these targets) added as `number`.
fn with_block(kind: u64, number: u64, flags: BlockFlags, targets: Vec<u64>) -> Bundle {
    let asb = Asb {
        targets: targets.clone(),
        context_id: if kind == block_type::BIB { CONTEXT_BIB_HMAC_SHA2 } else { CONTEXT_BCB_AES_GCM },
        context_flags: 0,
        source: Eid::ipn(9, 0),
        parameters: None,
        results: targets.iter().map(|_| vec![SecurityItem::bytes(1, &[0; 16])]).collect(),
    };
    BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .numbered_block(
            block_type::BUNDLE_AGE,
            2,
            BlockFlags::default(),
            CrcType::None,
            crate::bundle::bundle_age_data(5),
        )
        .numbered_block(kind, number, flags, CrcType::None, asb.to_vec())
        .payload(b"payload".to_vec())
        .build()
        .unwrap()
}

#[test]
fn each_rule_of_rfc_9172_broken_is_a_conflict() {
    let conflict = |b: &Bundle| code(Security::of(b).unwrap_err());
    let replicate = BlockFlags::REPLICATE;
    // A BCB on the primary block, on a BCB, on a missing block; one a relay may discard.
    assert_eq!(conflict(&with_block(block_type::BCB, 3, replicate, vec![0])), 16);
    assert_eq!(conflict(&with_block(block_type::BCB, 3, replicate, vec![3])), 16);
    assert_eq!(conflict(&with_block(block_type::BCB, 3, replicate, vec![9])), 16);
    assert_eq!(conflict(&with_block(block_type::BCB, 3, BlockFlags(0x11), vec![1])), 16);
    // A BIB over itself (a security block), over a missing block.
    assert_eq!(conflict(&with_block(block_type::BIB, 3, BlockFlags::default(), vec![3])), 16);
    assert_eq!(conflict(&with_block(block_type::BIB, 3, BlockFlags::default(), vec![7])), 16);
    // The well-formed ones pass.
    Security::of(&with_block(block_type::BCB, 3, replicate, vec![2, 1])).unwrap();
    Security::of(&with_block(block_type::BCB, 3, BlockFlags::default(), vec![1])).unwrap();
    Security::of(&with_block(block_type::BIB, 3, BlockFlags::default(), vec![0, 2, 1])).unwrap();

    // A BIB over a BCB, two BIBs on a target, an unencrypted BIB over ciphertext.
    let encrypted = encrypt(&RustCrypto, &plain(b"x"), &encrypt_op(&[1])).unwrap();
    let bcb = encrypted.blocks().iter().find(|b| b.block_type == block_type::BCB).unwrap().number;
    assert_eq!(code(sign(&RustCrypto, &encrypted, &sign_op(&[bcb])).unwrap_err()), 16);
    assert_eq!(code(sign(&RustCrypto, &encrypted, &sign_op(&[1])).unwrap_err()), 16);
    let signed = sign(&RustCrypto, &plain(b"x"), &sign_op(&[1])).unwrap();
    assert_eq!(code(sign(&RustCrypto, &signed, &sign_op(&[1])).unwrap_err()), 16);
    assert_eq!(code(encrypt(&RustCrypto, &encrypted, &encrypt_op(&[1])).unwrap_err()), 16);
    assert_eq!(code(encrypt(&RustCrypto, &plain(b"x"), &encrypt_op(&[0])).unwrap_err()), 16);
    let bib = signed.blocks().iter().find(|b| b.block_type == block_type::BIB).unwrap().clone();
    let mut editor = encrypted.edit();
    editor.insert_block(0, crate::bundle::CanonicalBlock::new(11, 40, bib.flags, CrcType::None, bib.data.clone()));
    assert_eq!(conflict(&editor.build().unwrap()), 16);
}

#[test]
fn a_source_refuses_fragments_and_a_verifier_leaves_their_payload_for_reassembly() {
    let whole = plain(&[1u8; 64]);
    let signed = sign(&RustCrypto, &whole, &sign_op(&[1])).unwrap();
    let (first, second) = crate::fragment::fragment_at(&signed, 32).unwrap();
    let first = &first;
    let security = Security::of(first).unwrap();
    let bib = security.blocks()[0].number();
    assert_eq!(code(verify_bib(&RustCrypto, first, &security, bib, &[&MAC_KEY]).unwrap_err()), 13);
    assert_eq!(code(sign(&RustCrypto, first, &sign_op(&[2])).unwrap_err()), 16);
    let mut reassembly = crate::fragment::Reassembly::new(first.clone()).unwrap();
    reassembly.add(second).unwrap();
    let whole_again = reassembly.finish().unwrap();
    assert_eq!(whole_again.raw(), signed.raw());
    accept_bib(&RustCrypto, &whole_again, bib, &[&MAC_KEY]).unwrap();
}

#[test]
fn rotation_any_active_key_verifies_and_none_of_the_wrong_ones_do() {
    let signed = sign(&RustCrypto, &plain(b"cmd"), &sign_op(&[0, 1])).unwrap();
    let old = [1u8; 32];
    let accepted = accept_bib(&RustCrypto, &signed, 4, &[&old, &MAC_KEY]).unwrap();
    assert_eq!(accepted.primary().crc_type, CrcType::Crc32c);
    assert_eq!(code(accept_bib(&RustCrypto, &signed, 4, &[&old]).unwrap_err()), 15);
    assert_eq!(code(accept_bib(&RustCrypto, &signed, 4, &[]).unwrap_err()), 13);
    assert_eq!(code(accept_bib(&RustCrypto, &signed, 9, &[&MAC_KEY]).unwrap_err()), 12);
}

fn sha() -> impl Strategy<Value = ShaVariant> {
    prop_oneof![Just(ShaVariant::Sha256), Just(ShaVariant::Sha384), Just(ShaVariant::Sha512)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Sign then encrypt, accept both: the original blocks come back, whatever the payload,
    /// hash, key size, IV length, scopes and key wrapping.
    #[test]
    fn sign_encrypt_accept_round_trips(
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
        variant in sha(),
        a256 in any::<bool>(),
        iv_len in 8usize..=16,
        bib_scope in 0u64..8,
        bcb_scope in 0u64..8,
        wrap in any::<bool>(),
        sign_primary in any::<bool>(),
    ) {
        let original = plain(&payload);
        let aes = if a256 { AesVariant::A256 } else { AesVariant::A128 };
        let cek = &CEK[..aes.key_len()];
        let kek = [0x77u8; 16];
        let iv = vec![9u8; iv_len];
        let targets: &[u64] = if sign_primary { &[0, 1, 2] } else { &[1, 2] };
        let mut s = sign_op(targets);
        s.variant = variant;
        s.scope = bib_scope;
        if wrap {
            s.key = KeyMaterial::Wrapped { kek: &kek, session: &MAC_KEY };
        }
        let signed = sign(&RustCrypto, &original, &s).unwrap();
        let mut e = encrypt_op(&[1]);
        e.variant = aes;
        e.scope = bcb_scope;
        e.iv = &iv;
        e.key = if wrap { KeyMaterial::Wrapped { kek: &kek, session: cek } } else { KeyMaterial::Direct(cek) };
        let encrypted = encrypt(&RustCrypto, &signed, &e).unwrap();
        let wire = Bundle::parse(encrypted.to_bytes(), ParseMode::Strict).unwrap();
        prop_assert!(payload.len() < 8 || wire.payload().as_ref() != payload.as_slice(), "the payload is ciphertext");
        let key: &[u8] = if wrap { &kek } else { cek };
        let bcb = Security::of(&wire).unwrap().blocks().iter().find(|b| !b.is_bib()).unwrap().number();
        let decrypted = accept_bcb(&RustCrypto, &wire, bcb, &[key]).unwrap();
        prop_assert_eq!(decrypted.raw(), signed.raw());
        let mac_key: &[u8] = if wrap { &kek } else { &MAC_KEY };
        let bib = Security::of(&decrypted).unwrap().blocks()[0].number();
        let accepted = accept_bib(&RustCrypto, &decrypted, bib, &[mac_key]).unwrap();
        prop_assert_eq!(accepted.payload(), original.payload());
        prop_assert_eq!(accepted.blocks().len(), original.blocks().len());
        Bundle::parse(accepted.to_bytes(), ParseMode::Strict).unwrap();
    }

    /// Security processing of arbitrary bytes as a bundle never panics.
    #[test]
    fn security_of_any_bundle_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(b) = Bundle::parse(Bytes::from(bytes), ParseMode::Relaxed)
            && let Ok(s) = Security::of(&b)
        {
            for block in s.blocks() {
                let _ = verify_bib(&RustCrypto, &b, &s, block.number(), &[&MAC_KEY]);
                let _ = accept_bcb(&RustCrypto, &b, block.number(), &[&CEK]);
            }
        }
    }
}

#[test]
fn apart_every_block_has_its_own_bcb_and_iv_and_the_acceptor_opens_them_together() {
    let bundle = BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .creation(crate::time::CreationTimestamp::new(crate::time::DtnTime(1), 1))
        .block(200, BlockFlags::default(), vec![1, 2, 3])
        .payload(b"weights".to_vec())
        .build()
        .unwrap();
    let signed = sign(&RustCrypto, &bundle, &sign_op(&[1, 2])).unwrap();
    let mut counter = 0u8;
    let mut fresh = |iv: &mut [u8]| {
        counter += 1;
        iv.fill(counter);
    };
    let sealed = encrypt_apart(&RustCrypto, &signed, &encrypt_op(&[1, 2]), &mut fresh).unwrap();
    let security = Security::of(&sealed).unwrap();
    let bcbs: Vec<&SecurityBlock> = security.blocks().iter().filter(|b| !b.is_bib()).collect();
    // The BIB, the payload and block 2: three BCBs of one target, three IVs.
    assert_eq!(bcbs.len(), 3);
    let mut ivs: Vec<Vec<u8>> = bcbs
        .iter()
        .map(|b| {
            assert_eq!(b.targets().len(), 1);
            bcb_aes_gcm::Parameters::of(b.asb.as_ref().unwrap()).unwrap().iv
        })
        .collect();
    ivs.dedup();
    assert_eq!(ivs.len(), 3, "an IV used twice under one key");
    let bib = security.blocks().iter().find(|b| b.is_bib()).unwrap().number();
    let mut targets: Vec<u64> = bcbs.iter().map(|b| b.targets()[0]).collect();
    targets.sort_unstable();
    assert_eq!(targets, [1, 2, bib]);
    let keys: &[&[u8]] = &[&CEK];
    let all: Vec<(u64, &[&[u8]])> = bcbs.iter().map(|b| (b.number(), keys)).collect();
    let opened = accept_bcbs(&RustCrypto, &sealed, &all).unwrap();
    let bib = Security::of(&opened).unwrap().bib_over(1).unwrap().number();
    let clear = accept_bib(&RustCrypto, &opened, bib, &[&MAC_KEY]).unwrap();
    assert_eq!(clear.payload().as_ref(), b"weights");
}

#[test]
#[cfg(feature = "std")]
fn a_huge_primary_block_times_many_targets_is_refused_not_hashed() {
    let long: alloc::string::String = core::iter::repeat_n('a', 200_000).collect();
    let destination: Eid = alloc::format!("dtn://{long}/x").parse().unwrap();
    let mut builder = BundleBuilder::new(Eid::ipn(2, 1), destination)
        .creation(crate::time::CreationTimestamp::new(crate::time::DtnTime(1), 1))
        .payload(b"x".to_vec());
    for i in 0..30_000u64 {
        builder = builder.numbered_block(200, i + 2, BlockFlags::default(), CrcType::None, vec![1]);
    }
    let plain = builder.build().unwrap();
    let targets: Vec<u64> = (2..30_002).collect();
    // A source is refused…
    assert!(sign(&RustCrypto, &plain, &sign_op(&targets)).unwrap_err().message.contains("more than this node hashes"));
    // …and so is a peer's BIB: 30,000 IPPTs of a 200 kB primary block would be 6 GB of SHA-384.
    let asb = Asb {
        targets: targets.clone(),
        context_id: CONTEXT_BIB_HMAC_SHA2,
        context_flags: 0,
        source: Eid::ipn(2, 0),
        parameters: None,
        results: targets.iter().map(|_| vec![SecurityItem::bytes(1, &[0; 48])]).collect(),
    };
    let mut editor = plain.edit();
    editor.insert_block(
        0,
        crate::bundle::CanonicalBlock::new(11, 40_000, BlockFlags::default(), CrcType::None, asb.to_vec().into()),
    );
    let hostile = editor.build().unwrap();
    let started = std::time::Instant::now();
    let security = Security::of(&hostile).unwrap();
    let e = verify_bib(&RustCrypto, &hostile, &security, 40_000, &[&MAC_KEY]).unwrap_err();
    assert!(e.message.contains("more than this node hashes"), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
}
