//! The verifier and acceptor roles (RFC 9172 3.1): checking a BIB or a BCB, and accepting
//! one — checking it, then taking it out of the bundle (a BCB's targets go back to
//! plaintext).
//!
//! Keys are candidates: the policy gives every key active for the security source (more than
//! one while keys rotate), and the operation succeeds if one of them does. With a wrapped key
//! in the block, each candidate is tried as the key-encryption key. A fragment's payload is
//! never checked against an operation made over the whole payload (RFC 9172 5): that waits
//! for reassembly.

use alloc::vec::Vec;

use bytes::Bytes;

use super::asb::Asb;
use super::bcb_aes_gcm::{self, Aad};
use super::crypto::Crypto;
use super::error::{Failure, SecurityError};
use super::hmac_sha2::{self, BlockHeader, Ippt, macs_equal};
use super::key_wrap::unwrap_key;
use super::numbers::{self, Numbers};
use super::rules::{Security, SecurityBlock};
use super::{CONTEXT_BCB_AES_GCM, CONTEXT_BIB_HMAC_SHA2};
use crate::bundle::{Bundle, block_type};
use crate::crc::CrcType;
use crate::parse_mode::ParseMode;

fn failed(message: &'static str) -> SecurityError {
    SecurityError::new(Failure::Failed, message)
}

/// The security block `number` of `bundle`, readable and of the wanted kind.
fn readable(security: &Security, number: u64, bib: bool) -> Result<(&SecurityBlock, &Asb), SecurityError> {
    let block = security
        .block(number)
        .filter(|b| b.is_bib() == bib)
        .ok_or(SecurityError::new(Failure::Missing, "no such security block").in_block(number))?;
    let asb = block
        .asb
        .as_ref()
        .ok_or(SecurityError::new(Failure::Unknown, "the BIB is encrypted: accept its BCB first").in_block(number))?;
    Ok((block, asb))
}

fn no_fragment_payload(bundle: &Bundle, asb: &Asb, number: u64) -> Result<(), SecurityError> {
    if bundle.is_fragment() && asb.targets.contains(&1) {
        return Err(SecurityError::new(Failure::Unknown, "a fragment's payload is checked only after reassembly")
            .in_block(number)
            .on_target(1));
    }
    Ok(())
}

/// The keys to try: the candidates, or each candidate's unwrapping of the block's key.
fn keys_to_try<'k>(candidates: &[&'k [u8]], wrapped: Option<&[u8]>) -> Result<Vec<KeyRef<'k>>, SecurityError> {
    if candidates.is_empty() {
        return Err(SecurityError::new(Failure::Unknown, "no key for this security source"));
    }
    match wrapped {
        None => Ok(candidates.iter().map(|k| KeyRef::Borrowed(k)).collect()),
        Some(w) => {
            let keys: Vec<KeyRef<'k>> =
                candidates.iter().filter_map(|kek| unwrap_key(kek, w)).map(KeyRef::Owned).collect();
            if keys.is_empty() {
                return Err(failed("the wrapped key does not unwrap under any key for this source"));
            }
            Ok(keys)
        }
    }
}

enum KeyRef<'k> {
    Borrowed(&'k [u8]),
    Owned(Vec<u8>),
}

impl KeyRef<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            KeyRef::Borrowed(k) => k,
            KeyRef::Owned(k) => k,
        }
    }
}

