//! LTP on the simulated links (`[link] cla = "ltp"`): every node runs the engine the gateway
//! runs (`dtn_core::cla::ltp`), a span per neighbour. A bundle the agent hands to a link
//! becomes a block (one bundle per block: the simulator's agents already batch nothing, and a
//! block per bundle gives each its own verdict); the block's segments are the frames the link
//! model carries, one at a time at the contact's rate, each lost or delayed as a frame is.
//! The span's link is up while its contact is, so timers stop between contacts.
//!
//! A session still open when its contact ends waits for the next contact if one begins
//! within [`SUSPEND_LIMIT_NANOS`]; otherwise it is cancelled, and its bundle goes back to the
//! agent to be routed again (waiting hours for the same neighbour would strand it).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use dtn_core::cla::ltp::bp::{SERVICE_ID, bundles_in_block};
use dtn_core::cla::ltp::{Engine, EngineConfig, Event as LtpEvent, SpanConfig};
use dtn_core::routing::{NodeId, PlanTime};

/// The longest contact gap an open session waits out: ten minutes.
pub const SUSPEND_LIMIT_NANOS: i64 = 600 * 1_000_000_000;

/// LTP settings for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LtpSettings {
    /// Largest segment (the link frame), bytes.
    pub mtu: usize,
}

/// One node's LTP engine and what its sessions carry.
#[derive(Debug)]
pub(crate) struct LtpNode {
    /// The engine.
    pub engine: Engine,
    /// The agent's bundle in each export session, and its peer.
    pub sessions: BTreeMap<u64, (NodeId, u64)>,
    /// Bundles waiting for a free export session, per peer.
    pub waiting: BTreeMap<NodeId, VecDeque<(u64, Bytes)>>,
    /// When the engine's next timer is scheduled.
    pub timer_at: Option<PlanTime>,
    /// When each peer's next send is scheduled (the link is busy until then).
    pub pump_at: BTreeMap<NodeId, PlanTime>,
}

/// What one engine event means for the agent.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Bundles received from `from`.
    Received {
        /// The sending neighbour.
        from: NodeId,
        /// The bundles of the block.
        bundles: Vec<Bytes>,
    },
    /// The agent's bundle `bundle` on the link to `peer` was (not) delivered.
    Sent {
        /// The neighbour.
        peer: NodeId,
        /// The agent's bundle id.
        bundle: u64,
        /// Whether the neighbour has it.
        ok: bool,
    },
}

impl LtpNode {
    /// A node's engine with a span to each neighbour, links down until their contacts open.
    /// `incarnation` makes a rebooted node's session numbers new.
    pub fn new(node: NodeId, peers: impl IntoIterator<Item = NodeId>, settings: LtpSettings, incarnation: u64) -> Self {
        let mut config = EngineConfig::new(node);
        config.first_session_number = (incarnation << 32) | 1;
        config.max_block_bytes = 1 << 40;
        config.max_import_bytes = 1 << 40;
        let mut engine = Engine::new(config);
        for peer in peers {
            let span =
                SpanConfig { mtu: settings.mtu, margin_ms: 500, max_import_bytes: 1 << 40, ..SpanConfig::new(peer) };
            engine.add_span(span, 0);
            engine.set_link(peer, false, 0);
        }
        LtpNode {
            engine,
            sessions: BTreeMap::new(),
            waiting: BTreeMap::new(),
            timer_at: None,
            pump_at: BTreeMap::new(),
        }
    }

    /// The agent hands `bundle` to the link to `peer`: a block now, or when a session frees.
    pub fn submit(&mut self, peer: NodeId, bundle: u64, bytes: Bytes) -> Vec<Outcome> {
        self.waiting.entry(peer).or_default().push_back((bundle, bytes));
        self.start_blocks(peer)
    }

    /// Starts export sessions for waiting bundles while the span's window has room; a block
    /// the engine cannot take (empty, too large) fails at once.
    pub fn start_blocks(&mut self, peer: NodeId) -> Vec<Outcome> {
        let mut failed = Vec::new();
        let Some(queue) = self.waiting.get_mut(&peer) else { return failed };
        while self.engine.can_send(peer) {
            let Some((bundle, bytes)) = queue.pop_front() else { break };
            let len = bytes.len() as u64;
            match self.engine.send_block(peer, SERVICE_ID, bytes, len) {
                Ok(id) => {
                    self.sessions.insert(id.number, (peer, bundle));
                }
                Err(_) => failed.push(Outcome::Sent { peer, bundle, ok: false }),
            }
        }
        failed
    }

    /// What the engine's events mean for the agent.
    pub fn outcomes(&mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        while let Some(event) = self.engine.poll_event() {
            match event {
                LtpEvent::RedPart { from, client_service: SERVICE_ID, data, .. } => {
                    out.push(Outcome::Received { from, bundles: bundles_in_block(&data).0 });
                }
                LtpEvent::ExportDone { session, .. } => {
                    if let Some((peer, bundle)) = self.sessions.remove(&session.number) {
                        out.push(Outcome::Sent { peer, bundle, ok: true });
                    }
                }
                LtpEvent::ExportCancelled { session, .. } => {
                    if let Some((peer, bundle)) = self.sessions.remove(&session.number) {
                        out.push(Outcome::Sent { peer, bundle, ok: false });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The link to `peer` went down at `now`: sessions to it wait for the next contact if it
    /// begins within the limit, else are cancelled; bundles not yet in a session go back.
    pub fn link_down(&mut self, peer: NodeId, now: PlanTime, next_contact: Option<PlanTime>) -> Vec<Outcome> {
        let ms = now_ms(now);
        self.engine.set_link(peer, false, ms);
        let mut out: Vec<Outcome> = self
            .waiting
            .remove(&peer)
            .unwrap_or_default()
            .into_iter()
            .map(|(bundle, _)| Outcome::Sent { peer, bundle, ok: false })
            .collect();
        let soon = next_contact.is_some_and(|at| at.0.saturating_sub(now.0) <= SUSPEND_LIMIT_NANOS);
        if !soon {
            let numbers: Vec<u64> = self.sessions.iter().filter(|(_, (p, _))| *p == peer).map(|(n, _)| *n).collect();
            for number in numbers {
                self.engine.cancel_block(number, ms);
            }
            out.extend(self.outcomes());
        }
        out
    }
}

/// Engine time for plan time `t`: milliseconds.
pub fn now_ms(t: PlanTime) -> u64 {
    u64::try_from(t.0 / 1_000_000).unwrap_or(0)
}

/// Plan time for engine time `ms`.
pub fn plan_time(ms: u64) -> PlanTime {
    PlanTime::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}
