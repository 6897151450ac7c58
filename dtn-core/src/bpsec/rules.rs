//! A bundle's security blocks and RFC 9172's rules over them (3.2–3.9), checked together
//! before any operation runs:
//!
//! - every target is in the bundle, and no target has two operations of one service;
//! - a BIB targets neither a BIB nor a BCB (no BIB over a BCB);
//! - a BCB never targets the primary block or another BCB, and none may be discarded when
//!   unprocessable (a relay that dropped it would leave ciphertext no one can open). One
//!   over the payload goes into every fragment (RFC 9172 3.9): our fragmenter copies every
//!   security block over the payload whatever its "replicate" flag says, so a BCB without
//!   the flag (the COSE draft's examples send none) is accepted;
//! - a BCB over a block a BIB protects also covers that BIB (an unencrypted BIB over
//!   ciphertext conflicts); whether an encrypted BIB shares a target with its BCB is
//!   checked when it is decrypted ([`super::verifier`]).
//!
//! Unknown security contexts are fine here: a forwarder carries them unchanged.

use alloc::vec::Vec;

use super::asb::Asb;
use super::error::{Failure, SecurityError};
use super::hmac_sha2::BlockHeader;
use super::numbers::Numbers;
use crate::bundle::{BlockFlags, Bundle, CanonicalBlock, block_type};
use crate::parse_mode::ParseMode;

/// One BIB or BCB of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityBlock {
    /// Its header (type, number, flags).
    pub header: BlockHeader,
    /// The decoded block; `None` for a BIB a BCB encrypts (its data is ciphertext).
    pub asb: Option<Asb>,
}

impl SecurityBlock {
    /// The block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// Whether it is a BIB (else a BCB).
    pub fn is_bib(&self) -> bool {
        self.header.block_type == block_type::BIB
    }

    /// Its targets (none known while it is encrypted).
    pub fn targets(&self) -> &[u64] {
        self.asb.as_ref().map_or(&[], |a| a.targets.as_slice())
    }
}

/// The security blocks of one bundle, checked against RFC 9172's rules, with the bundle's
/// block numbers indexed: every lookup is a binary search, so a hostile bundle of many
/// blocks and targets costs linear work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    blocks: Vec<SecurityBlock>,
    /// Security block number → index in `blocks`.
    numbers: Numbers,
    /// Target → index in `blocks` of the BIB over it, and of the BCB.
    bibs: Numbers,
    bcbs: Numbers,
    /// Every canonical block number → its position in the bundle's blocks.
    canonical: Numbers,
}

fn header(block: &CanonicalBlock) -> BlockHeader {
    BlockHeader { block_type: block.block_type, number: block.number, flags: block.flags.0 }
}

