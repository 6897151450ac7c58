//! The external AAD (draft-ietf-dtn-bpsec-cose 2.5.1): a CBOR sequence of the security
//! source, the AAD-scope map, then for each block the map names (block numbers ascending,
//! then -1 the target, -2 the security block) its metadata (type, number, flags; the whole
//! primary block for 0) and, if asked, its data; and last the additional protected header.

use alloc::vec::Vec;

use super::key::{read_int, write_int};
use crate::bpsec::hmac_sha2::BlockHeader;
use crate::cbor::{Major, Reader, writer};
use crate::eid::Eid;

/// AAD-scope flag: the block's metadata.
pub const AAD_METADATA: u64 = 1;
/// AAD-scope flag: the block's data.
pub const AAD_BTSD: u64 = 2;
/// The special key for the target block.
pub const TARGET: i64 = -1;
/// The special key for the security block itself.
pub const SECURITY: i64 = -2;

/// The AAD-scope map, in deterministic key order (0, 1, 2, …, then -1, -2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AadScope(Vec<(i64, u64)>);

impl Default for AadScope {
    /// The draft's default: the primary block, the target's and the security block's
    /// metadata.
    fn default() -> Self {
        AadScope(alloc::vec![(0, AAD_METADATA), (TARGET, AAD_METADATA), (SECURITY, AAD_METADATA)])
    }
}

fn order(key: i64) -> (bool, u64) {
    (key < 0, key.unsigned_abs())
}

impl AadScope {
    /// A scope of these entries (ordered here).
    pub fn new(mut entries: Vec<(i64, u64)>) -> Result<AadScope, &'static str> {
        entries.sort_by_key(|e| order(e.0));
        if entries.windows(2).any(|w| w.first().map(|e| e.0) == w.get(1).map(|e| e.0)) {
            return Err("an AAD-scope key given twice");
        }
        for &(key, flags) in &entries {
            if key < SECURITY {
                return Err("AAD-scope keys are block numbers, -1 or -2");
            }
            if flags & (AAD_METADATA | AAD_BTSD) == 0 {
                return Err("an AAD-scope entry covers metadata, data or both");
            }
            if key <= 0 && flags & AAD_BTSD != 0 {
                return Err("the primary block, the target and the security block have metadata only in the AAD");
            }
        }
        Ok(AadScope(entries))
    }

    /// Reads the parameter's value (the encoded map).
    pub fn decode(raw: &[u8]) -> Result<AadScope, &'static str> {
        let mut r = Reader::new(raw);
        let head = r.head().map_err(|_| "the AAD scope is a map")?;
        let n = match (head.major, head.arg) {
            (Major::Map, Some(n)) if n <= raw.len() as u64 => n,
            _ => return Err("the AAD scope is a definite-length map"),
        };
        let mut entries = Vec::new();
        for _ in 0..n {
            let key = read_int(&mut r)?;
            // Unassigned flag bits are ignored (the draft: verifiers ignore them).
            let flags = r.uint().map_err(|_| "AAD-scope flags are unsigned")? & (AAD_METADATA | AAD_BTSD);
            entries.push((key, flags));
        }
        if !r.is_empty() {
            return Err("bytes after the AAD scope");
        }
        AadScope::new(entries)
    }

    /// The map, deterministically encoded.
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::head(out, Major::Map, self.0.len() as u64);
        for &(key, flags) in &self.0 {
            write_int(out, key);
            writer::uint(out, flags);
        }
    }

    /// Its entries.
    pub fn entries(&self) -> &[(i64, u64)] {
        &self.0
    }
}

/// What the AAD is computed over.
#[derive(Debug, Clone, Copy)]
pub struct AadInput<'a> {
    /// The security block's security source.
    pub source: &'a Eid,
    /// The scope.
    pub scope: &'a AadScope,
    /// The primary block, encoded.
    pub primary: &'a [u8],
    /// The target's header.
    pub target: BlockHeader,
    /// The security block's header.
    pub security: BlockHeader,
    /// The additional protected header (the encoded map, or empty).
    pub additional_protected: &'a [u8],
}

/// The part of the external AAD every target of one security block shares: the security
/// source, the scope map, and the primary and numbered blocks it names (which sort before
/// -1 and -2). `block` gives a block's header and data by number (`None`: not in the bundle,
/// and the AAD fails).
pub fn common_part<'b>(
    source: &Eid,
    scope: &AadScope,
    primary: &[u8],
    block: &dyn Fn(u64) -> Option<(BlockHeader, &'b [u8])>,
) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(primary.len() + 64);
    source.encode(&mut out);
    scope.encode(&mut out);
    for &(key, flags) in scope.entries() {
        match key {
            0 => out.extend_from_slice(primary),
            n if n > 0 => {
                let (h, data) = block(n.unsigned_abs()).ok_or("the AAD scope names a block the bundle lacks")?;
                if flags & AAD_METADATA != 0 {
                    encode_header(&mut out, &h);
                }
                if flags & AAD_BTSD != 0 {
                    writer::bytes(&mut out, data);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn encode_header(out: &mut Vec<u8>, h: &BlockHeader) {
    writer::uint(out, h.block_type);
    writer::uint(out, h.number);
    writer::uint(out, h.flags);
}

/// The whole external AAD for one target: the common part, then the target's and the
/// security block's metadata as the scope asks, then the additional protected header.
pub fn with_target(
    common: &[u8],
    scope: &AadScope,
    target: &BlockHeader,
    security: &BlockHeader,
    additional_protected: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(common.len() + 16 + additional_protected.len());
    out.extend_from_slice(common);
    for &(key, _) in scope.entries() {
        match key {
            TARGET => encode_header(&mut out, target),
            SECURITY => encode_header(&mut out, security),
            _ => {}
        }
    }
    writer::bytes(&mut out, additional_protected);
    out
}

/// The external AAD in one call (see [`common_part`] and [`with_target`]).
pub fn external_aad<'b>(
    input: &AadInput<'_>,
    block: &dyn Fn(u64) -> Option<(BlockHeader, &'b [u8])>,
) -> Result<Vec<u8>, &'static str> {
    let common = common_part(input.source, input.scope, input.primary, block)?;
    Ok(with_target(&common, input.scope, &input.target, &input.security, input.additional_protected))
}
