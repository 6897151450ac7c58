//! ION contact plans (`ionadmin` `.rc` syntax).
//!
//! ```text
//! @ 2024/01/01-00:00:00                 reference time for +relative times
//! a contact +0 +3600 1 2 100000 [0.9]   from-time until-time from-node to-node bytes/s [confidence]
//! a range   +0 +3600 1 2 1              light time in seconds; applies both ways unless 2 1 is given
//! c contact +0 1 2 50000                change the rate (and confidence) of a contact
//! d contact +0 1 2                      delete a contact (`*` for every start time)
//! d range   +0 1 2                      delete a range
//! # comment
//! ```
//! Other `ionadmin` commands (`1`, `s`, `x`, `m`, …) do not touch the plan and are skipped.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::{ImportPolicy, LoadedPlan, ParseError, PlanError, PlanProblem, ProblemKind, RawContact};
use crate::routing::contact::{Contact, NodeId};
use crate::routing::time::{NANOS_PER_SEC, PlanTime};
use crate::time::DtnTime;

/// `ionadmin` commands that do not change contacts or ranges.
const IGNORED_COMMANDS: [&str; 13] = ["1", "s", "x", "m", "l", "i", "h", "v", "e", "w", "!", "?", "r"];

#[derive(Debug, Clone, Copy)]
struct Range {
    start: PlanTime,
    end: PlanTime,
    owlt_nanos: i64,
}

struct Parser {
    reference: Option<DtnTime>,
    contacts: Vec<RawContact>,
    ranges: BTreeMap<(NodeId, NodeId), Vec<Range>>,
}

/// Parses an ION contact plan.
pub fn parse(text: &str, policy: ImportPolicy) -> Result<LoadedPlan, PlanError> {
    let mut p = Parser { reference: None, contacts: Vec::new(), ranges: BTreeMap::new() };
    for (i, raw_line) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw_line.split('#').next().unwrap_or("");
        let mut tokens = content.split_whitespace();
        let Some(command) = tokens.next() else { continue };
        match command {
            "@" => {
                let token = tokens.next().ok_or_else(|| ParseError::new(line, "reference time", "missing"))?;
                p.reference = Some(parse_utc(token, line, "reference time")?);
            }
            "a" | "c" | "d" => p.command(command, &mut tokens, line)?,
            other if IGNORED_COMMANDS.contains(&other) => {}
            other => {
                return Err(ParseError::new(line, "command", alloc::format!("unknown command {other:?}")).into());
            }
        }
    }
    let mut problems = Vec::new();
    let ranges = &p.ranges;
    p.contacts.retain_mut(|raw| {
        let c = &mut raw.contact;
        match lookup_owlt(ranges, c.from, c.to, c.start) {
            Some(owlt) => {
                c.owlt_nanos = owlt;
                true
            }
            None => {
                problems.push(PlanProblem { line: raw.line, kind: ProblemKind::NoRange });
                false
            }
        }
    });
    super::finish(p.contacts, problems, p.reference, policy)
}

/// The light time of the range covering `at` for `from → to`; a range given only for
/// `to → from` applies both ways (ION's rule).
fn lookup_owlt(ranges: &BTreeMap<(NodeId, NodeId), Vec<Range>>, from: NodeId, to: NodeId, at: PlanTime) -> Option<i64> {
    let covering = |list: &Vec<Range>| list.iter().find(|r| r.start <= at && at < r.end).map(|r| r.owlt_nanos);
    ranges.get(&(from, to)).and_then(covering).or_else(|| ranges.get(&(to, from)).and_then(covering))
}

