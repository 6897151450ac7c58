//! Per-hop rewriting of a bundle (RFC 9171 4.4 and 5.4): Previous Node, Bundle Age and Hop
//! Count are updated on every hop; all other blocks, the primary block and the payload are
//! forwarded byte for byte, so signatures over them stay valid and the payload is never copied
//! when the output is sent as [`BundleEditor::chunks`].

use alloc::vec::Vec;

use bytes::Bytes;

use super::Bundle;
use super::block::CanonicalBlock;
use super::error::BundleError;
use super::ext::{HopCount, bundle_age_data, previous_node_data};
use super::flags::{BlockFlags, block_type};
use super::primary::PrimaryBlock;
use crate::crc::CrcType;
use crate::eid::Eid;

static START: [u8; 1] = [0x9f];
static STOP: [u8; 1] = [0xff];

/// Edits a bundle's blocks; only changed blocks are re-encoded.
#[derive(Debug, Clone)]
pub struct BundleEditor {
    /// The primary block, forwarded as received.
    primary_raw: Bytes,
    hop_count: Option<HopCount>,
    /// Blocks in wire order; an empty `raw` marks a block to re-encode.
    blocks: Vec<CanonicalBlock>,
}

impl BundleEditor {
    pub(super) fn new(bundle: &Bundle) -> Self {
        BundleEditor {
            primary_raw: bundle.primary_raw.clone(),
            hop_count: bundle.hop_count,
            blocks: bundle.blocks.clone(),
        }
    }

    /// Replaces the data of the first block of `block_type`, or adds such a block before the
    /// payload. Returns its number.
    fn upsert(&mut self, block_type: u64, flags: BlockFlags, data: Vec<u8>) -> u64 {
        if let Some(block) = self.blocks.iter_mut().find(|b| b.block_type == block_type) {
            block.data = Bytes::from(data);
            block.raw = Bytes::new();
            return block.number;
        }
        self.add_block(block_type, flags, CrcType::None, Bytes::from(data))
    }

    /// Sets the Previous Node block to `node` (this node's ID, before forwarding).
    pub fn set_previous_node(&mut self, node: &Eid) -> &mut Self {
        self.upsert(block_type::PREVIOUS_NODE, BlockFlags::default(), previous_node_data(node));
        self
    }

    /// Sets the Bundle Age block.
    pub fn set_bundle_age_ms(&mut self, age_ms: u64) -> &mut Self {
        self.upsert(block_type::BUNDLE_AGE, BlockFlags::default(), bundle_age_data(age_ms));
        self
    }

    /// Adds one to the hop count, if the bundle has a Hop Count block, and returns the new
    /// value. The caller deletes the bundle if [`HopCount::exceeded`].
    pub fn increment_hop_count(&mut self) -> Option<HopCount> {
        let block = self.blocks.iter_mut().find(|b| b.block_type == block_type::HOP_COUNT)?;
        let mut hc = self.hop_count?;
        hc.count = hc.count.saturating_add(1);
        block.data = Bytes::from(hc.to_data());
        block.raw = Bytes::new();
        self.hop_count = Some(hc);
        Some(hc)
    }

    /// Removes a non-payload block; returns whether it was there.
    pub fn remove_block(&mut self, number: u64) -> bool {
        self.remove_blocks(&[number]) == 1
    }

    /// Removes the non-payload blocks with these numbers in one pass (linear in the blocks,
    /// however many go); returns how many went.
    pub fn remove_blocks(&mut self, numbers: &[u64]) -> usize {
        let mut gone: Vec<u64> = numbers.to_vec();
        gone.sort_unstable();
        let before = self.blocks.len();
        self.blocks.retain(|b| b.block_type == block_type::PAYLOAD || gone.binary_search(&b.number).is_err());
        before - self.blocks.len()
    }

    /// Adds an extension block before the payload with a free number (the next after the
    /// highest, or the lowest free one above 1 when the highest is 2^64 − 1); returns it.
    pub fn add_block(&mut self, block_type: u64, flags: BlockFlags, crc_type: CrcType, data: Bytes) -> u64 {
        let number = self.free_number();
        let at = self.blocks.len().saturating_sub(1);
        self.blocks.insert(at, CanonicalBlock::new(block_type, number, flags, crc_type, data));
        number
    }

    /// Inserts an extension block with a given number at a position among the canonical
    /// blocks (0: right after the primary block; clamped to before the payload). Returns
    /// `false`, changing nothing, if the number is taken or is 0 or 1.
    pub fn insert_block(&mut self, index: usize, block: CanonicalBlock) -> bool {
        if block.number < 2 || self.blocks.iter().any(|b| b.number == block.number) {
            return false;
        }
        let at = index.min(self.blocks.len().saturating_sub(1));
        self.blocks.insert(at, CanonicalBlock { raw: Bytes::new(), ..block });
        true
    }

