//! Contacts: scheduled one-way transmission opportunities (CCSDS 734.3-B-1 section 2).

use super::time::{NANOS_PER_SEC, PlanTime, transmission_nanos};

/// A node number (the `ipn` node number of the node).
pub type NodeId = u64;

/// Index of a contact in its [`super::ContactPlan`].
pub type ContactId = u32;

/// A window during which `from` can send to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// When transmission may begin.
    pub start: PlanTime,
    /// When the last byte must have left.
    pub end: PlanTime,
    /// Transmission rate in bytes per second; 0 means unlimited.
    pub rate_bytes_per_sec: u64,
    /// One-way light time in nanoseconds.
    pub owlt_nanos: i64,
    /// Probability that the contact happens, 0..=1.
    pub confidence: f32,
}

impl Contact {
    /// Bytes the contact can carry: rate × duration (saturating; unlimited for rate 0).
    pub fn volume(&self) -> u64 {
        if self.rate_bytes_per_sec == 0 {
            return u64::MAX;
        }
        let nanos = u128::try_from(self.end.0.saturating_sub(self.start.0)).unwrap_or(0);
        let bytes = u128::from(self.rate_bytes_per_sec) * nanos / NANOS_PER_SEC as u128;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }

    /// Time to send `size` bytes over this contact.
    pub fn transmission_nanos(&self, size: u64) -> i64 {
        transmission_nanos(size, self.rate_bytes_per_sec)
    }

    /// Duration in nanoseconds.
    pub fn duration_nanos(&self) -> i64 {
        self.end.0.saturating_sub(self.start.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_does_not_overflow_at_12_5_gbps_for_a_day() {
        let c = Contact {
            from: 1,
            to: 2,
            start: PlanTime::from_secs(0),
            end: PlanTime::from_secs(86_400),
            rate_bytes_per_sec: 12_500_000_000,
            owlt_nanos: 0,
            confidence: 1.0,
        };
        assert_eq!(c.volume(), 1_080_000_000_000_000);
        assert_eq!(Contact { rate_bytes_per_sec: 0, ..c }.volume(), u64::MAX);
        assert_eq!(c.transmission_nanos(12_500), 1_000);
    }
}
