//! One LTP peer as the endpoint sees it: its contact window from the plan, the agent link
//! while the window is open, the bundles gathered into blocks, and which bundles ride in
//! which export session.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtn_core::bpa::LinkId;
use dtn_core::cla::ltp::bp::{Aggregator, Block};
use dtn_core::routing::NodeId;
use dtn_core::store::BundleId;
use dtn_core::time::DtnTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::daemon::links::LinkContext;
use crate::daemon::pacer::Pacer;
use crate::daemon::snapshot::{dtn_time, plan_time};

/// How often an open-ended window is looked at again (the plan may be reloaded).
const PLAN_RECHECK: Duration = Duration::from_secs(5);

/// A bundle in the endpoint's hands: the link it came on (its verdict goes back there) and
/// its share of the peer's intake credit.
#[derive(Debug)]
pub struct Token {
    /// The agent link it was handed to.
    pub link: LinkId,
    /// The agent's bundle.
    pub bundle: BundleId,
    /// Given back when the verdict is.
    pub _credit: Option<OwnedSemaphorePermit>,
}

/// What the plan says about the link to a peer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    /// A contact is open (or the plan does not schedule the peer).
    pub open: bool,
    /// Contact rate, bytes/s (0: not given).
    pub rate: u64,
    /// One-way light time of the contact, ms.
    pub owlt_ms: u64,
    /// When to look again.
    pub next_check: Instant,
    /// While closed: how long until the next contact opens (`None`: the plan has none).
    pub next_open: Option<Duration>,
}

/// One peer.
#[derive(Debug)]
pub struct Peer {
    pub node: NodeId,
    pub engine_id: u64,
    pub address: SocketAddr,
    /// Configured outduct cap, bytes/s (0: none).
    pub rate_cap: u64,
    /// The agent link while the window is open.
    pub link: Option<LinkId>,
    /// The link bundles from this peer are reported on while no window is open.
    pub rx_link: LinkId,
    pub window: Option<WindowState>,
    pub pacer: Option<Pacer>,
    /// Blocks being gathered: red data, and green (best-effort) data for the bundles the
    /// `[ltp] green` patterns name.
    pub aggregators: [Aggregator<Token>; 2],
    /// Closed blocks waiting for a free export session, each with whether it goes green.
    pub ready: VecDeque<(Block<Token>, bool)>,
    /// Bundles in each open export session.
    pub sessions: BTreeMap<u64, Vec<Token>>,
    /// Bytes (KiB units) of bundles the endpoint may hold for this peer.
    pub credit: Arc<Semaphore>,
    /// Segments the socket would not take yet.
    pub unsent: Option<Outbox>,
    /// A segment taken from the engine that waits for the next run.
    pub held: Option<Held>,
    /// Green data of import sessions, by session number, while it arrives in order.
    pub green_imports: BTreeMap<u64, Vec<u8>>,
}

impl Peer {
    /// Whether the link is open for sending.
    pub fn is_open(&self) -> bool {
        self.link.is_some()
    }

    /// Takes every bundle not yet in an export session (their verdict: not sent).
    pub fn take_unsent(&mut self) -> Vec<Token> {
        let mut tokens: Vec<Token> = self.ready.drain(..).flat_map(|(b, _)| b.bundles).collect();
        for aggregator in &mut self.aggregators {
            if let Some(block) = aggregator.close() {
                tokens.extend(block.bundles);
            }
        }
        tokens
    }

    /// Closes the blocks whose time is up (or all of them, for `now = u64::MAX`).
    pub fn close_due(&mut self, now: u64) {
        for (green, aggregator) in [false, true].into_iter().zip(&mut self.aggregators) {
            if let Some(block) = aggregator.poll(now) {
                self.ready.push_back((block, green));
            }
        }
    }

    /// When the next block closes by time.
    pub fn deadline(&self) -> Option<u64> {
        self.aggregators.iter().filter_map(Aggregator::deadline).min()
    }
}

/// The window to `peer` from the plan at this moment.
pub fn window(ctx: &LinkContext, peer: NodeId) -> WindowState {
    let guard = ctx.plan.read().unwrap_or_else(PoisonError::into_inner);
    let recheck = Instant::now() + PLAN_RECHECK;
    let always = WindowState { open: true, rate: 0, owlt_ms: 0, next_check: recheck, next_open: None };
    let Some(plan) = guard.as_ref() else { return always };
    let now_dtn = DtnTime::now();
    let now = plan_time(ctx.epoch, now_dtn);
    let node = ctx.config.node;
    let mut scheduled = false;
    let mut next: Option<&dtn_core::routing::Contact> = None;
    for c in plan.contacts().iter().filter(|c| c.from == node && c.to == peer) {
        scheduled = true;
        if c.end > now && next.is_none_or(|n| c.start < n.start) {
            next = Some(c);
        }
    }
    let until = |t: dtn_core::routing::PlanTime| {
        let ms = dtn_time(ctx.epoch, t).0.saturating_sub(now_dtn.0);
        (Instant::now() + Duration::from_millis(ms)).min(recheck)
    };
    match next {
        None if !scheduled => always,
        None => WindowState { open: false, rate: 0, owlt_ms: 0, next_check: recheck, next_open: None },
        Some(c) => WindowState {
            open: c.start <= now,
            rate: c.rate_bytes_per_sec,
            owlt_ms: u64::try_from(c.owlt_nanos / 1_000_000).unwrap_or(0),
            next_check: if c.start <= now { until(c.end) } else { until(c.start) },
            next_open: (c.start > now)
                .then(|| Duration::from_millis(dtn_time(ctx.epoch, c.start).0.saturating_sub(now_dtn.0))),
        },
    }
}

/// A run of segments for one send: each `segment` bytes long (the last may be shorter), all
/// let through by the pacer.
#[derive(Debug, Default)]
pub struct Outbox {
    pub bytes: Vec<u8>,
    pub segment: usize,
}

/// A segment out of the engine that did not fit the run it was taken for.
#[derive(Debug)]
pub struct Held {
    pub bytes: Vec<u8>,
    /// Already let through by the pacer.
    pub paced: bool,
}

/// A bundle handed over by a link's forwarder.
#[derive(Debug)]
pub struct Intake {
    /// The peer's engine.
    pub engine_id: u64,
    /// The bundle and where its verdict goes.
    pub token: Token,
    /// Its bytes.
    pub bytes: Bytes,
    /// It goes as green data.
    pub green: bool,
}
