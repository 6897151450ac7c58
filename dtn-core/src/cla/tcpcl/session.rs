//! The TCPCLv4 session state machine (RFC 9174 3-6), sans-I/O.
//!
//! The host feeds what the connection delivered ([`Session::receive`]) and the time, writes
//! out what [`Session::poll_transmit`] returns, in order, and acts on
//! [`Session::poll_event`]. Time is milliseconds on any monotonic clock.
//!
//! With TLS: when [`SessionEvent::ContactHeaders`] says `tls`, the host takes the bytes
//! already received past the contact header ([`Session::take_unprocessed`]), runs the TLS
//! handshake (the active side is the client), calls [`Session::tls_established`] and from
//! then on feeds the session the decrypted stream.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};

use super::msg::{
    ContactHeader, DecodeError, EXT_TRANSFER_LENGTH, ExtItem, Limits, Message, RefuseReason, RejectReason,
    SegmentFlags, SessInit, TermReason, VERSION, frame_len,
};

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connected: sends its contact header and SESS_INIT first.
    Active,
    /// Accepted: answers.
    Passive,
}

/// This side's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// This node's ID, sent in SESS_INIT.
    pub node_id: String,
    /// Keepalive interval asked for, seconds (0: none).
    pub keepalive_s: u16,
    /// Largest segment accepted.
    pub segment_mru: u64,
    /// Largest transfer (bundle) accepted.
    pub transfer_mru: u64,
    /// Largest segment sent (the peer's segment MRU caps it further).
    pub max_segment: u64,
    /// Offer TLS.
    pub can_tls: bool,
    /// Smallest segment MRU accepted from a peer: below it the session is refused, or a
    /// peer announcing one byte would have every bundle cut into one-byte segments (RFC 9174
    /// sets no floor; 1 KiB costs 2 % in segment heads).
    pub min_peer_segment_mru: u64,
}

/// The default floor on a peer's segment MRU.
pub const MIN_PEER_SEGMENT_MRU: u64 = 1024;
/// How long sent data may wait for the peer's acknowledgement when no keepalive interval was
/// negotiated (with one, twice the interval).
pub const DEFAULT_ACK_TIMEOUT_MS: u64 = 60_000;

impl SessionConfig {
    /// Defaults for `node_id`: keepalive 60 s, 1 MiB segments, 4 GiB transfers, no TLS.
    pub fn new(node_id: impl Into<String>) -> Self {
        SessionConfig {
            node_id: node_id.into(),
            keepalive_s: 60,
            segment_mru: 1 << 20,
            transfer_mru: 1 << 32,
            max_segment: 1 << 20,
            can_tls: false,
            min_peer_segment_mru: MIN_PEER_SEGMENT_MRU,
        }
    }
}

/// What the host learns from the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Both contact headers are through; if `tls`, the host runs the TLS handshake now.
    ContactHeaders {
        /// Both sides offered TLS.
        tls: bool,
    },
    /// SESS_INITs exchanged: bundles may flow.
    Established {
        /// The peer's node ID (to check against its certificate).
        peer_node_id: String,
        /// Negotiated keepalive interval, seconds (0: none).
        keepalive_s: u16,
        /// The peer's transfer MRU: the largest bundle it takes.
        peer_transfer_mru: u64,
    },
    /// A whole bundle arrived.
    Received {
        /// Its transfer ID.
        transfer_id: u64,
        /// The bundle.
        bundle: Bytes,
    },
    /// The peer acknowledged a whole transfer.
    Delivered {
        /// Its transfer ID.
        transfer_id: u64,
    },
    /// The peer refused a transfer (nothing more of it is sent).
    Refused {
        /// Its transfer ID.
        transfer_id: u64,
        /// Why.
        reason: RefuseReason,
    },
    /// The peer rejected a message.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The message type it rejected.
        header: u8,
    },
    /// The session is over: the host writes out what is queued and closes the connection.
    Ended {
        /// Why.
        reason: TermReason,
        /// The peer ended it (or broke the protocol).
        by_peer: bool,
    },
}

