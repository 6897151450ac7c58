//! EID patterns (after draft-ietf-dtn-eid-pattern): which endpoints a rule applies to, as an
//! operator writes them in a config.
//!
//! - `*:**`: any endpoint;
//! - `ipn:N.S` or `ipn:A.N.S`, each part a number, `*`, or a bracketed list of numbers and
//!   ranges (`ipn:[100-199].*`, `ipn:*.[1,7,64-127]`); in the two-part form `N` is the full
//!   node number (allocator × 2^32 + node, RFC 9758), as in EIDs;
//! - `ipn:**`: any ipn endpoint; `dtn:**`: any dtn endpoint (`dtn:none` included);
//! - `dtn://node/demux`, where the node name may be `*` and the demux `**` (anything) or end
//!   in `*` (a prefix): `dtn://ground-*/**` is not allowed, `dtn://*/telemetry/*` is;
//! - `dtn:none`.
//!
//! Matching costs one pass over the pattern's parts; parsing is linear in the text.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use super::Eid;

/// Numbers a part of an `ipn` pattern accepts: inclusive ranges, none meaning any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numbers(Vec<(u64, u64)>);

impl Numbers {
    fn any() -> Self {
        Numbers(Vec::new())
    }

    fn contains(&self, n: u64) -> bool {
        self.0.is_empty() || self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
    }
}

/// The demux part of a `dtn` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Demux {
    Any,
    Exact(String),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Any,
    AnyIpn,
    AnyDtn,
    Null,
    /// `allocator: None` is the two-part form (the full node number).
    Ipn {
        allocator: Option<Numbers>,
        node: Numbers,
        service: Numbers,
    },
    Dtn {
        node: Option<String>,
        demux: Demux,
    },
}

/// A pattern over endpoint IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EidPattern {
    kind: Kind,
    text: String,
}

/// A pattern that does not parse: what and where (byte offset in the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid EID pattern at byte {offset}: {message}")]
pub struct PatternError {
    /// Byte offset in the pattern text.
    pub offset: usize,
    /// What is wrong.
    pub message: &'static str,
}

impl EidPattern {
    /// The pattern that matches every endpoint.
    pub fn any() -> Self {
        EidPattern { kind: Kind::Any, text: "*:**".to_string() }
    }

    /// Whether `eid` is one of the pattern's endpoints.
    pub fn matches(&self, eid: &Eid) -> bool {
        match (&self.kind, eid) {
            (Kind::Any, _) | (Kind::AnyIpn, Eid::Ipn(_)) | (Kind::AnyDtn, Eid::Dtn(_) | Eid::Null) => true,
            (Kind::Null, e) => e.is_null(),
            (Kind::Ipn { allocator, node, service }, Eid::Ipn(ipn)) => {
                let node_ok = match allocator {
                    Some(a) => a.contains(u64::from(ipn.allocator)) && node.contains(u64::from(ipn.node)),
                    None => node.contains(ipn.fqnn()),
                };
                node_ok && service.contains(u64::from(ipn.service))
            }
            (Kind::Dtn { node, demux }, Eid::Dtn(dtn)) => {
                node.as_deref().is_none_or(|n| n == dtn.node_name())
                    && match demux {
                        Demux::Any => true,
                        Demux::Exact(d) => d == dtn.demux(),
                        Demux::Prefix(p) => dtn.demux().starts_with(p.as_str()),
                    }
            }
            _ => false,
        }
    }
}

impl fmt::Display for EidPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for EidPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = match s {
            "*:**" => Kind::Any,
            "ipn:**" => Kind::AnyIpn,
            "dtn:**" => Kind::AnyDtn,
            "dtn:none" => Kind::Null,
            _ => {
                if let Some(ssp) = s.strip_prefix("ipn:") {
                    parse_ipn(ssp, 4)?
                } else if let Some(ssp) = s.strip_prefix("dtn:") {
                    parse_dtn(ssp, 4)?
                } else {
                    return Err(PatternError { offset: 0, message: "expected \"*:**\", \"ipn:\" or \"dtn:\"" });
                }
            }
        };
        Ok(EidPattern { kind, text: s.to_string() })
    }
}

fn parse_ipn(ssp: &str, base: usize) -> Result<Kind, PatternError> {
    let mut parts = Vec::new();
    let mut at = base;
    for part in ssp.split('.') {
        if parts.len() == 3 {
            return Err(PatternError { offset: at, message: "an ipn pattern has 2 or 3 parts" });
        }
        parts.push(parse_numbers(part, at)?);
        at += part.len() + 1;
    }
    let mut parts = parts.into_iter();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(node), Some(service), None) => Ok(Kind::Ipn { allocator: None, node, service }),
        (Some(a), Some(node), Some(service)) => Ok(Kind::Ipn { allocator: Some(a), node, service }),
        _ => Err(PatternError { offset: base + ssp.len(), message: "an ipn pattern has 2 or 3 parts" }),
    }
}

/// `*`, a number, or `[n,a-b,...]`.
fn parse_numbers(part: &str, base: usize) -> Result<Numbers, PatternError> {
    if part == "*" {
        return Ok(Numbers::any());
    }
    let Some(inner) = part.strip_prefix('[') else {
        let n = number(part, base)?;
        return Ok(Numbers(alloc::vec![(n, n)]));
    };
    let inner = inner
        .strip_suffix(']')
        .ok_or(PatternError { offset: base + part.len(), message: "a list of numbers ends with ']'" })?;
    let mut ranges = Vec::new();
    let mut at = base + 1;
    for item in inner.split(',') {
        let range = match item.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo, at)?, number(hi, at + lo.len() + 1)?);
                if lo > hi {
                    return Err(PatternError { offset: at, message: "a range runs from low to high" });
                }
                (lo, hi)
            }
            None => {
                let n = number(item, at)?;
                (n, n)
            }
        };
        ranges.push(range);
        at += item.len() + 1;
    }
    Ok(Numbers(ranges))
}

