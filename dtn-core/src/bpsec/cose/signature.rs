//! Asymmetric signatures on RustCrypto (`p256`, `p384`, `ed25519-dalek`: no_std, pure
//! Rust). ECDSA signs deterministically (RFC 6979) and verifies the fixed-size `r ‖ s` form
//! COSE uses; Ed25519 is pure EdDSA.

use alloc::vec::Vec;

use super::Curve;
use super::key::{CoseKey, KeyKind};

/// Signs `message` with `key` (ECDSA or Ed25519, private part held).
pub fn sign(key: &CoseKey, message: &[u8]) -> Option<Vec<u8>> {
    match &key.kind {
        KeyKind::Ec2 { curve: Curve::P256, d: Some(d), .. } => {
            use p256::ecdsa::signature::Signer;
            let k = p256::ecdsa::SigningKey::from_slice(d).ok()?;
            let s: p256::ecdsa::Signature = k.try_sign(message).ok()?;
            Some(s.to_bytes().to_vec())
        }
        KeyKind::Ec2 { curve: Curve::P384, d: Some(d), .. } => {
            use p384::ecdsa::signature::Signer;
            let k = p384::ecdsa::SigningKey::from_slice(d).ok()?;
            let s: p384::ecdsa::Signature = k.try_sign(message).ok()?;
            Some(s.to_bytes().to_vec())
        }
        KeyKind::Ed25519 { d: Some(d), .. } => {
            let seed: [u8; 32] = d.as_slice().try_into().ok()?;
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            Some(ed25519_dalek::Signer::sign(&k, message).to_bytes().to_vec())
        }
        _ => None,
    }
}

/// Whether `signature` is `key`'s over `message`.
pub fn verify(key: &CoseKey, message: &[u8], signature: &[u8]) -> bool {
    match &key.kind {
        KeyKind::Ec2 { curve, x, y, .. } => {
            // The uncompressed SEC1 point: 0x04 ‖ x ‖ y.
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(4);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            match curve {
                Curve::P256 => {
                    use p256::ecdsa::signature::Verifier;
                    let (Ok(k), Ok(s)) = (
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&point),
                        p256::ecdsa::Signature::from_slice(signature),
                    ) else {
                        return false;
                    };
                    k.verify(message, &s).is_ok()
                }
                Curve::P384 => {
                    use p384::ecdsa::signature::Verifier;
                    let (Ok(k), Ok(s)) = (
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(&point),
                        p384::ecdsa::Signature::from_slice(signature),
                    ) else {
                        return false;
                    };
                    k.verify(message, &s).is_ok()
                }
            }
        }
        KeyKind::Ed25519 { x, .. } => {
            let (Ok(x), Ok(s)) = (<[u8; 32]>::try_from(x.as_slice()), <[u8; 64]>::try_from(signature)) else {
                return false;
            };
            let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(&x) else { return false };
            k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&s)).is_ok()
        }
        KeyKind::Symmetric { .. } => false,
    }
}

/// A key pair from 32 or 48 bytes of seed material (`seed`'s length must be the curve's, or
/// 32 for Ed25519): what `dtn bpsec key --cose` writes.
pub fn generate(kind: GenerateKind, seed: &[u8]) -> Option<KeyKind> {
    match kind {
        GenerateKind::Ed25519 => {
            let seed: [u8; 32] = seed.try_into().ok()?;
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            Some(KeyKind::Ed25519 { x: k.verifying_key().to_bytes().to_vec(), d: Some(seed.to_vec()) })
        }
        GenerateKind::Ecdsa(Curve::P256) => {
            let k = p256::ecdsa::SigningKey::from_slice(seed).ok()?;
            let point = k.verifying_key().to_sec1_point(false);
            Some(KeyKind::Ec2 {
                curve: Curve::P256,
                x: point.x()?.to_vec(),
                y: point.y()?.to_vec(),
                d: Some(seed.to_vec()),
            })
        }
        GenerateKind::Ecdsa(Curve::P384) => {
            let k = p384::ecdsa::SigningKey::from_slice(seed).ok()?;
            let point = k.verifying_key().to_sec1_point(false);
            Some(KeyKind::Ec2 {
                curve: Curve::P384,
                x: point.x()?.to_vec(),
                y: point.y()?.to_vec(),
                d: Some(seed.to_vec()),
            })
        }
    }
}

/// A key pair kind to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerateKind {
    /// ECDSA on a curve.
    Ecdsa(Curve),
    /// Ed25519.
    Ed25519,
}
