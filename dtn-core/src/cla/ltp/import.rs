//! The receiving side of one session (RFC 5326 6.2-6.11): red data kept by offset until the
//! red part is whole, a report for each checkpoint (split so that each report segment fits
//! the MTU), the red part delivered once, green data delivered in order of offset and never
//! asked for again.
//!
//! Memory is accounted as the bytes held plus [`PIECE_OVERHEAD`] per stored piece, so a peer
//! sending one-byte segments pays for the bookkeeping it causes.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::SessionId;
use super::engine::Event;
use super::export::Cancelling;
use super::ranges::RangeSet;
use super::segment::{self, CancelReason, Claim, DataKind, DataSegment, RedEnd, Report};

/// Accounted cost of each stored piece beyond its bytes (map entry and slice).
pub const PIECE_OVERHEAD: u64 = 64;

/// One import session.
#[derive(Debug)]
pub(super) struct ImportSession {
    pub id: SessionId,
    pub client: u64,
    received: RangeSet,
    /// Red data not yet delivered, by offset (non-overlapping).
    pieces: BTreeMap<u64, Bytes>,
    pub red_len: Option<u64>,
    /// Green data held until the data before it arrives.
    green: BTreeMap<u64, (Bytes, bool)>,
    /// The next green offset to deliver, once known.
    green_next: Option<u64>,
    /// The end-of-block segment arrived.
    pub end_of_block: bool,
    /// Accounted memory of the red pieces held.
    red_memory: u64,
    /// Accounted memory of the green pieces held.
    green_memory: u64,
    /// Reports sent and not acknowledged, by serial.
    reports: BTreeMap<u64, Outstanding>,
    /// Lower bounds of every report sent, for checkpoints that cite one.
    lower_bounds: BTreeMap<u64, u64>,
    next_report: u64,
    pub reports_sent: u32,
    /// The red part went to the client.
    pub delivered: bool,
    /// The report claiming the whole red part, once sent.
    pub final_report: Option<u64>,
    last_checkpoint: u64,
    /// Link time of the last segment.
    pub last_activity: u64,
    pub cancel: Option<Cancelling>,
}

/// A report waiting for its acknowledgement.
#[derive(Debug, Clone)]
struct Outstanding {
    report: Report,
    retries: u32,
    deadline: u64,
}

/// What a data segment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataOutcome {
    /// Stored (or a duplicate).
    Stored,
    /// The memory limit left no room for some of it: dropped, to be asked for again.
    NoRoom,
    /// The red part is now whole and was delivered.
    RedComplete,
    /// The segment breaks the block's colouring or bounds: cancel with this reason.
    Cancel(CancelReason),
}

impl ImportSession {
    pub fn new(id: SessionId, client: u64, link_now: u64) -> Self {
        ImportSession {
            id,
            client,
            received: RangeSet::new(),
            pieces: BTreeMap::new(),
            red_len: None,
            green: BTreeMap::new(),
            green_next: None,
            end_of_block: false,
            red_memory: 0,
            green_memory: 0,
            reports: BTreeMap::new(),
            lower_bounds: BTreeMap::new(),
            next_report: 1,
            reports_sent: 0,
            delivered: false,
            final_report: None,
            last_checkpoint: 0,
            last_activity: link_now,
            cancel: None,
        }
    }

    /// Takes one data segment. `room` is the memory this session may still add.
    pub fn on_data(&mut self, seg: &DataSegment, room: u64, from: u64, events: &mut VecDeque<Event>) -> DataOutcome {
        if seg.is_red() { self.on_red(seg, room, from, events) } else { self.on_green(seg, room, from, events) }
    }

    fn on_red(&mut self, seg: &DataSegment, mut room: u64, from: u64, events: &mut VecDeque<Event>) -> DataOutcome {
        let (start, end) = (seg.offset, seg.end());
        if let DataKind::Checkpoint { checkpoint_serial, end: red_end, .. } = seg.kind {
            self.last_checkpoint = checkpoint_serial;
            if red_end != RedEnd::None {
                match self.red_len {
                    Some(len) if len != end => return DataOutcome::Cancel(CancelReason::Miscolored),
                    _ => {}
                }
                let green_below = self.green.keys().next().is_some_and(|&g| g < end);
                if self.received.max_end() > end || green_below {
                    return DataOutcome::Cancel(CancelReason::Miscolored);
                }
                self.red_len = Some(end);
                self.green_next.get_or_insert(end);
                self.end_of_block |= red_end == RedEnd::Block;
            }
        }
        if self.red_len.is_some_and(|len| end > len) {
            return DataOutcome::Cancel(CancelReason::Miscolored);
        }
        if self.delivered {
            return DataOutcome::Stored;
        }
        let gaps: Vec<(u64, u64)> = self.received.gaps(start, end).collect();
        let mut outcome = DataOutcome::Stored;
        for (gap_start, gap_end) in gaps {
            let cost = gap_end - gap_start + PIECE_OVERHEAD;
            if cost > room {
                outcome = DataOutcome::NoRoom;
                break;
            }
            room -= cost;
            self.red_memory += cost;
            let piece = seg.data.slice((gap_start - start) as usize..(gap_end - start) as usize);
            self.pieces.insert(gap_start, piece);
            self.received.insert(gap_start, gap_end);
        }
        if self.red_complete() {
            self.deliver_red(from, events);
            return DataOutcome::RedComplete;
        }
        outcome
    }

