//! TCPCLv4 messages (RFC 9174 4.2, 4.6, 5.1-5.2, 6.1): big-endian fixed-width fields.
//!
//! [`frame_len`] tells, from the bytes received so far, whether a whole message is there and
//! how long it is, without copying; [`Message::parse`] then reads it from a `Bytes` frame,
//! with segment data and extension values as slices of it.

use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

/// The contact header's magic, "dtn!".
pub const MAGIC: [u8; 4] = *b"dtn!";
/// The protocol version this codec speaks.
pub const VERSION: u8 = 4;
/// Transfer extension item: Transfer Length (value: u64 total octets).
pub const EXT_TRANSFER_LENGTH: u16 = 0x0001;

/// The contact header (4.2), sent once by each side before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactHeader {
    /// Protocol version (4 here; another value means the peer speaks another TCPCL).
    pub version: u8,
    /// The sender can use TLS.
    pub can_tls: bool,
}

impl ContactHeader {
    /// Its six bytes.
    pub fn encode(&self) -> [u8; 6] {
        let [a, b, c, d] = MAGIC;
        [a, b, c, d, self.version, u8::from(self.can_tls)]
    }

    /// Reads a contact header from the start of `buf`: `Ok(None)` while fewer than six bytes
    /// are there. Wrong magic is an error (the peer is not a TCPCL entity).
    pub fn decode(buf: &[u8]) -> Result<Option<ContactHeader>, DecodeError> {
        let Some(head) = buf.get(..6) else {
            // A short prefix that already contradicts the magic is not worth waiting for.
            let n = buf.len().min(4);
            if buf.get(..n) != MAGIC.get(..n) {
                return Err(DecodeError::BadMagic);
            }
            return Ok(None);
        };
        if head.get(..4) != Some(&MAGIC[..]) {
            return Err(DecodeError::BadMagic);
        }
        let (version, flags) = (head.get(4).copied().unwrap_or(0), head.get(5).copied().unwrap_or(0));
        Ok(Some(ContactHeader { version, can_tls: flags & 0x01 != 0 }))
    }
}

/// A session or transfer extension item (4.8, 5.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtItem {
    /// The receiver must understand it or fail.
    pub critical: bool,
    /// Item type.
    pub item_type: u16,
    /// Item value.
    pub value: Bytes,
}

/// SESS_INIT (4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessInit {
    /// Keepalive interval the sender asks for, seconds (0: none).
    pub keepalive_s: u16,
    /// Largest segment the sender will receive, octets.
    pub segment_mru: u64,
    /// Largest transfer the sender will receive, octets.
    pub transfer_mru: u64,
    /// The sender's node ID (a URI).
    pub node_id: String,
    /// Session extension items.
    pub extensions: Vec<ExtItem>,
}

/// XFER_SEGMENT flags (5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentFlags {
    /// First segment of a transfer.
    pub start: bool,
    /// Last segment of a transfer.
    pub end: bool,
}

impl SegmentFlags {
    fn bits(self) -> u8 {
        (u8::from(self.start) << 1) | u8::from(self.end)
    }

    fn from_bits(bits: u8) -> Self {
        // Unassigned bits are ignored (5.2.2).
        SegmentFlags { start: bits & 0x02 != 0, end: bits & 0x01 != 0 }
    }
}

/// XFER_REFUSE reasons (5.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseReason {
    /// 0.
    Unknown,
    /// 1: the receiver already has the whole bundle.
    Completed,
    /// 2: no room.
    NoResources,
    /// 3: send it again.
    Retransmit,
    /// 4: not acceptable (e.g. above the transfer MRU).
    NotAcceptable,
    /// 5: a critical transfer extension is not understood.
    ExtensionFailure,
    /// 6: the session is ending.
    SessionTerminating,
    /// Any other code.
    Other(u8),
}

impl RefuseReason {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            RefuseReason::Unknown => 0,
            RefuseReason::Completed => 1,
            RefuseReason::NoResources => 2,
            RefuseReason::Retransmit => 3,
            RefuseReason::NotAcceptable => 4,
            RefuseReason::ExtensionFailure => 5,
            RefuseReason::SessionTerminating => 6,
            RefuseReason::Other(c) => c,
        }
    }

    /// From the wire code.
    pub fn from_code(c: u8) -> Self {
        match c {
            0 => RefuseReason::Unknown,
            1 => RefuseReason::Completed,
            2 => RefuseReason::NoResources,
            3 => RefuseReason::Retransmit,
            4 => RefuseReason::NotAcceptable,
            5 => RefuseReason::ExtensionFailure,
            6 => RefuseReason::SessionTerminating,
            c => RefuseReason::Other(c),
        }
    }
}

