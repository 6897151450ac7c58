//! The security source role (RFC 9172 3.1): adding a BIB (BIB-HMAC-SHA2) or a BCB
//! (BCB-AES-GCM) to a bundle.
//!
//! Both refuse what the rules forbid before computing anything: a fragment (a source
//! protects the whole bundle, RFC 9172 5), a target that is missing, already protected by
//! the same service, or a security block where none may be. Before the MAC or the
//! encryption, a target's CRC is removed (RFC 9173 3.8.1, 4.8.1) — the primary block's too
//! when a BIB covers it, which RFC 9171 4.3.1 then allows. A BCB over a block that a BIB
//! protects also encrypts that BIB (RFC 9172 3.9): the BIB is added to the targets, before
//! its target, as RFC 9173 A.4 lists them.
//!
//! Randomness stays with the caller (this crate does no I/O): the IV and any per-bundle
//! key come in the request.

use alloc::vec::Vec;

use bytes::Bytes;

use super::asb::{Asb, SecurityItem};
use super::bcb_aes_gcm::{self, Aad, AesVariant};
use super::crypto::Crypto;
use super::error::{Failure, SecurityError};
use super::hmac_sha2::{self, BlockHeader, Ippt, ShaVariant};
use super::key_wrap::wrap_key;
use super::numbers::{self, Numbers};
use super::rules::Security;
use super::{CONTEXT_BCB_AES_GCM, CONTEXT_BIB_HMAC_SHA2};
use crate::bundle::{BlockFlags, Bundle, BundleEditor, CanonicalBlock, block_type};
use crate::crc::CrcType;
use crate::eid::Eid;

/// The key an operation uses.
#[derive(Debug, Clone, Copy)]
pub enum KeyMaterial<'a> {
    /// The long-term key itself.
    Direct(&'a [u8]),
    /// A fresh per-bundle key, sent wrapped (AES key wrap) under the long-term key.
    Wrapped {
        /// The long-term key-encryption key.
        kek: &'a [u8],
        /// The per-bundle key (16, 24 or 32 bytes).
        session: &'a [u8],
    },
}

/// Where the new security block goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    /// Its block number; `None` takes the next free one.
    pub number: Option<u64>,
    /// Its position among the canonical blocks: 0 (the default) is right after the primary
    /// block, so a receiver meets it before its targets.
    pub index: usize,
}

/// A BIB-HMAC-SHA2 integrity operation to add.
#[derive(Debug, Clone)]
pub struct Sign<'a> {
    /// The blocks to protect (0: the primary block).
    pub targets: &'a [u64],
    /// The security source: this node's ID.
    pub source: Eid,
    /// The hash.
    pub variant: ShaVariant,
    /// The integrity scope flags.
    pub scope: u64,
    /// The MAC key.
    pub key: KeyMaterial<'a>,
    /// Where the BIB goes.
    pub placement: Placement,
}

/// A BCB-AES-GCM confidentiality operation to add.
#[derive(Debug, Clone)]
pub struct Encrypt<'a> {
    /// The blocks to encrypt (never 0); BIBs over them are added.
    pub targets: &'a [u64],
    /// The security source: this node's ID.
    pub source: Eid,
    /// The key size.
    pub variant: AesVariant,
    /// The AAD scope flags.
    pub scope: u64,
    /// The IV: 8 to 16 bytes, never used twice with one key.
    pub iv: &'a [u8],
    /// The content-encryption key.
    pub key: KeyMaterial<'a>,
    /// Where the BCB goes.
    pub placement: Placement,
}

pub(super) fn conflict(message: &'static str) -> SecurityError {
    SecurityError::new(Failure::Conflicting, message)
}

/// The operation's key and, when wrapped, the wrapped form to send.
fn key_of<'a>(key: &KeyMaterial<'a>) -> Result<(&'a [u8], Option<Vec<u8>>), SecurityError> {
    match *key {
        KeyMaterial::Direct(k) => Ok((k, None)),
        KeyMaterial::Wrapped { kek, session } => {
            let wrapped = wrap_key(kek, session).ok_or(SecurityError::new(
                Failure::Failed,
                "the key cannot be wrapped (a KEK of 16, 24 or 32 bytes, a key of 16 bytes or more in 8-byte steps)",
            ))?;
            Ok((session, Some(wrapped)))
        }
    }
}

