//! Bundles (RFC 9171 section 4): a zero-copy view over received bytes, a builder and encoder,
//! and an editor for the per-hop blocks.
//!
//! [`Bundle::parse`] takes a [`bytes::Bytes`] and keeps it: block data, the payload and each
//! block's encoded form are slices of that buffer, never copies, so parsing without a payload
//! CRC costs the same for 1 KiB and 1 GiB. Every block's received bytes are kept, and
//! [`Bundle::to_bytes`] returns the input itself when it was canonical, so forwarding never
//! disturbs a BIB signature. [`BundleBuilder`] makes new bundles; [`BundleEditor`] rewrites the
//! Previous Node, Bundle Age and Hop Count blocks and re-encodes only the blocks it changed.

mod block;
mod builder;
mod editor;
mod error;
pub(crate) mod ext;
pub mod flags;
mod parse;
mod primary;

use alloc::vec::Vec;

use bytes::Bytes;

pub use block::CanonicalBlock;
pub use builder::BundleBuilder;
pub use editor::BundleEditor;
pub use error::{BundleError, BundleErrorKind};
pub use ext::{HopCount, bundle_age_data, previous_node_data};
pub use flags::{BlockFlags, BundleFlags, block_type};
pub use primary::{BP_VERSION, FragmentInfo, PrimaryBlock};

use crate::eid::Eid;
use crate::parse_mode::Relaxations;
use crate::time::CreationTimestamp;

/// A parsed bundle: decoded header fields over the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The bundle as received (without any trailing bytes or CBOR tag prefix).
    raw: Bytes,
    primary: PrimaryBlock,
    /// The primary block's encoded bytes.
    primary_raw: Bytes,
    /// Canonical blocks in wire order; the payload block is last.
    blocks: Vec<CanonicalBlock>,
    previous_node: Option<Eid>,
    bundle_age_ms: Option<u64>,
    hop_count: Option<HopCount>,
    relaxations: Relaxations,
}

/// What a node does with a block it cannot process (RFC 9171 5.6 step 4), from the block's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnprocessableBlock {
    /// The block number.
    pub number: u64,
    /// The block type.
    pub block_type: u64,
    /// Send a "block unsupported" status report.
    pub report: bool,
    /// Delete the whole bundle (reason "block unsupported").
    pub delete_bundle: bool,
    /// Remove the block and forward the rest.
    pub discard_block: bool,
}

impl Bundle {
    /// The primary block.
    pub fn primary(&self) -> &PrimaryBlock {
        &self.primary
    }

    /// Destination endpoint.
    pub fn destination(&self) -> &Eid {
        &self.primary.destination
    }

    /// Source node ID.
    pub fn source(&self) -> &Eid {
        &self.primary.source
    }

    /// Bundle processing control flags.
    pub fn flags(&self) -> BundleFlags {
        self.primary.flags
    }

    /// Creation timestamp.
    pub fn creation(&self) -> CreationTimestamp {
        self.primary.creation
    }

    /// Canonical blocks in wire order (payload last).
    pub fn blocks(&self) -> &[CanonicalBlock] {
        &self.blocks
    }

    /// The block with `number`.
    pub fn block(&self, number: u64) -> Option<&CanonicalBlock> {
        self.blocks.iter().find(|b| b.number == number)
    }

    /// The payload block.
    pub fn payload_block(&self) -> &CanonicalBlock {
        // A parsed or built bundle always ends with its payload block; `parse` guarantees it.
        #[allow(clippy::expect_used)]
        self.blocks.last().expect("a bundle always has a payload block")
    }

    /// The payload (application data unit, or this fragment's part of it); a slice of the input.
    pub fn payload(&self) -> &Bytes {
        &self.payload_block().data
    }

    /// The Previous Node block's node ID.
    pub fn previous_node(&self) -> Option<&Eid> {
        self.previous_node.as_ref()
    }

    /// The Bundle Age block's value in milliseconds.
    pub fn bundle_age_ms(&self) -> Option<u64> {
        self.bundle_age_ms
    }

    /// The Hop Count block.
    pub fn hop_count(&self) -> Option<HopCount> {
        self.hop_count
    }

