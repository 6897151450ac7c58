//! The abstract security block (RFC 9172 3.6): the block-type-specific data of a BIB or a
//! BCB, a CBOR *sequence* of targets, context ID, context flags, security source, optional
//! parameters and one result list per target.
//!
//! Parameter and result values are kept as the CBOR item they were sent as: a context reads
//! the ones it knows (`as_uint`, `as_bytes`), and a block whose context this node does not
//! implement is re-encoded unchanged. Every count is checked against the bytes left before
//! anything is allocated, so a hostile block costs O(its size).

use alloc::vec::Vec;

use crate::cbor::{CborError, Major, Reader, writer};
use crate::eid::{Eid, EidError};
use crate::parse_mode::{ParseMode, Relaxations};

/// Context flag bit 0: the parameters are present (RFC 9172 3.6).
const FLAG_PARAMETERS: u64 = 0x01;

/// One security parameter or result: its ID and its value as one CBOR item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityItem {
    /// The context's ID for the parameter or result.
    pub id: u64,
    /// The value, one encoded CBOR item.
    pub value: Vec<u8>,
}

impl SecurityItem {
    /// An unsigned-integer value.
    pub fn uint(id: u64, value: u64) -> Self {
        let mut v = Vec::new();
        writer::uint(&mut v, value);
        SecurityItem { id, value: v }
    }

    /// A byte-string value.
    pub fn bytes(id: u64, data: &[u8]) -> Self {
        let mut v = Vec::with_capacity(data.len() + 9);
        writer::bytes(&mut v, data);
        SecurityItem { id, value: v }
    }

    /// The value as an unsigned integer, if it is one (and nothing else).
    pub fn as_uint(&self) -> Option<u64> {
        let mut r = Reader::new(&self.value);
        r.uint().ok().filter(|_| r.is_empty())
    }

    /// The value as a byte string, if it is one (and nothing else).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        let mut r = Reader::new(&self.value);
        r.bytes().ok().filter(|_| r.is_empty())
    }
}

/// The abstract security block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asb {
    /// Block numbers of the targets: at least one, none twice.
    pub targets: Vec<u64>,
    /// The security context (1: BIB-HMAC-SHA2, 2: BCB-AES-GCM; negative IDs are private).
    pub context_id: i64,
    /// The context flags as sent (bit 0, parameters present, follows `parameters`).
    pub context_flags: u64,
    /// The node that added the operations.
    pub source: Eid,
    /// The context parameters, if present.
    pub parameters: Option<Vec<SecurityItem>>,
    /// One list of results per target, in the targets' order.
    pub results: Vec<Vec<SecurityItem>>,
}

/// An abstract security block that does not decode: where (byte offset in the block data)
/// and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("security block data at byte {offset}: {message}")]
pub struct AsbError {
    /// Offset in the block-type-specific data.
    pub offset: usize,
    /// What is wrong.
    pub message: &'static str,
}

impl From<CborError> for AsbError {
    fn from(e: CborError) -> Self {
        AsbError { offset: e.offset, message: "malformed CBOR" }
    }
}

impl From<EidError> for AsbError {
    fn from(e: EidError) -> Self {
        AsbError { offset: e.offset, message: "the security source is not a valid EID" }
    }
}

impl Asb {
    /// Decodes the block-type-specific data of a BIB or BCB.
    pub fn decode(btsd: &[u8], mode: ParseMode) -> Result<Asb, AsbError> {
        let mut r = Reader::with_strictness(btsd, mode.is_strict());
        let at = r.position();
        let count = definite_array(&mut r, "the targets are a definite-length array")?;
        if count == 0 {
            return Err(AsbError { offset: at, message: "a security block has at least one target" });
        }
        let mut targets = Vec::with_capacity(count);
        for _ in 0..count {
            targets.push(r.uint()?);
        }
        let mut sorted = targets.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != targets.len() {
            return Err(AsbError { offset: at, message: "a block is targeted twice by one security block" });
        }
        let context_id = int(&mut r)?;
        let context_flags = r.uint()?;
        let source = Eid::decode(&mut r, mode, &mut Relaxations::default())?;
        let parameters = if context_flags & FLAG_PARAMETERS != 0 { Some(items(&mut r)?) } else { None };
        let at = r.position();
        let n = definite_array(&mut r, "the results are a definite-length array")?;
        if n != targets.len() {
            return Err(AsbError { offset: at, message: "there is one result list per target" });
        }
        let mut results = Vec::with_capacity(n);
        for _ in 0..n {
            results.push(items(&mut r)?);
        }
        if !r.is_empty() {
            return Err(AsbError { offset: r.position(), message: "bytes after the results" });
        }
        Ok(Asb { targets, context_id, context_flags, source, parameters, results })
    }

