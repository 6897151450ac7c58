//! Status report reason codes (RFC 9171 6.1.1 Table 1, RFC 9172 11.3).

use core::fmt;

/// Why a status report was sent, or why a bundle was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonCode {
    /// 0: no additional information.
    NoInformation,
    /// 1: lifetime expired.
    LifetimeExpired,
    /// 2: forwarded over unidirectional link.
    ForwardedUnidirectional,
    /// 3: transmission canceled.
    TransmissionCanceled,
    /// 4: depleted storage.
    DepletedStorage,
    /// 5: destination endpoint ID unavailable.
    DestinationUnavailable,
    /// 6: no known route to destination from here.
    NoKnownRoute,
    /// 7: no timely contact with next node on route.
    NoTimelyContact,
    /// 8: block unintelligible.
    BlockUnintelligible,
    /// 9: hop limit exceeded.
    HopLimitExceeded,
    /// 10: traffic pared (e.g. status reports).
    TrafficPared,
    /// 11: block unsupported.
    BlockUnsupported,
    /// 12: missing security operation (RFC 9172).
    MissingSecurityOperation,
    /// 13: unknown security operation (RFC 9172).
    UnknownSecurityOperation,
    /// 14: unexpected security operation (RFC 9172).
    UnexpectedSecurityOperation,
    /// 15: failed security operation (RFC 9172).
    FailedSecurityOperation,
    /// 16: conflicting security operation (RFC 9172).
    ConflictingSecurityOperation,
    /// Any other code, kept as received.
    Unassigned(u64),
}

impl ReasonCode {
    const KNOWN: [ReasonCode; 17] = [
        ReasonCode::NoInformation,
        ReasonCode::LifetimeExpired,
        ReasonCode::ForwardedUnidirectional,
        ReasonCode::TransmissionCanceled,
        ReasonCode::DepletedStorage,
        ReasonCode::DestinationUnavailable,
        ReasonCode::NoKnownRoute,
        ReasonCode::NoTimelyContact,
        ReasonCode::BlockUnintelligible,
        ReasonCode::HopLimitExceeded,
        ReasonCode::TrafficPared,
        ReasonCode::BlockUnsupported,
        ReasonCode::MissingSecurityOperation,
        ReasonCode::UnknownSecurityOperation,
        ReasonCode::UnexpectedSecurityOperation,
        ReasonCode::FailedSecurityOperation,
        ReasonCode::ConflictingSecurityOperation,
    ];

    /// The reason for a wire code.
    pub fn from_code(code: u64) -> Self {
        usize::try_from(code).ok().and_then(|i| Self::KNOWN.get(i).copied()).unwrap_or(ReasonCode::Unassigned(code))
    }

    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            ReasonCode::Unassigned(code) => code,
            known => Self::KNOWN.iter().position(|k| *k == known).map_or(0, |i| i as u64),
        }
    }

    /// The RFC's wording.
    pub fn description(self) -> &'static str {
        match self {
            ReasonCode::NoInformation => "no additional information",
            ReasonCode::LifetimeExpired => "lifetime expired",
            ReasonCode::ForwardedUnidirectional => "forwarded over unidirectional link",
            ReasonCode::TransmissionCanceled => "transmission canceled",
            ReasonCode::DepletedStorage => "depleted storage",
            ReasonCode::DestinationUnavailable => "destination endpoint ID unavailable",
            ReasonCode::NoKnownRoute => "no known route to destination from here",
            ReasonCode::NoTimelyContact => "no timely contact with next node on route",
            ReasonCode::BlockUnintelligible => "block unintelligible",
            ReasonCode::HopLimitExceeded => "hop limit exceeded",
            ReasonCode::TrafficPared => "traffic pared",
            ReasonCode::BlockUnsupported => "block unsupported",
            ReasonCode::MissingSecurityOperation => "missing security operation",
            ReasonCode::UnknownSecurityOperation => "unknown security operation",
            ReasonCode::UnexpectedSecurityOperation => "unexpected security operation",
            ReasonCode::FailedSecurityOperation => "failed security operation",
            ReasonCode::ConflictingSecurityOperation => "conflicting security operation",
            ReasonCode::Unassigned(_) => "unassigned reason code",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..40 {
            assert_eq!(ReasonCode::from_code(code).code(), code);
        }
        assert_eq!(ReasonCode::from_code(8), ReasonCode::BlockUnintelligible);
        assert_eq!(ReasonCode::from_code(16), ReasonCode::ConflictingSecurityOperation);
        assert_eq!(ReasonCode::from_code(17), ReasonCode::Unassigned(17));
    }
}
