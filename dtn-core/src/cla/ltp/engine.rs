//! The LTP engine (RFC 5326 6), sans-I/O: one local engine and its spans to remote engines.
//!
//! The host hands in datagrams ([`Engine::handle_datagram`]), writes out what
//! [`Engine::poll_transmit`] gives for each span (one segment per call, at the span's rate),
//! wakes it at [`Engine::poll_timeout`] and says when each link goes up and down
//! ([`Engine::set_link`]); timers count only while the link is up. Blocks go out with
//! [`Engine::send_block`]; what arrives and how each export ended come out of
//! [`Engine::poll_event`]. Time is milliseconds on any monotonic clock.
//!
//! Limits: export sessions per span (the window), import sessions per span and in all,
//! import memory per span and in all, block size, reports per session, queued control
//! segments per span. A session beyond a limit is cancelled, never silently held.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use bytes::Bytes;

use super::SessionId;
use super::clock::{ClosedSet, LinkClock};
use super::config::{EngineConfig, SpanConfig};
use super::export::ExportSession;
use super::import::ImportSession;
use super::segment::{Body, CancelReason, Segment, SegmentError, Side};

/// Control segments one span may have queued; beyond this, replies are dropped (counted).
pub const MAX_QUEUED_CONTROL: usize = 65_536;

/// What the engine tells its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The whole red part of a block from `from` arrived (once per block).
    RedPart {
        /// The sending engine.
        from: u64,
        /// The session.
        session: SessionId,
        /// Its client service.
        client_service: u64,
        /// The red part.
        data: Bytes,
    },
    /// Green data, delivered in order of offset (what lies past a lost segment comes when
    /// the session ends, with its offset).
    Green {
        /// The sending engine.
        from: u64,
        /// The session.
        session: SessionId,
        /// Its client service.
        client_service: u64,
        /// Block offset of the data.
        offset: u64,
        /// The data.
        data: Bytes,
        /// It ends the block.
        end_of_block: bool,
    },
    /// An export block's red part was acknowledged in full and all of it sent.
    ExportDone {
        /// The receiving engine.
        to: u64,
        /// The session.
        session: SessionId,
    },
    /// An export session was cancelled: its block must be taken as not delivered.
    ExportCancelled {
        /// The receiving engine.
        to: u64,
        /// The session.
        session: SessionId,
        /// Who cancelled.
        by: Side,
        /// Why.
        reason: CancelReason,
    },
    /// An import session was cancelled before its red part was whole.
    ImportCancelled {
        /// The sending engine.
        from: u64,
        /// The session.
        session: SessionId,
        /// Who cancelled.
        by: Side,
        /// Why.
        reason: CancelReason,
    },
}

/// Why a block was not accepted for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No span to that engine.
    #[error("no LTP span to engine {0}")]
    NoSpan(u64),
    /// The span's export window is full; try again when a session ends.
    #[error("all {0} export sessions to the engine are open")]
    WindowFull(usize),
    /// An empty block (RFC 5326 requires at least one byte).
    #[error("an empty block")]
    Empty,
    /// A block above the configured limit.
    #[error("a {len}-byte block is above the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    /// Not a well-formed segment.
    #[error(transparent)]
    Malformed(#[from] SegmentError),
    /// From an engine with no span here.
    #[error("a segment from engine {0}, which has no span here")]
    UnknownEngine(u64),
    /// A segment whose session names neither end of this span.
    #[error("a segment for session {originator}/{number} arrived from engine {from}, which is not in that session")]
    WrongPeer {
        /// The engine the host attributed the datagram to.
        from: u64,
        /// The session's originator.
        originator: u64,
        /// The session's number.
        number: u64,
    },
}

/// Counters for one span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanStats {
    /// Segments taken in, well formed.
    pub segments_in: u64,
    /// Segments handed out.
    pub segments_out: u64,
    /// Data bytes handed out in first passes.
    pub data_bytes_out: u64,
    /// Data bytes handed out again.
    pub retransmitted_bytes: u64,
    /// Datagrams that were not segments.
    pub malformed: u64,
    /// Data segments dropped for want of import memory.
    pub dropped_no_room: u64,
    /// Import sessions refused (limits, client service).
    pub refused_sessions: u64,
    /// Replies dropped because the control queue was full.
    pub control_dropped: u64,
    /// Export sessions completed.
    pub exports_done: u64,
    /// Export sessions cancelled.
    pub exports_cancelled: u64,
    /// Import sessions whose red part was delivered.
    pub imports_done: u64,
    /// Import sessions cancelled.
    pub imports_cancelled: u64,
}

