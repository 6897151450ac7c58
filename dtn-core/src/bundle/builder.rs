//! Building new bundles with canonical encoding (RFC 9171 4).

use alloc::vec::Vec;

use bytes::Bytes;

use super::Bundle;
use super::block::encode_block;
use super::error::BundleError;
use super::ext::{HopCount, bundle_age_data, previous_node_data};
use super::flags::{BlockFlags, BundleFlags, block_type};
use super::primary::{FragmentInfo, PrimaryBlock};
use crate::cbor::writer;
use crate::crc::CrcType;
use crate::eid::Eid;
use crate::time::CreationTimestamp;

/// An extension block to add: type, flags, CRC and data; numbered in the order added from 2.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExtensionSpec {
    block_type: u64,
    number: Option<u64>,
    flags: BlockFlags,
    crc_type: CrcType,
    data: Bytes,
}

/// Builds a bundle: set the fields, then [`BundleBuilder::encode`] for the bytes or
/// [`BundleBuilder::build`] for a validated [`Bundle`].
///
/// Defaults: report-to = source, lifetime 1 hour, creation time unknown (0) with sequence 0,
/// CRC-32C on the primary block, no CRC on other blocks, no flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleBuilder {
    primary: PrimaryBlock,
    block_crc: CrcType,
    payload_flags: BlockFlags,
    extensions: Vec<ExtensionSpec>,
    payload: Bytes,
}

impl BundleBuilder {
    /// A bundle from `source` to `destination`.
    pub fn new(source: Eid, destination: Eid) -> Self {
        BundleBuilder {
            primary: PrimaryBlock {
                flags: BundleFlags::default(),
                crc_type: CrcType::Crc32c,
                report_to: source.clone(),
                destination,
                source,
                creation: CreationTimestamp::default(),
                lifetime_ms: 3_600_000,
                fragment: None,
            },
            block_crc: CrcType::None,
            payload_flags: BlockFlags::default(),
            extensions: Vec::new(),
            payload: Bytes::new(),
        }
    }

    /// A builder holding every field of `bundle`: primary block, extension blocks with their
    /// numbers, flags and CRC types, and the payload (shared, not copied). Encoding it yields the
    /// canonical form of the bundle.
    pub fn from_bundle(bundle: &Bundle) -> Self {
        let payload = bundle.payload_block();
        let blocks = bundle.blocks();
        let extensions = blocks
            .get(..blocks.len().saturating_sub(1))
            .unwrap_or(&[])
            .iter()
            .map(|b| ExtensionSpec {
                block_type: b.block_type,
                number: Some(b.number),
                flags: b.flags,
                crc_type: b.crc_type,
                data: b.data.clone(),
            })
            .collect();
        BundleBuilder {
            primary: bundle.primary().clone(),
            block_crc: payload.crc_type,
            payload_flags: payload.flags,
            extensions,
            payload: payload.data.clone(),
        }
    }

    /// Where status reports go.
    pub fn report_to(mut self, eid: Eid) -> Self {
        self.primary.report_to = eid;
        self
    }

    /// Bundle processing control flags (the fragment flag is managed by fragmentation).
    pub fn flags(mut self, flags: BundleFlags) -> Self {
        self.primary.flags = flags.with(BundleFlags::IS_FRAGMENT, self.primary.fragment.is_some());
        self
    }

    /// Creation timestamp.
    pub fn creation(mut self, creation: CreationTimestamp) -> Self {
        self.primary.creation = creation;
        self
    }

    /// Lifetime in milliseconds.
    pub fn lifetime_ms(mut self, ms: u64) -> Self {
        self.primary.lifetime_ms = ms;
        self
    }

    /// CRC type of the primary block.
    pub fn primary_crc(mut self, crc: CrcType) -> Self {
        self.primary.crc_type = crc;
        self
    }

    /// CRC type of the payload and of extension blocks added after this call.
    pub fn block_crc(mut self, crc: CrcType) -> Self {
        self.block_crc = crc;
        self
    }