/// Why a call cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Bundles can only go once the session is established.
    #[error("the session is not established")]
    NotEstablished,
    /// The session is ending: no new transfers.
    #[error("the session is ending")]
    Ending,
    /// The bundle is larger than the peer's transfer MRU.
    #[error("bundle of {len} octets is above the peer's transfer MRU of {mru}")]
    TooLarge {
        /// Bundle length.
        len: u64,
        /// The peer's limit.
        mru: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    ContactHeader,
    Tls,
    SessInit,
    Established,
    Ending,
    Closed,
}

/// A transfer being received.
#[derive(Debug)]
struct Incoming {
    id: u64,
    data: BytesMut,
    refused: bool,
}

/// A TCPCLv4 session.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    role: Role,
    state: State,
    limits: Limits,
    rx: BytesMut,
    /// Messages to write, as (transfer they belong to, head, segment data): a refused
    /// transfer's unwritten messages are dropped whole.
    tx: VecDeque<(Option<u64>, Bytes, Bytes)>,
    /// The data of the message whose head was handed out last.
    pending: Option<Bytes>,
    /// Octets in `tx` and `pending` (kept as they change: asked for on every host turn).
    queued: usize,
    /// Something was handed out since the host last said it wrote everything.
    handed_out: bool,
    /// Since when everything sent has been written and the peer owes an acknowledgement
    /// (`None`: nothing owed, or still writing).
    awaiting_ack_since: Option<u64>,
    /// Why this side ended the session, in words, when the reason code says too little.
    cause: Option<String>,
    events: VecDeque<SessionEvent>,
    keepalive_ms: u64,
    last_rx: u64,
    last_tx: u64,
    peer_segment_mru: u64,
    peer_transfer_mru: u64,
    next_transfer_id: u64,
    incoming: Option<Incoming>,
    /// Transfers sent and not yet fully acknowledged: id → total length.
    outgoing: BTreeMap<u64, u64>,
}

impl Session {
    /// A session on a new connection at `now`; the active side's contact header is queued.
    pub fn new(config: SessionConfig, role: Role, now: u64) -> Self {
        let limits = Limits { segment_mru: config.segment_mru, ..Limits::default() };
        let mut session = Session {
            config,
            role,
            state: State::ContactHeader,
            limits,
            rx: BytesMut::new(),
            tx: VecDeque::new(),
            pending: None,
            queued: 0,
            handed_out: false,
            awaiting_ack_since: None,
            cause: None,
            events: VecDeque::new(),
            keepalive_ms: 0,
            last_rx: now,
            last_tx: now,
            peer_segment_mru: 0,
            peer_transfer_mru: 0,
            next_transfer_id: 0,
            incoming: None,
            outgoing: BTreeMap::new(),
        };
        if role == Role::Active {
            session.send_contact_header();
        }
        session
    }

    fn send_contact_header(&mut self) {
        let header = ContactHeader { version: VERSION, can_tls: self.config.can_tls }.encode();
        self.queued += header.len();
        self.tx.push_back((None, Bytes::copy_from_slice(&header), Bytes::new()));
    }

    fn send(&mut self, message: &Message, transfer: Option<u64>) {
        let mut head = Vec::new();
        let data = message.encode_head(&mut head);
        self.queued += head.len() + data.len();
        self.tx.push_back((transfer, Bytes::from(head), data));
    }

    /// Takes in bytes the connection delivered at `now`.
    pub fn receive(&mut self, bytes: &[u8], now: u64) {
        if self.state == State::Closed {
            return;
        }
        self.last_rx = now;
        self.last_tx = self.last_tx.min(now);
        self.rx.extend_from_slice(bytes);
        while self.step() {}
    }

    /// Processes one unit of the receive buffer; false when it needs more bytes or stopped.
    fn step(&mut self) -> bool {
        match self.state {
            State::ContactHeader => self.contact_header(),
            State::SessInit | State::Established | State::Ending => self.message(),
            State::Tls | State::Closed => false,
        }
    }

