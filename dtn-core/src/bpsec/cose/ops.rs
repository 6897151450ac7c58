//! The COSE context's operations: a security source signs or MACs (BIB) and encrypts (BCB)
//! here; a verifier checks a BIB here; a BCB's targets are opened by the common acceptor
//! (`super::super::verifier`) from the plan [`open_plan`] makes.

use alloc::vec::Vec;

use bytes::Bytes;

use super::aad::{AadScope, common_part, with_target};
use super::key::{CoseKey, KeyKind};
use super::message::{Headers, Message, protected_alg, read_headers, structure_prefix};
use super::{Alg, CONTEXT_COSE, PARAM_AAD_SCOPE, PARAM_ADDITIONAL_PROTECTED, PARAM_ADDITIONAL_UNPROTECTED};
use super::{RESULT_ENCRYPT0, RESULT_MAC0, RESULT_SIGN1, signature};
use crate::bpsec::asb::{Asb, SecurityItem, check_parameter_ids};
use crate::bpsec::bcb_aes_gcm::{AesVariant, TAG_LEN};
use crate::bpsec::crypto::Crypto;
use crate::bpsec::error::{Failure, SecurityError};
use crate::bpsec::hmac_sha2::{BlockHeader, macs_equal};
use crate::bpsec::numbers::Numbers;
use crate::bpsec::rules::Security;
use crate::bpsec::source::{Placement, check_bib_targets, check_targets, conflict, insert, security_block};
use crate::bundle::{BlockFlags, Bundle, CanonicalBlock, block_type};
use crate::eid::Eid;

fn failed(message: &'static str) -> SecurityError {
    SecurityError::new(Failure::Failed, message)
}

fn header_of(b: &CanonicalBlock) -> BlockHeader {
    BlockHeader { block_type: b.block_type, number: b.number, flags: b.flags.0 }
}

/// A COSE integrity operation to add: a COSE_Mac0 (HMAC) or COSE_Sign1 per target.
#[derive(Debug, Clone)]
pub struct CoseSign<'a> {
    /// The blocks to protect (not the primary block: the AAD scope covers it).
    pub targets: &'a [u64],
    /// The security source: this node's ID.
    pub source: Eid,
    /// The algorithm.
    pub alg: Alg,
    /// The key (private, for a signature); its kid goes in each message.
    pub key: &'a CoseKey,
    /// The AAD scope, sent as a parameter; `None`: the default, not sent.
    pub scope: Option<AadScope>,
    /// An additional protected header map (encoded), sent as a parameter when not empty.
    pub additional_protected: &'a [u8],
    /// Where the BIB goes.
    pub placement: Placement,
}

/// A COSE confidentiality operation to add: a COSE_Encrypt0 per target.
#[derive(Debug, Clone)]
pub struct CoseEncrypt<'a> {
    /// The blocks to encrypt; BIBs over them are added.
    pub targets: &'a [u64],
    /// The security source.
    pub source: Eid,
    /// The algorithm (AES-GCM).
    pub alg: Alg,
    /// The content-encryption key.
    pub key: &'a CoseKey,
    /// 12 fresh bytes; target `i` is sealed under this IV with `i` added to its last
    /// 8 bytes, so no two targets share a nonce.
    pub iv: [u8; 12],
    /// The AAD scope, sent as a parameter; `None`: the default, not sent.
    pub scope: Option<AadScope>,
    /// Where the BCB goes.
    pub placement: Placement,
}

/// The AAD all targets of one security block share, made once. Refused when the targets
/// times it exceed what this node hashes for one bundle: a scope over large blocks with
/// many targets is work that grows with their product.
fn shared_aad<'b>(
    source: &Eid,
    scope: &AadScope,
    primary: &[u8],
    targets: usize,
    additional_protected: &[u8],
    bundle: &Bundle,
    lookup: &dyn Fn(u64) -> Option<(BlockHeader, &'b [u8])>,
) -> Result<Vec<u8>, SecurityError> {
    let common = common_part(source, scope, primary, lookup).map_err(failed)?;
    crate::bpsec::rules::within_work(targets, common.len() + additional_protected.len() + 32, bundle.raw().len())?;
    Ok(common)
}