    /// Replaces a block's data and CRC type (the header stays); returns whether it is there.
    pub fn set_block_data(&mut self, number: u64, data: Bytes, crc_type: CrcType) -> bool {
        self.set_blocks_data(alloc::vec![(number, data, crc_type)]) == 1
    }

    /// Replaces the data and CRC type of several blocks in one pass (linear in the blocks
    /// up to a sort, however many change); returns how many were there. A number given
    /// twice takes one of its values.
    pub fn set_blocks_data(&mut self, mut changes: Vec<(u64, Bytes, CrcType)>) -> usize {
        changes.sort_by_key(|c| c.0);
        let mut done = 0;
        for block in &mut self.blocks {
            let Ok(i) = changes.binary_search_by_key(&block.number, |c| c.0) else { continue };
            if let Some((_, data, crc_type)) = changes.get(i) {
                block.data = data.clone();
                block.crc_type = *crc_type;
                block.raw = Bytes::new();
                done += 1;
            }
        }
        done
    }

    /// Replaces the primary block with this one, encoded canonically.
    pub fn set_primary(&mut self, primary: &PrimaryBlock) {
        self.primary_raw = Bytes::from(primary.to_vec());
    }

    /// The canonical blocks as they stand.
    pub fn blocks(&self) -> &[CanonicalBlock] {
        &self.blocks
    }

    /// The primary block's encoding as it stands.
    pub fn primary_raw(&self) -> &Bytes {
        &self.primary_raw
    }

    /// The number [`Self::add_block`] would give the next block.
    pub fn free_number(&self) -> u64 {
        let highest = self.blocks.iter().map(|b| b.number).max().unwrap_or(1).max(1);
        if let Some(next) = highest.checked_add(1) {
            return next;
        }
        let mut used: Vec<u64> = self.blocks.iter().map(|b| b.number).collect();
        used.sort_unstable();
        // 2^64 − 2 numbers above 1 and far fewer blocks: a gap exists.
        let mut candidate = 2;
        for n in used.into_iter().filter(|&n| n >= 2) {
            if n != candidate {
                break;
            }
            candidate += 1;
        }
        candidate
    }

    /// The encoded bundle as a list of buffers for vectored I/O: unchanged blocks and the
    /// payload are the received bytes themselves.
    pub fn chunks(&self) -> Vec<Bytes> {
        let mut chunks = Vec::with_capacity(self.blocks.len() + 3);
        chunks.push(Bytes::from_static(&START));
        chunks.push(self.primary_raw.clone());
        for block in &self.blocks {
            if block.raw.is_empty() {
                let mut out = Vec::with_capacity(block.data.len() + 16);
                block.encode(&mut out);
                chunks.push(Bytes::from(out));
            } else {
                chunks.push(block.raw.clone());
            }
        }
        chunks.push(Bytes::from_static(&STOP));
        chunks
    }

    /// Appends the edited bundle to `out` in one pass: received bytes for unchanged blocks,
    /// fresh encodings for changed ones (no intermediate buffers).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_locating(out, |_, _| {});
    }

    /// [`Self::encode_into`], telling `at` where each block's data lands in `out` (so a caller
    /// can work on it in place: BPSec encrypts the output buffer itself, no second copy).
    pub fn encode_locating(&self, out: &mut Vec<u8>, mut at: impl FnMut(u64, core::ops::Range<usize>)) {
        out.reserve(
            self.primary_raw.len() + self.blocks.iter().map(|b| b.raw.len().max(b.data.len() + 16)).sum::<usize>() + 2,
        );
        out.extend_from_slice(&START);
        out.extend_from_slice(&self.primary_raw);
        for block in &self.blocks {
            let start = out.len();
            let data_start = if block.raw.is_empty() {
                block.encode(out);
                // After the data: the CRC as a byte string (head and value), if any.
                let crc = if block.crc_type == CrcType::None { 0 } else { 1 + block.crc_type.value_len() };
                out.len() - crc - block.data.len()
            } else {
                out.extend_from_slice(&block.raw);
                let within = (block.data.as_ptr() as usize).saturating_sub(block.raw.as_ptr() as usize);
                start + within
            };
            at(block.number, data_start..data_start + block.data.len());
        }
        out.extend_from_slice(&STOP);
    }

    /// The edited bundle in one buffer.
    pub fn build(&self) -> Result<Bundle, BundleError> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        Bundle::parse_own(Bytes::from(out), crate::parse_mode::ParseMode::Relaxed)
    }
}
