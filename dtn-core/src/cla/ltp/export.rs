//! The sending side of one session (RFC 5326 6.1-6.3, 6.12-6.13): cutting the block into
//! segments no larger than the MTU, a checkpoint at the end of the red part, and on each
//! report the retransmission of exactly the red ranges it does not claim, ending in a new
//! checkpoint that cites the report.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use bytes::Bytes;

use super::SessionId;
use super::ranges::RangeSet;
use super::segment::{self, CancelReason, DataKind, RedEnd, Report};

/// One export session.
#[derive(Debug)]
pub(super) struct ExportSession {
    pub remote: u64,
    pub id: SessionId,
    client: u64,
    block: Bytes,
    red_len: u64,
    /// First-pass progress: every byte below this has been sent once.
    sent: u64,
    claimed: RangeSet,
    resend: VecDeque<Resend>,
    /// Checkpoints waiting for a report, by serial number.
    checkpoints: BTreeMap<u64, Checkpoint>,
    next_checkpoint: u64,
    /// Reports already answered (a report may arrive twice if our acknowledgement was lost).
    answered: BTreeSet<u64>,
    pub cancel: Option<Cancelling>,
}

/// A checkpoint sent and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    offset: u64,
    len: u64,
    report_serial: u64,
    end: RedEnd,
    retries: u32,
    /// Link time its timer expires; `None` while it waits to be sent again.
    deadline: Option<u64>,
}

/// Work queued ahead of the first pass.
#[derive(Debug, Clone, Copy)]
enum Resend {
    /// Data to send again; when `report` is set, the last segment is a checkpoint citing it.
    Range { start: u64, end: u64, report: Option<u64> },
    /// A checkpoint whose timer expired.
    Checkpoint(u64),
}

/// A cancel waiting for its acknowledgement.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cancelling {
    pub reason: CancelReason,
    pub retries: u32,
    pub deadline: u64,
}

/// What one emitted segment needs from the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Emitted {
    /// A checkpoint went out: its serial and the link time its timer expires.
    pub checkpoint: Option<(u64, u64)>,
    /// It was a retransmission (data sent before).
    pub retransmission: bool,
}

/// How a report moved the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReportOutcome {
    /// Already answered.
    Duplicate,
    /// Retransmissions queued (or nothing missing within its bounds).
    Progress,
    /// Every red byte is claimed.
    RedComplete,
    /// More reports than the span allows: cancel.
    TooManyCycles,
}

impl ExportSession {
    pub fn new(remote: u64, id: SessionId, client: u64, block: Bytes, red_len: u64) -> Self {
        ExportSession {
            remote,
            id,
            client,
            red_len: red_len.min(block.len() as u64),
            block,
            sent: 0,
            claimed: RangeSet::new(),
            resend: VecDeque::new(),
            checkpoints: BTreeMap::new(),
            next_checkpoint: 1,
            answered: BTreeSet::new(),
            cancel: None,
        }
    }

    fn block_len(&self) -> u64 {
        self.block.len() as u64
    }

    /// Retransmissions wait.
    pub fn has_resend(&self) -> bool {
        self.cancel.is_none() && !self.resend.is_empty()
    }

    /// Part of the first pass is unsent.
    pub fn has_first_pass(&self) -> bool {
        self.cancel.is_none() && self.sent < self.block_len()
    }

    /// Every red byte claimed and every byte sent once: the session is over.
    pub fn is_complete(&self) -> bool {
        self.claimed.contains(0, self.red_len) && self.sent >= self.block_len()
    }

    /// Appends the next retransmission segment to `out`.
    pub fn emit_resend(&mut self, mtu: usize, link_now: u64, rtt: u64, out: &mut Vec<u8>) -> Option<Emitted> {
        loop {
            match self.resend.pop_front()? {
                Resend::Checkpoint(serial) => {
                    let Some(cp) = self.checkpoints.get_mut(&serial) else { continue };
                    cp.deadline = Some(link_now.saturating_add(rtt));
                    let cp = *cp;
                    let kind = DataKind::Checkpoint {
                        checkpoint_serial: serial,
                        report_serial: cp.report_serial,
                        end: cp.end,
                    };
                    self.write(out, kind, cp.offset, cp.len);
                    return Some(Emitted {
                        checkpoint: Some((serial, link_now.saturating_add(rtt))),
                        retransmission: true,
                    });
                }
                Resend::Range { start, end, report } => {
                    // Skip what a later report has claimed meanwhile.
                    let Some((start, _)) = self.claimed.gaps(start, end).next() else { continue };
                    let (kind, len) = self.cut(start, end, true, report, mtu);
                    if start + len < end {
                        self.resend.push_front(Resend::Range { start: start + len, end, report });
                    }
                    let checkpoint = self.note_checkpoint(kind, start, len, link_now, rtt);
                    self.write(out, kind, start, len);
                    return Some(Emitted { checkpoint, retransmission: true });
                }
            }
        }
    }