/// The parameters an operation sends (IDs ascending, as the draft's examples).
fn sent_parameters(scope: Option<&AadScope>, additional_protected: &[u8]) -> Option<Vec<SecurityItem>> {
    let mut items = Vec::new();
    if !additional_protected.is_empty() {
        items.push(SecurityItem::bytes(PARAM_ADDITIONAL_PROTECTED, additional_protected));
    }
    if let Some(scope) = scope {
        let mut value = Vec::new();
        scope.encode(&mut value);
        items.push(SecurityItem { id: PARAM_AAD_SCOPE, value });
    }
    (!items.is_empty()).then_some(items)
}

fn target_iv(base: [u8; 12], i: usize) -> [u8; 12] {
    let mut iv = base;
    let (_, tail) = iv.split_at_mut(4);
    let mut counter = [0u8; 8];
    counter.copy_from_slice(tail);
    tail.copy_from_slice(&u64::from_be_bytes(counter).wrapping_add(i as u64).to_be_bytes());
    iv
}

fn no_primary(t: u64) -> Result<(), SecurityError> {
    if t == 0 {
        return Err(SecurityError::new(
            Failure::Unknown,
            "the COSE context covers the primary block through its AAD scope, not as a target",
        )
        .on_target(0));
    }
    Ok(())
}

/// Adds a BIB of the COSE context over `op.targets`.
pub fn sign(crypto: &dyn Crypto, bundle: &Bundle, op: &CoseSign<'_>) -> Result<Bundle, SecurityError> {
    op.targets.iter().try_for_each(|&t| no_primary(t))?;
    check_bib_targets(bundle, op.targets)?;
    if !op.alg.is_integrity() || !op.key.fits(op.alg, true) {
        return Err(failed("the key does not fit the integrity algorithm (or lacks its private part)"));
    }
    let mut editor = bundle.edit();
    let header = security_block(&editor, op.placement, block_type::BIB, BlockFlags::default())?;
    let scope = op.scope.clone().unwrap_or_default();
    let primary = editor.primary_raw().clone();
    let blocks = editor.blocks();
    let index = Numbers::of_blocks(blocks);
    let lookup = |n: u64| index.block(blocks, n).map(|b| (header_of(b), b.data.as_ref()));
    let common = shared_aad(&op.source, &scope, &primary, op.targets.len(), op.additional_protected, bundle, &lookup)?;
    let protected = protected_alg(op.alg.code());
    let mut results = Vec::with_capacity(op.targets.len());
    for &t in op.targets {
        let Some(block) = index.block(blocks, t) else { return Err(conflict("the target is not in the bundle")) };
        let aad = with_target(&common, &scope, &header_of(block), &header, op.additional_protected);
        let tag = match (op.alg, &op.key.kind) {
            (Alg::Hmac(v), KeyKind::Symmetric { k, .. }) => {
                let prefix = structure_prefix("MAC0", &protected, &aad, Some(block.data.len()));
                crypto.hmac(v, k, &[&prefix, &block.data])
            }
            _ => {
                let mut message = structure_prefix("Signature1", &protected, &aad, Some(block.data.len()));
                message.extend_from_slice(&block.data);
                signature::sign(op.key, &message).ok_or(failed("the key does not sign"))?
            }
        };
        let message = Message::encode(&protected, op.key.kid.as_deref(), None, Some(&tag));
        results.push(alloc::vec![SecurityItem::bytes(op.alg.result_id(), &message)]);
    }
    let parameters = sent_parameters(op.scope.as_ref(), op.additional_protected);
    let asb = Asb {
        targets: op.targets.to_vec(),
        context_id: CONTEXT_COSE,
        context_flags: u64::from(parameters.is_some()),
        source: op.source.clone(),
        parameters,
        results,
    };
    insert(&mut editor, op.placement, header, &asb)
}

