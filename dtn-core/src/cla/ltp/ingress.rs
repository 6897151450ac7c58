//! What the engine does with each arriving segment and each expired timer (RFC 5326 6).

use bytes::Bytes;

use super::SessionId;
use super::engine::{Engine, Event, IngressError, Span, Timer, sent_by};
use super::export::ReportOutcome;
use super::import::{DataOutcome, ImportSession, Timing};
use super::segment::{Body, CancelReason, DataKind, DataSegment, Report, Segment, Side};

impl Engine {
    /// Takes one datagram that the host attributes (by its source address) to the remote
    /// engine `from`. A malformed or misattributed datagram is dropped, counted, and
    /// described in the error; it changes nothing else.
    pub fn handle_datagram(&mut self, from: u64, datagram: &Bytes, now: u64) -> Result<(), IngressError> {
        let Some(span) = self.spans.get_mut(&from) else {
            return Err(IngressError::UnknownEngine(from));
        };
        let segment = match Segment::decode(datagram) {
            Ok(segment) => segment,
            Err(e) => {
                span.stats.malformed += 1;
                return Err(e.into());
            }
        };
        let SessionId { originator, number } = segment.session;
        // Segments from the block sender belong to sessions `from` originated; segments from
        // the receiver to sessions we originated towards `from`.
        let ours = match sent_by(&segment.body) {
            Side::Sender => originator == from,
            Side::Receiver => {
                originator == self.config.engine_id
                    && self.exports.get(&number).is_none_or(|session| session.remote == from)
            }
        };
        if !ours {
            span.stats.malformed += 1;
            return Err(IngressError::WrongPeer { from, originator, number });
        }
        span.stats.segments_in += 1;
        let link_now = span.link_now(now);
        match segment.body {
            Body::Data(data) => self.on_data(from, number, data, link_now, now),
            Body::Report(report) => self.on_report(from, segment.session, report, now),
            Body::ReportAck { serial } => self.on_report_ack(from, number, serial, now),
            Body::Cancel { by: Side::Sender, reason } => {
                span.push_control(Segment { session: segment.session, body: Body::CancelAck { of: Side::Sender } });
                self.drop_import(from, number, Some((Side::Sender, reason)), now);
            }
            Body::Cancel { by: Side::Receiver, reason } => {
                span.push_control(Segment { session: segment.session, body: Body::CancelAck { of: Side::Receiver } });
                self.drop_export(number, Some((Side::Receiver, reason)));
            }
            Body::CancelAck { of: Side::Sender } => {
                if self.exports.get(&number).is_some_and(|s| s.cancel.is_some()) {
                    self.drop_export(number, None);
                }
            }
            Body::CancelAck { of: Side::Receiver } => {
                if span.imports.get(&number).is_some_and(|s| s.cancel.is_some()) {
                    self.drop_import(from, number, None, now);
                }
            }
        }
        Ok(())
    }