    /// The same CRC type on every block.
    pub fn crc(self, crc: CrcType) -> Self {
        self.primary_crc(crc).block_crc(crc)
    }

    /// Marks the bundle as a fragment of an ADU (used by fragmentation).
    pub fn fragment(mut self, info: Option<FragmentInfo>) -> Self {
        self.primary.fragment = info;
        self.primary.flags = self.primary.flags.with(BundleFlags::IS_FRAGMENT, info.is_some());
        self
    }

    /// Payload block flags.
    pub fn payload_flags(mut self, flags: BlockFlags) -> Self {
        self.payload_flags = flags;
        self
    }

    /// The payload (not copied until encoding).
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Adds an extension block with the next free number.
    pub fn block(mut self, block_type: u64, flags: BlockFlags, data: impl Into<Bytes>) -> Self {
        let crc_type = self.block_crc;
        self.extensions.push(ExtensionSpec { block_type, number: None, flags, crc_type, data: data.into() });
        self
    }

    /// Adds an extension block with an explicit number and CRC type.
    pub fn numbered_block(
        mut self,
        block_type: u64,
        number: u64,
        flags: BlockFlags,
        crc_type: CrcType,
        data: impl Into<Bytes>,
    ) -> Self {
        self.extensions.push(ExtensionSpec { block_type, number: Some(number), flags, crc_type, data: data.into() });
        self
    }

    /// Adds a Previous Node block.
    pub fn previous_node(self, node: &Eid) -> Self {
        self.block(block_type::PREVIOUS_NODE, BlockFlags::default(), previous_node_data(node))
    }

    /// Adds a Bundle Age block.
    pub fn bundle_age_ms(self, age: u64) -> Self {
        self.block(block_type::BUNDLE_AGE, BlockFlags::default(), bundle_age_data(age))
    }

    /// Adds a Hop Count block (replicated in every fragment, as a hop limit must be).
    pub fn hop_count(self, limit: u64, count: u64) -> Self {
        self.block(block_type::HOP_COUNT, BlockFlags::REPLICATE, HopCount { limit, count }.to_data())
    }

    /// The primary block as it will be encoded.
    pub fn primary(&self) -> &PrimaryBlock {
        &self.primary
    }

    /// Encodes the bundle canonically (indefinite outer array, shortest heads, CRCs filled in).
    /// The payload is copied once, into an output of exactly the bundle's size (a stored bundle
    /// pins no slack).
    pub fn encode(&self) -> Vec<u8> {
        let payload_block = 1
            + 1
            + 1
            + writer::head_len(self.payload_flags.0)
            + 1
            + writer::head_len(self.payload.len() as u64)
            + self.payload.len()
            + if self.block_crc == CrcType::None { 0 } else { 1 + self.block_crc.value_len() };
        let extension_len: usize = self.extensions.iter().map(|e| e.data.len() + 32).sum();
        let mut out = Vec::with_capacity(1 + 160 + extension_len + payload_block + 1);
        self.encode_into(&mut out);
        out.shrink_to_fit();
        out
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        writer::indefinite_array(out);
        self.primary.encode(out);
        // Explicit numbers, sorted once: numbering n blocks costs n log n, not n².
        let mut taken: Vec<u64> = self.extensions.iter().filter_map(|e| e.number).collect();
        taken.sort_unstable();
        let mut next: u64 = 2;
        for ext in &self.extensions {
            let number = ext.number.unwrap_or_else(|| {
                while taken.binary_search(&next).is_ok() {
                    next = next.saturating_add(1);
                }
                next = next.saturating_add(1);
                next - 1
            });
            encode_block(out, ext.block_type, number, ext.flags, ext.crc_type, &ext.data);
        }
        encode_block(out, block_type::PAYLOAD, 1, self.payload_flags, self.block_crc, &self.payload);
        writer::stop(out);
    }

    /// Encodes the bundle and checks it against every rule a receiver applies (strict mode).
    pub fn build(&self) -> Result<Bundle, BundleError> {
        Bundle::parse_own(Bytes::from(self.encode()), crate::parse_mode::ParseMode::Strict)
    }
}