/// Adds a BCB of the COSE context over `op.targets` (and any BIB over one of them).
pub fn encrypt(crypto: &dyn Crypto, bundle: &Bundle, op: &CoseEncrypt<'_>) -> Result<Bundle, SecurityError> {
    let (security, _) = check_targets(bundle, op.targets)?;
    let (Alg::Gcm(variant), KeyKind::Symmetric { k, .. }) = (op.alg, &op.key.kind) else {
        return Err(failed("COSE confidentiality here is AES-GCM with a symmetric key"));
    };
    if !op.key.fits(op.alg, true) {
        return Err(failed("the key's length is not the AES variant's"));
    }
    let mut targets: Vec<u64> = Vec::with_capacity(op.targets.len() + 1);
    let mut taken = alloc::collections::BTreeSet::new();
    for &t in op.targets {
        no_primary(t)?;
        let fail = |m| Err(conflict(m).on_target(t));
        match security.canonical(bundle, t).map(|b| b.block_type) {
            None => return fail("the target is not in the bundle"),
            Some(block_type::BCB) => return fail("a BCB never targets a BCB"),
            Some(block_type::BIB) => return fail("a BIB is encrypted along with its targets, not alone"),
            Some(_) => {}
        }
        if security.bcb_over(t).is_some() {
            return fail("the target is already encrypted");
        }
        if let Some(bib) = security.bib_over(t)
            && taken.insert(bib.number())
        {
            targets.push(bib.number());
        }
        if taken.insert(t) {
            targets.push(t);
        }
    }
    let mut editor = bundle.edit();
    let header = security_block(&editor, op.placement, block_type::BCB, BlockFlags::REPLICATE)?;
    let scope = op.scope.clone().unwrap_or_default();
    let primary = editor.primary_raw().clone();
    let protected = protected_alg(op.alg.code());
    let blocks = editor.blocks();
    let index = Numbers::of_blocks(blocks);
    let lookup = |n: u64| index.block(blocks, n).map(|b| (header_of(b), b.data.as_ref()));
    let common = shared_aad(&op.source, &scope, &primary, targets.len(), &[], bundle, &lookup)?;
    let mut changes = Vec::with_capacity(targets.len());
    let mut results = Vec::with_capacity(targets.len());
    for (i, &t) in targets.iter().enumerate() {
        let Some(block) = index.block(blocks, t) else { return Err(conflict("the target is not in the bundle")) };
        let aad = with_target(&common, &scope, &header_of(block), &header, &[]);
        let enc = structure_prefix("Encrypt0", &protected, &aad, None);
        let iv = target_iv(op.iv, i);
        let mut data = Vec::with_capacity(block.data.len() + TAG_LEN);
        data.extend_from_slice(&block.data);
        let tag = crypto.seal(variant, k, &iv, &enc, &mut data).map_err(|_| failed("AES-GCM refused the key or IV"))?;
        data.extend_from_slice(&tag);
        // The CRC stays and is computed over the ciphertext (as the draft's examples do).
        changes.push((t, Bytes::from(data), block.crc_type));
        let message = Message::encode(&protected, op.key.kid.as_deref(), Some(&iv), None);
        results.push(alloc::vec![SecurityItem::bytes(RESULT_ENCRYPT0, &message)]);
    }
    editor.set_blocks_data(changes);
    let parameters = sent_parameters(op.scope.as_ref(), &[]);
    let asb = Asb {
        targets,
        context_id: CONTEXT_COSE,
        context_flags: u64::from(parameters.is_some()),
        source: op.source.clone(),
        parameters,
        results,
    };
    insert(&mut editor, op.placement, header, &asb)
}

/// The context's parameters: the scope and the additional headers (merged under each
/// message's own, which win).
struct Parameters<'a> {
    scope: AadScope,
    additional_protected: &'a [u8],
    additional: Headers,
}

fn parameters(asb: &Asb) -> Result<Parameters<'_>, SecurityError> {
    check_parameter_ids(asb, &[PARAM_ADDITIONAL_PROTECTED, PARAM_ADDITIONAL_UNPROTECTED, PARAM_AAD_SCOPE])
        .map_err(failed)?;
    let additional_protected = asb
        .bytes_parameter(PARAM_ADDITIONAL_PROTECTED, "the additional protected header is a byte string")
        .map_err(failed)?
        .unwrap_or_default();
    let additional_unprotected = asb
        .bytes_parameter(PARAM_ADDITIONAL_UNPROTECTED, "the additional unprotected header is a byte string")
        .map_err(failed)?
        .unwrap_or_default();
    let mut additional = Headers::default();
    let mut seen = Vec::new();
    read_headers(additional_protected, &mut additional, &mut seen).map_err(failed)?;
    read_headers(additional_unprotected, &mut additional, &mut seen).map_err(failed)?;
    let scope = match asb.parameter(PARAM_AAD_SCOPE) {
        None => AadScope::default(),
        Some(p) => AadScope::decode(&p.value).map_err(failed)?,
    };
    Ok(Parameters { scope, additional_protected, additional })
}