    fn contact_header(&mut self) -> bool {
        let header = match ContactHeader::decode(&self.rx) {
            Ok(Some(h)) => h,
            Ok(None) => return false,
            Err(_) => {
                // Not a TCPCL peer: close without a word (4.3).
                self.close(TermReason::ContactFailure, true);
                return false;
            }
        };
        let _ = self.rx.split_to(6);
        if self.role == Role::Passive {
            self.send_contact_header();
        }
        if header.version != VERSION {
            self.send(&Message::SessTerm { reply: false, reason: TermReason::VersionMismatch }, None);
            self.close(TermReason::VersionMismatch, true);
            return false;
        }
        let tls = header.can_tls && self.config.can_tls;
        self.events.push_back(SessionEvent::ContactHeaders { tls });
        if tls {
            self.state = State::Tls;
            return false;
        }
        self.start_session_init();
        true
    }

    /// Bytes received past the contact header when TLS is to start: the beginning of the
    /// peer's TLS handshake, for the host's TLS layer.
    pub fn take_unprocessed(&mut self) -> Bytes {
        self.rx.split().freeze()
    }

    /// The host finished the TLS handshake; the session continues over it.
    pub fn tls_established(&mut self, now: u64) {
        if self.state == State::Tls {
            self.last_rx = now;
            self.start_session_init();
            while self.step() {}
        }
    }

    fn start_session_init(&mut self) {
        self.state = State::SessInit;
        if self.role == Role::Active {
            self.send_session_init();
        }
    }

    fn send_session_init(&mut self) {
        let init = SessInit {
            keepalive_s: self.config.keepalive_s,
            segment_mru: self.config.segment_mru,
            transfer_mru: self.config.transfer_mru,
            node_id: self.config.node_id.clone(),
            extensions: Vec::new(),
        };
        self.send(&Message::SessInit(init), None);
    }

    fn message(&mut self) -> bool {
        let len = match frame_len(&self.rx, &self.limits) {
            Ok(Some(len)) => len,
            Ok(None) => return false,
            Err(e) => {
                self.protocol_error(e);
                return false;
            }
        };
        let frame = self.rx.split_to(len).freeze();
        match Message::parse(&frame, &self.limits) {
            Ok(message) => self.handle(message),
            Err(e) => {
                self.protocol_error(e);
                return false;
            }
        }
        self.state != State::Closed
    }

    fn protocol_error(&mut self, error: DecodeError) {
        let reason = match error {
            DecodeError::UnknownType(t) => {
                // The message's length is unknown, so the stream cannot be followed further.
                self.send(&Message::MsgReject { reason: RejectReason::UnknownType, header: t }, None);
                TermReason::Unknown
            }
            DecodeError::SegmentTooLarge { .. } => TermReason::ResourceExhaustion,
            _ => TermReason::ContactFailure,
        };
        self.send(&Message::SessTerm { reply: false, reason }, None);
        self.close(reason, true);
    }

    fn handle(&mut self, message: Message) {
        match (self.state, message) {
            (State::SessInit, Message::SessInit(init)) => self.session_init(init),
            (State::Established | State::Ending, Message::XferSegment { flags, transfer_id, extensions, data }) => {
                self.segment(flags, transfer_id, &extensions, data);
            }
            (State::Established | State::Ending, Message::XferAck { transfer_id, length, .. }) => {
                // Cumulative: an ack covering the whole transfer delivers it. Its flags should
                // echo the segment's (END), but dtn7-rs sends none, so they are not required.
                if self.outgoing.contains_key(&transfer_id) {
                    // Any acknowledgement is progress: the peer is taking what was sent.
                    self.awaiting_ack_since = self.awaiting_ack_since.map(|_| self.last_rx);
                }
                if self.outgoing.get(&transfer_id) == Some(&length) {
                    self.outgoing.remove(&transfer_id);
                    self.events.push_back(SessionEvent::Delivered { transfer_id });
                    if self.outgoing.is_empty() {
                        self.awaiting_ack_since = None;
                    }
                }
            }
            (State::Established | State::Ending, Message::XferRefuse { reason, transfer_id }) => {
                if self.outgoing.remove(&transfer_id).is_some() {
                    let mut dropped = 0;
                    self.tx.retain(|(t, h, d)| {
                        let keep = *t != Some(transfer_id);
                        if !keep {
                            dropped += h.len() + d.len();
                        }
                        keep
                    });
                    self.queued -= dropped;
                    if self.outgoing.is_empty() {
                        self.awaiting_ack_since = None;
                    }
                    self.events.push_back(SessionEvent::Refused { transfer_id, reason });
                }
            }
            (State::Established | State::Ending, Message::Keepalive) => {}
            (_, Message::SessTerm { reply: false, reason }) => {
                if self.state != State::Ending {
                    self.send(&Message::SessTerm { reply: true, reason }, None);
                }
                self.close(reason, true);
            }
            (State::Ending, Message::SessTerm { reply: true, reason }) => self.close(reason, false),
            (_, Message::MsgReject { reason, header }) => {
                self.events.push_back(SessionEvent::Rejected { reason, header })
            }
            (_, other) => {
                let header = other.encode().first().copied().unwrap_or(0);
                self.send(&Message::MsgReject { reason: RejectReason::Unexpected, header }, None);
            }
        }
    }

