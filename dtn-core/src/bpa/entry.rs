//! What the agent keeps in RAM per stored bundle, and the record it persists with it.

use alloc::vec::Vec;

use crate::cbor::{Reader, writer};
use crate::routing::{NodeId, Priority};
use crate::time::DtnTime;

/// Where a stored bundle is in its life at this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleState {
    /// Waiting for a route, a link or a contact.
    Waiting,
    /// Handed to a link; waiting for the convergence layer's verdict.
    InFlight,
    /// Destined here and waiting for a passive registration to collect it.
    AwaitingDelivery,
    /// A fragment destined here, waiting for the rest of its ADU.
    AwaitingReassembly,
}

/// Per-bundle metadata held in RAM (kept small: see BENCHMARKS.md for its measured size).
#[derive(Debug, Clone)]
pub struct BundleEntry {
    /// The node to route towards.
    pub destination: Option<NodeId>,
    /// When the bundle expires at this node.
    pub expiry: DtnTime,
    /// Encoded size in bytes.
    pub size: u32,
    /// When this node received (or created) it.
    pub received_at: DtnTime,
    /// The node it came from.
    pub previous_hop: Option<NodeId>,
    /// Its routing priority.
    pub priority: Priority,
    /// Where it is in its life here.
    pub state: BundleState,
    /// Volume booked for it by the router, to release on a failed transmission.
    pub booking: Option<crate::routing::router::BookingId>,
}

/// The persisted part of an entry: enough to resume after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistedMeta {
    /// When this node received it.
    pub received_at: DtnTime,
    /// The node it came from (0 = none: created here).
    pub previous_hop: NodeId,
    /// Priority code.
    pub priority: u8,
}

impl PersistedMeta {
    /// Encodes as a CBOR array.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        writer::array(&mut out, 3);
        writer::uint(&mut out, self.received_at.0);
        writer::uint(&mut out, self.previous_hop);
        writer::uint(&mut out, u64::from(self.priority));
        out
    }

    /// Decodes what [`Self::encode`] wrote; `None` if it is not that.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        if r.array().ok()? != Some(3) {
            return None;
        }
        let received_at = DtnTime(r.uint().ok()?);
        let previous_hop = r.uint().ok()?;
        let priority = u8::try_from(r.uint().ok()?).ok()?;
        r.is_empty().then_some(PersistedMeta { received_at, previous_hop, priority })
    }
}

/// Priority from its code (unknown codes are Normal).
pub fn priority_from(code: u8) -> Priority {
    match code {
        0 => Priority::Bulk,
        2 => Priority::Expedited,
        _ => Priority::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_meta_round_trips() {
        let m = PersistedMeta { received_at: DtnTime(757_382_400_123), previous_hop: 4_000_000_000, priority: 2 };
        assert_eq!(PersistedMeta::decode(&m.encode()), Some(m));
        assert_eq!(PersistedMeta::decode(&[0x80]), None);
    }
}