/// Checks every target of BIB `number` (the verifier role).
pub fn verify_bib(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    security: &Security,
    number: u64,
    keys: &[&[u8]],
) -> Result<(), SecurityError> {
    let (block, asb) = readable(security, number, true)?;
    let at = |e: SecurityError| e.in_block(number);
    if asb.context_id == super::cose::CONTEXT_COSE {
        no_fragment_payload(bundle, asb, number)?;
        return super::cose::verify_bib(crypto, bundle, security, block.header, asb, keys);
    }
    if asb.context_id != CONTEXT_BIB_HMAC_SHA2 {
        return Err(at(SecurityError::new(Failure::Unknown, "an integrity context this node does not implement")));
    }
    no_fragment_payload(bundle, asb, number)?;
    let params = hmac_sha2::Parameters::of(asb).map_err(|e| at(failed(e.0)))?;
    let keys = keys_to_try(keys, params.wrapped_key.as_deref()).map_err(at)?;
    let primary = bundle.primary_raw();
    let share = if params.scope & hmac_sha2::SCOPE_PRIMARY != 0 { primary.len() } else { 0 } + 40;
    super::rules::within_work(asb.targets.len(), share, bundle.raw().len()).map_err(at)?;
    for (&t, results) in asb.targets.iter().zip(&asb.results) {
        let expected = results
            .iter()
            .find(|r| r.id == hmac_sha2::RESULT_MAC)
            .and_then(|r| r.as_bytes())
            .ok_or(at(failed("no MAC (result 1) for the target")).on_target(t))?;
        let (target, data) = match security.canonical(bundle, t) {
            Some(b) => (BlockHeader { block_type: b.block_type, number: t, flags: b.flags.0 }, b.data.as_ref()),
            None => (BlockHeader { block_type: 0, number: 0, flags: 0 }, primary.as_ref()),
        };
        let ippt = Ippt { scope: params.scope, primary, target, security: block.header, target_data: data };
        let prefix = ippt.prefix();
        let ok = keys.iter().any(|k| macs_equal(&crypto.hmac(params.variant, k.bytes(), &[&prefix, data]), expected));
        if !ok {
            return Err(at(failed("the MAC does not verify")).on_target(t));
        }
    }
    Ok(())
}

/// Verifies BIB `number` and removes it (the acceptor role); see [`accept_bibs`].
pub fn accept_bib(crypto: &dyn Crypto, bundle: &Bundle, number: u64, keys: &[&[u8]]) -> Result<Bundle, SecurityError> {
    accept_bibs(crypto, bundle, &[number], keys)
}

/// Verifies each BIB listed and removes them all in one step (the acceptor role). If one
/// was over the primary block and that has no CRC, the primary gets a CRC-32C back
/// (RFC 9171 4.3.1).
pub fn accept_bibs(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    numbers: &[u64],
    keys: &[&[u8]],
) -> Result<Bundle, SecurityError> {
    accept_bibs_with(crypto, bundle, &Security::of(bundle)?, numbers, keys)
}

/// [`accept_bibs`] with the bundle's security blocks already read.
pub(crate) fn accept_bibs_with(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    security: &Security,
    numbers: &[u64],
    keys: &[&[u8]],
) -> Result<Bundle, SecurityError> {
    for &number in numbers {
        verify_bib(crypto, bundle, security, number, keys)?;
    }
    let mut editor = bundle.edit();
    editor.remove_blocks(numbers);
    let covered_primary = security.bib_over(0).is_some_and(|b| numbers.contains(&b.number()));
    if covered_primary && bundle.primary().crc_type == CrcType::None {
        let mut primary = bundle.primary().clone();
        primary.crc_type = CrcType::Crc32c;
        editor.set_primary(&primary);
    }
    editor.build().map_err(|_| failed("the bundle does not re-encode"))
}

/// What opening one target of a BCB takes.
struct Opening<'k> {
    target: u64,
    aad: Vec<u8>,
    tag: Vec<u8>,
    /// The tag ends the target's data (hardy) instead of being result 1.
    appended: bool,
    variant: bcb_aes_gcm::AesVariant,
    iv: Vec<u8>,
    keys: alloc::rc::Rc<Vec<KeyRef<'k>>>,
}

impl Opening<'_> {
    /// The ciphertext in the target's data (without a tag appended to it).
    fn ciphertext<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        if self.appended {
            data.get(..data.len().saturating_sub(bcb_aes_gcm::TAG_LEN)).unwrap_or_default()
        } else {
            data
        }
    }

    /// Decrypts `data` (the ciphertext, tag excluded) in place under the first key that
    /// authenticates it; `original` restores it between tries.
    fn open(&self, crypto: &dyn Crypto, data: &mut [u8], original: &[u8]) -> bool {
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                data.copy_from_slice(original);
            }
            if crypto.open(self.variant, k.bytes(), &self.iv, &self.aad, data, &self.tag).is_ok() {
                return true;
            }
        }
        false
    }
}

