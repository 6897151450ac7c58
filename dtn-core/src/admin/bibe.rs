//! Bundle-in-Bundle Encapsulation with custody (draft-ietf-dtn-bibect): the BIBE protocol data
//! unit and the custody signal, both administrative records.
//!
//! The draft never settled its record type codes: 3 (BPDU) and 4 (custody signal) are what
//! HDTN and DTNME use and our default; ION uses 7 and 8 ([`CustodyCodes::ION`]). Decoding accepts
//! both pairs. Dispositions use the RFC 5050 custody-signal reason codes, as ION does.

use alloc::vec::Vec;

use bytes::Bytes;

use super::AdminError;
use crate::cbor::{CborError, Reader, writer};

/// Record type codes for BIBE PDUs and custody signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodyCodes {
    /// BIBE protocol data unit.
    pub bpdu: u64,
    /// Custody signal.
    pub signal: u64,
}

impl CustodyCodes {
    /// HDTN and DTNME (our default).
    pub const DRAFT: CustodyCodes = CustodyCodes { bpdu: 3, signal: 4 };
    /// ION's BIBE.
    pub const ION: CustodyCodes = CustodyCodes { bpdu: 7, signal: 8 };
}

impl Default for CustodyCodes {
    fn default() -> Self {
        Self::DRAFT
    }
}

/// A BIBE protocol data unit: an encapsulated bundle, with custody requested when the
/// transmission ID is not 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpdu {
    /// Custodial transmission ID; 0 = no custody requested.
    pub transmission_id: u64,
    /// DTN time (ms) by which the sender expects a custody signal; 0 without custody.
    pub retransmission_time: u64,
    /// The encapsulated bundle, encoded.
    pub bundle: Bytes,
}

impl Bpdu {
    /// Appends the record content.
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::array(out, 3);
        writer::uint(out, self.transmission_id);
        writer::uint(out, self.retransmission_time);
        writer::bytes(out, &self.bundle);
    }

    pub(super) fn decode(r: &mut Reader<'_>, payload: &Bytes) -> Result<Self, AdminError> {
        let bad = |what: &'static str| move |e: CborError| AdminError::InvalidBibe { offset: e.offset, what };
        let at = r.position();
        if r.array().map_err(bad("BPDU is not an array"))? != Some(3) {
            return Err(AdminError::InvalidBibe { offset: at, what: "a BPDU has 3 elements" });
        }
        let transmission_id = r.uint().map_err(bad("transmission ID"))?;
        let retransmission_time = r.uint().map_err(bad("retransmission time"))?;
        let range = r.bytes_range().map_err(bad("encapsulated bundle"))?;
        Ok(Bpdu { transmission_id, retransmission_time, bundle: payload.slice(range) })
    }
}

/// What a custodian's peer decided (RFC 5050 custody-signal reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Disposition {
    /// Custody accepted.
    Accepted,
    /// Refused: the peer already has (or had) the bundle.
    Redundant,
    /// Refused: no storage left.
    DepletedStorage,
    /// Refused: destination endpoint unintelligible.
    DestinationUnintelligible,
    /// Refused: no known route to the destination.
    NoKnownRoute,
    /// Refused: no timely contact with the next node.
    NoTimelyContact,
    /// Refused: a block was unintelligible.
    BlockUnintelligible,
    /// Another code, kept as received.
    Other(u64),
}

impl Disposition {
    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            Disposition::Accepted => 0,
            Disposition::Redundant => 3,
            Disposition::DepletedStorage => 4,
            Disposition::DestinationUnintelligible => 5,
            Disposition::NoKnownRoute => 6,
            Disposition::NoTimelyContact => 7,
            Disposition::BlockUnintelligible => 8,
            Disposition::Other(code) => code,
        }
    }

    /// The disposition for a wire code.
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => Disposition::Accepted,
            3 => Disposition::Redundant,
            4 => Disposition::DepletedStorage,
            5 => Disposition::DestinationUnintelligible,
            6 => Disposition::NoKnownRoute,
            7 => Disposition::NoTimelyContact,
            8 => Disposition::BlockUnintelligible,
            other => Disposition::Other(other),
        }
    }

    /// True when the custodian may release the bundle: accepted, or the peer already has it.
    pub fn releases(self) -> bool {
        matches!(self, Disposition::Accepted | Disposition::Redundant)
    }
}

/// A custody signal: one disposition for ranges of transmission IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodySignal {
    /// The decision.
    pub disposition: Disposition,
    /// `(first, count)` ranges of transmission IDs, ascending and disjoint.
    pub ranges: Vec<(u64, u64)>,
}

impl CustodySignal {
    /// A signal for `ids` (any order, duplicates allowed), aggregated into ascending ranges.
    pub fn aggregate(disposition: Disposition, ids: impl IntoIterator<Item = u64>) -> Self {
        let mut ids: Vec<u64> = ids.into_iter().filter(|&id| id != 0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for id in ids {
            match ranges.last_mut() {
                Some((first, count)) if *first + *count == id => *count += 1,
                _ => ranges.push((id, 1)),
            }
        }
        CustodySignal { disposition, ranges }
    }

    /// Every transmission ID the signal covers.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(first, count)| first..first.saturating_add(count))
    }

    /// Appends the record content.
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::array(out, 2);
        writer::uint(out, self.disposition.code());
        writer::array(out, self.ranges.len() as u64);
        for &(first, count) in &self.ranges {
            writer::array(out, 2);
            writer::uint(out, first);
            writer::uint(out, count);
        }
    }

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Self, AdminError> {
        let bad = |what: &'static str| move |e: CborError| AdminError::InvalidCustodySignal { offset: e.offset, what };
        let at = r.position();
        if r.array().map_err(bad("signal is not an array"))? != Some(2) {
            return Err(AdminError::InvalidCustodySignal { offset: at, what: "a custody signal has 2 elements" });
        }
        let disposition = Disposition::from_code(r.uint().map_err(bad("disposition"))?);
        let n = r.array().map_err(bad("ranges"))?;
        let mut ranges = Vec::new();
        let mut next_free = 1u64;
        let mut remaining = n;
        loop {
            match remaining.as_mut() {
                Some(0) => break,
                Some(k) => *k -= 1,
                None if r.at_break() => {
                    r.read_break().map_err(bad("ranges"))?;
                    break;
                }
                None => {}
            }
            let at = r.position();
            if r.array().map_err(bad("range"))? != Some(2) {
                return Err(AdminError::InvalidCustodySignal { offset: at, what: "a range is [first, count]" });
            }
            let first = r.uint().map_err(bad("first transmission ID"))?;
            let count = r.uint().map_err(bad("range count"))?;
            if count == 0 || first < next_free {
                return Err(AdminError::InvalidCustodySignal {
                    offset: at,
                    what: "ranges must be non-empty, ascending and disjoint",
                });
            }
            next_free = first.saturating_add(count);
            ranges.push((first, count));
        }
        Ok(CustodySignal { disposition, ranges })
    }
}
