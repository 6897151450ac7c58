//! Time on a contact plan's clock: integer nanoseconds since the plan's reference time.
//!
//! Never floating point: a 100 kB bundle on a 12.5 GB/s link takes 8 µs, and whole-second or
//! `f64` clocks either lose it or accumulate rounding over an 18-hop route. Nanoseconds in an
//! `i64` span ±292 years.

use core::fmt;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// An instant on the plan's clock, in nanoseconds since the plan's reference time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PlanTime(pub i64);

impl PlanTime {
    /// The latest representable instant ("never").
    pub const NEVER: PlanTime = PlanTime(i64::MAX);

    /// Whole seconds after the reference time.
    pub fn from_secs(secs: i64) -> Self {
        PlanTime(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Milliseconds after the reference time.
    pub fn from_millis(ms: i64) -> Self {
        PlanTime(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds after the reference time.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// `self + nanos`, saturating.
    #[must_use]
    pub fn plus(self, nanos: i64) -> Self {
        PlanTime(self.0.saturating_add(nanos))
    }
}

/// Seconds with up to 9 decimals, e.g. `1804.001049`.
impl fmt::Display for PlanTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let secs = abs / NANOS_PER_SEC as u64;
        let frac = abs % NANOS_PER_SEC as u64;
        if frac == 0 {
            return write!(f, "{sign}{secs}");
        }
        let mut digits = alloc::format!("{frac:09}");
        while digits.ends_with('0') {
            digits.pop();
        }
        write!(f, "{sign}{secs}.{digits}")
    }
}

/// Time to send `size` bytes at `rate` bytes/s, rounded up to the nanosecond; 0 for an
/// unlimited (0) rate.
pub fn transmission_nanos(size: u64, rate_bytes_per_sec: u64) -> i64 {
    if rate_bytes_per_sec == 0 {
        return 0;
    }
    // 64-bit division when the product fits (bundles below ~18 GB), 128-bit otherwise.
    if let Some(scaled) = size.checked_mul(NANOS_PER_SEC as u64) {
        return i64::try_from(scaled.div_ceil(rate_bytes_per_sec)).unwrap_or(i64::MAX);
    }
    let nanos = (u128::from(size) * NANOS_PER_SEC as u128).div_ceil(u128::from(rate_bytes_per_sec));
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// Parses a non-negative decimal number of `unit_nanos` units (e.g. seconds: 1e9) exactly,
/// e.g. `"68.520"` ms → 68 520 000 ns; digits below a nanosecond are dropped. Returns `None`
/// for anything but digits with at most one dot, or on overflow.
pub fn parse_decimal(text: &str, unit_nanos: i64) -> Option<i64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in frac.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        value = value.checked_add(i64::from(digit - b'0') * scale)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn transmission_time_rounds_up() {
        assert_eq!(transmission_nanos(100_000, 1_250_000_000), 80_000);
        assert_eq!(transmission_nanos(1, 3), 333_333_334);
        assert_eq!(transmission_nanos(5, 0), 0);
        assert_eq!(transmission_nanos(u64::MAX, 1), i64::MAX);
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse_decimal("68.520", 1_000_000), Some(68_520_000));
        assert_eq!(parse_decimal("1804.001049", NANOS_PER_SEC), Some(1_804_001_049_000));
        assert_eq!(parse_decimal("7", NANOS_PER_SEC), Some(7_000_000_000));
        assert_eq!(parse_decimal(".5", NANOS_PER_SEC), Some(500_000_000));
        for bad in ["", ".", "-1", "1e3", "1.2.3", "x"] {
            assert_eq!(parse_decimal(bad, NANOS_PER_SEC), None, "{bad}");
        }
        assert_eq!(parse_decimal("99999999999999999999", NANOS_PER_SEC), None);
    }

    #[test]
    fn displays_seconds() {
        assert_eq!(PlanTime(1_804_001_049_000).to_string(), "1804.001049");
        assert_eq!(PlanTime::from_secs(3).to_string(), "3");
        assert_eq!(PlanTime(-1_500_000_000).to_string(), "-1.5");
    }
}