/// Checks what both operations need; returns the bundle's security blocks and the targets
/// as a set.
pub(super) fn check_targets(bundle: &Bundle, targets: &[u64]) -> Result<(Security, Numbers<()>), SecurityError> {
    if bundle.is_fragment() {
        return Err(conflict("a fragment is protected only as the whole bundle, before fragmentation"));
    }
    if targets.is_empty() {
        return Err(conflict("a security operation has at least one target"));
    }
    let mut sorted = targets.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(conflict("a block is targeted twice"));
    }
    Ok((Security::of(bundle)?, numbers::set(sorted)))
}

/// Removes the CRC of every target (RFC 9173 3.8.1, 4.8.1).
fn strip_crcs(bundle: &Bundle, security: &Security, editor: &mut BundleEditor, targets: &[u64]) {
    let mut changes = Vec::new();
    for &t in targets {
        if t == 0 {
            if bundle.primary().crc_type != CrcType::None {
                let mut primary = bundle.primary().clone();
                primary.crc_type = CrcType::None;
                editor.set_primary(&primary);
            }
        } else if let Some(block) = security.canonical(bundle, t)
            && block.crc_type != CrcType::None
        {
            changes.push((t, block.data.clone(), CrcType::None));
        }
    }
    editor.set_blocks_data(changes);
}

pub(super) fn security_block(
    editor: &BundleEditor,
    placement: Placement,
    block_type: u64,
    flags: BlockFlags,
) -> Result<BlockHeader, SecurityError> {
    let number = placement.number.unwrap_or_else(|| editor.free_number());
    if number < 2 || editor.blocks().iter().any(|b| b.number == number) {
        return Err(conflict("the security block's number is taken"));
    }
    Ok(BlockHeader { block_type, number, flags: flags.0 })
}

/// Puts the security block `header` with `asb` as its data into the editor, where
/// `placement` says.
fn place(editor: &mut BundleEditor, placement: Placement, header: BlockHeader, asb: &Asb) -> Result<(), SecurityError> {
    let block = CanonicalBlock::new(
        header.block_type,
        header.number,
        BlockFlags(header.flags),
        CrcType::None,
        Bytes::from(asb.to_vec()),
    );
    if !editor.insert_block(placement.index, block) {
        return Err(conflict("the security block's number is taken"));
    }
    Ok(())
}

/// [`place`], then the new bundle.
pub(super) fn insert(
    editor: &mut BundleEditor,
    placement: Placement,
    header: BlockHeader,
    asb: &Asb,
) -> Result<Bundle, SecurityError> {
    place(editor, placement, header, asb)?;
    editor.build().map_err(|_| SecurityError::new(Failure::Failed, "the secured bundle does not re-encode"))
}

/// Checks what a new BIB over `targets` needs (any context); returns the bundle's security
/// blocks.
pub(super) fn check_bib_targets(bundle: &Bundle, targets: &[u64]) -> Result<Security, SecurityError> {
    let (security, _) = check_targets(bundle, targets)?;
    for &t in targets {
        let fail = |m| Err(conflict(m).on_target(t));
        match security.canonical(bundle, t).map(|b| b.block_type) {
            None if t != 0 => return fail("the target is not in the bundle"),
            Some(block_type::BIB | block_type::BCB) => return fail("a BIB never targets a security block"),
            _ => {}
        }
        if security.bib_over(t).is_some() {
            return fail("the target already has an integrity operation");
        }
        if security.bcb_over(t).is_some() {
            return fail("the target is encrypted: sign before encrypting");
        }
    }
    Ok(security)
}