    /// Appends the encoded block-type-specific data.
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::array(out, self.targets.len() as u64);
        for &t in &self.targets {
            writer::uint(out, t);
        }
        if self.context_id >= 0 {
            writer::uint(out, self.context_id.unsigned_abs());
        } else {
            writer::head(out, Major::Negative, self.context_id.unsigned_abs() - 1);
        }
        let flags = match self.parameters {
            Some(_) => self.context_flags | FLAG_PARAMETERS,
            None => self.context_flags & !FLAG_PARAMETERS,
        };
        writer::uint(out, flags);
        self.source.encode(out);
        if let Some(parameters) = &self.parameters {
            encode_items(out, parameters);
        }
        writer::array(out, self.results.len() as u64);
        for r in &self.results {
            encode_items(out, r);
        }
    }

    /// The encoded block-type-specific data.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// A parameter by ID.
    pub fn parameter(&self, id: u64) -> Option<&SecurityItem> {
        self.parameters.as_ref()?.iter().find(|p| p.id == id)
    }

    /// Parameter `id` as a byte string, if given (`message` if it is something else).
    pub(crate) fn bytes_parameter(&self, id: u64, message: &'static str) -> Result<Option<&[u8]>, &'static str> {
        self.parameter(id).map(|p| p.as_bytes().ok_or(message)).transpose()
    }

    /// Parameter `id` as an unsigned integer, `default` if absent (`message` if it is
    /// something else).
    pub(crate) fn uint_parameter(&self, id: u64, default: u64, message: &'static str) -> Result<u64, &'static str> {
        self.parameter(id).map_or(Ok(default), |p| p.as_uint().ok_or(message))
    }

    /// The results for `target`.
    pub fn results_for(&self, target: u64) -> Option<&[SecurityItem]> {
        let i = self.targets.iter().position(|&t| t == target)?;
        self.results.get(i).map(Vec::as_slice)
    }
}

/// A definite array head whose count the remaining input can hold (each element takes at
/// least one byte).
fn definite_array(r: &mut Reader<'_>, message: &'static str) -> Result<usize, AsbError> {
    let at = r.position();
    let n = r.array()?.ok_or(AsbError { offset: at, message })?;
    match usize::try_from(n) {
        Ok(n) if n <= r.remaining().len() => Ok(n),
        _ => Err(AsbError { offset: at, message: "an array counts more elements than there are bytes" }),
    }
}

/// A CBOR integer that fits `i64`.
fn int(r: &mut Reader<'_>) -> Result<i64, AsbError> {
    let head = r.head()?;
    let too_big = AsbError { offset: head.offset, message: "the context ID does not fit 64 signed bits" };
    let arg = head.arg.ok_or(AsbError { offset: head.offset, message: "the context ID is an integer" })?;
    match head.major {
        Major::Unsigned => i64::try_from(arg).map_err(|_| too_big),
        Major::Negative => i64::try_from(arg).map(|n| -1 - n).map_err(|_| too_big),
        _ => Err(AsbError { offset: head.offset, message: "the context ID is an integer" }),
    }
}

/// `[[id, value], ...]`.
fn items(r: &mut Reader<'_>) -> Result<Vec<SecurityItem>, AsbError> {
    let n = definite_array(r, "parameters and results are definite-length arrays")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let at = r.position();
        if r.array()? != Some(2) {
            return Err(AsbError { offset: at, message: "a parameter or result is an [id, value] pair" });
        }
        let id = r.uint()?;
        let start = r.position();
        r.skip()?;
        let value = r.input().get(start..r.position()).unwrap_or_default().to_vec();
        out.push(SecurityItem { id, value });
    }
    Ok(out)
}