/// A timer, ordered by deadline in its span. Timers are never removed early: one that
/// fires for a session that has moved on is recognised as stale and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    Checkpoint { number: u64, serial: u64 },
    Report { number: u64, serial: u64 },
    ExportCancel { number: u64 },
    ImportCancel { number: u64 },
    Stale { number: u64 },
}

/// One span: the link to one remote engine.
#[derive(Debug)]
pub(super) struct Span {
    pub config: SpanConfig,
    pub clock: LinkClock,
    pub imports: BTreeMap<u64, ImportSession>,
    pub import_bytes: u64,
    pub closed: ClosedSet,
    pub open_exports: usize,
    pub control: VecDeque<Segment>,
    /// Export sessions with retransmissions queued, oldest first.
    pub resend_order: VecDeque<u64>,
    /// Export sessions with first-pass data unsent, oldest first.
    pub first_pass: VecDeque<u64>,
    pub timers: BTreeSet<(u64, Timer)>,
    pub stats: SpanStats,
    /// New import sessions are taken (the host can pause them when it cannot keep up).
    pub accepting: bool,
}

impl Span {
    pub fn push_control(&mut self, segment: Segment) {
        if self.control.len() >= MAX_QUEUED_CONTROL {
            self.stats.control_dropped += 1;
        } else {
            self.control.push_back(segment);
        }
    }

    pub fn arm(&mut self, deadline: u64, timer: Timer) {
        self.timers.insert((deadline, timer));
    }

    pub fn link_now(&self, now: u64) -> u64 {
        self.clock.now(now)
    }
}

/// A local LTP engine.
#[derive(Debug)]
pub struct Engine {
    pub(super) config: EngineConfig,
    pub(super) spans: BTreeMap<u64, Span>,
    pub(super) exports: BTreeMap<u64, ExportSession>,
    pub(super) closed_exports: ClosedSet,
    next_session: u64,
    pub(super) import_bytes: u64,
    pub(super) import_sessions: usize,
    pub(super) events: VecDeque<Event>,
}

impl Engine {
    /// An engine with no spans.
    pub fn new(config: EngineConfig) -> Self {
        let closed = config.closed_memory;
        let first = config.first_session_number;
        let mut engine = Engine {
            config,
            spans: BTreeMap::new(),
            exports: BTreeMap::new(),
            closed_exports: ClosedSet::new(closed),
            next_session: 0,
            import_bytes: 0,
            import_sessions: 0,
            events: VecDeque::new(),
        };
        engine.next_session = engine.clamp_number(first);
        engine
    }

    /// This engine's ID.
    pub fn engine_id(&self) -> u64 {
        self.config.engine_id
    }

    /// Adds (or reconfigures) the span to `config.engine_id`, its link up at `now`. The MTU
    /// is raised to [`SpanConfig::MIN_MTU`] if below.
    pub fn add_span(&mut self, mut config: SpanConfig, now: u64) {
        config.mtu = config.mtu.max(SpanConfig::MIN_MTU);
        if let Some(span) = self.spans.get_mut(&config.engine_id) {
            span.config = config;
            return;
        }
        let span = Span {
            clock: LinkClock::new(true, now),
            imports: BTreeMap::new(),
            import_bytes: 0,
            closed: ClosedSet::new(self.config.closed_memory),
            open_exports: 0,
            control: VecDeque::new(),
            resend_order: VecDeque::new(),
            first_pass: VecDeque::new(),
            timers: BTreeSet::new(),
            stats: SpanStats::default(),
            accepting: true,
            config,
        };
        self.spans.insert(span.config.engine_id, span);
    }

    /// The link to `remote` went up or down at `now`: its timers stop and resume with it,
    /// and nothing is handed out for it while it is down.
    pub fn set_link(&mut self, remote: u64, up: bool, now: u64) {
        if let Some(span) = self.spans.get_mut(&remote) {
            span.clock.set(up, now);
        }
    }