/// Adds a BIB over `op.targets`; returns the new bundle.
pub fn sign(crypto: &dyn Crypto, bundle: &Bundle, op: &Sign<'_>) -> Result<Bundle, SecurityError> {
    let security = check_bib_targets(bundle, op.targets)?;
    let (key, wrapped_key) = key_of(&op.key)?;
    let mut editor = bundle.edit();
    strip_crcs(bundle, &security, &mut editor, op.targets);
    let header = security_block(&editor, op.placement, block_type::BIB, BlockFlags::default())?;
    let primary = editor.primary_raw().clone();
    let share = if op.scope & hmac_sha2::SCOPE_PRIMARY != 0 { primary.len() } else { 0 } + 40;
    super::rules::within_work(op.targets.len(), share, bundle.raw().len())?;
    let mut results = Vec::with_capacity(op.targets.len());
    let index = Numbers::of_blocks(editor.blocks());
    for &t in op.targets {
        let (target, data) = match index.block(editor.blocks(), t) {
            Some(b) => (BlockHeader { block_type: b.block_type, number: t, flags: b.flags.0 }, b.data.as_ref()),
            None => (BlockHeader { block_type: 0, number: 0, flags: 0 }, primary.as_ref()),
        };
        let ippt = Ippt { scope: op.scope, primary: &primary, target, security: header, target_data: data };
        let mac = crypto.hmac(op.variant, key, &[&ippt.prefix(), data]);
        results.push(alloc::vec![SecurityItem::bytes(hmac_sha2::RESULT_MAC, &mac)]);
    }
    let parameters = hmac_sha2::Parameters { variant: op.variant, wrapped_key, scope: op.scope };
    let asb = Asb {
        targets: op.targets.to_vec(),
        context_id: CONTEXT_BIB_HMAC_SHA2,
        context_flags: 1,
        source: op.source.clone(),
        parameters: Some(parameters.to_items()),
        results,
    };
    insert(&mut editor, op.placement, header, &asb)
}

/// Adds a BCB over `op.targets` (and over any BIB that protects one of them); returns the
/// new bundle. Every target is sealed under the one IV the BCB carries (RFC 9173 4.3.1 has a
/// single IV parameter): with more than one target, use [`encrypt_apart`] unless the key is
/// used for nothing else.
pub fn encrypt(crypto: &dyn Crypto, bundle: &Bundle, op: &Encrypt<'_>) -> Result<Bundle, SecurityError> {
    encrypt_with(crypto, bundle, op, true)
}

/// Encrypts each of `op.targets` in a BCB of its own, each with a fresh IV from `iv` (of
/// `op.iv`'s length): one IV for several blocks under one key would reuse a GCM nonce. A BIB
/// over a target goes first, in its own BCB (as hardy does; the acceptor takes them
/// together).
pub fn encrypt_apart(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    op: &Encrypt<'_>,
    iv: &mut dyn FnMut(&mut [u8]),
) -> Result<Bundle, SecurityError> {
    let (security, _) = check_targets(bundle, op.targets)?;
    let mut order: Vec<u64> = Vec::with_capacity(op.targets.len() + 1);
    let mut taken = alloc::collections::BTreeSet::new();
    for &t in op.targets {
        if let Some(bib) = security.bib_over(t)
            && taken.insert(bib.number())
        {
            order.push(bib.number());
        }
    }
    order.extend(op.targets.iter().copied().filter(|t| taken.insert(*t)));
    let mut out = bundle.clone();
    let mut fresh = alloc::vec![0u8; op.iv.len()];
    for (i, t) in order.iter().enumerate() {
        iv(&mut fresh);
        let placement = if i == 0 { op.placement } else { Placement { number: None, ..op.placement } };
        let one = Encrypt { targets: core::slice::from_ref(t), iv: &fresh, placement, ..op.clone() };
        out = encrypt_with(crypto, &out, &one, false)?;
    }
    Ok(out)
}

