//! LTP segments (RFC 5326 3, with verified erratum 1657 on the type flags): the codec.
//!
//! [`Segment::decode`] reads one segment from one datagram, checking every length, count and
//! offset against the bytes that are there before using it: the work is linear in the
//! datagram and nothing is allocated from an unchecked field. Data is a zero-copy slice of
//! the datagram. Header and trailer extensions are skipped (their lengths checked).
//! Report claims are turned into absolute block offsets here, once, and must be in order,
//! non-empty, non-overlapping and inside the report's bounds.

use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use super::SessionId;
use super::sdnv::{self, SdnvError};

/// One LTP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The session it belongs to: its originator (the block sender's engine) and number.
    pub session: SessionId,
    /// What it carries.
    pub body: Body,
}

/// The content of a segment, by type (RFC 5326 3.1.1 and 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Types 0-4 and 7: block data.
    Data(DataSegment),
    /// Type 8: which red ranges the receiver has.
    Report(Report),
    /// Type 9: the sender acknowledges the report with this serial number.
    ReportAck {
        /// The report's serial number.
        serial: u64,
    },
    /// Types 12 (by the sender) and 14 (by the receiver): the session is cancelled.
    Cancel {
        /// Who cancels.
        by: Side,
        /// Why.
        reason: CancelReason,
    },
    /// Types 13 (acknowledging a cancel by the sender) and 15 (by the receiver).
    CancelAck {
        /// Whose cancel is acknowledged.
        of: Side,
    },
}

/// The two ends of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The block sender (the session originator).
    Sender,
    /// The block receiver.
    Receiver,
}

/// A data segment (RFC 5326 3.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSegment {
    /// Red or green, and the flags it carries.
    pub kind: DataKind,
    /// The client service the block is for (1 = the Bundle Protocol).
    pub client_service: u64,
    /// Offset of the first byte within the block.
    pub offset: u64,
    /// The bytes.
    pub data: Bytes,
}

impl DataSegment {
    /// Offset just past the data (checked against overflow when decoded).
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.data.len() as u64)
    }

    /// True for red data.
    pub fn is_red(&self) -> bool {
        !matches!(self.kind, DataKind::Green { .. })
    }
}

/// Data segment types (RFC 5326 3.1.1 as corrected by erratum 1657).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Type 0: red data, no flags.
    Red,
    /// Types 1-3: a red checkpoint, asking for a report.
    Checkpoint {
        /// This checkpoint's serial number.
        checkpoint_serial: u64,
        /// The report it answers with a retransmission, 0 if none.
        report_serial: u64,
        /// Whether it ends the red part (type 2) and the block (type 3).
        end: RedEnd,
    },
    /// Types 4 and 7: green data, type 7 ending the block.
    Green {
        /// Type 7.
        end_of_block: bool,
    },
}

/// What a red checkpoint ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedEnd {
    /// Type 1: nothing.
    None,
    /// Type 2: the red part (green data follows).
    RedPart,
    /// Type 3: the red part and the block.
    Block,
}

/// A report segment (RFC 5326 3.2.2), claims in absolute block offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// This report's serial number.
    pub serial: u64,
    /// The checkpoint it answers, 0 for an asynchronous report.
    pub checkpoint_serial: u64,
    /// The end of the block range the report covers.
    pub upper: u64,
    /// The start of that range.
    pub lower: u64,
    /// Received ranges within `[lower, upper)`, in order, not overlapping.
    pub claims: Vec<Claim>,
}

/// One received range of red data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Block offset of the first byte.
    pub offset: u64,
    /// Bytes received from there (never 0).
    pub length: u64,
}

impl Claim {
    /// Offset just past the range.
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// Cancel reason codes (RFC 5326 3.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// 0: the client service cancelled.
    UserCancelled,
    /// 1: the receiving client service is not there.
    Unreachable,
    /// 2: a retransmission limit was exceeded.
    RetransmitLimit,
    /// 3: red data in the green part or green in the red.
    Miscolored,
    /// 4: the engine cancelled (limits, shutdown).
    SystemCancelled,
    /// 5: too many retransmission cycles.
    RetransmitCycles,
    /// A code RFC 5326 reserves.
    Reserved(u8),
}