/// Checks BCB `number` and says, per target, how to open it.
fn plan<'k>(
    bundle: &Bundle,
    security: &Security,
    number: u64,
    keys: &[&'k [u8]],
) -> Result<Vec<Opening<'k>>, SecurityError> {
    let (block, asb) = readable(security, number, false)?;
    let at = |e: SecurityError| e.in_block(number);
    if asb.context_id == super::cose::CONTEXT_COSE {
        no_fragment_payload(bundle, asb, number)?;
        let plan = super::cose::open_plan(bundle, security, block.header, asb, keys)?;
        return Ok(plan
            .into_iter()
            .filter_map(|p| {
                // `open_plan` checked the target is there and holds at least a tag.
                let data = &security.canonical(bundle, p.target)?.data;
                let tag = data.get(data.len().checked_sub(bcb_aes_gcm::TAG_LEN)?..)?.to_vec();
                let keys = alloc::rc::Rc::new(p.keys.into_iter().map(KeyRef::Owned).collect());
                Some(Opening { target: p.target, aad: p.aad, tag, appended: true, variant: p.variant, iv: p.iv, keys })
            })
            .collect());
    }
    if asb.context_id != CONTEXT_BCB_AES_GCM {
        return Err(at(SecurityError::new(Failure::Unknown, "a confidentiality context this node does not implement")));
    }
    no_fragment_payload(bundle, asb, number)?;
    let params = bcb_aes_gcm::Parameters::of(asb).map_err(|e| at(failed(e.0)))?;
    let keys = alloc::rc::Rc::new(keys_to_try(keys, params.wrapped_key.as_deref()).map_err(at)?);
    let primary = bundle.primary_raw();
    let share = if params.scope & hmac_sha2::SCOPE_PRIMARY != 0 { primary.len() } else { 0 } + 40;
    super::rules::within_work(asb.targets.len(), share, bundle.raw().len()).map_err(at)?;
    let mut out = Vec::with_capacity(asb.targets.len());
    for (&t, results) in asb.targets.iter().zip(&asb.results) {
        let fail = |m| Err(at(failed(m)).on_target(t));
        let Some(target) = security.canonical(bundle, t) else {
            return Err(at(SecurityError::new(Failure::Conflicting, "the target is not in the bundle")).on_target(t));
        };
        // The tag is result 1; without one it ends the ciphertext (as hardy sends it).
        let (tag, appended) = match results.iter().find(|r| r.id == bcb_aes_gcm::RESULT_TAG).and_then(|r| r.as_bytes())
        {
            Some(tag) => (tag.to_vec(), false),
            None if !results.is_empty() => return fail("a result this context does not define"),
            None => match target.data.len().checked_sub(bcb_aes_gcm::TAG_LEN) {
                Some(n) => (target.data.get(n..).unwrap_or_default().to_vec(), true),
                None => return fail("no tag: neither result 1 nor at the end of the ciphertext"),
            },
        };
        let header = BlockHeader { block_type: target.block_type, number: t, flags: target.flags.0 };
        let aad = Aad { scope: params.scope, primary, target: header, security: block.header }.to_vec();
        out.push(Opening {
            target: t,
            aad,
            tag,
            appended,
            variant: params.variant,
            iv: params.iv.clone(),
            keys: keys.clone(),
        });
    }
    Ok(out)
}

fn unauthenticated(number: u64, t: u64) -> SecurityError {
    failed("the tag does not authenticate the target under any key for this source").in_block(number).on_target(t)
}

/// The plaintexts of BCB `number`'s targets, in its target order (the check a BCB verifier
/// makes).
pub fn decrypt_targets(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    security: &Security,
    number: u64,
    keys: &[&[u8]],
) -> Result<Vec<(u64, Vec<u8>)>, SecurityError> {
    let mut out = Vec::new();
    for o in plan(bundle, security, number, keys)? {
        let data = security.canonical(bundle, o.target).map(|b| b.data.as_ref()).unwrap_or_default();
        let ciphertext = o.ciphertext(data);
        let mut plain = ciphertext.to_vec();
        if !o.open(crypto, &mut plain, ciphertext) {
            return Err(unauthenticated(number, o.target));
        }
        out.push((o.target, plain));
    }
    Ok(out)
}

/// Decrypts every target of BCB `number` and removes it (the acceptor role); see
/// [`accept_bcbs`].
pub fn accept_bcb(crypto: &dyn Crypto, bundle: &Bundle, number: u64, keys: &[&[u8]]) -> Result<Bundle, SecurityError> {
    accept_bcbs(crypto, bundle, &[(number, keys)])
}