/// SESS_TERM reasons (6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermReason {
    /// 0.
    Unknown,
    /// 1: nothing received for too long.
    IdleTimeout,
    /// 2: the peer's contact header had another version.
    VersionMismatch,
    /// 3: too busy.
    Busy,
    /// 4: the session could not be set up (e.g. a critical session extension, a node ID).
    ContactFailure,
    /// 5: out of resources (e.g. a segment above the MRU).
    ResourceExhaustion,
    /// Any other code.
    Other(u8),
}

impl TermReason {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            TermReason::Unknown => 0,
            TermReason::IdleTimeout => 1,
            TermReason::VersionMismatch => 2,
            TermReason::Busy => 3,
            TermReason::ContactFailure => 4,
            TermReason::ResourceExhaustion => 5,
            TermReason::Other(c) => c,
        }
    }

    /// From the wire code.
    pub fn from_code(c: u8) -> Self {
        match c {
            0 => TermReason::Unknown,
            1 => TermReason::IdleTimeout,
            2 => TermReason::VersionMismatch,
            3 => TermReason::Busy,
            4 => TermReason::ContactFailure,
            5 => TermReason::ResourceExhaustion,
            c => TermReason::Other(c),
        }
    }
}

/// MSG_REJECT reasons (5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// 1: unknown message type.
    UnknownType,
    /// 2: understood but not supported.
    Unsupported,
    /// 3: not expected now.
    Unexpected,
    /// Any other code.
    Other(u8),
}

impl RejectReason {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            RejectReason::UnknownType => 1,
            RejectReason::Unsupported => 2,
            RejectReason::Unexpected => 3,
            RejectReason::Other(c) => c,
        }
    }

    /// From the wire code.
    pub fn from_code(c: u8) -> Self {
        match c {
            1 => RejectReason::UnknownType,
            2 => RejectReason::Unsupported,
            3 => RejectReason::Unexpected,
            c => RejectReason::Other(c),
        }
    }
}

/// A TCPCLv4 message after the contact header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 0x07.
    SessInit(SessInit),
    /// 0x01.
    XferSegment {
        /// START / END.
        flags: SegmentFlags,
        /// Transfer ID.
        transfer_id: u64,
        /// Transfer extension items (START segments only).
        extensions: Vec<ExtItem>,
        /// The segment's data.
        data: Bytes,
    },
    /// 0x02.
    XferAck {
        /// The acknowledged segment's flags.
        flags: SegmentFlags,
        /// Transfer ID.
        transfer_id: u64,
        /// Octets of the transfer received so far.
        length: u64,
    },
    /// 0x03.
    XferRefuse {
        /// Why.
        reason: RefuseReason,
        /// Transfer ID.
        transfer_id: u64,
    },
    /// 0x04.
    Keepalive,
    /// 0x05.
    SessTerm {
        /// An answer to the peer's SESS_TERM.
        reply: bool,
        /// Why.
        reason: TermReason,
    },
    /// 0x06.
    MsgReject {
        /// Why.
        reason: RejectReason,
        /// The rejected message's type octet.
        header: u8,
    },
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The contact header does not start with "dtn!".
    #[error("contact header magic is not \"dtn!\"")]
    BadMagic,
    /// A message type octet no TCPCLv4 message has.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// A segment longer than this side's segment MRU.
    #[error("segment of {len} octets is above the segment MRU of {mru}")]
    SegmentTooLarge {
        /// Declared data length.
        len: u64,
        /// This side's limit.
        mru: u64,
    },
    /// A length field that cannot be right (extension list over its limit, items that
    /// overrun their list).
    #[error("{field}: length {len} is not acceptable")]
    BadLength {
        /// The field.
        field: &'static str,
        /// Its value.
        len: u64,
    },
    /// The node ID is not UTF-8.
    #[error("node ID is not UTF-8")]
    NodeIdNotUtf8,
}

/// Limits a receiver enforces while framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// This side's segment MRU.
    pub segment_mru: u64,
    /// Longest extension-item list accepted (session or transfer), octets.
    pub max_extensions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { segment_mru: 1 << 20, max_extensions: 64 * 1024 }
    }
}