    fn on_green(&mut self, seg: &DataSegment, room: u64, from: u64, events: &mut VecDeque<Event>) -> DataOutcome {
        if self.red_len.is_some_and(|len| seg.offset < len) || self.received.max_end() > seg.offset {
            return DataOutcome::Cancel(CancelReason::Miscolored);
        }
        let end_of_block = matches!(seg.kind, DataKind::Green { end_of_block: true });
        self.end_of_block |= end_of_block;
        if seg.offset == 0 {
            // Green from the first byte: the block has no red part.
            self.red_len = Some(0);
            self.green_next.get_or_insert(0);
        }
        let cost = seg.data.len() as u64 + PIECE_OVERHEAD;
        if self.green.contains_key(&seg.offset) || self.green_next.is_some_and(|next| seg.end() <= next) {
            return DataOutcome::Stored;
        }
        if cost > room {
            return DataOutcome::NoRoom;
        }
        self.green_memory += cost;
        self.green.insert(seg.offset, (seg.data.clone(), end_of_block));
        self.deliver_green(from, events, false);
        DataOutcome::Stored
    }

    /// Delivers held green data from `green_next` on; with `all`, also what lies past a gap.
    pub fn deliver_green(&mut self, from: u64, events: &mut VecDeque<Event>, all: bool) {
        while let Some(entry) = self.green.first_entry() {
            let offset = *entry.key();
            let next = match self.green_next {
                Some(next) if offset <= next || all => next,
                _ => break,
            };
            let (mut data, end_of_block) = entry.remove();
            self.green_memory = self.green_memory.saturating_sub(data.len() as u64 + PIECE_OVERHEAD);
            let skip = next.saturating_sub(offset);
            if skip >= data.len() as u64 && !(data.is_empty() && end_of_block) {
                continue;
            }
            data = data.slice((skip as usize).min(data.len())..);
            let at = offset.max(next);
            self.green_next = Some(at + data.len() as u64);
            events.push_back(Event::Green {
                from,
                session: self.id,
                client_service: self.client,
                offset: at,
                data,
                end_of_block,
            });
        }
    }

    fn red_complete(&self) -> bool {
        self.red_len.is_some_and(|len| self.received.contains(0, len))
    }

    fn deliver_red(&mut self, from: u64, events: &mut VecDeque<Event>) {
        let pieces = core::mem::take(&mut self.pieces);
        let data = if pieces.len() == 1 {
            pieces.into_values().next().unwrap_or_default()
        } else {
            let mut whole = BytesMut::with_capacity(self.red_len.unwrap_or(0) as usize);
            for piece in pieces.into_values() {
                whole.extend_from_slice(&piece);
            }
            whole.freeze()
        };
        self.red_memory = 0;
        self.delivered = true;
        events.push_back(Event::RedPart { from, session: self.id, client_service: self.client, data });
    }

    /// Memory accounted to this session.
    pub fn memory(&self) -> u64 {
        self.red_memory + self.green_memory
    }

    /// The session has nothing left to do: red part delivered and its final report
    /// acknowledged (or no red part), and the end of the block seen.
    pub fn finished(&self) -> bool {
        let red_done = match self.red_len {
            Some(0) => true,
            Some(_) => self.delivered && self.final_report.is_some_and(|serial| !self.reports.contains_key(&serial)),
            None => false,
        };
        red_done && self.end_of_block
    }