    fn session_init(&mut self, init: SessInit) {
        if init.node_id.is_empty() || init.extensions.iter().any(|e| e.critical) {
            // No session extension is understood here; a critical one ends the session (4.8).
            self.send(&Message::SessTerm { reply: false, reason: TermReason::ContactFailure }, None);
            self.close(TermReason::ContactFailure, true);
            return;
        }
        if self.role == Role::Passive {
            self.send_session_init();
        }
        if init.segment_mru < self.config.min_peer_segment_mru {
            self.cause = Some(alloc::format!(
                "the peer's segment MRU of {} octets is below this node's floor of {}",
                init.segment_mru,
                self.config.min_peer_segment_mru
            ));
            self.send(&Message::SessTerm { reply: false, reason: TermReason::ContactFailure }, None);
            self.close(TermReason::ContactFailure, false);
            return;
        }
        let keepalive_s = self.config.keepalive_s.min(init.keepalive_s);
        self.keepalive_ms = u64::from(keepalive_s) * 1000;
        self.peer_segment_mru = init.segment_mru.max(1);
        self.peer_transfer_mru = init.transfer_mru;
        self.state = State::Established;
        self.events.push_back(SessionEvent::Established {
            peer_node_id: init.node_id,
            keepalive_s,
            peer_transfer_mru: init.transfer_mru,
        });
    }

    fn segment(&mut self, flags: SegmentFlags, transfer_id: u64, extensions: &[ExtItem], data: Bytes) {
        if flags.start {
            let declared = extensions
                .iter()
                .find(|e| e.item_type == EXT_TRANSFER_LENGTH)
                .and_then(|e| e.value.as_ref().try_into().ok())
                .map(u64::from_be_bytes);
            let refusal = if self.state == State::Ending {
                Some(RefuseReason::SessionTerminating)
            } else if extensions.iter().any(|e| e.critical && e.item_type != EXT_TRANSFER_LENGTH) {
                Some(RefuseReason::ExtensionFailure)
            } else if declared.is_some_and(|d| d > self.config.transfer_mru) {
                Some(RefuseReason::NotAcceptable)
            } else {
                None
            };
            self.incoming = Some(Incoming { id: transfer_id, data: BytesMut::new(), refused: refusal.is_some() });
            if let Some(reason) = refusal {
                self.send(&Message::XferRefuse { reason, transfer_id }, None);
                return;
            }
        }
        let transfer_mru = self.config.transfer_mru;
        let Some(incoming) = self.incoming.as_mut().filter(|i| i.id == transfer_id) else {
            // A segment of no transfer in progress here.
            self.send(&Message::MsgReject { reason: RejectReason::Unexpected, header: 0x01 }, None);
            return;
        };
        if incoming.refused {
            return;
        }
        if incoming.data.len() as u64 + data.len() as u64 > transfer_mru {
            incoming.refused = true;
            self.send(&Message::XferRefuse { reason: RefuseReason::NotAcceptable, transfer_id }, None);
            return;
        }
        // A bundle in one segment stays a slice of the received frame.
        let whole = flags.start && flags.end;
        if !whole {
            incoming.data.extend_from_slice(&data);
        }
        let length = if whole { data.len() as u64 } else { incoming.data.len() as u64 };
        let bundle = match (flags.end, whole) {
            (false, _) => None,
            (true, true) => Some(data),
            (true, false) => Some(incoming.data.split().freeze()),
        };
        self.send(&Message::XferAck { flags, transfer_id, length }, None);
        if let Some(bundle) = bundle {
            self.incoming = None;
            self.events.push_back(SessionEvent::Received { transfer_id, bundle });
        }
    }

