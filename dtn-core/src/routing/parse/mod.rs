//! Contact plan parsers: ION `.rc` ([`ion`]), our CSV ([`csv`]) and HDTN JSON ([`hdtn`]).
//!
//! Syntax errors are fatal and name the line and field. Contacts that parse but make no sense
//! (ending before they start, duplicates, zero or negative rates, no light time) are
//! [`PlanProblem`]s: with [`ImportPolicy::Reject`] the first one fails the import, with
//! [`ImportPolicy::Skip`] such contacts are dropped and every problem is listed.
//! Decompression (gzip) belongs to the caller, which owns the I/O.

pub mod csv;
pub mod hdtn;
pub mod ion;
mod json;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::contact::Contact;
use super::plan::ContactPlan;
use crate::time::DtnTime;

/// A syntax error: where, which field, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// The field or command at fault.
    pub field: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, field: &'static str, message: impl Into<String>) -> Self {
        ParseError { line, field, message: message.into() }
    }
}

/// What to do with contacts that parse but are unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportPolicy {
    /// Fail the import at the first problem.
    Reject,
    /// Drop the contact, list the problem and go on.
    #[default]
    Skip,
}

/// A contact that parsed but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// 1-based line number of the contact.
    pub line: usize,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// The kinds of [`PlanProblem`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The contact ends before (or when) it starts.
    EndsBeforeStart,
    /// The same contact (from, to, start, end) appeared before.
    Duplicate {
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// A rate of zero or less (where 0 does not mean "unlimited").
    NonPositiveRate(i64),
    /// No range gives the contact a one-way light time.
    NoRange,
}

impl fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::EndsBeforeStart => write!(f, "line {}: contact ends before it starts", self.line),
            ProblemKind::Duplicate { first_line } => {
                write!(f, "line {}: duplicate of the contact on line {first_line}", self.line)
            }
            ProblemKind::NonPositiveRate(rate) => write!(f, "line {}: rate {rate} is not positive", self.line),
            ProblemKind::NoRange => write!(f, "line {}: no range gives this contact a light time", self.line),
        }
    }
}

/// Why a plan could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A syntax error.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A problem under [`ImportPolicy::Reject`].
    #[error("{0} (import policy: reject)")]
    Rejected(PlanProblem),
}

/// A loaded plan and the problems met (contacts dropped under [`ImportPolicy::Skip`]).
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    /// The plan.
    pub plan: ContactPlan,
    /// Every problem found, in line order.
    pub problems: Vec<PlanProblem>,
}

/// A parsed contact with its source line and signed rate, before the checks.
#[derive(Debug, Clone)]
pub(crate) struct RawContact {
    pub contact: Contact,
    pub line: usize,
    /// The rate as written (may be zero or negative).
    pub rate: i64,
    /// Whether a rate of 0 means "unlimited" (HDTN) rather than a problem.
    pub zero_is_unlimited: bool,
}

/// Applies the import checks and the policy, then indexes the plan.
pub(crate) fn finish(
    raw: Vec<RawContact>,
    mut problems: Vec<PlanProblem>,
    reference: Option<DtnTime>,
    policy: ImportPolicy,
) -> Result<LoadedPlan, PlanError> {
    // Duplicates: sort by (from, to, start, end, line) and compare neighbours; a map of
    // 600 k keys would cost more than the rest of the import.
    let mut keys: Vec<_> = raw
        .iter()
        .enumerate()
        .map(|(i, r)| (r.contact.from, r.contact.to, r.contact.start, r.contact.end, r.line, i))
        .collect();
    keys.sort_unstable();
    let mut duplicate_of: Vec<Option<usize>> = alloc::vec![None; raw.len()];
    let mut first_of_run: Option<usize> = None;
    for pair in keys.windows(2) {
        let [a, b] = pair else { continue };
        if (a.0, a.1, a.2, a.3) == (b.0, b.1, b.2, b.3) {
            let first = *first_of_run.get_or_insert(a.4);
            if let Some(slot) = duplicate_of.get_mut(b.5) {
                *slot = Some(first);
            }
        } else {
            first_of_run = None;
        }
    }
    let mut contacts = Vec::with_capacity(raw.len());
    for (r, duplicate) in raw.into_iter().zip(duplicate_of) {
        let c = &r.contact;
        let kind = if c.end <= c.start {
            Some(ProblemKind::EndsBeforeStart)
        } else if r.rate < 0 || (r.rate == 0 && !r.zero_is_unlimited) {
            Some(ProblemKind::NonPositiveRate(r.rate))
        } else {
            duplicate.map(|first_line| ProblemKind::Duplicate { first_line })
        };
        match kind {
            Some(kind) => problems.push(PlanProblem { line: r.line, kind }),
            None => contacts.push(r.contact),
        }
    }
    problems.sort_by_key(|p| p.line);
    if let (ImportPolicy::Reject, Some(first)) = (policy, problems.first()) {
        return Err(PlanError::Rejected(first.clone()));
    }
    Ok(LoadedPlan { plan: ContactPlan::new(contacts, reference), problems })
}

/// Parses an unsigned integer field.
pub(crate) fn uint(token: Option<&str>, line: usize, field: &'static str) -> Result<u64, ParseError> {
    let token = token.ok_or_else(|| ParseError::new(line, field, "missing"))?;
    token.parse().map_err(|_| ParseError::new(line, field, alloc::format!("{token:?} is not an unsigned integer")))
}

/// Parses a signed integer field.
pub(crate) fn int(token: Option<&str>, line: usize, field: &'static str) -> Result<i64, ParseError> {
    let token = token.ok_or_else(|| ParseError::new(line, field, "missing"))?;
    token.parse().map_err(|_| ParseError::new(line, field, alloc::format!("{token:?} is not an integer")))
}

/// Parses a non-negative decimal number of `unit_nanos` units.
pub(crate) fn decimal(
    token: Option<&str>,
    line: usize,
    field: &'static str,
    unit_nanos: i64,
) -> Result<i64, ParseError> {
    let token = token.ok_or_else(|| ParseError::new(line, field, "missing"))?;
    super::time::parse_decimal(token, unit_nanos)
        .ok_or_else(|| ParseError::new(line, field, alloc::format!("{token:?} is not a non-negative decimal number")))
}

/// Parses a confidence in 0..=1 (default 1).
pub(crate) fn confidence(token: Option<&str>, line: usize) -> Result<f32, ParseError> {
    let Some(token) = token else { return Ok(1.0) };
    match token.parse::<f32>() {
        Ok(c) if (0.0..=1.0).contains(&c) => Ok(c),
        _ => Err(ParseError::new(line, "confidence", alloc::format!("{token:?} is not a number in 0..1"))),
    }
}

#[cfg(test)]
mod tests;