/// Big-endian field reader over a prefix of the received bytes.
struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    /// The next `n` bytes, or `None` if they have not arrived.
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let bytes = self.buf.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).and_then(|b| b.try_into().ok()).map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
    }
}

/// Whether `buf` starts with a whole message: `Ok(Some(len))` if so, `Ok(None)` if more
/// bytes are needed, an error if no number of further bytes can make it valid.
pub fn frame_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, DecodeError> {
    let mut f = Fields { buf, at: 0 };
    let Some(kind) = f.u8() else { return Ok(None) };
    let need = |f: &Fields<'_>, n: u64| -> Result<Option<usize>, DecodeError> {
        let total = (f.at as u64).checked_add(n).ok_or(DecodeError::BadLength { field: "message", len: n })?;
        let total = usize::try_from(total).map_err(|_| DecodeError::BadLength { field: "message", len: n })?;
        Ok((buf.len() >= total).then_some(total))
    };
    match kind {
        0x01 => {
            let Some(flags) = f.u8() else { return Ok(None) };
            if f.u64().is_none() {
                return Ok(None);
            }
            if SegmentFlags::from_bits(flags).start {
                let Some(ext) = f.u32() else { return Ok(None) };
                if ext > limits.max_extensions {
                    return Err(DecodeError::BadLength { field: "transfer extension items", len: ext.into() });
                }
                if f.take(ext as usize).is_none() {
                    return Ok(None);
                }
            }
            let Some(len) = f.u64() else { return Ok(None) };
            if len > limits.segment_mru {
                return Err(DecodeError::SegmentTooLarge { len, mru: limits.segment_mru });
            }
            need(&f, len)
        }
        0x02 => need(&f, 1 + 8 + 8),
        0x03 => need(&f, 1 + 8),
        0x04 => need(&f, 0),
        0x05 | 0x06 => need(&f, 2),
        0x07 => {
            if f.take(2 + 8 + 8).is_none() {
                return Ok(None);
            }
            let Some(id_len) = f.u16() else { return Ok(None) };
            if f.take(id_len.into()).is_none() {
                return Ok(None);
            }
            let Some(ext) = f.u32() else { return Ok(None) };
            if ext > limits.max_extensions {
                return Err(DecodeError::BadLength { field: "session extension items", len: ext.into() });
            }
            need(&f, ext.into())
        }
        other => Err(DecodeError::UnknownType(other)),
    }
}

fn parse_items(bytes: &Bytes, field: &'static str) -> Result<Vec<ExtItem>, DecodeError> {
    let mut items = Vec::new();
    let mut f = Fields { buf: bytes, at: 0 };
    while f.at < bytes.len() {
        let bad = DecodeError::BadLength { field, len: bytes.len() as u64 };
        let flags = f.u8().ok_or(bad)?;
        let item_type = f.u16().ok_or(bad)?;
        let len = usize::from(f.u16().ok_or(bad)?);
        let start = f.at;
        f.take(len).ok_or(bad)?;
        items.push(ExtItem { critical: flags & 0x01 != 0, item_type, value: bytes.slice(start..start + len) });
    }
    Ok(items)
}

fn encode_items(out: &mut Vec<u8>, items: &[ExtItem]) {
    for item in items {
        out.push(u8::from(item.critical));
        out.extend_from_slice(&item.item_type.to_be_bytes());
        out.extend_from_slice(&(item.value.len() as u16).to_be_bytes());
        out.extend_from_slice(&item.value);
    }
}

fn items_len(items: &[ExtItem]) -> usize {
    items.iter().map(|i| 5 + i.value.len()).sum()
}