    /// Whether new import sessions from `remote` are taken: a host that cannot take in what
    /// arrives pauses them (they are cancelled, so their senders try again later), while
    /// sessions already open go on.
    pub fn set_accepting(&mut self, remote: u64, accepting: bool) {
        if let Some(span) = self.spans.get_mut(&remote) {
            span.accepting = accepting;
        }
    }

    /// The one-way light time to `remote` changed (a new contact, say).
    pub fn set_owlt(&mut self, remote: u64, owlt_ms: u64) {
        if let Some(span) = self.spans.get_mut(&remote) {
            span.config.owlt_ms = owlt_ms;
        }
    }

    /// Whether another block to `remote` would be accepted now.
    pub fn can_send(&self, remote: u64) -> bool {
        self.spans.get(&remote).is_some_and(|span| span.open_exports < span.config.max_export_sessions)
    }

    /// Starts sending `block` to `remote` for `client_service`, its first `red_len` bytes
    /// reliably (red) and the rest best-effort (green).
    pub fn send_block(
        &mut self,
        remote: u64,
        client_service: u64,
        block: Bytes,
        red_len: u64,
    ) -> Result<SessionId, SendError> {
        let len = block.len() as u64;
        if len == 0 {
            return Err(SendError::Empty);
        }
        if len > self.config.max_block_bytes {
            return Err(SendError::TooLarge { len, max: self.config.max_block_bytes });
        }
        let span = self.spans.get(&remote).ok_or(SendError::NoSpan(remote))?;
        if span.open_exports >= span.config.max_export_sessions {
            return Err(SendError::WindowFull(span.config.max_export_sessions));
        }
        let number = self.take_session_number();
        let id = SessionId { originator: self.config.engine_id, number };
        self.exports.insert(number, ExportSession::new(remote, id, client_service, block, red_len));
        if let Some(span) = self.spans.get_mut(&remote) {
            span.open_exports += 1;
            span.first_pass.push_back(number);
        }
        Ok(id)
    }

    /// Cancels an export session the host no longer wants sent (its bundles expired, say).
    pub fn cancel_block(&mut self, number: u64, now: u64) {
        self.cancel_export(number, CancelReason::UserCancelled, now);
    }

    fn clamp_number(&self, n: u64) -> u64 {
        let max = if self.config.session_numbers_32_bit { u64::from(u32::MAX) } else { u64::MAX };
        if n == 0 || n > max { 1 } else { n }
    }

    fn take_session_number(&mut self) -> u64 {
        loop {
            let n = self.next_session;
            self.next_session = self.clamp_number(n.wrapping_add(1));
            if !self.exports.contains_key(&n) && !self.closed_exports.recent(n, 0, u64::MAX) {
                return n;
            }
        }
    }

    /// Appends the next segment for `remote` to `out`; false if there is none (or the link
    /// is down). Control segments go first, then retransmissions, then new data, oldest
    /// session first.
    pub fn poll_transmit(&mut self, remote: u64, now: u64, out: &mut Vec<u8>) -> bool {
        let Some(span) = self.spans.get_mut(&remote) else { return false };
        if !span.clock.is_up() {
            return false;
        }
        if let Some(segment) = span.control.pop_front() {
            segment.encode(out);
            span.stats.segments_out += 1;
            return true;
        }
        let (mtu, rtt, link_now) = (span.config.mtu, span.config.round_trip_ms(), span.link_now(now));
        let before = out.len();
        while let Some(&number) = span.resend_order.front() {
            let emitted = self.exports.get_mut(&number).and_then(|s| s.emit_resend(mtu, link_now, rtt, out));
            let Some(emitted) = emitted else {
                span.resend_order.pop_front();
                continue;
            };
            if let Some((serial, deadline)) = emitted.checkpoint {
                span.arm(deadline, Timer::Checkpoint { number, serial });
            }
            span.stats.segments_out += 1;
            span.stats.retransmitted_bytes += (out.len() - before) as u64;
            return true;
        }
        while let Some(&number) = span.first_pass.front() {
            let Some(session) = self.exports.get_mut(&number) else {
                span.first_pass.pop_front();
                continue;
            };
            let Some(emitted) = session.emit_first_pass(mtu, link_now, rtt, out) else {
                span.first_pass.pop_front();
                continue;
            };
            if let Some((serial, deadline)) = emitted.checkpoint {
                span.arm(deadline, Timer::Checkpoint { number, serial });
            }
            span.stats.segments_out += 1;
            span.stats.data_bytes_out += (out.len() - before) as u64;
            let complete = session.is_complete();
            if !session.has_first_pass() {
                span.first_pass.pop_front();
            }
            if complete {
                self.finish_export(number);
            }
            return true;
        }
        false
    }