impl CancelReason {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            CancelReason::UserCancelled => 0,
            CancelReason::Unreachable => 1,
            CancelReason::RetransmitLimit => 2,
            CancelReason::Miscolored => 3,
            CancelReason::SystemCancelled => 4,
            CancelReason::RetransmitCycles => 5,
            CancelReason::Reserved(code) => code,
        }
    }

    /// The reason for a wire code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => CancelReason::UserCancelled,
            1 => CancelReason::Unreachable,
            2 => CancelReason::RetransmitLimit,
            3 => CancelReason::Miscolored,
            4 => CancelReason::SystemCancelled,
            5 => CancelReason::RetransmitCycles,
            other => CancelReason::Reserved(other),
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::UserCancelled => f.write_str("cancelled by the client service"),
            CancelReason::Unreachable => f.write_str("client service unreachable"),
            CancelReason::RetransmitLimit => f.write_str("retransmission limit exceeded"),
            CancelReason::Miscolored => f.write_str("miscolored data"),
            CancelReason::SystemCancelled => f.write_str("cancelled by the engine"),
            CancelReason::RetransmitCycles => f.write_str("retransmission cycles exceeded"),
            CancelReason::Reserved(code) => write!(f, "reserved reason code {code}"),
        }
    }
}

/// Why a datagram is not an LTP segment; `offset` is the byte at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset} of the segment: {kind}")]
pub struct SegmentError {
    /// Byte offset within the datagram.
    pub offset: usize,
    /// What is wrong there.
    pub kind: SegmentErrorKind,
}

/// The ways a segment can be malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SegmentErrorKind {
    /// The datagram ends inside `field`.
    #[error("the segment ends inside its {0}")]
    Truncated(&'static str),
    /// An SDNV field above 64 bits.
    #[error("the {0} is above 64 bits")]
    Overflow(&'static str),
    /// A version other than 0.
    #[error("LTP version {0} (only version 0 is defined)")]
    Version(u8),
    /// Segment types 5, 6, 10 and 11.
    #[error("undefined segment type {0}")]
    UndefinedType(u8),
    /// A data length beyond the datagram.
    #[error("{declared} bytes of data declared, {available} present")]
    DataLength {
        /// Declared.
        declared: u64,
        /// Left in the datagram.
        available: usize,
    },
    /// Offset plus length above 2^64.
    #[error("the data ends past 2^64")]
    OffsetOverflow,
    /// More claims than the segment has bytes for.
    #[error("{count} reception claims cannot fit in the {available} bytes left")]
    ClaimCount {
        /// Declared.
        count: u64,
        /// Left in the datagram.
        available: usize,
    },
    /// A report whose lower bound is above its upper bound.
    #[error("lower bound {lower} above upper bound {upper}")]
    Bounds {
        /// Lower bound.
        lower: u64,
        /// Upper bound.
        upper: u64,
    },
    /// Claim number `index` is empty, out of order, overlapping or outside the bounds.
    #[error("reception claim {index} is empty, out of order or outside the report's bounds")]
    Claim {
        /// Zero-based claim index.
        index: u64,
    },
    /// Bytes after the last trailer extension.
    #[error("{0} bytes after the end of the segment")]
    Trailing(usize),
}

/// Segment type codes (RFC 5326 3.1.1).
mod code {
    pub const RED: u8 = 0;
    pub const RED_CHECKPOINT: u8 = 1;
    pub const RED_EORP: u8 = 2;
    pub const RED_EOB: u8 = 3;
    pub const GREEN: u8 = 4;
    pub const GREEN_EOB: u8 = 7;
    pub const REPORT: u8 = 8;
    pub const REPORT_ACK: u8 = 9;
    pub const CANCEL_BY_SENDER: u8 = 12;
    pub const CANCEL_ACK_TO_SENDER: u8 = 13;
    pub const CANCEL_BY_RECEIVER: u8 = 14;
    pub const CANCEL_ACK_TO_RECEIVER: u8 = 15;
}

/// A cursor over the datagram that names the field it fails in.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn fail(&self, kind: SegmentErrorKind) -> SegmentError {
        SegmentError { offset: self.pos, kind }
    }

    fn sdnv(&mut self, field: &'static str) -> Result<u64, SegmentError> {
        let start = self.pos;
        sdnv::decode(self.input, &mut self.pos).map_err(|e| SegmentError {
            offset: start,
            kind: match e {
                SdnvError::Truncated => SegmentErrorKind::Truncated(field),
                SdnvError::Overflow => SegmentErrorKind::Overflow(field),
            },
        })
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, SegmentError> {
        let byte = *self.input.get(self.pos).ok_or(self.fail(SegmentErrorKind::Truncated(field)))?;
        self.pos += 1;
        Ok(byte)
    }

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Skips `count` extensions (tag, SDNV length, value).
    fn skip_extensions(&mut self, count: u8, field: &'static str) -> Result<(), SegmentError> {
        for _ in 0..count {
            self.byte(field)?;
            let len = self.sdnv(field)?;
            if len > self.remaining() as u64 {
                return Err(self.fail(SegmentErrorKind::Truncated(field)));
            }
            self.pos += len as usize;
        }
        Ok(())
    }
}

