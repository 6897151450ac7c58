//! What the agent keeps in RAM per stored bundle, and the record it persists with it.

use alloc::vec::Vec;
use core::num::NonZeroU64;

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
    /// Sent to a custodial peer; kept until its custody signal (or the timer) says what next.
    AwaitingCustody,
    /// Custody accepted downstream while the link still had it: forgotten when the link reports.
    Released,
    /// Custody refused downstream while the link still had it: routed again (after a back-off)
    /// when the link reports.
    Refused,
    /// Destined here and queued for a passive registration; stored until the application
    /// takes it.
    QueuedForApplication,
}

impl BundleState {
    /// Every state, in declaration order (the order of [`crate::bpa::Bpa::census`]).
    pub const ALL: [BundleState; 8] = [
        BundleState::Waiting,
        BundleState::InFlight,
        BundleState::AwaitingDelivery,
        BundleState::AwaitingReassembly,
        BundleState::AwaitingCustody,
        BundleState::Released,
        BundleState::Refused,
        BundleState::QueuedForApplication,
    ];
}

/// This node holds a bundle in custody and has handed it to a peer under a transmission ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodyTransmission {
    /// The BIBE transmission ID.
    pub transmission_id: u64,
    /// The custodial peer.
    pub peer: NodeId,
    /// When to send it again if no signal came.
    pub deadline: DtnTime,
    /// Digest of the bundle's key: a copy that comes back is found by it.
    pub key: u128,
    /// The hop count of the copy stored here: a copy that comes back with fewer than two more
    /// hops cannot have gone round a loop through this node.
    pub hop_count: Option<u64>,
}

impl CustodyTransmission {
    /// `key` and `hop_count` describe the stored bundle; they are not persisted, but
    /// recomputed from it on recovery.
    pub(crate) fn of(
        secret: u128,
        bundle: &crate::bundle::Bundle,
        transmission_id: u64,
        peer: NodeId,
        deadline: DtnTime,
    ) -> Self {
        CustodyTransmission {
            transmission_id,
            peer,
            deadline,
            key: super::receive::digest(secret, &super::receive::key_of(bundle)),
            hop_count: bundle.hop_count().map(|h| h.count),
        }
    }
}

/// What a node remembers of a bundle whose custody it passed on, by the digest of its key: a
/// copy that comes back may have gone round a loop (and is routed without these next hops) —
/// unless its hop count says it cannot have (a retransmission, or a copy sent again from
/// upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    /// The next hops it was given to (the last four; 0 = none).
    pub hops: [NodeId; 4],
    /// Until when to remember.
    pub until: DtnTime,
    /// The hop count it came with.
    pub hop_count: Option<u64>,
    /// How many copies have come back since (each may have gone round a loop).
    pub returns: u8,
}

/// Per-bundle metadata held in RAM: 64 bytes (see BENCHMARKS.md for the measured total).
#[derive(Debug, Clone)]
pub struct BundleEntry {
    /// The node to route towards (node numbers are never 0).
    pub destination: Option<NonZeroU64>,
    /// When the bundle expires at this node.
    pub expiry: DtnTime,
    /// Encoded size in bytes.
    pub size: u32,
    /// When this node received (or created) it.
    pub received_at: DtnTime,
    /// The node it came from.
    pub previous_hop: Option<NonZeroU64>,
    /// Its routing priority.
    pub priority: Priority,
    /// Where it is in its life here.
    pub state: BundleState,
    /// Volume booked for it by the router, to release on a failed transmission.
    pub booking: Option<crate::routing::router::BookingId>,
    /// The custodial transmission awaiting a custody signal (boxed: most bundles have none).
    pub custody: Option<alloc::boxed::Box<CustodyTransmission>>,
    /// Whether a "forwarded" status report is due when it leaves.
    pub reports_forwarding: bool,
    /// Transmissions of it that failed or were refused so far: each doubles the wait before
    /// the next try, up to [`crate::bpa::MAX_RETRY_BACKOFF`] retry intervals.
    pub failures: u8,
    /// The next hop it was last routed to.
    pub next_hop: Option<NonZeroU64>,
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
    /// The pending custodial transmission, if any.
    pub custody: Option<CustodyTransmission>,
}