impl Security {
    /// Reads and checks the security blocks of `bundle` (linear in its blocks and targets
    /// up to sorts).
    pub fn of(bundle: &Bundle) -> Result<Security, SecurityError> {
        let blocks = bundle.blocks();
        // Block numbers sorted once: each target is a binary search, not a scan.
        let canonical = Numbers::of_blocks(blocks);
        let type_of = |n: u64| canonical.block(blocks, n).map(|b| b.block_type);
        let exists = |n: u64| n == 0 || canonical.contains(n);
        let mut out = Vec::new();
        // BCBs first: they are never encrypted, and say which blocks are.
        let mut encrypted: Vec<(u64, usize)> = Vec::new();
        for block in blocks.iter().filter(|b| b.block_type == block_type::BCB) {
            let asb = decode(block)?;
            let fail = |m| Err(SecurityError::new(Failure::Conflicting, m).in_block(block.number));
            if block.flags.contains(BlockFlags::DISCARD_IF_UNPROCESSABLE) {
                return fail("a BCB may not be discarded when unprocessable");
            }
            for &t in &asb.targets {
                let fail = |m| Err(SecurityError::new(Failure::Conflicting, m).in_block(block.number).on_target(t));
                if t == 0 {
                    return fail("a BCB never targets the primary block");
                }
                match type_of(t) {
                    None => return fail("the target is not in the bundle"),
                    Some(block_type::BCB) => return fail("a BCB never targets a BCB"),
                    Some(_) => {}
                }
                encrypted.push((t, out.len()));
            }
            out.push(SecurityBlock { header: header(block), asb: Some(asb) });
        }
        if let Some(t) = duplicate(&mut encrypted) {
            return Err(SecurityError::new(Failure::Conflicting, "two BCBs target one block").on_target(t));
        }
        let bcbs = Numbers::new(encrypted);
        let is_encrypted = |n: u64| bcbs.contains(n);
        let mut signed: Vec<(u64, usize)> = Vec::new();
        for block in blocks.iter().filter(|b| b.block_type == block_type::BIB) {
            if is_encrypted(block.number) {
                out.push(SecurityBlock { header: header(block), asb: None });
                continue;
            }
            let asb = decode(block)?;
            for &t in &asb.targets {
                let fail = |m| Err(SecurityError::new(Failure::Conflicting, m).in_block(block.number).on_target(t));
                if !exists(t) {
                    return fail("the target is not in the bundle");
                }
                if matches!(type_of(t), Some(block_type::BIB | block_type::BCB)) {
                    return fail("a BIB never targets a security block");
                }
                if is_encrypted(t) {
                    return fail("a BCB over a block a BIB protects also covers that BIB");
                }
                signed.push((t, out.len()));
            }
            out.push(SecurityBlock { header: header(block), asb: Some(asb) });
        }
        if let Some(t) = duplicate(&mut signed) {
            return Err(SecurityError::new(Failure::Conflicting, "two BIBs target one block").on_target(t));
        }
        let numbers = Numbers::new(out.iter().enumerate().map(|(i, b)| (b.number(), i)));
        Ok(Security { blocks: out, numbers, bibs: Numbers::new(signed), bcbs, canonical })
    }

    /// The security blocks, BCBs first.
    pub fn blocks(&self) -> &[SecurityBlock] {
        &self.blocks
    }

    /// Whether the bundle has none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The security block with this number.
    pub fn block(&self, number: u64) -> Option<&SecurityBlock> {
        self.numbers.get(number).and_then(|&i| self.blocks.get(i))
    }

    /// The (readable) BIB that protects `target`.
    pub fn bib_over(&self, target: u64) -> Option<&SecurityBlock> {
        self.bibs.get(target).and_then(|&i| self.blocks.get(i))
    }

    /// The BCB that encrypts `target`.
    pub fn bcb_over(&self, target: u64) -> Option<&SecurityBlock> {
        self.bcbs.get(target).and_then(|&i| self.blocks.get(i))
    }

    /// The canonical block numbered `number` of `bundle`, the bundle this was read from.
    pub fn canonical<'b>(&self, bundle: &'b Bundle, number: u64) -> Option<&'b CanonicalBlock> {
        self.canonical.block(bundle.blocks(), number)
    }
}

fn decode(block: &CanonicalBlock) -> Result<Asb, SecurityError> {
    // Security blocks are read strictly (RFC 9172 4: deterministic CBOR): a value read
    // leniently would be signed or checked as something other than what was sent.
    Asb::decode(&block.data, ParseMode::Strict)
        .map_err(|e| SecurityError::new(Failure::Failed, e.message).in_block(block.number))
}

/// Refuses an operation whose targets each need `per_target` bytes of its own work (an IPPT
/// or AAD repeating the primary block, a scope over large blocks) when their product passes
/// what this node hashes for one bundle: 64 MiB, or 4 times the bundle. A peer's bundle of a
/// huge primary block and many targets would otherwise cost the square of its size.
pub(crate) fn within_work(targets: usize, per_target: usize, bundle_len: usize) -> Result<(), SecurityError> {
    let limit = (64usize << 20).max(bundle_len.saturating_mul(4));
    if targets.saturating_mul(per_target) > limit {
        return Err(SecurityError::new(
            Failure::Failed,
            "the targets times their share of the IPPT or AAD are more than this node hashes for one bundle",
        ));
    }
    Ok(())
}

/// A target that occurs twice (sorts `targets`).
fn duplicate(targets: &mut [(u64, usize)]) -> Option<u64> {
    targets.sort_unstable();
    targets.windows(2).find(|w| w.first().map(|e| e.0) == w.get(1).map(|e| e.0)).and_then(|w| w.first()).map(|e| e.0)
}