    fn on_data(&mut self, from: u64, number: u64, data: DataSegment, link_now: u64, now: u64) {
        let max_block = self.config.max_block_bytes;
        let global_room = self.config.max_import_bytes.saturating_sub(self.import_bytes);
        let Some(span) = self.spans.get_mut(&from) else { return };
        let id = SessionId { originator: from, number };
        if !span.imports.contains_key(&number) {
            if span.closed.recent(number, link_now, span.config.stale_timeout_ms()) {
                return;
            }
            let refusal = if !self.config.client_services.contains(&data.client_service) {
                Some(CancelReason::Unreachable)
            } else if data.end() > max_block
                || !span.accepting
                || span.imports.len() >= span.config.max_import_sessions
                || self.import_sessions >= self.config.max_import_sessions
            {
                Some(CancelReason::SystemCancelled)
            } else {
                None
            };
            if let Some(reason) = refusal {
                // Refused before any state is kept: one cancel, not retried, and the
                // session's later segments are ignored.
                span.stats.refused_sessions += 1;
                span.closed.insert(number, link_now);
                span.push_control(Segment { session: id, body: Body::Cancel { by: Side::Receiver, reason } });
                return;
            }
            span.imports.insert(number, ImportSession::new(id, data.client_service, link_now));
            span.arm(link_now.saturating_add(span.config.stale_timeout_ms()), Timer::Stale { number });
            self.import_sessions += 1;
        }
        let room = global_room.min(span.config.max_import_bytes.saturating_sub(span.import_bytes));
        let timing = Timing { mtu: span.config.mtu, link_now, rtt: span.config.round_trip_ms() };
        let Some(session) = span.imports.get_mut(&number) else { return };
        session.last_activity = link_now;
        if session.cancel.is_some() {
            return;
        }
        if data.end() > max_block || data.client_service != session.client {
            self.cancel_import(from, number, CancelReason::SystemCancelled, now);
            return;
        }
        let before = session.memory();
        let outcome = session.on_data(&data, room, from, &mut self.events);
        let reports = match (outcome, data.kind) {
            (DataOutcome::Cancel(reason), _) => {
                self.account(from, before, number);
                self.cancel_import(from, number, reason, now);
                return;
            }
            (DataOutcome::RedComplete, kind) => {
                span.stats.imports_done += 1;
                let cp = if let DataKind::Checkpoint { checkpoint_serial, .. } = kind { checkpoint_serial } else { 0 };
                session.send_final(cp, timing)
            }
            (DataOutcome::NoRoom, DataKind::Checkpoint { .. }) | (DataOutcome::Stored, DataKind::Checkpoint { .. }) => {
                let DataKind::Checkpoint { checkpoint_serial, report_serial, .. } = data.kind else { return };
                session.on_checkpoint(checkpoint_serial, report_serial, data.end(), timing)
            }
            (DataOutcome::NoRoom, _) | (DataOutcome::Stored, _) => alloc::vec::Vec::new(),
        };
        if outcome == DataOutcome::NoRoom {
            span.stats.dropped_no_room += 1;
        }
        let too_many = session.reports_sent > span.config.max_reports;
        let green_only_end = session.end_of_block && session.red_len == Some(0);
        if green_only_end {
            session.deliver_green(from, &mut self.events, true);
        }
        let finished = session.finished();
        self.queue_reports(from, id, reports, timing);
        self.account(from, before, number);
        if too_many {
            self.cancel_import(from, number, CancelReason::RetransmitLimit, now);
        } else if finished {
            self.drop_import(from, number, None, now);
        }
    }