    fn close(&mut self, reason: TermReason, by_peer: bool) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(SessionEvent::Ended { reason, by_peer });
        }
    }

    /// Queues a bundle as one transfer, cut into segments the peer takes; returns its
    /// transfer ID. The START segment carries the Transfer Length extension.
    pub fn send_bundle(&mut self, bundle: Bytes) -> Result<u64, SessionError> {
        match self.state {
            State::Established => {}
            State::Ending | State::Closed => return Err(SessionError::Ending),
            _ => return Err(SessionError::NotEstablished),
        }
        let len = bundle.len() as u64;
        if len > self.peer_transfer_mru {
            return Err(SessionError::TooLarge { len, mru: self.peer_transfer_mru });
        }
        let transfer_id = self.next_transfer_id;
        self.next_transfer_id += 1;
        let max = usize::try_from(self.peer_segment_mru.min(self.config.max_segment).max(1)).unwrap_or(usize::MAX);
        let mut offset: usize = 0;
        loop {
            let end = bundle.len().min(offset.saturating_add(max));
            let flags = SegmentFlags { start: offset == 0, end: end == bundle.len() };
            let extensions = if flags.start {
                alloc::vec![ExtItem {
                    critical: false,
                    item_type: EXT_TRANSFER_LENGTH,
                    value: Bytes::copy_from_slice(&len.to_be_bytes()),
                }]
            } else {
                Vec::new()
            };
            let data = bundle.slice(offset..end);
            self.send(&Message::XferSegment { flags, transfer_id, extensions, data }, Some(transfer_id));
            offset = end;
            if flags.end {
                break;
            }
        }
        self.outgoing.insert(transfer_id, len);
        Ok(transfer_id)
    }

    /// Ends the session: SESS_TERM goes out, no new transfers start, and the session closes
    /// when the peer replies (or at once if it was not established).
    pub fn terminate(&mut self, reason: TermReason) {
        match self.state {
            State::Established => {
                self.send(&Message::SessTerm { reply: false, reason }, None);
                self.state = State::Ending;
            }
            State::Ending | State::Closed => {}
            _ => self.close(reason, false),
        }
    }

    /// The next chunk to write, in order.
    /// Each chunk must be written whole before the next is asked for.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let chunk = match self.pending.take() {
            Some(data) => data,
            None => {
                let (_, head, data) = self.tx.pop_front()?;
                if !data.is_empty() {
                    self.pending = Some(data);
                }
                head
            }
        };
        self.queued -= chunk.len();
        self.handed_out = true;
        Some(chunk)
    }

    /// Octets queued to write (for backpressure: stop offering bundles above a bound).
    pub fn queued_bytes(&self) -> usize {
        self.queued
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] wants to run: the next keepalive, the idle deadline or
    /// the deadline for the peer's acknowledgement.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !matches!(self.state, State::Established | State::Ending) {
            return None;
        }
        let ack = self.awaiting_ack_since.map(|since| since.saturating_add(self.stall_ms()));
        let keepalive = (self.keepalive_ms > 0).then(|| {
            (self.last_tx.saturating_add(self.keepalive_ms)).min(self.last_rx.saturating_add(2 * self.keepalive_ms))
        });
        match (ack, keepalive) {
            (Some(a), Some(k)) => Some(a.min(k)),
            (a, k) => a.or(k),
        }
    }

    /// How long the peer may leave written data unacknowledged (and, for the host, how long
    /// a write may make no progress): twice the keepalive interval, or a minute without one.
    pub fn stall_ms(&self) -> u64 {
        if self.keepalive_ms > 0 { 2 * self.keepalive_ms } else { DEFAULT_ACK_TIMEOUT_MS }
    }

    /// Why this side ended the session, in words, when it did so for a reason the TCPCL
    /// reason code does not tell (a stalled peer, a segment MRU below the floor).
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// Ends the session at once for a reason the host found (a write that made no progress):
    /// SESS_TERM is queued for a peer that may still read it, and the session is closed.
    pub fn abort(&mut self, cause: impl Into<String>) {
        if self.state != State::Closed {
            self.cause = Some(cause.into());
            self.send(&Message::SessTerm { reply: false, reason: TermReason::ContactFailure }, None);
            self.close(TermReason::ContactFailure, false);
        }
    }

    /// Sends a keepalive when nothing went out for the interval; ends the session when
    /// nothing came in for twice the interval (5.1.1, 6.1).
    pub fn handle_timeout(&mut self, now: u64) {
        if !matches!(self.state, State::Established | State::Ending) {
            return;
        }
        if let Some(since) = self.awaiting_ack_since.filter(|&s| now >= s.saturating_add(self.stall_ms())) {
            let waited = now - since;
            self.abort(alloc::format!("the peer acknowledged nothing for {waited} ms"));
            return;
        }
        if self.keepalive_ms == 0 {
            return;
        }
        if now >= self.last_rx.saturating_add(2 * self.keepalive_ms) {
            self.cause = Some(alloc::format!("nothing received for {} ms (twice the keepalive)", now - self.last_rx));
            self.send(&Message::SessTerm { reply: false, reason: TermReason::IdleTimeout }, None);
            self.close(TermReason::IdleTimeout, false);
        } else if now >= self.last_tx.saturating_add(self.keepalive_ms) {
            self.send(&Message::Keepalive, None);
            self.last_tx = now;
        }
    }

    /// Records that the host wrote everything handed out so far at `now`: keepalives count
    /// from then, and the peer's acknowledgement is awaited from then once nothing is left to
    /// write. A call when nothing was handed out changes nothing (a host may call it every
    /// turn; counting turns that only received as transmissions would starve the peer of
    /// keepalives and have it time the session out).
    pub fn transmitted(&mut self, now: u64) {
        if !core::mem::take(&mut self.handed_out) {
            return;
        }
        self.last_tx = self.last_tx.max(now);
        if self.queued == 0 && !self.outgoing.is_empty() && self.awaiting_ack_since.is_none() {
            self.awaiting_ack_since = Some(now);
        }
    }

    /// Octets of the peer's held here: bytes of messages not yet complete, the part of the
    /// transfer in progress received so far, and bundles received whole and not yet taken as
    /// events (for a host that bounds them across sessions).
    pub fn receiving_bytes(&self) -> usize {
        let waiting: usize = self
            .events
            .iter()
            .map(|e| if let SessionEvent::Received { bundle, .. } = e { bundle.len() } else { 0 })
            .sum();
        self.rx.len() + self.incoming.as_ref().filter(|i| !i.refused).map_or(0, |i| i.data.len()) + waiting
    }

    /// Refuses the transfer being received (XFER_REFUSE with `reason`) and lets go of what
    /// arrived of it; its remaining segments are dropped as they come. False when no transfer
    /// is in progress.
    pub fn refuse_incoming(&mut self, reason: RefuseReason) -> bool {
        let Some(incoming) = self.incoming.as_mut().filter(|i| !i.refused) else { return false };
        incoming.refused = true;
        incoming.data = BytesMut::new();
        let transfer_id = incoming.id;
        self.send(&Message::XferRefuse { reason, transfer_id }, None);
        true
    }

    /// The session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Transfers sent and not yet acknowledged in full.
    pub fn unacknowledged(&self) -> usize {
        self.outgoing.len()
    }
}
