//! The `[ltp]` section: LTP over UDP for space links (the engine is `dtn_core::cla::ltp`).
//!
//! ```toml
//! [ltp]
//! listen = ["0.0.0.0:1113"]      # UDP; the engine ID is the node number
//! mtu = 1400                     # largest segment (UDP payload), bytes
//! max_export_sessions = 64       # per span: the sending window
//! max_import_sessions = 1024     # per span
//! span_import_memory = "128 MiB" # per span; all spans together: import_memory
//! import_memory = "512 MiB"
//! max_block = "64 MiB"
//! retries = 8                    # checkpoint, report and cancel retransmissions
//! margin_ms = 200                # added to the round trip for the peer's processing
//! aggregation_size = "64 KiB"    # a block closes at this size ...
//! aggregation_ms = 10            # ... or this long after its first bundle
//! socket_buffer = "8 MiB"        # SO_SNDBUF / SO_RCVBUF
//! session_numbers = "64-bit"     # or "32-bit" for ION
//! green = ["ipn:*.7"]            # bundles to these endpoints go as green (best-effort) data
//! ```
//!
//! Green data is never retransmitted: a bundle in a lost segment is lost, and its verdict is
//! "sent" once its block is out. It suits data whose next sample makes a lost one moot
//! (telemetry, video). Everything else is red, and so always are administrative records and
//! bundles for an administrative endpoint (custody signals, BIBE, status reports), whatever
//! the patterns say. Patterns: `ipn:N.S` or `ipn:A.N.S` with `*`, numbers or `[1,5-9]` lists
//! per part; `dtn://node/demux` with `*` for the node and `**` or a trailing `*` for the
//! demux; `*:**` for everything.

use std::net::SocketAddr;

use dtn_core::eid::EidPattern;
use serde::Deserialize;
use toml::Spanned;

use super::config::{ConfigError, SizeSpec};
use super::units::parse_size;

/// LTP settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LtpSettings {
    /// UDP addresses to bind (the first sends).
    pub listen: Vec<SocketAddr>,
    /// Largest segment, bytes.
    pub mtu: usize,
    /// Export sessions open per span.
    pub max_export_sessions: usize,
    /// Import sessions per span.
    pub max_import_sessions: usize,
    /// Import memory per span.
    pub span_import_memory: u64,
    /// Import memory of all spans.
    pub import_memory: u64,
    /// Largest block sent or accepted.
    pub max_block: u64,
    /// Retransmissions of a checkpoint, report or cancel.
    pub retries: u32,
    /// Added to each span's round trip.
    pub margin_ms: u64,
    /// Blocks close at this size ...
    pub aggregation_size: u64,
    /// ... or this long after their first bundle.
    pub aggregation_ms: u64,
    /// Socket send and receive buffers.
    pub socket_buffer: usize,
    /// Session numbers below 2^32 (ION keeps them in 32 bits).
    pub session_numbers_32_bit: bool,
    /// Bundles to these endpoints go as green data.
    pub green: Vec<EidPattern>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLtp {
    listen: Vec<Spanned<String>>,
    #[serde(default = "default_mtu")]
    mtu: Spanned<u64>,
    #[serde(default = "default_exports")]
    max_export_sessions: u64,
    #[serde(default = "default_imports")]
    max_import_sessions: u64,
    span_import_memory: Option<Spanned<SizeSpec>>,
    import_memory: Option<Spanned<SizeSpec>>,
    max_block: Option<Spanned<SizeSpec>>,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_margin")]
    margin_ms: u64,
    aggregation_size: Option<Spanned<SizeSpec>>,
    #[serde(default = "default_aggregation_ms")]
    aggregation_ms: u64,
    socket_buffer: Option<Spanned<SizeSpec>>,
    session_numbers: Option<Spanned<String>>,
    #[serde(default)]
    green: Vec<Spanned<String>>,
}

fn default_mtu() -> Spanned<u64> {
    Spanned::new(0..0, 1400)
}
fn default_exports() -> u64 {
    64
}
fn default_imports() -> u64 {
    1024
}
fn default_retries() -> u32 {
    8
}
fn default_margin() -> u64 {
    200
}
fn default_aggregation_ms() -> u64 {
    10
}

/// UDP payloads above this cannot be sent.
const MAX_UDP_PAYLOAD: u64 = 65_507;

impl RawLtp {
    /// Checks the section; `err` places a message at a span of the file.
    pub(super) fn check(
        &self,
        err: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
    ) -> Result<LtpSettings, ConfigError> {
        let size = |spec: &Option<Spanned<SizeSpec>>, default: u64| match spec {
            None => Ok(default),
            Some(s) => parse_size(s.get_ref()).map_err(|m| err(s.span(), m)),
        };
        let mut listen = Vec::new();
        for a in &self.listen {
            listen.push(
                a.get_ref().parse().map_err(|e| err(a.span(), format!("listen address {:?}: {e}", a.get_ref())))?,
            );
        }
        let mtu = *self.mtu.get_ref();
        let min = dtn_core::cla::ltp::SpanConfig::MIN_MTU as u64;
        if !(min..=MAX_UDP_PAYLOAD).contains(&mtu) {
            return Err(err(self.mtu.span(), format!("mtu = {mtu}: must be {min} to {MAX_UDP_PAYLOAD} bytes")));
        }
        let session_numbers_32_bit = match &self.session_numbers {
            None => false,
            Some(s) => match s.get_ref().as_str() {
                "64-bit" => false,
                "32-bit" => true,
                other => {
                    return Err(err(
                        s.span(),
                        format!("session_numbers = {other:?}: expected \"64-bit\" or \"32-bit\""),
                    ));
                }
            },
        };
        let mut green = Vec::new();
        for g in &self.green {
            green.push(g.get_ref().parse::<EidPattern>().map_err(|e| {
                let at = g.span().start + 1 + e.offset;
                err(at..at + 1, format!("green = {:?}: {e}", g.get_ref()))
            })?);
        }
        let span_import_memory = size(&self.span_import_memory, 128 << 20)?;
        Ok(LtpSettings {
            listen,
            mtu: mtu as usize,
            max_export_sessions: self.max_export_sessions.clamp(1, 1 << 20) as usize,
            max_import_sessions: self.max_import_sessions.clamp(1, 1 << 20) as usize,
            span_import_memory,
            import_memory: size(&self.import_memory, (512 << 20u64).max(span_import_memory))?,
            max_block: size(&self.max_block, 64 << 20)?.max(1),
            retries: self.retries,
            margin_ms: self.margin_ms.max(1),
            aggregation_size: size(&self.aggregation_size, 64 << 10)?.max(1),
            aggregation_ms: self.aggregation_ms,
            socket_buffer: usize::try_from(size(&self.socket_buffer, 8 << 20)?).unwrap_or(usize::MAX),
            session_numbers_32_bit,
            green,
        })
    }
}