fn encode_items(out: &mut Vec<u8>, items: &[SecurityItem]) {
    writer::array(out, items.len() as u64);
    for item in items {
        writer::array(out, 2);
        writer::uint(out, item.id);
        out.extend_from_slice(&item.value);
    }
}

/// Checks that every parameter is one the context defines and none comes twice: an unknown
/// or repeated parameter would be read as its default or as one of two values, silently.
pub(crate) fn check_parameter_ids(asb: &Asb, known: &[u64]) -> Result<(), &'static str> {
    let Some(parameters) = &asb.parameters else { return Ok(()) };
    let mut seen: Vec<u64> = Vec::with_capacity(parameters.len());
    for p in parameters {
        if !known.contains(&p.id) {
            return Err("a parameter the context does not define");
        }
        if seen.contains(&p.id) {
            return Err("a parameter given twice");
        }
        seen.push(p.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 9173 A.1's BIB: targets [1], context 1, parameters [[1,7],[3,0]], one MAC.
    const A1: &str = "810101018202820201828201078203008181820158403bdc69b3a34a2b5d3a8554368bd1e808f606219d2a10a846eae3886ae4ecc83c4ee550fdfb1cc636b904e2f1a73e303dcd4b6ccece003e95e8164dcc89a156e1";

    #[test]
    fn the_rfc_9173_a1_block_decodes_and_encodes_byte_for_byte() {
        let bytes = hex(A1);
        let asb = Asb::decode(&bytes, ParseMode::Strict).unwrap();
        assert_eq!(asb.targets, [1]);
        assert_eq!(asb.context_id, 1);
        assert_eq!(asb.source, Eid::ipn(2, 1));
        assert_eq!(asb.parameter(1).and_then(SecurityItem::as_uint), Some(7));
        assert_eq!(asb.parameter(3).and_then(SecurityItem::as_uint), Some(0));
        assert_eq!(asb.results_for(1).unwrap()[0].as_bytes().map(<[u8]>::len), Some(64));
        assert_eq!(asb.to_vec(), bytes);
    }

    #[test]
    fn hostile_blocks_fail_with_where() {
        let err = |b: &[u8]| Asb::decode(b, ParseMode::Strict).unwrap_err();
        // No targets.
        assert_eq!(err(&hex("80")).offset, 0);
        // A target twice.
        assert!(err(&hex("820101")).message.contains("twice"));
        // A count far above the input.
        assert!(err(&hex("9bffffffffffffffff")).message.contains("more elements"));
        // Two targets, one result list.
        let mut two = hex("820102");
        two.extend_from_slice(&hex(&A1[4..A1.len()]));
        assert!(err(&two).message.contains("one result list per target"));
        // Trailing bytes.
        let mut trailing = hex(A1);
        trailing.push(0);
        assert_eq!(err(&trailing).offset, hex(A1).len());
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = Asb::decode(&bytes, ParseMode::Relaxed);
        }

        #[test]
        fn a_block_round_trips(
            targets in proptest::collection::btree_set(0u64..1000, 1..5),
            context_id in proptest::prelude::any::<i64>(),
            params in proptest::option::of(proptest::collection::vec((0u64..10, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)), 0..4)),
            node in 1u32.., service in 0u32..,
        ) {
            let targets: Vec<u64> = targets.into_iter().collect();
            let results = targets.iter().map(|&t| alloc::vec![SecurityItem::uint(1, t)]).collect();
            let asb = Asb {
                targets,
                context_id,
                context_flags: u64::from(params.is_some()),
                source: Eid::ipn(node, service),
                parameters: params.map(|p| p.into_iter().map(|(id, v)| SecurityItem::bytes(id, &v)).collect()),
                results,
            };
            let bytes = asb.to_vec();
            proptest::prop_assert_eq!(Asb::decode(&bytes, ParseMode::Strict).unwrap(), asb);
        }
    }
}