impl Parser {
    fn command<'a>(
        &mut self,
        command: &str,
        tokens: &mut impl Iterator<Item = &'a str>,
        line: usize,
    ) -> Result<(), ParseError> {
        let object = tokens.next().ok_or_else(|| ParseError::new(line, "object", "missing (contact or range)"))?;
        match (command, object) {
            ("a", "contact") => {
                let start = self.time(tokens.next(), line, "from-time")?;
                let end = self.time(tokens.next(), line, "until-time")?;
                let from = super::uint(tokens.next(), line, "from-node")?;
                let to = super::uint(tokens.next(), line, "to-node")?;
                let rate = super::int(tokens.next(), line, "rate")?;
                let confidence = super::confidence(tokens.next(), line)?;
                self.contacts.push(RawContact {
                    contact: Contact {
                        from,
                        to,
                        start,
                        end,
                        rate_bytes_per_sec: rate.max(0) as u64,
                        owlt_nanos: 0,
                        confidence,
                    },
                    line,
                    rate,
                    zero_is_unlimited: false,
                });
            }
            ("a", "range") => {
                let start = self.time(tokens.next(), line, "from-time")?;
                let end = self.time(tokens.next(), line, "until-time")?;
                let a = super::uint(tokens.next(), line, "from-node")?;
                let b = super::uint(tokens.next(), line, "to-node")?;
                let owlt_nanos = super::decimal(tokens.next(), line, "owlt", NANOS_PER_SEC)?;
                self.ranges.entry((a, b)).or_default().push(Range { start, end, owlt_nanos });
            }
            ("c", "contact") => {
                let start = self.time(tokens.next(), line, "from-time")?;
                let from = super::uint(tokens.next(), line, "from-node")?;
                let to = super::uint(tokens.next(), line, "to-node")?;
                let rate = super::int(tokens.next(), line, "rate")?;
                let confidence = tokens.next().map(|t| super::confidence(Some(t), line)).transpose()?;
                let target = self
                    .contacts
                    .iter_mut()
                    .find(|r| r.contact.from == from && r.contact.to == to && r.contact.start == start)
                    .ok_or_else(|| ParseError::new(line, "contact", "no such contact to change"))?;
                target.rate = rate;
                target.contact.rate_bytes_per_sec = rate.max(0) as u64;
                if let Some(c) = confidence {
                    target.contact.confidence = c;
                }
            }
            ("d", "contact") => {
                let start = self.optional_time(tokens.next(), line)?;
                let from = super::uint(tokens.next(), line, "from-node")?;
                let to = super::uint(tokens.next(), line, "to-node")?;
                self.contacts.retain(|r| {
                    !(r.contact.from == from && r.contact.to == to && start.is_none_or(|s| r.contact.start == s))
                });
            }
            ("d", "range") => {
                let start = self.optional_time(tokens.next(), line)?;
                let a = super::uint(tokens.next(), line, "from-node")?;
                let b = super::uint(tokens.next(), line, "to-node")?;
                if let Some(list) = self.ranges.get_mut(&(a, b)) {
                    list.retain(|r| start.is_some_and(|s| r.start != s));
                }
            }
            (_, other) => {
                return Err(ParseError::new(
                    line,
                    "object",
                    alloc::format!("{command} {other}: expected contact or range"),
                ));
            }
        }
        Ok(())
    }

    /// `*` (every start time) or a time.
    fn optional_time(&self, token: Option<&str>, line: usize) -> Result<Option<PlanTime>, ParseError> {
        match token {
            Some("*") => Ok(None),
            other => self.time(other, line, "from-time").map(Some),
        }
    }

    /// `+seconds` after the reference time, or an absolute `yyyy/mm/dd-hh:mm:ss` (needs `@`).
    fn time(&self, token: Option<&str>, line: usize, field: &'static str) -> Result<PlanTime, ParseError> {
        let token = token.ok_or_else(|| ParseError::new(line, field, "missing"))?;
        if let Some(relative) = token.strip_prefix('+') {
            return super::decimal(Some(relative), line, field, NANOS_PER_SEC).map(PlanTime);
        }
        let absolute = parse_utc(token, line, field)?;
        let reference = self.reference.ok_or_else(|| {
            ParseError::new(line, field, "an absolute time needs an `@` reference time line before it")
        })?;
        let delta_ms = i64::try_from(absolute.0).unwrap_or(i64::MAX) - i64::try_from(reference.0).unwrap_or(i64::MAX);
        Ok(PlanTime::from_millis(delta_ms))
    }
}

/// An ION absolute time, `yyyy/mm/dd-hh:mm:ss` (UTC), as DTN time.
pub fn parse_absolute_time(token: &str) -> Option<DtnTime> {
    parse_utc(token, 0, "time").ok()
}

/// `yyyy/mm/dd-hh:mm:ss` (UTC) as DTN time.
fn parse_utc(token: &str, line: usize, field: &'static str) -> Result<DtnTime, ParseError> {
    let bad = || ParseError::new(line, field, alloc::format!("{token:?} is not +seconds or yyyy/mm/dd-hh:mm:ss"));
    let (date, clock) = token.split_once('-').ok_or_else(bad)?;
    let mut d = date.split('/').map(|x| x.parse::<u64>());
    let mut t = clock.split(':').map(|x| x.parse::<u64>());
    let next = |it: &mut dyn Iterator<Item = Result<u64, core::num::ParseIntError>>| it.next().and_then(Result::ok);
    let (Some(y), Some(mo), Some(day), Some(h), Some(mi), Some(s)) =
        (next(&mut d), next(&mut d), next(&mut d), next(&mut t), next(&mut t), next(&mut t))
    else {
        return Err(bad());
    };
    if !(2000..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60
    {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, day) - days_from_civil(2000, 1, 1);
    Ok(DtnTime(((days * 86_400) + h * 3600 + mi * 60 + s) * 1000))
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