impl PersistedMeta {
    /// Encodes as a CBOR array.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        writer::array(&mut out, if self.custody.is_some() { 6 } else { 3 });
        writer::uint(&mut out, self.received_at.0);
        writer::uint(&mut out, self.previous_hop);
        writer::uint(&mut out, u64::from(self.priority));
        if let Some(c) = self.custody {
            writer::uint(&mut out, c.transmission_id);
            writer::uint(&mut out, c.peer);
            writer::uint(&mut out, c.deadline.0);
        }
        out
    }

    /// Decodes what [`Self::encode`] wrote; `None` if it is not that.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let n = r.array().ok()?;
        if !matches!(n, Some(3 | 6)) {
            return None;
        }
        let received_at = DtnTime(r.uint().ok()?);
        let previous_hop = r.uint().ok()?;
        let priority = u8::try_from(r.uint().ok()?).ok()?;
        let custody = if n == Some(6) {
            Some(CustodyTransmission {
                transmission_id: r.uint().ok()?,
                peer: r.uint().ok()?,
                deadline: DtnTime(r.uint().ok()?),
                key: 0,
                hop_count: None,
            })
        } else {
            None
        };
        r.is_empty().then_some(PersistedMeta { received_at, previous_hop, priority, custody })
    }
}

/// What remains in the store of a bundle delivered here: its key, until it would have
/// expired, so a copy arriving after a restart is still known as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// Source, creation timestamp and fragment extent of the delivered bundle.
    pub key: crate::bpa::BundleKey,
    /// When it may be forgotten.
    pub until: DtnTime,
}

/// Marks a record as a tombstone (a persisted entry's record starts with an array head).
const TOMBSTONE: u64 = 1;

impl Tombstone {
    /// Encodes as `1, until, source, [time, seq], [offset, length]?` (a CBOR sequence).
    pub fn encode(&self) -> Vec<u8> {
        let (source, creation, fragment) = &self.key;
        let mut out = Vec::with_capacity(48);
        writer::uint(&mut out, TOMBSTONE);
        writer::uint(&mut out, self.until.0);
        source.encode(&mut out);
        writer::array(&mut out, 2);
        writer::uint(&mut out, creation.time.0);
        writer::uint(&mut out, creation.sequence);
        writer::array(&mut out, if fragment.is_some() { 2 } else { 0 });
        if let Some((offset, length)) = fragment {
            writer::uint(&mut out, *offset);
            writer::uint(&mut out, *length);
        }
        out
    }

    /// Decodes what [`Self::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        if r.uint().ok()? != TOMBSTONE {
            return None;
        }
        let until = DtnTime(r.uint().ok()?);
        let mode = crate::parse_mode::ParseMode::Relaxed;
        let source = crate::eid::Eid::decode(&mut r, mode, &mut crate::parse_mode::Relaxations::default()).ok()?;
        if r.array().ok()? != Some(2) {
            return None;
        }
        let creation = crate::time::CreationTimestamp::new(DtnTime(r.uint().ok()?), r.uint().ok()?);
        let fragment = match r.array().ok()? {
            Some(0) => None,
            Some(2) => Some((r.uint().ok()?, r.uint().ok()?)),
            _ => return None,
        };
        r.is_empty().then_some(Tombstone { key: (source, creation, fragment), until })
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
        let m = PersistedMeta {
            received_at: DtnTime(757_382_400_123),
            previous_hop: 4_000_000_000,
            priority: 2,
            custody: None,
        };
        assert_eq!(PersistedMeta::decode(&m.encode()), Some(m));
        let t = Tombstone {
            key: (crate::eid::Eid::ipn(4, 1), crate::time::CreationTimestamp::new(DtnTime(9), 2), Some((8, 12))),
            until: DtnTime(77),
        };
        assert_eq!(Tombstone::decode(&t.encode()), Some(t.clone()));
        assert_eq!(PersistedMeta::decode(&t.encode()), None);
        assert_eq!(Tombstone::decode(&m.encode()), None);
        let c = CustodyTransmission { transmission_id: 9, peer: 3, deadline: DtnTime(5), key: 0, hop_count: None };
        let m = PersistedMeta { custody: Some(c), ..m };
        assert_eq!(PersistedMeta::decode(&m.encode()), Some(m));
        assert_eq!(PersistedMeta::decode(&[0x80]), None);
    }
}