    /// True when the payload is an administrative record.
    pub fn is_admin_record(&self) -> bool {
        self.primary.flags.contains(BundleFlags::ADMIN_RECORD)
    }

    /// True when this bundle is a fragment.
    pub fn is_fragment(&self) -> bool {
        self.primary.fragment.is_some()
    }

    /// What a relaxed parse accepted; empty for a canonical bundle.
    pub fn relaxations(&self) -> Relaxations {
        self.relaxations
    }

    /// The blocks BCBs list as targets, sorted (their data is ciphertext, and a forwarder
    /// must not remove them: RFC 9172 3.8). Linear in the BCBs' data.
    pub fn encrypted_blocks(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for b in self.blocks.iter().filter(|b| b.block_type == block_type::BCB) {
            ext::asb_targets_any(&b.data, |t| {
                out.push(t);
                false
            });
        }
        out.sort_unstable();
        out
    }
    /// The bytes this bundle was parsed from (or built into).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The encoded primary block as received.
    pub fn primary_raw(&self) -> &Bytes {
        &self.primary_raw
    }

    /// The canonical encoding: the received bytes themselves when nothing was relaxed (no copy),
    /// otherwise a fresh encoding of every block.
    pub fn to_bytes(&self) -> Bytes {
        if self.relaxations.is_empty() {
            return self.raw.clone();
        }
        Bytes::from(BundleBuilder::from_bundle(self).encode())
    }

    /// RFC 9171 4.4.3: a bundle whose hop count exceeds its hop limit is deleted ("hop limit
    /// exceeded"). Parsing accepts such a bundle; a forwarding node calls this.
    pub fn check_hop_limit(&self) -> Result<(), BundleError> {
        match self.hop_count {
            Some(hc) if hc.exceeded() => {
                let offset = self
                    .blocks
                    .iter()
                    .find(|b| b.block_type == block_type::HOP_COUNT)
                    .map_or(0, |b| offset_in(&self.raw, &b.raw));
                Err(BundleError::new(BundleErrorKind::HopLimitExceeded { limit: hc.limit, count: hc.count }, offset))
            }
            _ => Ok(()),
        }
    }

    /// The blocks whose type `is_known` rejects, with what their flags ask for (RFC 9171 5.6
    /// step 4). BPSec blocks count as known only if `is_known` says so.
    pub fn unprocessable_blocks(&self, is_known: impl Fn(u64) -> bool) -> Vec<UnprocessableBlock> {
        self.blocks
            .iter()
            .filter(|b| !is_known(b.block_type))
            .map(|b| UnprocessableBlock {
                number: b.number,
                block_type: b.block_type,
                report: b.flags.contains(BlockFlags::REPORT_IF_UNPROCESSABLE),
                delete_bundle: b.flags.contains(BlockFlags::DELETE_BUNDLE_IF_UNPROCESSABLE),
                discard_block: b.flags.contains(BlockFlags::DISCARD_IF_UNPROCESSABLE),
            })
            .collect()
    }

    /// An editor for the per-hop blocks of this bundle.
    pub fn edit(&self) -> BundleEditor {
        BundleEditor::new(self)
    }
}

/// Offset of `part` within `whole` when it is a slice of it, else 0.
fn offset_in(whole: &Bytes, part: &Bytes) -> usize {
    (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize).filter(|o| *o <= whole.len()).unwrap_or(0)
}

/// Source and creation timestamp read from an encoded bundle's primary block alone (no CRC
/// check, the blocks after it not looked at), and whether it is a fragment: the identity of
/// a bundle this node stored itself, without a full parse.
pub(crate) fn primary_identity(bytes: &[u8]) -> Option<(Eid, CreationTimestamp, bool)> {
    let mut r = crate::cbor::Reader::new(bytes);
    r.array().ok()?;
    let mode = crate::parse_mode::ParseMode::Relaxed;
    let (primary, _) = primary::decode(&mut r, mode, &mut Relaxations::default(), false).ok()?;
    Some((primary.source, primary.creation, primary.fragment.is_some()))
}

#[cfg(test)]
mod tests;