    /// The remote engine a datagram belongs to, read from its session: the originator of what
    /// a block sender sends, the receiver of our own session for what a receiver sends. For a
    /// host that cannot tell the peer by the source address (one sending from an ephemeral
    /// port, as ION's `udplso` does); `None` if it is not a segment or names no span.
    pub fn peer_of(&self, datagram: &Bytes) -> Option<u64> {
        let segment = Segment::decode(datagram).ok()?;
        let peer = match sent_by(&segment.body) {
            Side::Sender => segment.session.originator,
            Side::Receiver if segment.session.originator == self.config.engine_id => {
                self.exports.get(&segment.session.number)?.remote
            }
            Side::Receiver => return None,
        };
        self.spans.contains_key(&peer).then_some(peer)
    }

    /// Whether [`Engine::poll_transmit`] has something for `remote` (link state aside).
    pub fn has_pending(&self, remote: u64) -> bool {
        self.spans.get(&remote).is_some_and(|span| {
            !span.control.is_empty()
                || span
                    .resend_order
                    .iter()
                    .chain(&span.first_pass)
                    .any(|n| self.exports.get(n).is_some_and(|s| s.has_resend() || s.has_first_pass()))
        })
    }

    /// The next event for the host.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The host time of the next timer, over all spans whose link is up.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.spans
            .values()
            .filter_map(|span| span.timers.first().and_then(|&(deadline, _)| span.clock.host_time(deadline)))
            .min()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        let remotes: Vec<u64> = self.spans.keys().copied().collect();
        for remote in remotes {
            while let Some((deadline, timer)) = self.pop_due(remote, now) {
                self.fire(remote, timer, deadline, now);
            }
        }
    }

    /// Takes the span's earliest timer if it is due at `now` (and the link is up).
    fn pop_due(&mut self, remote: u64, now: u64) -> Option<(u64, Timer)> {
        let span = self.spans.get_mut(&remote)?;
        let &(deadline, _) = span.timers.first()?;
        if span.clock.is_up() && deadline <= span.link_now(now) { span.timers.pop_first() } else { None }
    }

    /// The export session is over: tell the host and free its window slot.
    pub(super) fn finish_export(&mut self, number: u64) {
        let Some(session) = self.exports.remove(&number) else { return };
        self.closed_exports.insert(number, 0);
        if let Some(span) = self.spans.get_mut(&session.remote) {
            span.open_exports = span.open_exports.saturating_sub(1);
            span.stats.exports_done += 1;
        }
        self.events.push_back(Event::ExportDone { to: session.remote, session: session.id });
    }

    /// Import memory held by all sessions.
    pub fn import_bytes(&self) -> u64 {
        self.import_bytes
    }

    /// Import sessions open.
    pub fn import_sessions(&self) -> usize {
        self.import_sessions
    }

    /// Export sessions open.
    pub fn export_sessions(&self) -> usize {
        self.exports.len()
    }

    /// The span's counters.
    pub fn stats(&self, remote: u64) -> Option<SpanStats> {
        self.spans.get(&remote).map(|span| span.stats)
    }

    /// The span's settings.
    pub fn span_config(&self, remote: u64) -> Option<&SpanConfig> {
        self.spans.get(&remote).map(|span| &span.config)
    }
}

/// Whether a segment body travels from the block sender (data, report-ack, cancel by the
/// sender, ack of a cancel by the receiver) or from the receiver.
pub(super) fn sent_by(body: &Body) -> Side {
    match body {
        Body::Data(_) | Body::ReportAck { .. } => Side::Sender,
        Body::Report(_) => Side::Receiver,
        Body::Cancel { by, .. } => *by,
        Body::CancelAck { of: Side::Receiver } => Side::Sender,
        Body::CancelAck { of: Side::Sender } => Side::Receiver,
    }
}