/// The one COSE message of a target's results, its headers merged with the additional ones.
fn message_of(results: &[SecurityItem], ids: &[u64], extra: &Headers) -> Result<(u64, Message), &'static str> {
    let [item] = results else { return Err("exactly one result per target") };
    if !ids.contains(&item.id) {
        return Err("a result this kind of block does not carry");
    }
    let bytes = item.as_bytes().ok_or("a COSE result is a byte string")?;
    let mut m = Message::decode(bytes, item.id != RESULT_ENCRYPT0)?;
    let h = &mut m.headers;
    h.alg = h.alg.or(extra.alg);
    h.kid = h.kid.take().or_else(|| extra.kid.clone());
    h.iv = h.iv.take().or_else(|| extra.iv.clone());
    h.partial_iv = h.partial_iv.take().or_else(|| extra.partial_iv.clone());
    Ok((item.id, m))
}

/// The candidate keys that fit `alg`: those whose kid the message names, else all that fit.
fn candidates<'k>(keys: &'k [CoseKey], alg: Alg, kid: Option<&[u8]>) -> Vec<&'k CoseKey> {
    let fitting: Vec<&CoseKey> = keys.iter().filter(|k| k.fits(alg, false)).collect();
    let named: Vec<&CoseKey> = fitting.iter().copied().filter(|k| kid.is_some() && k.kid.as_deref() == kid).collect();
    if named.is_empty() { fitting } else { named }
}

/// What checking a received COSE block needs before its targets: its parameters, the
/// candidate keys decoded (once, not per target), and the AAD its targets share.
fn received<'a>(
    bundle: &Bundle,
    security: &Security,
    header: BlockHeader,
    asb: &'a Asb,
    keys: &[&[u8]],
) -> Result<(Parameters<'a>, Vec<CoseKey>, Vec<u8>), SecurityError> {
    let at = |e: SecurityError| e.in_block(header.number);
    let params = parameters(asb).map_err(at)?;
    let lookup = |n: u64| security.canonical(bundle, n).map(|b| (header_of(b), b.data.as_ref()));
    let common = shared_aad(
        &asb.source,
        &params.scope,
        bundle.primary_raw(),
        asb.targets.len(),
        params.additional_protected,
        bundle,
        &lookup,
    )
    .map_err(at)?;
    let keys = keys.iter().filter_map(|k| CoseKey::decode(k).ok()).collect();
    Ok((params, keys, common))
}

/// Checks every target of COSE BIB `number` (its block already read and checked).
pub fn verify_bib(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    security: &Security,
    bib: BlockHeader,
    asb: &Asb,
    keys: &[&[u8]],
) -> Result<(), SecurityError> {
    let at = |e: SecurityError| e.in_block(bib.number);
    let (params, keys, common) = received(bundle, security, bib, asb, keys)?;
    for (&t, results) in asb.targets.iter().zip(&asb.results) {
        no_primary(t).map_err(at)?;
        let fail = |m| at(failed(m)).on_target(t);
        let (id, message) = message_of(results, &[RESULT_MAC0, RESULT_SIGN1], &params.additional).map_err(fail)?;
        let alg = message.headers.alg.and_then(Alg::from_code).ok_or(
            at(SecurityError::new(Failure::Unknown, "an algorithm this node does not implement")).on_target(t),
        )?;
        if alg.result_id() != id {
            return Err(fail("the algorithm is not the message's kind"));
        }
        let Some(block) = security.canonical(bundle, t) else { return Err(fail("the target is not in the bundle")) };
        let aad = with_target(&common, &params.scope, &header_of(block), &bib, params.additional_protected);
        let tag = message.tag.as_deref().unwrap_or_default();
        let keys = candidates(&keys, alg, message.headers.kid.as_deref());
        if keys.is_empty() {
            return Err(at(SecurityError::new(Failure::Unknown, "no key for this security source fits the algorithm"))
                .on_target(t));
        }
        let ok = match alg {
            Alg::Hmac(v) => {
                let prefix = structure_prefix("MAC0", &message.protected, &aad, Some(block.data.len()));
                keys.iter().any(|key| match &key.kind {
                    KeyKind::Symmetric { k, .. } => macs_equal(&crypto.hmac(v, k, &[&prefix, &block.data]), tag),
                    _ => false,
                })
            }
            _ => {
                let mut signed = structure_prefix("Signature1", &message.protected, &aad, Some(block.data.len()));
                signed.extend_from_slice(&block.data);
                keys.iter().any(|key| signature::verify(key, &signed, tag))
            }
        };
        if !ok {
            return Err(fail(if id == RESULT_MAC0 {
                "the MAC does not verify"
            } else {
                "the signature does not verify"
            }));
        }
    }
    Ok(())
}

