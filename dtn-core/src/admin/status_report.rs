//! Bundle status reports (RFC 9171 6.1.1).

use alloc::vec::Vec;

use super::{AdminError, ReasonCode, report_err};
use crate::bundle::{Bundle, BundleFlags};
use crate::cbor::{Reader, writer};
use crate::eid::Eid;
use crate::parse_mode::{ParseMode, Relaxations};
use crate::time::{CreationTimestamp, DtnTime};

/// One status assertion: `[asserted]` or `[true, time]` (RFC 9171 6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusItem {
    /// Whether the status is asserted.
    pub asserted: bool,
    /// When, if the subject bundle asked for status times.
    pub time: Option<DtnTime>,
}

/// Which of the four statuses a report asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAssertion {
    /// The bundle was received.
    Received,
    /// The bundle was forwarded.
    Forwarded,
    /// The bundle was delivered.
    Delivered,
    /// The bundle was deleted.
    Deleted,
}

/// A bundle status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Reception status.
    pub received: StatusItem,
    /// Forwarding status.
    pub forwarded: StatusItem,
    /// Delivery status.
    pub delivered: StatusItem,
    /// Deletion status.
    pub deleted: StatusItem,
    /// Why.
    pub reason: ReasonCode,
    /// Source node ID of the subject bundle.
    pub source: Eid,
    /// Creation timestamp of the subject bundle.
    pub creation: CreationTimestamp,
    /// For a fragment subject: its offset and its payload length (the fragment's, not the ADU's).
    pub fragment: Option<(u64, u64)>,
}

impl StatusReport {
    /// A report about `subject` with nothing asserted yet.
    pub fn about(subject: &Bundle, reason: ReasonCode) -> Self {
        let primary = subject.primary();
        StatusReport {
            received: StatusItem::default(),
            forwarded: StatusItem::default(),
            delivered: StatusItem::default(),
            deleted: StatusItem::default(),
            reason,
            source: primary.source.clone(),
            creation: primary.creation,
            fragment: primary.fragment.map(|f| (f.offset, subject.payload().len() as u64)),
        }
    }

    /// Asserts a status at `now`; the time is included only when the subject requested it.
    pub fn assert(mut self, status: StatusAssertion, now: DtnTime, subject_flags: BundleFlags) -> Self {
        let time = subject_flags.contains(BundleFlags::STATUS_TIME_REQUESTED).then_some(now);
        let item = StatusItem { asserted: true, time };
        match status {
            StatusAssertion::Received => self.received = item,
            StatusAssertion::Forwarded => self.forwarded = item,
            StatusAssertion::Delivered => self.delivered = item,
            StatusAssertion::Deleted => self.deleted = item,
        }
        self
    }

    /// Appends the report content (without the admin-record wrapper).
    pub fn encode(&self, out: &mut Vec<u8>) {
        writer::array(out, if self.fragment.is_some() { 6 } else { 4 });
        writer::array(out, 4);
        for item in [self.received, self.forwarded, self.delivered, self.deleted] {
            match (item.asserted, item.time) {
                (true, Some(t)) => {
                    writer::array(out, 2);
                    writer::bool(out, true);
                    writer::uint(out, t.0);
                }
                (asserted, _) => {
                    writer::array(out, 1);
                    writer::bool(out, asserted);
                }
            }
        }
        writer::uint(out, self.reason.code());
        self.source.encode(out);
        writer::array(out, 2);
        writer::uint(out, self.creation.time.0);
        writer::uint(out, self.creation.sequence);
        if let Some((offset, length)) = self.fragment {
            writer::uint(out, offset);
            writer::uint(out, length);
        }
    }

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<Self, AdminError> {
        let at = r.position();
        let n = r.array().map_err(report_err("report is not an array"))?;
        if !matches!(n, Some(4 | 6)) {
            return Err(AdminError::InvalidStatusReport { offset: at, what: "a report has 4 or 6 elements" });
        }
        let info_at = r.position();
        if r.array().map_err(report_err("status information is not an array"))? != Some(4) {
            return Err(AdminError::InvalidStatusReport { offset: info_at, what: "status information has 4 items" });
        }
        let mut items = [StatusItem::default(); 4];
        for item in &mut items {
            *item = decode_item(r)?;
        }
        let [received, forwarded, delivered, deleted] = items;
        let reason = ReasonCode::from_code(r.uint().map_err(report_err("reason code"))?);
        let source_at = r.position();
        let source = Eid::decode(r, ParseMode::Strict, &mut Relaxations::default())
            .map_err(|_| AdminError::InvalidStatusReport { offset: source_at, what: "source node ID" })?;
        let ts_at = r.position();
        if r.array().map_err(report_err("creation timestamp"))? != Some(2) {
            return Err(AdminError::InvalidStatusReport { offset: ts_at, what: "creation timestamp" });
        }
        let creation = CreationTimestamp {
            time: DtnTime(r.uint().map_err(report_err("creation time"))?),
            sequence: r.uint().map_err(report_err("sequence number"))?,
        };
        let fragment = if n == Some(6) {
            let offset = r.uint().map_err(report_err("fragment offset"))?;
            let length = r.uint().map_err(report_err("fragment length"))?;
            Some((offset, length))
        } else {
            None
        };
        Ok(StatusReport { received, forwarded, delivered, deleted, reason, source, creation, fragment })
    }
}

fn decode_item(r: &mut Reader<'_>) -> Result<StatusItem, AdminError> {
    let at = r.position();
    let bad = AdminError::InvalidStatusReport { offset: at, what: "status item is [bool] or [true, time]" };
    let n = r.array().map_err(|_| bad)?;
    let asserted = r.bool().map_err(|_| bad)?;
    match n {
        Some(1) => Ok(StatusItem { asserted, time: None }),
        Some(2) if asserted => Ok(StatusItem { asserted, time: Some(DtnTime(r.uint().map_err(|_| bad)?)) }),
        _ => Err(bad),
    }
}
