//! COSE_Key (RFC 9052 7, RFC 9053): the keys the COSE context signs, verifies, MACs and
//! encrypts with. A key file holds one COSE_Key map, or a COSE_KeySet (an array) of one.
//! Symmetric keys (kty 4, `k`, optionally a Base IV), EC2 (kty 2, P-256 or P-384, `x`/`y`,
//! `d` when private) and OKP (kty 1, Ed25519, `x`, `d` when private).

use alloc::vec::Vec;

use super::{Alg, Curve};
use crate::cbor::{Major, Reader, writer};

/// What the key is (its `Debug` shows no key material).
#[derive(Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret.
    Symmetric {
        /// The key.
        k: Vec<u8>,
        /// A Base IV (label 5) for Partial IVs.
        base_iv: Option<Vec<u8>>,
    },
    /// An ECDSA key.
    Ec2 {
        /// The curve.
        curve: Curve,
        /// The public point's coordinates.
        x: Vec<u8>,
        /// Its y coordinate.
        y: Vec<u8>,
        /// The private scalar, if held.
        d: Option<Vec<u8>>,
    },
    /// An Ed25519 key.
    Ed25519 {
        /// The public key.
        x: Vec<u8>,
        /// The private key (seed), if held.
        d: Option<Vec<u8>>,
    },
}

/// A COSE_Key.
#[derive(Clone, PartialEq, Eq)]
pub struct CoseKey {
    /// Its key ID (label 2), what messages name it by.
    pub kid: Option<Vec<u8>>,
    /// The algorithm it is for (label 3), if restricted.
    pub alg: Option<i64>,
    /// The key material.
    pub kind: KeyKind,
}

impl core::fmt::Debug for CoseKey {
    // Never the key material.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CoseKey").field("kid", &self.kid).field("alg", &self.alg).field("kind", &self.kind).finish()
    }
}

/// Why bytes are not a usable COSE_Key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("COSE_Key: {0}")]
pub struct KeyError(pub &'static str);

/// Reads a CBOR integer (major 0 or 1) that fits `i64`.
pub(crate) fn read_int(r: &mut Reader<'_>) -> Result<i64, &'static str> {
    let head = r.head().map_err(|_| "truncated or malformed CBOR")?;
    let arg = head.arg.ok_or("an integer")?;
    let n = i64::try_from(arg).map_err(|_| "an integer beyond 64 signed bits")?;
    match head.major {
        Major::Unsigned => Ok(n),
        Major::Negative => Ok(-1 - n),
        _ => Err("an integer"),
    }
}

/// Writes a CBOR integer.
pub(crate) fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        writer::uint(out, n.unsigned_abs());
    } else {
        writer::head(out, Major::Negative, (-1 - n).unsigned_abs());
    }
}