fn number(text: &str, at: usize) -> Result<u64, PatternError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PatternError { offset: at, message: "expected a decimal number, '*' or a [list]" });
    }
    text.parse().map_err(|_| PatternError { offset: at, message: "the number is above 2^64-1" })
}

fn parse_dtn(ssp: &str, base: usize) -> Result<Kind, PatternError> {
    let rest = ssp.strip_prefix("//").ok_or(PatternError { offset: base, message: "expected \"dtn://\"" })?;
    let (node, demux) = rest
        .split_once('/')
        .ok_or(PatternError { offset: base + ssp.len(), message: "expected '/' after the node name" })?;
    if let Some(at) = ssp.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(PatternError { offset: base + at, message: "EIDs are visible ASCII" });
    }
    let node = match node {
        "*" => None,
        "" => return Err(PatternError { offset: base + 2, message: "the node name is empty" }),
        n if n.contains('*') => {
            return Err(PatternError { offset: base + 2, message: "a node name is a whole name or '*'" });
        }
        n => Some(n.to_string()),
    };
    let demux_at = base + 2 + rest.len() - demux.len();
    let demux = match demux {
        "**" => Demux::Any,
        d => match d.find('*') {
            None => Demux::Exact(d.to_string()),
            Some(i) if i + 1 == d.len() => Demux::Prefix(d[..i].to_string()),
            Some(i) => {
                return Err(PatternError { offset: demux_at + i, message: "'*' may only end the demux" });
            }
        },
    };
    Ok(Kind::Dtn { node, demux })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> EidPattern {
        s.parse().unwrap()
    }

    fn e(s: &str) -> Eid {
        s.parse().unwrap()
    }

    #[test]
    fn ipn_patterns_match_by_part() {
        assert!(p("ipn:*.7").matches(&e("ipn:100.7")));
        assert!(!p("ipn:*.7").matches(&e("ipn:100.8")));
        assert!(p("ipn:[100-199].*").matches(&e("ipn:150.3")));
        assert!(!p("ipn:[100-199].*").matches(&e("ipn:200.3")));
        assert!(p("ipn:*.[1,7,64-127]").matches(&e("ipn:5.64")) && !p("ipn:*.[1,7,64-127]").matches(&e("ipn:5.8")));
        assert!(p("ipn:977000.*.1").matches(&e("ipn:977000.5.1")));
        assert!(!p("ipn:977000.*.1").matches(&e("ipn:5.1")));
        // The two-part form names the full node number.
        assert!(p("ipn:4196183048192000.1").matches(&e("ipn:977000.0.1")));
        assert!(p("ipn:**").matches(&e("ipn:1.1")) && !p("ipn:**").matches(&e("dtn://a/b")));
        assert!(p("*:**").matches(&e("dtn:none")));
    }

    #[test]
    fn dtn_patterns_match_node_and_demux() {
        assert!(p("dtn://ground/telemetry").matches(&e("dtn://ground/telemetry")));
        assert!(!p("dtn://ground/telemetry").matches(&e("dtn://ground/telemetry2")));
        assert!(p("dtn://*/telemetry/*").matches(&e("dtn://sat-4/telemetry/hk")));
        assert!(!p("dtn://*/telemetry/*").matches(&e("dtn://sat-4/cmd")));
        assert!(p("dtn://ground/**").matches(&e("dtn://ground/")));
        assert!(p("dtn:none").matches(&e("dtn:none")) && p("dtn:none").matches(&e("ipn:0.0")));
        assert!(!p("dtn:none").matches(&e("ipn:0.1")));
    }

    #[test]
    fn bad_patterns_say_where() {
        let err = |s: &str| s.parse::<EidPattern>().unwrap_err();
        assert_eq!(err("ipn:1.x").offset, 6);
        assert_eq!(err("ipn:1.2.3.4").offset, 10);
        assert_eq!(err("ipn:1").offset, 5);
        assert_eq!(err("ipn:[5-1].*").offset, 5);
        assert_eq!(err("ipn:[1,2.*").offset, 8);
        assert_eq!(err("ipn:99999999999999999999.1").offset, 4);
        assert_eq!(err("dtn://a*/b").offset, 6);
        assert_eq!(err("dtn://a/b*c").offset, 9);
        assert_eq!(err("http://x").offset, 0);
        assert_eq!(p("ipn:*.7").to_string(), "ipn:*.7");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_a_pattern_prints_as_written(s in "\\PC{0,40}") {
            if let Ok(pattern) = s.parse::<EidPattern>() {
                proptest::prop_assert_eq!(pattern.to_string(), s);
            }
        }

        #[test]
        fn an_exact_ipn_pattern_matches_only_its_eid(n in 1u32.., s in 0u32.., m in 1u32.., t in 0u32..) {
            let pattern = p(&alloc::format!("ipn:0.{n}.{s}"));
            proptest::prop_assert!(pattern.matches(&Eid::ipn(n, s)));
            proptest::prop_assert_eq!(pattern.matches(&Eid::ipn(m, t)), (n, s) == (m, t));
        }
    }
}