impl Segment {
    /// Reads one segment that fills `datagram` exactly.
    pub fn decode(datagram: &Bytes) -> Result<Segment, SegmentError> {
        let mut r = Reader { input: datagram, pos: 0 };
        let control = r.byte("control byte")?;
        if control >> 4 != 0 {
            return Err(SegmentError { offset: 0, kind: SegmentErrorKind::Version(control >> 4) });
        }
        let kind = control & 0x0f;
        let session = SessionId { originator: r.sdnv("session originator")?, number: r.sdnv("session number")? };
        let extensions = r.byte("extension counts")?;
        r.skip_extensions(extensions >> 4, "header extension")?;
        let body = match kind {
            code::RED..=code::GREEN | code::GREEN_EOB => Body::Data(decode_data(&mut r, kind, datagram)?),
            code::REPORT => Body::Report(decode_report(&mut r)?),
            code::REPORT_ACK => Body::ReportAck { serial: r.sdnv("report serial number")? },
            code::CANCEL_BY_SENDER | code::CANCEL_BY_RECEIVER => Body::Cancel {
                by: if kind == code::CANCEL_BY_SENDER { Side::Sender } else { Side::Receiver },
                reason: CancelReason::from_code(r.byte("cancel reason")?),
            },
            code::CANCEL_ACK_TO_SENDER => Body::CancelAck { of: Side::Sender },
            code::CANCEL_ACK_TO_RECEIVER => Body::CancelAck { of: Side::Receiver },
            other => return Err(SegmentError { offset: 0, kind: SegmentErrorKind::UndefinedType(other) }),
        };
        r.skip_extensions(extensions & 0x0f, "trailer extension")?;
        if r.remaining() > 0 {
            return Err(r.fail(SegmentErrorKind::Trailing(r.remaining())));
        }
        Ok(Segment { session, body })
    }

    /// Appends the segment's encoding (no extensions).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Data(d) => {
                write_data_header(out, self.session, d.kind, d.client_service, d.offset, d.data.len() as u64);
                out.extend_from_slice(&d.data);
            }
            Body::Report(report) => write_report(out, self.session, report),
            Body::ReportAck { serial } => {
                write_header(out, code::REPORT_ACK, self.session);
                sdnv::encode(out, *serial);
            }
            Body::Cancel { by, reason } => {
                let kind = if *by == Side::Sender { code::CANCEL_BY_SENDER } else { code::CANCEL_BY_RECEIVER };
                write_header(out, kind, self.session);
                out.push(reason.code());
            }
            Body::CancelAck { of } => {
                let kind = if *of == Side::Sender { code::CANCEL_ACK_TO_SENDER } else { code::CANCEL_ACK_TO_RECEIVER };
                write_header(out, kind, self.session);
            }
        }
    }

    /// The segment as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn decode_data(r: &mut Reader<'_>, kind: u8, datagram: &Bytes) -> Result<DataSegment, SegmentError> {
    let client_service = r.sdnv("client service ID")?;
    let offset = r.sdnv("data offset")?;
    let length_at = r.pos;
    let length = r.sdnv("data length")?;
    let kind = match kind {
        code::RED => DataKind::Red,
        code::GREEN => DataKind::Green { end_of_block: false },
        code::GREEN_EOB => DataKind::Green { end_of_block: true },
        checkpoint => DataKind::Checkpoint {
            checkpoint_serial: r.sdnv("checkpoint serial number")?,
            report_serial: r.sdnv("report serial number")?,
            end: match checkpoint {
                code::RED_CHECKPOINT => RedEnd::None,
                code::RED_EORP => RedEnd::RedPart,
                _ => RedEnd::Block,
            },
        },
    };
    if length > r.remaining() as u64 {
        return Err(SegmentError {
            offset: length_at,
            kind: SegmentErrorKind::DataLength { declared: length, available: r.remaining() },
        });
    }
    if offset.checked_add(length).is_none() {
        return Err(SegmentError { offset: length_at, kind: SegmentErrorKind::OffsetOverflow });
    }
    let data = datagram.slice(r.pos..r.pos + length as usize);
    r.pos += length as usize;
    Ok(DataSegment { kind, client_service, offset, data })
}