fn bytes(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u8>, KeyError> {
    r.bytes().map(<[u8]>::to_vec).map_err(|_| KeyError(what))
}

impl CoseKey {
    /// Reads a COSE_Key, or a COSE_KeySet holding exactly one.
    pub fn decode(input: &[u8]) -> Result<CoseKey, KeyError> {
        let mut r = Reader::new(input);
        if r.peek().is_some_and(|b| b >> 5 == 4)
            && r.array().map_err(|_| KeyError("a key set is a definite array"))? != Some(1)
        {
            return Err(KeyError("a key file holds one key"));
        }
        let key = Self::read(&mut r)?;
        if !r.is_empty() {
            return Err(KeyError("bytes after the key"));
        }
        Ok(key)
    }

    fn read(r: &mut Reader<'_>) -> Result<CoseKey, KeyError> {
        let head = r.head().map_err(|_| KeyError("a map"))?;
        let n = match (head.major, head.arg) {
            (Major::Map, Some(n)) if n <= r.remaining().len() as u64 => n,
            _ => return Err(KeyError("a definite-length map")),
        };
        let (mut kty, mut kid, mut alg, mut base_iv) = (None, None, None, None);
        let (mut crv_or_k, mut x, mut y, mut d) = (None, None, None, None);
        let mut seen: Vec<i64> = Vec::new();
        for _ in 0..n {
            let label = read_int(r).map_err(|_| KeyError("labels are integers"))?;
            if seen.contains(&label) {
                return Err(KeyError("a label given twice"));
            }
            if seen.len() < 32 {
                seen.push(label);
            } else {
                return Err(KeyError("more labels than a key has"));
            }
            match label {
                1 => kty = Some(read_int(r).map_err(KeyError)?),
                2 => kid = Some(bytes(r, "kid is a byte string")?),
                3 => alg = Some(read_int(r).map_err(|_| KeyError("alg is an integer"))?),
                5 => base_iv = Some(bytes(r, "Base IV is a byte string")?),
                -1 => {
                    // crv (an integer) for EC2 and OKP, k (bytes) for symmetric keys.
                    crv_or_k = Some(match r.peek().map(|b| b >> 5) {
                        Some(2) => CrvOrK::K(bytes(r, "k is a byte string")?),
                        _ => CrvOrK::Crv(read_int(r).map_err(KeyError)?),
                    });
                }
                -2 => x = Some(bytes(r, "x is a byte string")?),
                -3 => y = Some(bytes(r, "y is a byte string (compressed points are not read)")?),
                -4 => d = Some(bytes(r, "d is a byte string")?),
                _ => r.skip().map_err(|_| KeyError("a malformed value"))?,
            }
        }
        let kind = match (kty, crv_or_k) {
            (Some(4), Some(CrvOrK::K(k))) => KeyKind::Symmetric { k, base_iv },
            (Some(2), Some(CrvOrK::Crv(crv))) => {
                let curve = match crv {
                    1 => Curve::P256,
                    2 => Curve::P384,
                    _ => return Err(KeyError("EC2 curves here are P-256 (1) and P-384 (2)")),
                };
                let (Some(x), Some(y)) = (x, y) else { return Err(KeyError("an EC2 key has x and y")) };
                let len = curve.field_len();
                if x.len() != len || y.len() != len || d.as_ref().is_some_and(|d| d.len() != len) {
                    return Err(KeyError("coordinates and d are the curve's length"));
                }
                KeyKind::Ec2 { curve, x, y, d }
            }
            (Some(1), Some(CrvOrK::Crv(6))) => {
                let Some(x) = x.filter(|x| x.len() == 32) else { return Err(KeyError("an Ed25519 x is 32 bytes")) };
                if d.as_ref().is_some_and(|d| d.len() != 32) {
                    return Err(KeyError("an Ed25519 d is 32 bytes"));
                }
                KeyKind::Ed25519 { x, d }
            }
            (Some(1), _) => return Err(KeyError("OKP keys here are Ed25519 (crv 6)")),
            (Some(2 | 4), _) => return Err(KeyError("the key's parameters do not fit its type")),
            _ => return Err(KeyError("kty is 1 (OKP), 2 (EC2) or 4 (symmetric)")),
        };
        Ok(CoseKey { kid, alg, kind })
    }

    /// The COSE_Key encoding (deterministic: labels in order).
    pub fn encode(&self) -> Vec<u8> {
        let mut items: Vec<(i64, Vec<u8>)> = Vec::new();
        let int = |n: i64| {
            let mut v = Vec::new();
            write_int(&mut v, n);
            v
        };
        let bstr = |b: &[u8]| {
            let mut v = Vec::new();
            writer::bytes(&mut v, b);
            v
        };
        let kty = match self.kind {
            KeyKind::Ed25519 { .. } => 1,
            KeyKind::Ec2 { .. } => 2,
            KeyKind::Symmetric { .. } => 4,
        };
        items.push((1, int(kty)));
        if let Some(kid) = &self.kid {
            items.push((2, bstr(kid)));
        }
        if let Some(alg) = self.alg {
            items.push((3, int(alg)));
        }
        match &self.kind {
            KeyKind::Symmetric { k, base_iv } => {
                if let Some(iv) = base_iv {
                    items.push((5, bstr(iv)));
                }
                items.push((-1, bstr(k)));
            }
            KeyKind::Ec2 { curve, x, y, d } => {
                items.push((-1, int(if *curve == Curve::P256 { 1 } else { 2 })));
                items.push((-2, bstr(x)));
                items.push((-3, bstr(y)));
                if let Some(d) = d {
                    items.push((-4, bstr(d)));
                }
            }
            KeyKind::Ed25519 { x, d } => {
                items.push((-1, int(6)));
                items.push((-2, bstr(x)));
                if let Some(d) = d {
                    items.push((-4, bstr(d)));
                }
            }
        }
        let mut out = Vec::new();
        writer::head(&mut out, Major::Map, items.len() as u64);
        for (label, value) in items {
            write_int(&mut out, label);
            out.extend_from_slice(&value);
        }
        out
    }

    /// The same key without its private part (what a verifier is given).
    pub fn public(&self) -> CoseKey {
        let kind = match &self.kind {
            KeyKind::Ec2 { curve, x, y, .. } => KeyKind::Ec2 { curve: *curve, x: x.clone(), y: y.clone(), d: None },
            KeyKind::Ed25519 { x, .. } => KeyKind::Ed25519 { x: x.clone(), d: None },
            symmetric => symmetric.clone(),
        };
        CoseKey { kid: self.kid.clone(), alg: self.alg, kind }
    }

    /// Whether it can run `alg` (and, for signing, holds the private part when `private`).
    pub fn fits(&self, alg: Alg, private: bool) -> bool {
        if self.alg.is_some_and(|a| Alg::from_code(a) != Some(alg)) {
            return false;
        }
        match (&self.kind, alg) {
            // The draft: an HMAC key is as long as the hash output.
            (KeyKind::Symmetric { k, .. }, Alg::Hmac(v)) => k.len() == v.mac_len(),
            (KeyKind::Symmetric { k, .. }, Alg::Gcm(v)) => k.len() == v.key_len(),
            (KeyKind::Ec2 { curve, d, .. }, Alg::Ecdsa(c)) => *curve == c && (!private || d.is_some()),
            (KeyKind::Ed25519 { d, .. }, Alg::Ed25519) => !private || d.is_some(),
            _ => false,
        }
    }
}

impl core::fmt::Debug for KeyKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyKind::Symmetric { .. } => "Symmetric",
            KeyKind::Ec2 { curve: Curve::P256, .. } => "Ec2(P-256)",
            KeyKind::Ec2 { curve: Curve::P384, .. } => "Ec2(P-384)",
            KeyKind::Ed25519 { .. } => "Ed25519",
        })
    }
}

enum CrvOrK {
    Crv(i64),
    K(Vec<u8>),
}

impl Curve {
    /// The length of a coordinate or scalar.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}