/// Decrypts every target of each BCB listed (with its candidate keys) and removes them, in
/// one step. A BIB they encrypt must share a target with them: RFC 9172 3.8 asks that of
/// the one BCB; hardy puts the BIB and its target in a BCB each, which keeps the point
/// when both are accepted together. The bundle that results must keep the rules.
pub fn accept_bcbs(crypto: &dyn Crypto, bundle: &Bundle, bcbs: &[(u64, &[&[u8]])]) -> Result<Bundle, SecurityError> {
    accept_bcbs_with(crypto, bundle, &Security::of(bundle)?, bcbs)
}

/// [`accept_bcbs`] with the bundle's security blocks already read.
pub(crate) fn accept_bcbs_with(
    crypto: &dyn Crypto,
    bundle: &Bundle,
    security: &Security,
    bcbs: &[(u64, &[&[u8]])],
) -> Result<Bundle, SecurityError> {
    let mut openings = Vec::new();
    for &(number, keys) in bcbs {
        openings.extend(plan(bundle, security, number, keys)?.into_iter().map(|o| (number, o)));
    }
    let opened = numbers::set(openings.iter().map(|(_, o)| o.target));
    let mut editor = bundle.edit();
    editor.remove_blocks(&bcbs.iter().map(|b| b.0).collect::<Vec<u64>>());
    // `plan` found every target in the bundle.
    let targets: Vec<(u64, &Opening<'_>, &crate::bundle::CanonicalBlock)> =
        openings.iter().filter_map(|(number, o)| Some((*number, o, security.canonical(bundle, o.target)?))).collect();
    // A tag appended to the ciphertext changes the block's length, and a CRC (a relay may
    // have added one) must be computed again: those targets are decrypted apart. The others
    // are decrypted in the output buffer itself.
    let apart = |o: &Opening<'_>, b: &crate::bundle::CanonicalBlock| o.appended || b.crc_type != CrcType::None;
    let mut changes = Vec::new();
    for &(number, o, block) in targets.iter().filter(|(_, o, b)| apart(o, b)) {
        let ciphertext = o.ciphertext(&block.data);
        let mut plain = ciphertext.to_vec();
        if !o.open(crypto, &mut plain, ciphertext) {
            return Err(unauthenticated(number, o.target));
        }
        shares_a_target(block, &plain, &opened, number)?;
        changes.push((o.target, Bytes::from(plain), block.crc_type));
    }
    editor.set_blocks_data(changes);
    let mut out = Vec::new();
    let mut ranges = Vec::new();
    editor.encode_locating(&mut out, |n, r| {
        if opened.contains(n) {
            ranges.push((n, r));
        }
    });
    let ranges = Numbers::new(ranges);
    for &(number, o, block) in targets.iter().filter(|(_, o, b)| !apart(o, b)) {
        let data = ranges.get(o.target).and_then(|r| out.get_mut(r.clone())).unwrap_or_default();
        if data.len() != block.data.len() || !o.open(crypto, data, &block.data) {
            return Err(unauthenticated(number, o.target));
        }
        shares_a_target(block, data, &opened, number)?;
    }
    let out =
        Bundle::parse_own(Bytes::from(out), ParseMode::Relaxed).map_err(|_| failed("the bundle does not re-encode"))?;
    Security::of(&out)?;
    Ok(out)
}

/// For a decrypted BIB: one of its targets is among those decrypted with it.
fn shares_a_target(
    block: &crate::bundle::CanonicalBlock,
    plain: &[u8],
    opened: &Numbers<()>,
    bcb: u64,
) -> Result<(), SecurityError> {
    if block.block_type != block_type::BIB {
        return Ok(());
    }
    let bib = Asb::decode(plain, ParseMode::Strict).map_err(|e| failed(e.message).in_block(block.number))?;
    if !bib.targets.iter().any(|&x| opened.contains(x)) {
        return Err(SecurityError::new(
            Failure::Conflicting,
            "an encrypted BIB shares a target with the BCBs that encrypt it",
        )
        .in_block(bcb)
        .on_target(block.number));
    }
    Ok(())
}