    /// Appends the next first-pass segment to `out`.
    pub fn emit_first_pass(&mut self, mtu: usize, link_now: u64, rtt: u64, out: &mut Vec<u8>) -> Option<Emitted> {
        let offset = self.sent;
        if offset >= self.block_len() {
            return None;
        }
        let red = offset < self.red_len;
        let end = if red { self.red_len } else { self.block_len() };
        let (kind, len) = self.cut(offset, end, red, red.then_some(0), mtu);
        self.sent = offset + len;
        let checkpoint = self.note_checkpoint(kind, offset, len, link_now, rtt);
        self.write(out, kind, offset, len);
        Some(Emitted { checkpoint, retransmission: false })
    }

    /// The kind and length of the segment at `offset` in a run ending at `end`: as much as
    /// fits, and if it reaches `end`, the run's final kind (a checkpoint citing `report` for
    /// red runs that want one, green end-of-block at the end of the block).
    fn cut(&mut self, offset: u64, end: u64, red: bool, report: Option<u64>, mtu: usize) -> (DataKind, u64) {
        let plain = if red { DataKind::Red } else { DataKind::Green { end_of_block: false } };
        let room = |kind, len| {
            (mtu.saturating_sub(segment::data_header_len(self.id, kind, self.client, offset, len)) as u64).max(1)
        };
        let left = end - offset;
        let plain_room = room(plain, left);
        if plain_room < left {
            return (plain, plain_room);
        }
        let last = match (red, report) {
            (true, Some(report_serial)) => DataKind::Checkpoint {
                checkpoint_serial: self.next_checkpoint,
                report_serial,
                end: match end == self.red_len {
                    false => RedEnd::None,
                    true if self.red_len == self.block_len() => RedEnd::Block,
                    true => RedEnd::RedPart,
                },
            },
            (true, None) => DataKind::Red,
            (false, _) => DataKind::Green { end_of_block: end == self.block_len() },
        };
        let last_room = room(last, left);
        if last_room >= left { (last, left) } else { (plain, last_room) }
    }

    fn note_checkpoint(
        &mut self,
        kind: DataKind,
        offset: u64,
        len: u64,
        link_now: u64,
        rtt: u64,
    ) -> Option<(u64, u64)> {
        let DataKind::Checkpoint { checkpoint_serial, report_serial, end } = kind else { return None };
        self.next_checkpoint += 1;
        let deadline = link_now.saturating_add(rtt);
        self.checkpoints.insert(
            checkpoint_serial,
            Checkpoint { offset, len, report_serial, end, retries: 0, deadline: Some(deadline) },
        );
        Some((checkpoint_serial, deadline))
    }

    fn write(&self, out: &mut Vec<u8>, kind: DataKind, offset: u64, len: u64) {
        segment::write_data_header(out, self.id, kind, self.client, offset, len);
        let data = usize::try_from(offset)
            .ok()
            .and_then(|start| self.block.get(start..start.checked_add(usize::try_from(len).ok()?)?));
        // Offsets and lengths come from `cut`, inside the block.
        out.extend_from_slice(data.unwrap_or_default());
    }

    /// A checkpoint timer fired at `deadline`: queue the checkpoint again, or say the
    /// retries are spent. `None` if the timer is stale (answered or re-armed).
    pub fn checkpoint_expired(&mut self, serial: u64, deadline: u64, max_retries: u32) -> Option<bool> {
        let cp = self.checkpoints.get_mut(&serial)?;
        if cp.deadline != Some(deadline) || self.cancel.is_some() {
            return None;
        }
        cp.retries += 1;
        if cp.retries > max_retries {
            return Some(false);
        }
        cp.deadline = None;
        self.resend.push_front(Resend::Checkpoint(serial));
        Some(true)
    }

    /// A report arrived: merge its claims, stop the checkpoint it answers, queue what it
    /// does not claim.
    pub fn on_report(&mut self, report: &Report, max_reports: u32) -> ReportOutcome {
        if self.answered.contains(&report.serial) {
            return ReportOutcome::Duplicate;
        }
        if self.answered.len() >= max_reports as usize {
            return ReportOutcome::TooManyCycles;
        }
        self.answered.insert(report.serial);
        for claim in &report.claims {
            self.claimed.insert(claim.offset.min(self.red_len), claim.end().min(self.red_len));
        }
        self.checkpoints.remove(&report.checkpoint_serial);
        if self.claimed.contains(0, self.red_len) {
            self.resend.clear();
            self.checkpoints.clear();
            return ReportOutcome::RedComplete;
        }
        let upper = report.upper.min(self.red_len);
        let gaps: Vec<(u64, u64)> = self.claimed.gaps(report.lower.min(upper), upper).collect();
        let count = gaps.len();
        for (i, (start, end)) in gaps.into_iter().enumerate() {
            let report = (i + 1 == count).then_some(report.serial);
            self.resend.push_back(Resend::Range { start, end, report });
        }
        ReportOutcome::Progress
    }

    /// Starts cancelling: nothing more is sent but the cancel segment.
    pub fn start_cancel(&mut self, reason: CancelReason, deadline: u64) {
        self.resend.clear();
        self.checkpoints.clear();
        self.cancel = Some(Cancelling { reason, retries: 0, deadline });
    }
}
