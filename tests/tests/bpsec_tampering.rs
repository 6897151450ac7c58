//! Tampering: a bundle signed over its primary and payload blocks and encrypted over its
//! payload, with one bit flipped anywhere, is refused — by the parser, by the rules, or by
//! the verifier or acceptor with its reason code — and never panics. The keys are looked up
//! by security source, as a policy does: a flipped source finds no key.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{
    Encrypt, KeyMaterial, Placement, RustCrypto, Security, SecurityError, Sign, accept_bcb, accept_bib, encrypt, sign,
};
use dtn_core::bundle::{Bundle, BundleBuilder, block_type};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};

const MAC_KEY: [u8; 32] = [0x11; 32];
const CEK: [u8; 32] = [0x22; 32];

fn source() -> Eid {
    Eid::ipn(2, 0)
}

fn keys_for(eid: &Eid, key: &'static [u8]) -> Vec<&'static [u8]> {
    if *eid == source() { vec![key] } else { vec![] }
}

fn protected() -> Bundle {
    let plain = BundleBuilder::new(Eid::ipn(2, 1), Eid::ipn(1, 2))
        .crc(CrcType::Crc32c)
        .creation(CreationTimestamp::new(DtnTime(851_990_400_000), 7))
        .hop_count(10, 0)
        .payload(b"uplink command: slew to 41.2, hold 90 s".to_vec())
        .build()
        .unwrap();
    let signed = sign(
        &RustCrypto,
        &plain,
        &Sign {
            targets: &[0, 1],
            source: source(),
            variant: ShaVariant::Sha256,
            scope: 7,
            key: KeyMaterial::Direct(&MAC_KEY),
            placement: Placement::default(),
        },
    )
    .unwrap();
    encrypt(
        &RustCrypto,
        &signed,
        &Encrypt {
            targets: &[1],
            source: source(),
            variant: AesVariant::A256,
            scope: 7,
            iv: &[3; 12],
            key: KeyMaterial::Direct(&CEK),
            placement: Placement::default(),
        },
    )
    .unwrap()
}

/// The destination's processing: accept the BCB, then the BIB it uncovers.
fn accept(bundle: &Bundle) -> Result<Bundle, SecurityError> {
    let security = Security::of(bundle)?;
    let bcb = security.blocks().iter().find(|b| !b.is_bib()).expect("a BCB");
    let keys = keys_for(&bcb.asb.as_ref().unwrap().source, &CEK);
    let decrypted = accept_bcb(&RustCrypto, bundle, bcb.number(), &keys)?;
    let security = Security::of(&decrypted)?;
    let bib = security.blocks().iter().find(|b| b.is_bib()).expect("a BIB");
    let keys = keys_for(&bib.asb.as_ref().unwrap().source, &MAC_KEY);
    accept_bib(&RustCrypto, &decrypted, bib.number(), &keys)
}

#[test]
fn every_single_bit_flip_is_refused() {
    let wire = protected().to_bytes().to_vec();
    let clean = accept(&Bundle::parse(Bytes::from(wire.clone()), ParseMode::Strict).unwrap()).unwrap();
    assert_eq!(clean.payload().as_ref(), b"uplink command: slew to 41.2, hold 90 s");
    let (mut parser, mut rules, mut harmless, mut by_reason) = (0, 0, 0, [0usize; 17]);
    // The hop count is the one block neither operation covers: a relay rewrites it.
    let hop = Bundle::parse(Bytes::from(wire.clone()), ParseMode::Strict)
        .unwrap()
        .blocks()
        .iter()
        .find(|b| b.block_type == block_type::HOP_COUNT)
        .map(|b| {
            let start = b.raw().as_ptr() as usize - wire.as_ptr() as usize;
            start..start + b.raw().len()
        })
        .unwrap();
    for byte in 0..wire.len() {
        for bit in 0..8 {
            let mut bytes = wire.clone();
            bytes[byte] ^= 1 << bit;
            let Ok(bundle) = Bundle::parse(Bytes::from(bytes), ParseMode::Strict) else {
                parser += 1;
                continue;
            };
            match accept(&bundle) {
                Err(e) => {
                    by_reason[e.reason().code() as usize] += 1;
                    assert!((12..=16).contains(&e.reason().code()), "byte {byte} bit {bit}: {e}");
                }
                Ok(b) if hop.contains(&byte) => assert_eq!(b.payload(), clean.payload()),
                // The BCB's reserved context-flag bits are covered by nothing and mean
                // nothing: what comes out is what went in.
                Ok(b) => {
                    assert_eq!(b.to_bytes(), clean.to_bytes(), "byte {byte} bit {bit} of {}: accepted", wire.len());
                    harmless += 1;
                }
            }
            rules += 1;
        }
    }
    eprintln!(
        "{} flips: {parser} refused by the parser, {rules} by security {by_reason:?}, {harmless} harmless",
        wire.len() * 8
    );
    assert!(harmless <= 4, "{harmless} flips went through unchanged");
    assert!(by_reason[15] > 0 && by_reason[13] > 0, "{by_reason:?}");
}

#[test]
fn a_wrong_key_and_a_flipped_ciphertext_bit_fail_with_reason_15() {
    let bundle = protected();
    let security = Security::of(&bundle).unwrap();
    let bcb = security.blocks().iter().find(|b| !b.is_bib()).unwrap().number();
    let wrong = [0x23u8; 32];
    assert_eq!(accept_bcb(&RustCrypto, &bundle, bcb, &[&wrong]).unwrap_err().reason().code(), 15);
    let mut editor = bundle.edit();
    let mut data = bundle.payload().to_vec();
    data[5] ^= 0x10;
    editor.set_block_data(1, Bytes::from(data), CrcType::None);
    let tampered = editor.build().unwrap();
    let err = accept_bcb(&RustCrypto, &tampered, bcb, &[&CEK]).unwrap_err();
    assert_eq!((err.reason().code(), err.target), (15, Some(1)), "{err}");
}
