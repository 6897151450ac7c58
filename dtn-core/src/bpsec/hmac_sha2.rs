//! BIB-HMAC-SHA2 (RFC 9173 3): the integrity context's parameters, the integrity-protected
//! plaintext (IPPT) and the MAC over it.
//!
//! The IPPT of one target (3.7) is the CBOR unsigned integer of the scope flags, then — as
//! the flags say — the primary block, the target's header (type, number, flags as CBOR
//! unsigned integers) and the BIB's header, and last the target's block-type-specific data
//! wrapped as a CBOR byte string (for the primary block as target: the whole primary block,
//! wrapped, with no primary block or target header before it). The MAC key is the
//! configured key, or — when the block carries a wrapped key (parameter 2) — that key
//! unwrapped with the configured one (AES key wrap, RFC 3394).

use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};

use super::asb::{Asb, SecurityItem};
use crate::cbor::writer;

/// Parameter 1: the SHA variant.
pub const PARAM_SHA_VARIANT: u64 = 1;
/// Parameter 2: the MAC key, wrapped.
pub const PARAM_WRAPPED_KEY: u64 = 2;
/// Parameter 3: the integrity scope flags.
pub const PARAM_SCOPE: u64 = 3;
/// Result 1: the MAC.
pub const RESULT_MAC: u64 = 1;

/// Scope flag: the primary block is covered.
pub const SCOPE_PRIMARY: u64 = 0x01;
/// Scope flag: the target's header is covered.
pub const SCOPE_TARGET_HEADER: u64 = 0x02;
/// Scope flag: the BIB's own header is covered.
pub const SCOPE_SECURITY_HEADER: u64 = 0x04;
/// The scope when the parameter is absent: all three.
pub const SCOPE_DEFAULT: u64 = 0x07;

/// The HMAC's hash (RFC 9173 3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShaVariant {
    /// HMAC 256/256 (code 5).
    Sha256,
    /// HMAC 384/384 (code 6, the default).
    Sha384,
    /// HMAC 512/512 (code 7).
    Sha512,
}

impl ShaVariant {
    /// The variant for a parameter value.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            5 => Some(ShaVariant::Sha256),
            6 => Some(ShaVariant::Sha384),
            7 => Some(ShaVariant::Sha512),
            _ => None,
        }
    }

    /// Its parameter value.
    pub fn code(self) -> u64 {
        match self {
            ShaVariant::Sha256 => 5,
            ShaVariant::Sha384 => 6,
            ShaVariant::Sha512 => 7,
        }
    }

    /// The MAC's length, bytes.
    pub fn mac_len(self) -> usize {
        match self {
            ShaVariant::Sha256 => 32,
            ShaVariant::Sha384 => 48,
            ShaVariant::Sha512 => 64,
        }
    }
}

/// A block's header as the IPPT covers it: type, number and processing flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block type code.
    pub block_type: u64,
    /// Block number.
    pub number: u64,
    /// Block processing control flags.
    pub flags: u64,
}

impl BlockHeader {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        writer::uint(out, self.block_type);
        writer::uint(out, self.number);
        writer::uint(out, self.flags);
    }
}

/// What both contexts put before their data (RFC 9173 3.7, 4.7.2): the scope flags, then as
/// they ask the primary block and the target's header (`target`: both; `None` when the
/// target is the primary block itself, which is then the data) and the security block's
/// header.
pub(crate) fn encode_scoped(
    out: &mut Vec<u8>,
    scope: u64,
    target: Option<(&[u8], &BlockHeader)>,
    security: &BlockHeader,
) {
    writer::uint(out, scope);
    if let Some((primary, header)) = target {
        if scope & SCOPE_PRIMARY != 0 {
            out.extend_from_slice(primary);
        }
        if scope & SCOPE_TARGET_HEADER != 0 {
            header.encode(out);
        }
    }
    if scope & SCOPE_SECURITY_HEADER != 0 {
        security.encode(out);
    }
}

/// What one target's IPPT is made of.
#[derive(Debug, Clone, Copy)]
pub struct Ippt<'a> {
    /// The integrity scope flags.
    pub scope: u64,
    /// The primary block, encoded.
    pub primary: &'a [u8],
    /// The target's header.
    pub target: BlockHeader,
    /// The BIB's header.
    pub security: BlockHeader,
    /// The target's block-type-specific data (for the primary block: the primary block).
    pub target_data: &'a [u8],
}

impl Ippt<'_> {
    /// Appends the IPPT (RFC 9173 3.7).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_prefix(out);
        out.extend_from_slice(self.target_data);
    }

    /// The IPPT less the target's data: the MAC runs over this and then the data itself.
    pub fn prefix(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.primary.len() + 40);
        self.encode_prefix(&mut out);
        out
    }

    /// Whether the target is the primary block, which is then the data and has no header:
    /// the primary and target-header flags add nothing (as hardy reads 3.7).
    fn targets_primary(&self) -> bool {
        self.target.number == 0
    }

    fn encode_prefix(&self, out: &mut Vec<u8>) {
        let target = (!self.targets_primary()).then_some((self.primary, &self.target));
        encode_scoped(out, self.scope, target, &self.security);
        writer::head(out, crate::cbor::Major::Bytes, self.target_data.len() as u64);
    }

    /// The IPPT.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.primary.len() + self.target_data.len() + 32);
        self.encode(&mut out);
        out
    }
}