    fn queue_reports(&mut self, from: u64, id: SessionId, reports: alloc::vec::Vec<Report>, timing: Timing) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        for report in reports {
            span.arm(
                timing.link_now.saturating_add(timing.rtt),
                Timer::Report { number: id.number, serial: report.serial },
            );
            span.push_control(Segment { session: id, body: Body::Report(report) });
        }
    }

    /// Brings the span and engine memory totals in line with the session's after a change
    /// from `before`.
    fn account(&mut self, from: u64, before: u64, number: u64) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        let after = span.imports.get(&number).map_or(0, ImportSession::memory);
        span.import_bytes = span.import_bytes.saturating_sub(before).saturating_add(after);
        self.import_bytes = self.import_bytes.saturating_sub(before).saturating_add(after);
    }

    fn on_report(&mut self, from: u64, id: SessionId, report: Report, now: u64) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        // Every report is acknowledged, even a repeat: our earlier acknowledgement may be
        // the segment that was lost.
        span.push_control(Segment { session: id, body: Body::ReportAck { serial: report.serial } });
        let max_reports = span.config.max_reports;
        let Some(session) = self.exports.get_mut(&id.number) else { return };
        if session.cancel.is_some() {
            return;
        }
        match session.on_report(&report, max_reports) {
            ReportOutcome::Duplicate => {}
            ReportOutcome::Progress => {
                if !span.resend_order.contains(&id.number) {
                    span.resend_order.push_back(id.number);
                }
            }
            ReportOutcome::RedComplete => {
                if session.is_complete() {
                    self.finish_export(id.number);
                }
            }
            ReportOutcome::TooManyCycles => self.cancel_export(id.number, CancelReason::RetransmitCycles, now),
        }
    }

    fn on_report_ack(&mut self, from: u64, number: u64, serial: u64, now: u64) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        let link_now = span.link_now(now);
        let Some(session) = span.imports.get_mut(&number) else { return };
        session.on_report_ack(serial);
        session.last_activity = link_now;
        if session.finished() {
            self.drop_import(from, number, None, now);
        }
    }

    /// Cancels an export session: the host hears of it now, the receiver by a cancel
    /// segment retried like a checkpoint.
    pub(super) fn cancel_export(&mut self, number: u64, reason: CancelReason, now: u64) {
        let Some(session) = self.exports.get_mut(&number) else { return };
        if session.cancel.is_some() {
            return;
        }
        let Some(span) = self.spans.get_mut(&session.remote) else { return };
        let deadline = span.link_now(now).saturating_add(span.config.round_trip_ms());
        session.start_cancel(reason, deadline);
        span.arm(deadline, Timer::ExportCancel { number });
        span.push_control(Segment { session: session.id, body: Body::Cancel { by: Side::Sender, reason } });
        span.stats.exports_cancelled += 1;
        self.events.push_back(Event::ExportCancelled {
            to: session.remote,
            session: session.id,
            by: Side::Sender,
            reason,
        });
    }

    /// Cancels an import session: its memory is let go now; the cancel segment is retried.
    pub(super) fn cancel_import(&mut self, from: u64, number: u64, reason: CancelReason, now: u64) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        let deadline = span.link_now(now).saturating_add(span.config.round_trip_ms());
        let Some(session) = span.imports.get_mut(&number) else { return };
        if session.cancel.is_some() {
            return;
        }
        let before = session.memory();
        let delivered = session.delivered;
        session.start_cancel(reason, deadline);
        let id = session.id;
        span.arm(deadline, Timer::ImportCancel { number });
        span.push_control(Segment { session: id, body: Body::Cancel { by: Side::Receiver, reason } });
        span.stats.imports_cancelled += 1;
        if !delivered {
            self.events.push_back(Event::ImportCancelled { from, session: id, by: Side::Receiver, reason });
        }
        self.account(from, before, number);
    }

    /// Removes an export session; with `cancelled`, one the receiver cancelled.
    fn drop_export(&mut self, number: u64, cancelled: Option<(Side, CancelReason)>) {
        let Some(session) = self.exports.remove(&number) else { return };
        self.closed_exports.insert(number, 0);
        if let Some(span) = self.spans.get_mut(&session.remote) {
            span.open_exports = span.open_exports.saturating_sub(1);
            if let (Some((by, reason)), None) = (cancelled, session.cancel) {
                span.stats.exports_cancelled += 1;
                self.events.push_back(Event::ExportCancelled { to: session.remote, session: session.id, by, reason });
            }
        }
    }

    /// Removes an import session, delivering any green data it still holds; with
    /// `cancelled`, one the sender cancelled.
    fn drop_import(&mut self, from: u64, number: u64, cancelled: Option<(Side, CancelReason)>, now: u64) {
        let Some(span) = self.spans.get_mut(&from) else { return };
        let link_now = span.link_now(now);
        span.closed.insert(number, link_now);
        let Some(mut session) = span.imports.remove(&number) else { return };
        let before = session.memory();
        session.deliver_green(from, &mut self.events, true);
        span.import_bytes = span.import_bytes.saturating_sub(before);
        self.import_bytes = self.import_bytes.saturating_sub(before);
        self.import_sessions = self.import_sessions.saturating_sub(1);
        if let (Some((by, reason)), None, false) = (cancelled, session.cancel, session.delivered) {
            span.stats.imports_cancelled += 1;
            self.events.push_back(Event::ImportCancelled { from, session: session.id, by, reason });
        }
    }

    /// A timer came due at link time `deadline`.
    pub(super) fn fire(&mut self, remote: u64, timer: Timer, deadline: u64, now: u64) {
        let Some(span) = self.spans.get_mut(&remote) else { return };
        let (max_retries, link_now) = (span.config.max_retries, span.link_now(now));
        let timing = Timing { mtu: span.config.mtu, link_now, rtt: span.config.round_trip_ms() };
        match timer {
            Timer::Checkpoint { number, serial } => {
                let Some(session) = self.exports.get_mut(&number) else { return };
                match session.checkpoint_expired(serial, deadline, max_retries) {
                    Some(true) if !span.resend_order.contains(&number) => span.resend_order.push_back(number),
                    Some(false) => self.cancel_export(number, CancelReason::RetransmitLimit, now),
                    _ => {}
                }
            }
            Timer::Report { number, serial } => {
                let Some(session) = span.imports.get_mut(&number) else { return };
                match session.report_expired(serial, deadline, max_retries, timing) {
                    Some(Some(report)) => {
                        let id = session.id;
                        self.queue_reports(remote, id, alloc::vec![report], timing);
                    }
                    Some(None) => self.cancel_import(remote, number, CancelReason::RetransmitLimit, now),
                    None => {}
                }
            }
            Timer::ExportCancel { number } => {
                let Some(session) = self.exports.get_mut(&number) else { return };
                let Some(cancel) = session.cancel.as_mut().filter(|c| c.deadline == deadline) else { return };
                cancel.retries += 1;
                if cancel.retries > max_retries {
                    self.drop_export(number, None);
                    return;
                }
                cancel.deadline = timing.link_now.saturating_add(timing.rtt);
                let reason = cancel.reason;
                span.arm(cancel.deadline, Timer::ExportCancel { number });
                span.push_control(Segment { session: session.id, body: Body::Cancel { by: Side::Sender, reason } });
            }
            Timer::ImportCancel { number } => {
                let Some(session) = span.imports.get_mut(&number) else { return };
                let Some(cancel) = session.cancel.as_mut().filter(|c| c.deadline == deadline) else { return };
                cancel.retries += 1;
                if cancel.retries > max_retries {
                    self.drop_import(remote, number, None, now);
                    return;
                }
                cancel.deadline = timing.link_now.saturating_add(timing.rtt);
                let (reason, id, next) = (cancel.reason, session.id, cancel.deadline);
                span.arm(next, Timer::ImportCancel { number });
                span.push_control(Segment { session: id, body: Body::Cancel { by: Side::Receiver, reason } });
            }
            Timer::Stale { number } => {
                let verdict = span_stale(span, number, link_now);
                self.stale(verdict, remote, number, now);
            }
        }
    }

    fn stale(&mut self, verdict: Stale, remote: u64, number: u64, now: u64) {
        match verdict {
            Stale::Gone => {}
            Stale::Rearm(at) => {
                if let Some(span) = self.spans.get_mut(&remote) {
                    span.arm(at, Timer::Stale { number });
                }
            }
            // Nothing more can come that matters: close quietly.
            Stale::Close => self.drop_import(remote, number, None, now),
            // Red data missing and the sender silent (HDTN #19): cancel and let go.
            Stale::Cancel => self.cancel_import(remote, number, CancelReason::SystemCancelled, now),
        }
    }
}

/// What a stale-session timer found.
enum Stale {
    Gone,
    Rearm(u64),
    Close,
    Cancel,
}

fn span_stale(span: &Span, number: u64, link_now: u64) -> Stale {
    let Some(session) = span.imports.get(&number) else { return Stale::Gone };
    if session.cancel.is_some() {
        return Stale::Gone;
    }
    let due = session.last_activity.saturating_add(span.config.stale_timeout_ms());
    if due > link_now {
        Stale::Rearm(due)
    } else if session.delivered || session.red_len == Some(0) {
        Stale::Close
    } else {
        Stale::Cancel
    }
}
