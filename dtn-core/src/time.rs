//! DTN time and creation timestamps (RFC 9171 sections 4.2.6 and 4.2.7).
//!
//! DTN time counts milliseconds since 2000-01-01T00:00:00 UTC, ignoring leap seconds; the value
//! 0 means "this node has no clock".

use core::fmt;

/// Seconds from the Unix epoch to the DTN epoch (2000-01-01T00:00:00 UTC).
pub const DTN_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// Milliseconds since 2000-01-01T00:00:00 UTC (RFC 9171 4.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DtnTime(pub u64);

impl DtnTime {
    /// "No clock": the creation time of bundles made by a node without an accurate clock.
    pub const UNKNOWN: DtnTime = DtnTime(0);

    /// Milliseconds since the DTN epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// True for the "no clock" value 0.
    pub fn is_unknown(self) -> bool {
        self.0 == 0
    }

    /// DTN time for a Unix time in milliseconds (saturating at the DTN epoch).
    pub fn from_unix_millis(unix_ms: u64) -> Self {
        DtnTime(unix_ms.saturating_sub(DTN_EPOCH_UNIX_SECS * 1000))
    }

    /// The current wall-clock time.
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self::from_unix_millis(unix)
    }

    /// `self + ms`, saturating.
    pub fn saturating_add_millis(self, ms: u64) -> Self {
        DtnTime(self.0.saturating_add(ms))
    }
}

/// Formats as ISO 8601 UTC with milliseconds, e.g. `2024-01-01T00:00:00.000Z`; times past the
/// year 9999 are shown as `DTN+<ms>`.
impl fmt::Display for DtnTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1000 + DTN_EPOCH_UNIX_SECS;
        let days = secs / 86_400;
        let (year, month, day) = civil_from_days(days);
        if year > 9999 {
            return write!(f, "DTN+{}ms", self.0);
        }
        let sod = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            self.0 % 1000
        )
    }
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A bundle's creation timestamp: creation time and sequence number (RFC 9171 4.2.7).
///
/// With the source node ID (and fragment offset and length) it identifies a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CreationTimestamp {
    /// When the bundle was created, or [`DtnTime::UNKNOWN`].
    pub time: DtnTime,
    /// Distinguishes bundles created by one source in the same millisecond.
    pub sequence: u64,
}

impl CreationTimestamp {
    /// A timestamp from its two parts.
    pub fn new(time: DtnTime, sequence: u64) -> Self {
        CreationTimestamp { time, sequence }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn formats_rfc_sample_time() {
        assert_eq!(DtnTime(757_382_400_000).to_string(), "2024-01-01T00:00:00.000Z");
        assert_eq!(DtnTime(0).to_string(), "2000-01-01T00:00:00.000Z");
        assert_eq!(DtnTime(86_400_000 * 59 + 1).to_string(), "2000-02-29T00:00:00.001Z");
    }

    #[test]
    fn far_future_does_not_overflow() {
        assert!(DtnTime(u64::MAX).to_string().starts_with("DTN+"));
        assert!(DtnTime(71_776_922_457_126_122).to_string().starts_with("DTN+"));
    }

    #[test]
    fn unix_conversion() {
        assert_eq!(DtnTime::from_unix_millis(1_704_067_200_000), DtnTime(757_382_400_000));
        assert_eq!(DtnTime::from_unix_millis(5), DtnTime(0));
    }
}