fn encrypt_with(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    op: &Encrypt<'_>,
    with_bibs: bool,
) -> Result<Bundle, SecurityError> {
    let (security, wanted) = check_targets(bundle, op.targets)?;
    if !bcb_aes_gcm::IV_LEN.contains(&op.iv.len()) {
        return Err(SecurityError::new(Failure::Failed, "the IV is 8 to 16 bytes"));
    }
    let mut targets: Vec<u64> = Vec::with_capacity(op.targets.len() + 1);
    let mut taken = alloc::collections::BTreeSet::new();
    for &t in op.targets {
        let fail = |m| Err(conflict(m).on_target(t));
        if t == 0 {
            return fail("a BCB never targets the primary block");
        }
        match security.canonical(bundle, t).map(|b| b.block_type) {
            None => return fail("the target is not in the bundle"),
            Some(block_type::BCB) => return fail("a BCB never targets a BCB"),
            Some(block_type::BIB) if with_bibs => {
                let shares = security.block(t).is_some_and(|b| b.targets().iter().any(|&x| wanted.contains(x)));
                if !shares {
                    return fail("a BCB encrypts a BIB only together with one of its targets");
                }
            }
            Some(_) => {}
        }
        if security.bcb_over(t).is_some() {
            return fail("the target is already encrypted");
        }
        if let Some(bib) = security.bib_over(t) {
            if !with_bibs {
                return fail("the target's BIB is encrypted first, in a BCB of its own");
            }
            if taken.insert(bib.number()) {
                targets.push(bib.number());
            }
        }
        if taken.insert(t) {
            targets.push(t);
        }
    }
    let (key, wrapped_key) = key_of(&op.key)?;
    if key.len() != op.variant.key_len() {
        return Err(SecurityError::new(Failure::Failed, "the key's length is not the AES variant's"));
    }
    let mut editor = bundle.edit();
    strip_crcs(bundle, &security, &mut editor, &targets);
    let header = security_block(&editor, op.placement, block_type::BCB, BlockFlags::REPLICATE)?;
    let primary = editor.primary_raw().clone();
    let share = if op.scope & hmac_sha2::SCOPE_PRIMARY != 0 { primary.len() } else { 0 } + 40;
    super::rules::within_work(targets.len(), share, bundle.raw().len())?;
    let mut aads = Vec::with_capacity(targets.len());
    let index = Numbers::of_blocks(editor.blocks());
    for &t in &targets {
        let Some(block) = index.block(editor.blocks(), t) else {
            return Err(conflict("the target is not in the bundle").on_target(t));
        };
        let target = BlockHeader { block_type: block.block_type, number: t, flags: block.flags.0 };
        aads.push(Aad { scope: op.scope, primary: &primary, target, security: header }.to_vec());
    }
    // The BCB goes in with zero tags; the targets are encrypted in the output buffer itself
    // and the tags written over the zeros (no CRC covers either: both were removed).
    let parameters = bcb_aes_gcm::Parameters { iv: op.iv.to_vec(), variant: op.variant, wrapped_key, scope: op.scope };
    let zero = [0u8; bcb_aes_gcm::TAG_LEN];
    let asb = Asb {
        targets: targets.clone(),
        context_id: CONTEXT_BCB_AES_GCM,
        context_flags: 1,
        source: op.source.clone(),
        parameters: Some(parameters.to_items()),
        results: targets.iter().map(|_| alloc::vec![SecurityItem::bytes(bcb_aes_gcm::RESULT_TAG, &zero)]).collect(),
    };
    place(&mut editor, op.placement, header, &asb)?;
    let mut out = Vec::new();
    let mut ranges: Vec<(u64, core::ops::Range<usize>)> = Vec::with_capacity(targets.len() + 1);
    editor.encode_locating(&mut out, |n, range| {
        if n == header.number || taken.contains(&n) {
            ranges.push((n, range));
        }
    });
    let ranges = Numbers::new(ranges);
    let range_of = |n: u64| ranges.get(n).cloned();
    let bcb = range_of(header.number).ok_or(SecurityError::new(Failure::Failed, "the BCB was not encoded"))?;
    // Each result is [[1, h'<16 bytes>']]: 0x81 0x82 0x01 0x50 and the tag; they end the block.
    const RESULT_LEN: usize = 4 + bcb_aes_gcm::TAG_LEN;
    for (i, (&t, aad)) in targets.iter().zip(&aads).enumerate() {
        let failed = || SecurityError::new(Failure::Failed, "AES-GCM refused the key or IV").on_target(t);
        let data = range_of(t).and_then(|r| out.get_mut(r)).ok_or_else(failed)?;
        let tag = crypto.seal(op.variant, key, op.iv, aad, data).map_err(|_| failed())?;
        let at = bcb.end - (targets.len() - i) * RESULT_LEN + 4;
        out.get_mut(at..at + bcb_aes_gcm::TAG_LEN).ok_or_else(failed)?.copy_from_slice(&tag);
    }
    Bundle::parse_own(Bytes::from(out), crate::parse_mode::ParseMode::Relaxed)
        .map_err(|_| SecurityError::new(Failure::Failed, "the secured bundle does not re-encode"))
}