fn decode_report(r: &mut Reader<'_>) -> Result<Report, SegmentError> {
    let serial = r.sdnv("report serial number")?;
    let checkpoint_serial = r.sdnv("checkpoint serial number")?;
    let upper = r.sdnv("upper bound")?;
    let lower_at = r.pos;
    let lower = r.sdnv("lower bound")?;
    if lower > upper {
        return Err(SegmentError { offset: lower_at, kind: SegmentErrorKind::Bounds { lower, upper } });
    }
    let count_at = r.pos;
    let count = r.sdnv("reception claim count")?;
    // Each claim takes at least two bytes: refuse a count the datagram cannot hold before
    // allocating for it.
    if count > (r.remaining() / 2) as u64 {
        return Err(SegmentError {
            offset: count_at,
            kind: SegmentErrorKind::ClaimCount { count, available: r.remaining() },
        });
    }
    let mut claims = Vec::with_capacity(count as usize);
    let mut floor = lower;
    for index in 0..count {
        let at = r.pos;
        let relative = r.sdnv("claim offset")?;
        let length = r.sdnv("claim length")?;
        let claim_ok = lower
            .checked_add(relative)
            .and_then(|offset| Some((offset, offset.checked_add(length)?)))
            .filter(|&(offset, end)| length > 0 && offset >= floor && end <= upper);
        let Some((offset, end)) = claim_ok else {
            return Err(SegmentError { offset: at, kind: SegmentErrorKind::Claim { index } });
        };
        claims.push(Claim { offset, length });
        floor = end;
    }
    Ok(Report { serial, checkpoint_serial, upper, lower, claims })
}

fn write_header(out: &mut Vec<u8>, kind: u8, session: SessionId) {
    out.push(kind);
    sdnv::encode(out, session.originator);
    sdnv::encode(out, session.number);
    out.push(0);
}

/// Appends a data segment's header; `len` bytes of data must follow.
pub fn write_data_header(out: &mut Vec<u8>, session: SessionId, kind: DataKind, client: u64, offset: u64, len: u64) {
    let type_code = match kind {
        DataKind::Red => code::RED,
        DataKind::Checkpoint { end: RedEnd::None, .. } => code::RED_CHECKPOINT,
        DataKind::Checkpoint { end: RedEnd::RedPart, .. } => code::RED_EORP,
        DataKind::Checkpoint { end: RedEnd::Block, .. } => code::RED_EOB,
        DataKind::Green { end_of_block: false } => code::GREEN,
        DataKind::Green { end_of_block: true } => code::GREEN_EOB,
    };
    write_header(out, type_code, session);
    sdnv::encode(out, client);
    sdnv::encode(out, offset);
    sdnv::encode(out, len);
    if let DataKind::Checkpoint { checkpoint_serial, report_serial, .. } = kind {
        sdnv::encode(out, checkpoint_serial);
        sdnv::encode(out, report_serial);
    }
}

/// Bytes a data segment header takes.
pub fn data_header_len(session: SessionId, kind: DataKind, client: u64, offset: u64, len: u64) -> usize {
    let serials = match kind {
        DataKind::Checkpoint { checkpoint_serial, report_serial, .. } => {
            sdnv::encoded_len(checkpoint_serial) + sdnv::encoded_len(report_serial)
        }
        _ => 0,
    };
    2 + sdnv::encoded_len(session.originator)
        + sdnv::encoded_len(session.number)
        + sdnv::encoded_len(client)
        + sdnv::encoded_len(offset)
        + sdnv::encoded_len(len)
        + serials
}

fn write_report(out: &mut Vec<u8>, session: SessionId, report: &Report) {
    write_header(out, code::REPORT, session);
    sdnv::encode(out, report.serial);
    sdnv::encode(out, report.checkpoint_serial);
    sdnv::encode(out, report.upper);
    sdnv::encode(out, report.lower);
    sdnv::encode(out, report.claims.len() as u64);
    for claim in &report.claims {
        sdnv::encode(out, claim.offset.saturating_sub(report.lower));
        sdnv::encode(out, claim.length);
    }
}

/// Bytes a report with these fields and no claims takes, and the most one claim adds.
pub fn report_len_without_claims(session: SessionId, serial: u64, checkpoint: u64, upper: u64, lower: u64) -> usize {
    2 + sdnv::encoded_len(session.originator)
        + sdnv::encoded_len(session.number)
        + sdnv::encoded_len(serial)
        + sdnv::encoded_len(checkpoint)
        + sdnv::encoded_len(upper)
        + sdnv::encoded_len(lower)
        // The claim count, written once all claims are known: at most this long.
        + sdnv::MAX_LEN
}

/// The most bytes one claim of a report bounded by `upper` takes.
pub fn max_claim_len(upper: u64) -> usize {
    2 * sdnv::encoded_len(upper)
}
