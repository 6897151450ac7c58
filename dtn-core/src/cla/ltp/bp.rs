//! The LTP client service for the Bundle Protocol (service ID 1, as ION and HDTN use it):
//! one or more bundles per block, back to back.
//!
//! [`Aggregator`] gathers the bundles for one span into blocks, closing a block when it
//! reaches its size limit or when its oldest bundle has waited the time limit (ION's block
//! aggregation; the latency it adds is bounded by the time limit). [`bundles_in_block`]
//! takes a received block apart by reading each bundle's CBOR extent, without parsing it:
//! the agent parses each bundle as it would from any convergence layer.

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use crate::cbor::Reader;

/// The LTP client service ID of the Bundle Protocol.
pub const SERVICE_ID: u64 = 1;

/// A closed block and the host's tokens for the bundles in it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<T> {
    /// The bundles, back to back.
    pub data: Bytes,
    /// One token per bundle.
    pub bundles: Vec<T>,
}

/// Gathers bundles into blocks by size and by time.
#[derive(Debug, Clone)]
pub struct Aggregator<T> {
    size_limit: u64,
    time_limit: u64,
    parts: Vec<Bytes>,
    tokens: Vec<T>,
    bytes: u64,
    /// When the oldest bundle in the open block arrived.
    opened_at: Option<u64>,
}

impl<T> Aggregator<T> {
    /// Blocks close at `size_limit` bytes or `time_limit` after their first bundle (0: a
    /// block per bundle, at once). Time is in whatever unit the host passes to
    /// [`Aggregator::push`] and [`Aggregator::poll`].
    pub fn new(size_limit: u64, time_limit: u64) -> Self {
        Aggregator { size_limit, time_limit, parts: Vec::new(), tokens: Vec::new(), bytes: 0, opened_at: None }
    }

    /// Adds a bundle at `now`; returns the block if this closed it.
    pub fn push(&mut self, token: T, bundle: Bytes, now: u64) -> Option<Block<T>> {
        self.opened_at.get_or_insert(now);
        self.bytes += bundle.len() as u64;
        self.parts.push(bundle);
        self.tokens.push(token);
        if self.bytes >= self.size_limit || self.time_limit == 0 { self.close() } else { None }
    }

    /// When the open block must close, if one is open.
    pub fn deadline(&self) -> Option<u64> {
        self.opened_at.map(|at| at.saturating_add(self.time_limit))
    }

    /// The open block, if its time limit has passed at `now`.
    pub fn poll(&mut self, now: u64) -> Option<Block<T>> {
        if self.deadline().is_some_and(|deadline| deadline <= now) { self.close() } else { None }
    }

    /// Closes the open block now, if there is one (the link is going down, say).
    pub fn close(&mut self) -> Option<Block<T>> {
        self.opened_at = None;
        if self.parts.is_empty() {
            return None;
        }
        let data = if self.parts.len() == 1 {
            self.parts.pop().unwrap_or_default()
        } else {
            let mut whole = BytesMut::with_capacity(self.bytes as usize);
            for part in self.parts.drain(..) {
                whole.extend_from_slice(&part);
            }
            whole.freeze()
        };
        self.bytes = 0;
        Some(Block { data, bundles: core::mem::take(&mut self.tokens) })
    }

