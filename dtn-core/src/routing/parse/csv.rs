//! Our CSV contact plans (`../shared/scenarios/README.md`):
//! `from,to,start,end,rate_Bps,owlt_min_ms,owlt_max_ms,kind,start_exact,end_exact`, times in
//! seconds from the plan epoch, light times in milliseconds.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::{ImportPolicy, LoadedPlan, ParseError, PlanError, RawContact};
use crate::routing::contact::{Contact, NodeId};
use crate::routing::plan::ContactPlan;
use crate::routing::time::{NANOS_PER_SEC, PlanTime};

/// The header line the format starts with.
pub const HEADER: &str = "from,to,start,end,rate_Bps,owlt_min_ms,owlt_max_ms,kind,start_exact,end_exact";

/// Which light-time column to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwltColumn {
    /// `owlt_min_ms`: the physical lower bound (what an emulator must never beat).
    Min,
    /// `owlt_max_ms`: the bound routing should plan with.
    #[default]
    Max,
}

/// One CSV row.
struct Row {
    contact: Contact,
    rate: i64,
}

fn rows(text: &str, column: OwltColumn) -> impl Iterator<Item = Result<(usize, Row), ParseError>> + '_ {
    let mut lines = text.lines().enumerate();
    let header = lines.next();
    let header_error = match header {
        Some((_, h)) if h.trim() == HEADER => None,
        _ => Some(Err(ParseError::new(1, "header", alloc::format!("expected {HEADER:?}")))),
    };
    header_error.into_iter().chain(
        lines
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(move |(i, l)| parse_row(i + 1, l, column)),
    )
}

fn parse_row(line: usize, text: &str, column: OwltColumn) -> Result<(usize, Row), ParseError> {
    let mut f = text.split(',').map(str::trim);
    let from = super::uint(f.next(), line, "from")?;
    let to = super::uint(f.next(), line, "to")?;
    let start = super::decimal(f.next(), line, "start", NANOS_PER_SEC)?;
    let end = super::decimal(f.next(), line, "end", NANOS_PER_SEC)?;
    let rate = super::int(f.next(), line, "rate_Bps")?;
    let owlt_min = super::decimal(f.next(), line, "owlt_min_ms", 1_000_000)?;
    let owlt_max = super::decimal(f.next(), line, "owlt_max_ms", 1_000_000)?;
    if owlt_max < owlt_min {
        return Err(ParseError::new(line, "owlt_max_ms", "smaller than owlt_min_ms"));
    }
    let owlt_nanos = match column {
        OwltColumn::Min => owlt_min,
        OwltColumn::Max => owlt_max,
    };
    let contact = Contact {
        from,
        to,
        start: PlanTime(start),
        end: PlanTime(end),
        rate_bytes_per_sec: rate.max(0) as u64,
        owlt_nanos,
        confidence: 1.0,
    };
    Ok((line, Row { contact, rate }))
}

/// Parses a CSV contact plan.
pub fn parse(text: &str, column: OwltColumn, policy: ImportPolicy) -> Result<LoadedPlan, PlanError> {
    let mut raw = Vec::new();
    for row in rows(text, column) {
        let (line, row) = row?;
        raw.push(RawContact { contact: row.contact, line, rate: row.rate, zero_is_unlimited: false });
    }
    super::finish(raw, Vec::new(), None, policy)
}

/// Replaces the light time of every contact of `plan` that the CSV lists (same from, to,
/// start and end) with the CSV's: an ION plan has whole-second ranges, the CSV milliseconds.
/// Returns the new plan and how many contacts got a CSV light time.
pub fn overlay_owlt(plan: &ContactPlan, text: &str, column: OwltColumn) -> Result<(ContactPlan, usize), ParseError> {
    let mut owlt: BTreeMap<(NodeId, NodeId, PlanTime, PlanTime), i64> = BTreeMap::new();
    for row in rows(text, column) {
        let (_, row) = row?;
        let c = row.contact;
        owlt.insert((c.from, c.to, c.start, c.end), c.owlt_nanos);
    }
    let mut matched = 0;
    let contacts = plan
        .contacts()
        .iter()
        .map(|c| {
            let mut c = *c;
            if let Some(&o) = owlt.get(&(c.from, c.to, c.start, c.end)) {
                c.owlt_nanos = o;
                matched += 1;
            }
            c
        })
        .collect();
    Ok((ContactPlan::new(contacts, plan.reference()), matched))
}