    /// The reports answering checkpoint `checkpoint_serial` (which ends at `upper` and cites
    /// report `report_serial`, 0 for none): those sent for it and not yet acknowledged, or
    /// new ones claiming what arrived within the report's bounds.
    pub fn on_checkpoint(
        &mut self,
        checkpoint_serial: u64,
        report_serial: u64,
        upper: u64,
        timing: Timing,
    ) -> Vec<Report> {
        if self.delivered {
            return match self.final_report {
                Some(serial) => self.rearm(|o| o.report.serial == serial, timing),
                None => self.send_final(checkpoint_serial, timing),
            };
        }
        let pending = self.rearm(|o| o.report.checkpoint_serial == checkpoint_serial, timing);
        if !pending.is_empty() {
            return pending;
        }
        let lower = self.lower_bounds.get(&report_serial).copied().unwrap_or(0).min(upper);
        let claims: Vec<(u64, u64)> = self.received.within(lower, upper).collect();
        if claims.is_empty() {
            // Nothing to claim (what arrived was dropped for want of memory): a report without
            // claims is one ION ignores, so none goes; the sender's checkpoint timer asks again.
            return Vec::new();
        }
        self.new_reports(checkpoint_serial, lower, upper, &claims, timing)
    }

    /// The report claiming the whole red part, sent once it is complete (answering the
    /// last checkpoint seen if the segment that completed it was not one).
    pub fn send_final(&mut self, checkpoint_serial: u64, timing: Timing) -> Vec<Report> {
        let checkpoint = if checkpoint_serial == 0 { self.last_checkpoint } else { checkpoint_serial };
        let len = self.red_len.unwrap_or(0);
        let claims = if len > 0 { alloc::vec![(0, len)] } else { Vec::new() };
        let reports = self.new_reports(checkpoint, 0, len, &claims, timing);
        self.final_report = reports.last().map(|r| r.serial);
        reports
    }

    fn rearm(&mut self, which: impl Fn(&Outstanding) -> bool, timing: Timing) -> Vec<Report> {
        let deadline = timing.deadline();
        self.reports
            .values_mut()
            .filter(|o| which(o))
            .map(|o| {
                o.deadline = deadline;
                o.report.clone()
            })
            .collect()
    }

    /// Reports for `claims` within `[lower, upper)`, as many as the MTU needs, each
    /// remembered until acknowledged.
    fn new_reports(
        &mut self,
        checkpoint: u64,
        lower: u64,
        upper: u64,
        claims: &[(u64, u64)],
        timing: Timing,
    ) -> Vec<Report> {
        let serial_bound = self.next_report.saturating_add(claims.len() as u64 + 1);
        let fixed = segment::report_len_without_claims(self.id, serial_bound, checkpoint, upper, lower);
        let per_report = (timing.mtu.saturating_sub(fixed) / segment::max_claim_len(upper)).max(1);
        let mut out = Vec::new();
        let mut chunks = claims.chunks(per_report).peekable();
        let mut low = lower;
        loop {
            let chunk = chunks.next().unwrap_or_default();
            let high = chunks.peek().and_then(|next| next.first()).map_or(upper, |&(start, _)| start);
            let report = Report {
                serial: self.next_report,
                checkpoint_serial: checkpoint,
                upper: high,
                lower: low,
                claims: chunk.iter().map(|&(start, end)| Claim { offset: start, length: end - start }).collect(),
            };
            self.next_report += 1;
            self.reports_sent = self.reports_sent.saturating_add(1);
            self.lower_bounds.insert(report.serial, low);
            self.reports
                .insert(report.serial, Outstanding { report: report.clone(), retries: 0, deadline: timing.deadline() });
            out.push(report);
            low = high;
            if chunks.peek().is_none() {
                return out;
            }
        }
    }

    /// A report acknowledgement arrived.
    pub fn on_report_ack(&mut self, serial: u64) {
        self.reports.remove(&serial);
    }

    /// A report timer fired at `deadline`: the report to send again, `Some(None)` when its
    /// retries are spent, `None` if the timer is stale.
    pub fn report_expired(
        &mut self,
        serial: u64,
        deadline: u64,
        max_retries: u32,
        timing: Timing,
    ) -> Option<Option<Report>> {
        let outstanding = self.reports.get_mut(&serial)?;
        if outstanding.deadline != deadline || self.cancel.is_some() {
            return None;
        }
        outstanding.retries += 1;
        if outstanding.retries > max_retries {
            return Some(None);
        }
        outstanding.deadline = timing.deadline();
        Some(Some(outstanding.report.clone()))
    }

    /// Starts cancelling: everything held is let go.
    pub fn start_cancel(&mut self, reason: CancelReason, deadline: u64) {
        self.pieces.clear();
        self.green.clear();
        self.reports.clear();
        self.red_memory = 0;
        self.green_memory = 0;
        self.cancel = Some(Cancelling { reason, retries: 0, deadline });
    }
}

/// The MTU and the link time a report's timer is set from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub mtu: usize,
    pub link_now: u64,
    pub rtt: u64,
}

impl Timing {
    fn deadline(self) -> u64 {
        self.link_now.saturating_add(self.rtt)
    }
}