impl Message {
    /// Reads one whole message (as [`frame_len`] measured it) from `frame`; data and
    /// extension values are slices of it.
    pub fn parse(frame: &Bytes, limits: &Limits) -> Result<Message, DecodeError> {
        let len =
            frame_len(frame, limits)?.ok_or(DecodeError::BadLength { field: "message", len: frame.len() as u64 })?;
        let mut f = Fields { buf: frame, at: 1 };
        let short = DecodeError::BadLength { field: "message", len: len as u64 };
        let kind = frame.first().copied().unwrap_or(0);
        Ok(match kind {
            0x01 => {
                let flags = SegmentFlags::from_bits(f.u8().ok_or(short)?);
                let transfer_id = f.u64().ok_or(short)?;
                let extensions = if flags.start {
                    let n = f.u32().ok_or(short)? as usize;
                    let start = f.at;
                    f.take(n).ok_or(short)?;
                    parse_items(&frame.slice(start..start + n), "transfer extension items")?
                } else {
                    Vec::new()
                };
                let n = usize::try_from(f.u64().ok_or(short)?).map_err(|_| short)?;
                let start = f.at;
                f.take(n).ok_or(short)?;
                Message::XferSegment { flags, transfer_id, extensions, data: frame.slice(start..start + n) }
            }
            0x02 => Message::XferAck {
                flags: SegmentFlags::from_bits(f.u8().ok_or(short)?),
                transfer_id: f.u64().ok_or(short)?,
                length: f.u64().ok_or(short)?,
            },
            0x03 => Message::XferRefuse {
                reason: RefuseReason::from_code(f.u8().ok_or(short)?),
                transfer_id: f.u64().ok_or(short)?,
            },
            0x04 => Message::Keepalive,
            0x05 => {
                let flags = f.u8().ok_or(short)?;
                Message::SessTerm { reply: flags & 0x01 != 0, reason: TermReason::from_code(f.u8().ok_or(short)?) }
            }
            0x06 => Message::MsgReject {
                reason: RejectReason::from_code(f.u8().ok_or(short)?),
                header: f.u8().ok_or(short)?,
            },
            0x07 => {
                let keepalive_s = f.u16().ok_or(short)?;
                let segment_mru = f.u64().ok_or(short)?;
                let transfer_mru = f.u64().ok_or(short)?;
                let id_len = usize::from(f.u16().ok_or(short)?);
                let node_id =
                    core::str::from_utf8(f.take(id_len).ok_or(short)?).map_err(|_| DecodeError::NodeIdNotUtf8)?.into();
                let n = f.u32().ok_or(short)? as usize;
                let start = f.at;
                f.take(n).ok_or(short)?;
                let extensions = parse_items(&frame.slice(start..start + n), "session extension items")?;
                Message::SessInit(SessInit { keepalive_s, segment_mru, transfer_mru, node_id, extensions })
            }
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Appends the message's encoding, except a segment's data, to `out`; returns the data to
    /// send after it (empty for other messages), so segments go out without copying it.
    pub fn encode_head(&self, out: &mut Vec<u8>) -> Bytes {
        match self {
            Message::SessInit(s) => {
                out.push(0x07);
                out.extend_from_slice(&s.keepalive_s.to_be_bytes());
                out.extend_from_slice(&s.segment_mru.to_be_bytes());
                out.extend_from_slice(&s.transfer_mru.to_be_bytes());
                out.extend_from_slice(&(s.node_id.len() as u16).to_be_bytes());
                out.extend_from_slice(s.node_id.as_bytes());
                out.extend_from_slice(&(items_len(&s.extensions) as u32).to_be_bytes());
                encode_items(out, &s.extensions);
                Bytes::new()
            }
            Message::XferSegment { flags, transfer_id, extensions, data } => {
                out.push(0x01);
                out.push(flags.bits());
                out.extend_from_slice(&transfer_id.to_be_bytes());
                if flags.start {
                    out.extend_from_slice(&(items_len(extensions) as u32).to_be_bytes());
                    encode_items(out, extensions);
                }
                out.extend_from_slice(&(data.len() as u64).to_be_bytes());
                data.clone()
            }
            Message::XferAck { flags, transfer_id, length } => {
                out.push(0x02);
                out.push(flags.bits());
                out.extend_from_slice(&transfer_id.to_be_bytes());
                out.extend_from_slice(&length.to_be_bytes());
                Bytes::new()
            }
            Message::XferRefuse { reason, transfer_id } => {
                out.push(0x03);
                out.push(reason.code());
                out.extend_from_slice(&transfer_id.to_be_bytes());
                Bytes::new()
            }
            Message::Keepalive => {
                out.push(0x04);
                Bytes::new()
            }
            Message::SessTerm { reply, reason } => {
                out.extend_from_slice(&[0x05, u8::from(*reply), reason.code()]);
                Bytes::new()
            }
            Message::MsgReject { reason, header } => {
                out.extend_from_slice(&[0x06, reason.code(), *header]);
                Bytes::new()
            }
        }
    }

    /// The whole encoding in one buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let data = self.encode_head(&mut out);
        out.extend_from_slice(&data);
        out
    }
}