    /// Bytes in the open block.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bundles waiting in the open block.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// No block is open.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Why a block could not be taken apart past `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset} of the block: not a bundle ({cause})")]
pub struct BlockError {
    /// Block offset where the unreadable item starts.
    pub offset: usize,
    /// What the CBOR reader found.
    pub cause: crate::cbor::CborError,
}

/// The bundles in a received block, as zero-copy slices of it. Stops at the first item that
/// is not a complete CBOR item (what follows cannot be delimited); the bundles before it
/// are still returned. An item that is CBOR but not a bundle is returned for the agent to
/// refuse with its usual error.
pub fn bundles_in_block(block: &Bytes) -> (Vec<Bytes>, Option<BlockError>) {
    let mut bundles = Vec::new();
    let mut offset = 0;
    while offset < block.len() {
        let rest = block.get(offset..).unwrap_or_default();
        let mut reader = Reader::with_strictness(rest, false);
        if let Err(cause) = reader.skip() {
            return (bundles, Some(BlockError { offset, cause }));
        }
        let len = reader.position().max(1);
        bundles.push(block.slice(offset..offset + len));
        offset += len;
    }
    (bundles, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn bundle(n: u8, len: usize) -> Bytes {
        // An indefinite array holding one byte string: the shape of a bundle for the splitter.
        let mut out = vec![0x9f, 0x59, (len >> 8) as u8, len as u8];
        out.extend(core::iter::repeat_n(n, len));
        out.push(0xff);
        Bytes::from(out)
    }

    #[test]
    fn a_block_closes_at_its_size_limit_with_its_bundles_in_order() {
        let mut agg = Aggregator::new(1000, 50);
        assert_eq!(agg.push(1, bundle(1, 400), 0), None);
        assert_eq!(agg.push(2, bundle(2, 400), 5), None);
        let block = agg.push(3, bundle(3, 400), 6).expect("1,215 bytes reach the limit");
        assert_eq!(block.bundles, [1, 2, 3]);
        assert_eq!(bundles_in_block(&block.data), (vec![bundle(1, 400), bundle(2, 400), bundle(3, 400)], None));
        assert!(agg.is_empty() && agg.deadline().is_none());
    }

    #[test]
    fn a_block_closes_when_its_first_bundle_has_waited_the_time_limit() {
        let mut agg = Aggregator::new(1 << 20, 50);
        agg.push(1, bundle(1, 10), 100);
        agg.push(2, bundle(2, 10), 140);
        assert_eq!(agg.deadline(), Some(150));
        assert!(agg.poll(149).is_none());
        assert_eq!(agg.poll(150).map(|b| b.bundles), Some(vec![1, 2]));
        assert!(agg.poll(1000).is_none());
    }

    #[test]
    fn a_lone_bundle_is_its_own_block_without_a_copy() {
        let mut agg = Aggregator::new(10, 0);
        let b = bundle(9, 100);
        let block = agg.push((), b.clone(), 0).unwrap();
        assert_eq!(block.data.as_ptr(), b.as_ptr());
    }

    #[test]
    fn a_truncated_last_bundle_stops_the_split_with_its_offset() {
        let mut data = bundle(1, 20).to_vec();
        let first = data.len();
        data.extend_from_slice(&bundle(2, 20)[..10]);
        let (bundles, err) = bundles_in_block(&Bytes::from(data));
        assert_eq!(bundles.len(), 1);
        assert_eq!(err.map(|e| e.offset), Some(first));
    }

    proptest! {
        #[test]
        fn what_is_aggregated_splits_back_into_the_same_bundles(
            sizes in proptest::collection::vec(0usize..3000, 1..30), limit in 1u64..20_000
        ) {
            let mut agg = Aggregator::new(limit, 1000);
            let mut blocks = Vec::new();
            for (i, &len) in sizes.iter().enumerate() {
                blocks.extend(agg.push(i, bundle(i as u8, len), 0));
            }
            blocks.extend(agg.close());
            let mut seen = Vec::new();
            for block in blocks {
                let (bundles, err) = bundles_in_block(&block.data);
                prop_assert!(err.is_none());
                prop_assert_eq!(bundles.len(), block.bundles.len());
                for (token, data) in block.bundles.into_iter().zip(bundles) {
                    prop_assert_eq!(data, bundle(token as u8, sizes[token]));
                    seen.push(token);
                }
            }
            prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
        }

        #[test]
        fn any_block_splits_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let block = Bytes::from(data);
            let (bundles, _) = bundles_in_block(&block);
            let total: usize = bundles.iter().map(Bytes::len).sum();
            prop_assert!(total <= block.len());
        }
    }
}
