//! Engine and span settings. A span is the pair of engines at the ends of one link
//! (RFC 5326 2.1); its timers follow the link's one-way light time (RFC 5326 6.2).

use alloc::vec;
use alloc::vec::Vec;

/// The local engine's settings, shared by all its spans.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This engine's ID (for BP over LTP: the node number).
    pub engine_id: u64,
    /// The first export session number. Hosts pass a random value so that a restarted
    /// engine does not reuse the numbers of its previous life (RFC 5326 6.5, 8.1).
    pub first_session_number: u64,
    /// Keep session numbers below 2^32, for peers that store them in 32 bits (ION).
    pub session_numbers_32_bit: bool,
    /// Client services this engine delivers to (1 is the Bundle Protocol); a block for any
    /// other is cancelled with "client service unreachable".
    pub client_services: Vec<u64>,
    /// Largest block accepted (red and green together).
    pub max_block_bytes: u64,
    /// Memory all import sessions of all spans may hold together.
    pub max_import_bytes: u64,
    /// Import sessions all spans may hold together.
    pub max_import_sessions: usize,
    /// Closed sessions remembered per span, so that their late segments are ignored rather
    /// than opening new sessions.
    pub closed_memory: usize,
}

impl EngineConfig {
    /// Defaults for an engine with this ID: BP only, 64 MiB blocks, 512 MiB and 4,096 import
    /// sessions in all, 64-bit session numbers starting at 1.
    pub fn new(engine_id: u64) -> Self {
        EngineConfig {
            engine_id,
            first_session_number: 1,
            session_numbers_32_bit: false,
            client_services: vec![1],
            max_block_bytes: 64 << 20,
            max_import_bytes: 512 << 20,
            max_import_sessions: 4096,
            closed_memory: 4096,
        }
    }
}

/// Settings for the span to one remote engine.
#[derive(Debug, Clone)]
pub struct SpanConfig {
    /// The remote engine's ID.
    pub engine_id: u64,
    /// Largest segment, in bytes (the UDP payload; at least [`SpanConfig::MIN_MTU`]).
    pub mtu: usize,
    /// One-way light time to the remote engine, in milliseconds.
    pub owlt_ms: u64,
    /// Added to the round trip for the remote engine's processing and queueing.
    pub margin_ms: u64,
    /// Retransmissions of one checkpoint, report or cancel before giving up.
    pub max_retries: u32,
    /// Reports one import session may send, and reports one export session may answer,
    /// before it is cancelled (bounds retransmission cycles).
    pub max_reports: u32,
    /// Export sessions open at once (the sending window).
    pub max_export_sessions: usize,
    /// Import sessions this span may hold.
    pub max_import_sessions: usize,
    /// Import-session memory this span may hold, so one remote cannot take it all.
    pub max_import_bytes: u64,
    /// An import session with no segment for this long while the link is up is cancelled;
    /// `None` picks four times the longest a sender keeps retrying.
    pub stale_ms: Option<u64>,
}

impl SpanConfig {
    /// The smallest MTU accepted: room for the largest header and some data.
    pub const MIN_MTU: usize = 128;

    /// Defaults for a span to `engine_id`: 1,400-byte segments, no light time, 200 ms
    /// margin, 8 retries, 64 reports, 64 export and 1,024 import sessions, 128 MiB.
    pub fn new(engine_id: u64) -> Self {
        SpanConfig {
            engine_id,
            mtu: 1400,
            owlt_ms: 0,
            margin_ms: 200,
            max_retries: 8,
            max_reports: 64,
            max_export_sessions: 64,
            max_import_sessions: 1024,
            max_import_bytes: 128 << 20,
            stale_ms: None,
        }
    }

    /// How long a checkpoint or report waits for its answer: the round trip plus margin.
    pub fn round_trip_ms(&self) -> u64 {
        self.owlt_ms.saturating_mul(2).saturating_add(self.margin_ms).max(1)
    }

    /// The stale-session timeout in effect.
    pub fn stale_timeout_ms(&self) -> u64 {
        self.stale_ms
            .unwrap_or_else(|| self.round_trip_ms().saturating_mul(u64::from(self.max_retries) + 1).saturating_mul(4))
    }
}