/// How to open one target of a COSE BCB (its `Debug` shows no key).
pub struct TargetOpening {
    /// The target.
    pub target: u64,
    /// The Enc_structure (the AEAD's associated data).
    pub aad: Vec<u8>,
    /// The AES variant.
    pub variant: AesVariant,
    /// The nonce.
    pub iv: Vec<u8>,
    /// The candidate content keys.
    pub keys: Vec<Vec<u8>>,
}

impl core::fmt::Debug for TargetOpening {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TargetOpening").field("target", &self.target).field("keys", &self.keys.len()).finish()
    }
}

/// Checks COSE BCB `bcb` and says, per target, how to open it.
pub fn open_plan(
    bundle: &Bundle,
    security: &Security,
    bcb: BlockHeader,
    asb: &Asb,
    keys: &[&[u8]],
) -> Result<Vec<TargetOpening>, SecurityError> {
    let at = |e: SecurityError| e.in_block(bcb.number);
    let (params, keys, common) = received(bundle, security, bcb, asb, keys)?;
    let mut out = Vec::with_capacity(asb.targets.len());
    for (&t, results) in asb.targets.iter().zip(&asb.results) {
        let fail = |m| at(failed(m)).on_target(t);
        let (_, message) = message_of(results, &[RESULT_ENCRYPT0], &params.additional).map_err(fail)?;
        let Some(Alg::Gcm(variant)) = message.headers.alg.and_then(Alg::from_code) else {
            return Err(
                at(SecurityError::new(Failure::Unknown, "an algorithm this node does not implement")).on_target(t)
            );
        };
        let Some(block) = security.canonical(bundle, t) else { return Err(fail("the target is not in the bundle")) };
        if block.data.len() < TAG_LEN {
            return Err(fail("the ciphertext is shorter than its tag"));
        }
        let aad = with_target(&common, &params.scope, &header_of(block), &bcb, params.additional_protected);
        let enc = structure_prefix("Encrypt0", &message.protected, &aad, None);
        let candidates = candidates(&keys, Alg::Gcm(variant), message.headers.kid.as_deref());
        // The nonce: the IV, or the key's Base IV with the Partial IV over its end.
        let mut iv = message.headers.iv.clone();
        let mut with_keys = Vec::new();
        for key in candidates {
            let KeyKind::Symmetric { k, base_iv } = &key.kind else { continue };
            let nonce = match (&message.headers.iv, &message.headers.partial_iv, base_iv) {
                (Some(iv), None, _) => iv.clone(),
                (None, Some(partial), Some(base)) if partial.len() <= base.len() => {
                    let mut n = base.clone();
                    let skip = base.len() - partial.len();
                    for (b, p) in n.iter_mut().skip(skip).zip(partial) {
                        *b ^= p;
                    }
                    n
                }
                _ => continue,
            };
            if iv.get_or_insert_with(|| nonce.clone()) == &nonce {
                with_keys.push(k.clone());
            }
        }
        let Some(iv) = iv.filter(|_| !with_keys.is_empty()) else {
            return Err(at(SecurityError::new(Failure::Unknown, "no key for this security source opens the target"))
                .on_target(t));
        };
        out.push(TargetOpening { target: t, aad: enc, variant, iv, keys: with_keys });
    }
    Ok(out)
}