/// The HMAC of `message` under `key`.
pub fn mac(variant: ShaVariant, key: &[u8], message: &[u8]) -> Vec<u8> {
    mac_parts(variant, key, &[message])
}

/// The HMAC of the concatenation of `parts` (so a large target is never copied into an
/// IPPT buffer).
pub fn mac_parts(variant: ShaVariant, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match variant {
        ShaVariant::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts),
        ShaVariant::Sha384 => run::<Hmac<sha2::Sha384>>(key, parts),
        ShaVariant::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts),
    }
}

fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            for part in parts {
                m.update(part);
            }
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Whether two MACs are equal, compared in constant time.
pub fn macs_equal(computed: &[u8], expected: &[u8]) -> bool {
    computed.len() == expected.len() && computed.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Whether `expected` is the HMAC of `message` (compared in constant time).
pub fn verify(variant: ShaVariant, key: &[u8], message: &[u8], expected: &[u8]) -> bool {
    macs_equal(&mac(variant, key, message), expected)
}

/// The context's parameters as a BIB carries them, with RFC 9173's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// The hash.
    pub variant: ShaVariant,
    /// The wrapped MAC key, if the block carries one.
    pub wrapped_key: Option<Vec<u8>>,
    /// The scope flags.
    pub scope: u64,
}

/// A BIB whose parameters this context cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("BIB-HMAC-SHA2: {0}")]
pub struct ParameterError(pub &'static str);

impl Parameters {
    /// Reads the parameters of `asb` (absent ones take their defaults).
    pub fn of(asb: &Asb) -> Result<Parameters, ParameterError> {
        super::asb::check_parameter_ids(asb, &[PARAM_SHA_VARIANT, PARAM_WRAPPED_KEY, PARAM_SCOPE])
            .map_err(ParameterError)?;
        let variant = match asb.parameter(PARAM_SHA_VARIANT) {
            None => ShaVariant::Sha384,
            Some(p) => {
                p.as_uint().and_then(ShaVariant::from_code).ok_or(ParameterError("the SHA variant is 5, 6 or 7"))?
            }
        };
        let wrapped_key = asb
            .bytes_parameter(PARAM_WRAPPED_KEY, "the wrapped key is a byte string")
            .map_err(ParameterError)?
            .map(<[u8]>::to_vec);
        let scope = asb
            .uint_parameter(PARAM_SCOPE, SCOPE_DEFAULT, "the scope flags are an unsigned integer")
            .map_err(ParameterError)?;
        Ok(Parameters { variant, wrapped_key, scope })
    }

    /// The parameters as a BIB carries them: each given explicitly.
    pub fn to_items(&self) -> Vec<SecurityItem> {
        let mut items = alloc::vec![SecurityItem::uint(PARAM_SHA_VARIANT, self.variant.code())];
        if let Some(k) = &self.wrapped_key {
            items.push(SecurityItem::bytes(PARAM_WRAPPED_KEY, k));
        }
        items.push(SecurityItem::uint(PARAM_SCOPE, self.scope));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eid::Eid;

    fn bib(parameters: Option<Vec<SecurityItem>>) -> Asb {
        Asb {
            targets: alloc::vec![1],
            context_id: super::super::CONTEXT_BIB_HMAC_SHA2,
            context_flags: u64::from(parameters.is_some()),
            source: Eid::ipn(2, 1),
            parameters,
            results: alloc::vec![alloc::vec![]],
        }
    }

    #[test]
    fn absent_parameters_take_the_rfc_defaults_and_bad_ones_are_refused() {
        let p = Parameters::of(&bib(None)).unwrap();
        assert_eq!((p.variant, p.wrapped_key, p.scope), (ShaVariant::Sha384, None, SCOPE_DEFAULT));
        let given = Parameters { variant: ShaVariant::Sha256, wrapped_key: Some(alloc::vec![1; 24]), scope: 0 };
        assert_eq!(Parameters::of(&bib(Some(given.to_items()))).unwrap(), given);
        assert!(Parameters::of(&bib(Some(alloc::vec![SecurityItem::uint(PARAM_SHA_VARIANT, 4)]))).is_err());
        assert!(Parameters::of(&bib(Some(alloc::vec![SecurityItem::uint(PARAM_WRAPPED_KEY, 4)]))).is_err());
        assert!(Parameters::of(&bib(Some(alloc::vec![SecurityItem::bytes(PARAM_SCOPE, b"7")]))).is_err());
    }

    #[test]
    fn macs_have_their_variants_lengths_and_verify_only_themselves() {
        for v in [ShaVariant::Sha256, ShaVariant::Sha384, ShaVariant::Sha512] {
            let m = mac(v, b"key", b"message");
            assert_eq!(m.len(), v.mac_len());
            assert!(verify(v, b"key", b"message", &m));
            assert!(!verify(v, b"key!", b"message", &m));
            assert!(!verify(v, b"key", b"message", &m[..m.len() - 1]));
            assert_eq!(ShaVariant::from_code(v.code()), Some(v));
        }
    }
}
