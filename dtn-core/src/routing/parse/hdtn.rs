//! HDTN JSON contact plans:
//!
//! ```json
//! {"contacts": [{"contact": 0, "source": 10, "dest": 20, "startTime": 0, "endTime": 3600,
//!                "rateBitsPerSec": 100000000, "owlt": 1}]}
//! ```
//! `rateBitsPerSec` is converted to bytes per second (0 means unlimited); the legacy `rate`
//! field is in Mbit/s. Times and `owlt` are seconds, possibly fractional.

use alloc::vec::Vec;

use super::json::{self, Kind, Value};
use super::{ImportPolicy, LoadedPlan, ParseError, PlanError, RawContact};
use crate::routing::contact::Contact;
use crate::routing::time::{NANOS_PER_SEC, PlanTime};

/// Parses an HDTN JSON contact plan.
pub fn parse(text: &str, policy: ImportPolicy) -> Result<LoadedPlan, PlanError> {
    let doc = json::parse(text)?;
    let contacts = doc.get("contacts").ok_or_else(|| ParseError::new(doc.line, "contacts", "missing"))?;
    let Kind::Array(items) = &contacts.kind else {
        return Err(ParseError::new(contacts.line, "contacts", "not an array").into());
    };
    let mut raw = Vec::with_capacity(items.len());
    for item in items {
        raw.push(contact(item)?);
    }
    super::finish(raw, Vec::new(), None, policy)
}

fn number<'a>(item: &'a Value<'_>, field: &'static str) -> Result<Option<(&'a str, usize)>, ParseError> {
    match item.get(field) {
        None => Ok(None),
        Some(Value { kind: Kind::Number(text), line }) => Ok(Some((text, *line))),
        Some(v) => Err(ParseError::new(v.line, field, "not a number")),
    }
}

fn required<'a>(item: &'a Value<'_>, field: &'static str) -> Result<(&'a str, usize), ParseError> {
    number(item, field)?.ok_or_else(|| ParseError::new(item.line, field, "missing"))
}

fn node(item: &Value<'_>, field: &'static str) -> Result<u64, ParseError> {
    let (text, line) = required(item, field)?;
    super::uint(Some(text), line, field)
}

fn seconds(item: &Value<'_>, field: &'static str) -> Result<i64, ParseError> {
    let (text, line) = required(item, field)?;
    super::decimal(Some(text), line, field, NANOS_PER_SEC)
}

fn contact(item: &Value<'_>) -> Result<RawContact, ParseError> {
    if !matches!(item.kind, Kind::Object(_)) {
        return Err(ParseError::new(item.line, "contact", "not an object"));
    }
    let from = node(item, "source")?;
    let to = node(item, "dest")?;
    let start = seconds(item, "startTime")?;
    let end = seconds(item, "endTime")?;
    let owlt_nanos = match number(item, "owlt")? {
        Some((text, line)) => super::decimal(Some(text), line, "owlt", NANOS_PER_SEC)?,
        None => 0,
    };
    let rate: i64 = match (number(item, "rateBitsPerSec")?, number(item, "rate")?) {
        (Some((text, line)), _) => {
            let bits = super::int(Some(text), line, "rateBitsPerSec")?;
            if bits < 0 { bits } else { bits / 8 }
        }
        // Legacy: Mbit/s, possibly fractional; 1 Mbit/s = 125 000 bytes/s.
        (None, Some((text, line))) => super::decimal(Some(text), line, "rate", 125_000)?,
        (None, None) => return Err(ParseError::new(item.line, "rateBitsPerSec", "missing (or legacy rate)")),
    };
    let confidence = match number(item, "confidence")? {
        Some((text, line)) => super::confidence(Some(text), line)?,
        None => 1.0,
    };
    Ok(RawContact {
        contact: Contact {
            from,
            to,
            start: PlanTime(start),
            end: PlanTime(end),
            rate_bytes_per_sec: rate.max(0) as u64,
            owlt_nanos,
            confidence,
        },
        line: item.line,
        rate,
        zero_is_unlimited: true,
    })
}
