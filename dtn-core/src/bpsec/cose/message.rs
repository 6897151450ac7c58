//! The three one-layer COSE messages as this context carries them (RFC 9052 4.2, 5.2, 6.2),
//! untagged and detached: COSE_Mac0 and COSE_Sign1 `[protected, unprotected, null, tag]`,
//! COSE_Encrypt0 `[protected, unprotected, null]` (the ciphertext and its tag replace the
//! target's data). And the structures the algorithms run over (MAC_structure,
//! Sig_structure, Enc_structure), encoded up to the payload so a large target is never
//! copied into them.

use alloc::vec::Vec;

use super::key::{read_int, write_int};
use crate::cbor::{Major, Reader, writer};

/// The header parameters this context reads (others are ignored unless marked critical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// alg (1).
    pub alg: Option<i64>,
    /// kid (4).
    pub kid: Option<Vec<u8>>,
    /// IV (5).
    pub iv: Option<Vec<u8>>,
    /// Partial IV (6).
    pub partial_iv: Option<Vec<u8>>,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The protected header as sent (the encoded map, or empty).
    pub protected: Vec<u8>,
    /// The protected and unprotected headers merged.
    pub headers: Headers,
    /// The MAC or signature (`None` for COSE_Encrypt0).
    pub tag: Option<Vec<u8>>,
}

const NULL: u8 = 0xf6;

/// Reads a header map into `into`; a label seen already (in this map or the other) fails.
pub fn read_headers(input: &[u8], into: &mut Headers, seen: &mut Vec<i64>) -> Result<(), &'static str> {
    if input.is_empty() {
        return Ok(());
    }
    let mut r = Reader::new(input);
    read_map(&mut r, into, seen)?;
    if !r.is_empty() { Err("bytes after a header map") } else { Ok(()) }
}

fn read_map(r: &mut Reader<'_>, into: &mut Headers, seen: &mut Vec<i64>) -> Result<(), &'static str> {
    let head = r.head().map_err(|_| "a header map")?;
    let n = match (head.major, head.arg) {
        (Major::Map, Some(n)) if n <= r.remaining().len() as u64 => n,
        _ => return Err("a header map is a definite-length map"),
    };
    for _ in 0..n {
        let label = read_int(r).map_err(|_| "header labels are integers")?;
        if seen.contains(&label) {
            return Err("a header given twice");
        }
        if seen.len() >= 64 {
            return Err("more headers than a message has");
        }
        seen.push(label);
        let bytes = |r: &mut Reader<'_>, what| r.bytes().map(<[u8]>::to_vec).map_err(|_| what);
        match label {
            1 => into.alg = Some(read_int(r).map_err(|_| "alg is an integer")?),
            // No extension this node would have to understand exists here.
            2 => return Err("a critical header this node does not implement"),
            4 => into.kid = Some(bytes(r, "kid is a byte string")?),
            5 => into.iv = Some(bytes(r, "the IV is a byte string")?),
            6 => into.partial_iv = Some(bytes(r, "the Partial IV is a byte string")?),
            _ => r.skip().map_err(|_| "a malformed header value")?,
        }
    }
    Ok(())
}

impl Message {
    /// Decodes a COSE_Mac0 or COSE_Sign1 (`with_tag`) or a COSE_Encrypt0.
    pub fn decode(input: &[u8], with_tag: bool) -> Result<Message, &'static str> {
        let mut r = Reader::new(input);
        let want = if with_tag { 4 } else { 3 };
        if r.array().map_err(|_| "a COSE message is an array")? != Some(want) {
            return Err(if with_tag { "a COSE_Mac0 or COSE_Sign1 has 4 items" } else { "a COSE_Encrypt0 has 3 items" });
        }
        let protected = r.bytes().map_err(|_| "the protected header is a byte string")?.to_vec();
        let mut headers = Headers::default();
        let mut seen = Vec::new();
        read_headers(&protected, &mut headers, &mut seen)?;
        read_map(&mut r, &mut headers, &mut seen)?;
        if r.peek() != Some(NULL) {
            return Err("the payload is detached (null)");
        }
        r.skip_bytes(1);
        let tag = if with_tag { Some(r.bytes().map_err(|_| "the tag is a byte string")?.to_vec()) } else { None };
        if !r.is_empty() {
            return Err("bytes after the message");
        }
        Ok(Message { protected, headers, tag })
    }

    /// Encodes a message this node sends: `alg` protected, `kid` and `iv` unprotected.
    pub fn encode(protected: &[u8], kid: Option<&[u8]>, iv: Option<&[u8]>, tag: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        writer::array(&mut out, if tag.is_some() { 4 } else { 3 });
        writer::bytes(&mut out, protected);
        writer::head(&mut out, Major::Map, u64::from(kid.is_some()) + u64::from(iv.is_some()));
        if let Some(kid) = kid {
            writer::uint(&mut out, 4);
            writer::bytes(&mut out, kid);
        }
        if let Some(iv) = iv {
            writer::uint(&mut out, 5);
            writer::bytes(&mut out, iv);
        }
        out.push(NULL);
        if let Some(tag) = tag {
            writer::bytes(&mut out, tag);
        }
        out
    }
}

/// The protected header `{1: alg}`.
pub fn protected_alg(alg: i64) -> Vec<u8> {
    let mut out = Vec::new();
    writer::head(&mut out, Major::Map, 1);
    writer::uint(&mut out, 1);
    write_int(&mut out, alg);
    out
}

/// The structure `[context, protected, external_aad, payload]` encoded up to the payload's
/// bytes (its head included): what is MACed or signed is this, then the payload. Without a
/// payload (`None`), the whole Enc_structure `[context, protected, external_aad]`.
pub fn structure_prefix(context: &str, protected: &[u8], aad: &[u8], payload_len: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + protected.len() + aad.len());
    writer::array(&mut out, if payload_len.is_some() { 4 } else { 3 });
    writer::text(&mut out, context);
    writer::bytes(&mut out, protected);
    writer::bytes(&mut out, aad);
    if let Some(len) = payload_len {
        writer::head(&mut out, Major::Bytes, len as u64);
    }
    out
}
