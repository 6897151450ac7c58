//! Sizes, rates and times as operators write them in the configuration file.

use dtn_core::time::DtnTime;

use super::config::SizeSpec;

/// `1048576`, `"64 KiB"`, `"2 GiB"`, `"500 MB"`: bytes.
pub(crate) fn parse_size(spec: &SizeSpec) -> Result<u64, String> {
    match spec {
        SizeSpec::Number(n) => Ok(*n),
        SizeSpec::Text(t) => {
            let (number, unit) = split_unit(t)?;
            let scale: u64 = match unit {
                "" | "B" => 1,
                "KB" | "kB" => 1_000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                "TB" => 1_000_000_000_000,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                "TiB" => 1 << 40,
                other => return Err(format!("size {t:?}: unknown unit {other:?} (B, kB, MB, GB, KiB, MiB, GiB)")),
            };
            scaled(number, scale).ok_or_else(|| format!("size {t:?} is too large"))
        }
    }
}

/// `125000000` (bytes/s), `"1 Gbit/s"`, `"100 Mbit/s"`, `"10 MB/s"`: bytes per second.
pub(crate) fn parse_rate(spec: &SizeSpec) -> Result<u64, String> {
    match spec {
        SizeSpec::Number(n) => Ok(*n),
        SizeSpec::Text(t) => {
            let (number, unit) = split_unit(t)?;
            let bits = |scale: u64| scaled(number, scale).map(|b| b / 8);
            let bytes = |scale: u64| scaled(number, scale);
            let value = match unit {
                "bit/s" | "bps" => bits(1),
                "kbit/s" | "kbps" => bits(1_000),
                "Mbit/s" | "Mbps" => bits(1_000_000),
                "Gbit/s" | "Gbps" => bits(1_000_000_000),
                "B/s" => bytes(1),
                "kB/s" | "KB/s" => bytes(1_000),
                "MB/s" => bytes(1_000_000),
                "GB/s" => bytes(1_000_000_000),
                other => {
                    return Err(format!(
                        "rate {t:?}: unknown unit {other:?} (bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, MB/s)"
                    ));
                }
            };
            value.ok_or_else(|| format!("rate {t:?} is too large"))
        }
    }
}

/// `2026-11-29T00:00:00Z` or ION's `2026/11/29-00:00:00` (UTC): DTN time.
pub(crate) fn parse_utc(text: &str) -> Result<DtnTime, String> {
    let ion_form = if let Some((date, clock)) = text.strip_suffix('Z').unwrap_or(text).split_once('T') {
        format!("{}-{clock}", date.replace('-', "/"))
    } else {
        text.to_string()
    };
    dtn_core::routing::parse::ion::parse_absolute_time(&ion_form)
        .ok_or_else(|| format!("{text:?} is not yyyy-mm-ddThh:mm:ssZ or yyyy/mm/dd-hh:mm:ss"))
}

fn split_unit(text: &str) -> Result<(f64, &str), String> {
    let t = text.trim();
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(end);
    let number: f64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit"))?;
    Ok((number, unit.trim()))
}

fn scaled(number: f64, scale: u64) -> Option<u64> {
    let value = number * scale as f64;
    (value.is_finite() && value >= 0.0 && value < u64::MAX as f64).then_some(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size(&SizeSpec::Text("64 KiB".into())), Ok(65_536));
        assert_eq!(parse_size(&SizeSpec::Text("1.5GB".into())), Ok(1_500_000_000));
        assert_eq!(parse_size(&SizeSpec::Number(7)), Ok(7));
        assert!(parse_size(&SizeSpec::Text("12 parsecs".into())).is_err());
        assert_eq!(parse_rate(&SizeSpec::Text("1 Gbit/s".into())), Ok(125_000_000));
        assert_eq!(parse_rate(&SizeSpec::Text("10 MB/s".into())), Ok(10_000_000));
        assert!(parse_rate(&SizeSpec::Text("fast".into())).is_err());
    }

    #[test]
    fn utc_times() {
        assert_eq!(parse_utc("2000-01-01T00:00:10Z"), Ok(DtnTime(10_000)));
        assert_eq!(parse_utc("2000/01/01-00:01:00"), Ok(DtnTime(60_000)));
        assert!(parse_utc("yesterday").is_err());
    }
}
