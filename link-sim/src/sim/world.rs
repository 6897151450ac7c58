//! The simulated network: agents, links, the event queue and the run's records.

use std::collections::BTreeMap;

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, Event, LinkId, NodeConfig, Submission};
use dtn_core::custody::CustodyConfig;
use dtn_core::routing::{CgrRouter, ContactPlan, NodeId, PlanTime};
use dtn_core::store::{BundleStore, MemoryStore};
use dtn_core::time::DtnTime;

use crate::model::link::{Fate, Impairments, Link, Window};

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds every link's random stream.
    pub seed: u64,
    /// The DTN time of the plan's time 0.
    pub epoch: DtnTime,
    /// Hand bundles to the next hop with custody (BIBE) on every link.
    pub custody: bool,
    /// BPSec on every node (see [`super::security`]).
    pub bpsec: bool,
    /// Channel impairments applied to every link.
    pub impairments: Impairments,
    /// Store budget per node, bytes.
    pub store_bytes: u64,
    /// Passes that happen but are missing from the agents' plan until a late update.
    pub late_passes: Vec<LatePass>,
    /// The agents' retry interval, if not their default (10 s).
    pub retry_interval_ms: Option<u64>,
    /// Links carry LTP segments instead of whole bundles as frames.
    pub ltp: Option<super::ltp::LtpSettings>,
}

/// A late plan update: the `pass`-th window (in start order) of `from → to` happens as the
/// link model says, but the agents' contact plan leaves it out until `known_at`, when every
/// agent is told about it (as an operations centre's plan upload would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatePass {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Index of the pass, from 0.
    pub pass: usize,
    /// When the update reaches the agents.
    pub known_at: PlanTime,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            epoch: DtnTime(757_382_400_000),
            custody: false,
            bpsec: false,
            impairments: Impairments::default(),
            store_bytes: 1 << 34,
            late_passes: Vec::new(),
            retry_interval_ms: None,
            ltp: None,
        }
    }
}

/// One delivery to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The node it was delivered at.
    pub node: NodeId,
    /// When.
    pub at: PlanTime,
    /// The ADU.
    pub payload: Bytes,
}

/// A submission an agent accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedRecord {
    /// The source node.
    pub node: NodeId,
    /// The submitter's token.
    pub token: u64,
    /// The bundle's creation timestamp.
    pub creation: dtn_core::time::CreationTimestamp,
}

/// One frame handed to a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRecord {
    /// When it was handed over.
    pub at: PlanTime,
    /// The sending node.
    pub from: NodeId,
    /// The receiving node.
    pub to: NodeId,
    /// The sender's bundle id.
    pub bundle: u64,
    /// Its length, bytes.
    pub bytes: u64,
    /// Whether the link carried it (it may still have been lost on the way).
    pub sent: bool,
}

type Agent = Bpa<MemoryStore, CgrRouter>;

#[derive(Debug)]
pub(super) enum SimEvent {
    Frame { from: NodeId, to: NodeId, bytes: Bytes },
    Segment { from: NodeId, to: NodeId, bytes: Bytes },
    LtpPump { node: NodeId, peer: NodeId },
    LtpTimer { node: NodeId },
    Sent { node: NodeId, peer: NodeId, bundle: u64, ok: bool },
    Up { node: NodeId, peer: NodeId },
    Down { node: NodeId, peer: NodeId },
    Timer { node: NodeId },
    Submit { node: NodeId, submission: Submission },
    Crash { node: NodeId },
    Restart { node: NodeId },
    PlanUpdate { contacts: Vec<dtn_core::routing::Contact> },
}

/// The simulated network.
#[derive(Debug)]
pub struct World {
    pub(super) config: SimConfig,
    pub(super) now: PlanTime,
    seq: u64,
    queue: BTreeMap<(PlanTime, u64), SimEvent>,
    pub(super) agents: BTreeMap<NodeId, Agent>,
    timers: BTreeMap<NodeId, PlanTime>,
    pub(super) links: BTreeMap<(NodeId, NodeId), Link>,
    trace: u64,
    delivered: Vec<DeliveryRecord>,
    accepted: Vec<AcceptedRecord>,
    pub(super) transmissions: Vec<TxRecord>,
    /// Bundles a frame of which the channel lost, or that reached a node while it was down,
    /// by (source node, creation timestamp): identities, not bytes (a day of lost 20 MB frames
    /// held many gigabytes).
    lost: std::collections::BTreeSet<(NodeId, dtn_core::time::CreationTimestamp)>,
    /// Nodes that are down, with what their store had committed.
    pub(super) down: BTreeMap<NodeId, MemoryStore>,
    configs: BTreeMap<NodeId, NodeConfig>,
    plan: std::sync::Arc<ContactPlan>,
    pub(super) reboots: u64,
    registrations: BTreeMap<NodeId, Vec<Event>>,
    outages: Vec<(NodeId, PlanTime, PlanTime)>,
    /// Milliseconds each node's clock is ahead (negative: behind) of true time.
    clock_offsets: BTreeMap<NodeId, i64>,
    deleted: Vec<(dtn_core::eid::Eid, dtn_core::time::CreationTimestamp, dtn_core::admin::ReasonCode)>,
    events: u64,
    /// Since when each running node has believed its link to a peer up (the liveness oracle).
    up_since: BTreeMap<(NodeId, NodeId), PlanTime>,
    /// When each node last handed a bundle (by its id there) to a link: the time its last byte
    /// left (the liveness oracle; ids are reused, so only times after a bundle came count).
    pub(super) last_sent: BTreeMap<(NodeId, u64), PlanTime>,
    /// Each running node's LTP engine, when links carry LTP.
    pub(super) ltp_nodes: BTreeMap<NodeId, super::ltp::LtpNode>,
}

impl World {
    /// A network over `windows` (per directed link, as [`crate::model::link::windows_from_csv`]
    /// reads them), with an agent per node routing over the same plan.
    pub fn new(windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>, config: SimConfig) -> Self {
        let mut contacts = Vec::new();
        let mut updates: BTreeMap<PlanTime, Vec<dtn_core::routing::Contact>> = BTreeMap::new();
        for (&(from, to), ws) in windows {
            let mut ordered = ws.clone();
            ordered.sort_by_key(|w| (w.start, w.end));
            for (pass, w) in ordered.iter().enumerate() {
                let contact = w.contact(from, to, w.owlt_max_nanos);
                match config.late_passes.iter().find(|l| (l.from, l.to, l.pass) == (from, to, pass)) {
                    Some(late) => updates.entry(late.known_at).or_default().push(contact),
                    None => contacts.push(contact),
                }
            }
        }
        let plan = std::sync::Arc::new(ContactPlan::new(contacts, None));
        let mut world = World {
            config: config.clone(),
            now: PlanTime(0),
            seq: 0,
            queue: BTreeMap::new(),
            agents: BTreeMap::new(),
            timers: BTreeMap::new(),
            links: BTreeMap::new(),
            trace: 0xcbf2_9ce4_8422_2325,
            delivered: Vec::new(),
            accepted: Vec::new(),
            transmissions: Vec::new(),
            lost: std::collections::BTreeSet::new(),
            down: BTreeMap::new(),
            configs: BTreeMap::new(),
            plan: plan.clone(),
            reboots: 0,
            registrations: BTreeMap::new(),
            outages: Vec::new(),
            clock_offsets: BTreeMap::new(),
            deleted: Vec::new(),
            events: 0,
            up_since: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            ltp_nodes: BTreeMap::new(),
        };
        // Every node with a window gets an agent, even one only a late update will mention.
        let nodes: std::collections::BTreeSet<NodeId> = windows.keys().flat_map(|&(a, b)| [a, b]).collect();
        for node in nodes {
            let mut node_config = NodeConfig::new(node);
            node_config.plan_epoch = config.epoch;
            if let Some(ms) = config.retry_interval_ms {
                node_config.retry_interval_ms = ms;
            }
            if config.custody {
                let peers = windows.keys().filter(|(f, _)| *f == node).map(|(_, t)| *t);
                node_config.custody = Some(CustodyConfig::with_peers(peers));
            }
            if config.bpsec {
                node_config.security = Some(super::security::policy(node));
                node_config.security_seed = super::security::seed(config.seed, node);
            }
            let agent =
                Bpa::new(node_config.clone(), MemoryStore::new(config.store_bytes), CgrRouter::new(plan.clone()));
            world.agents.insert(node, agent);
            world.configs.insert(node, node_config);
        }
        for (&(from, to), ws) in windows {
            let link = Link::new(from, to, ws.clone(), config.impairments, config.seed);
            let lag = link.acquisition_lag_nanos();
            for w in link.windows() {
                world.schedule(w.start.plus(lag), SimEvent::Up { node: from, peer: to });
                world.schedule(w.end, SimEvent::Down { node: from, peer: to });
            }
            world.links.insert((from, to), link);
        }
        if let Some(settings) = config.ltp {
            let nodes: Vec<NodeId> = world.agents.keys().copied().collect();
            for node in nodes {
                let ltp = world.new_ltp_node(node, settings);
                world.ltp_nodes.insert(node, ltp);
            }
        }
        for (at, contacts) in updates {
            world.schedule(at, SimEvent::PlanUpdate { contacts });
        }
        world
    }

    pub(super) fn schedule(&mut self, at: PlanTime, event: SimEvent) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// Hands an event to a node's agent now (registrations and the like, before a run); it is
    /// told again when the node reboots.
    pub fn register(&mut self, node: NodeId, event: Event) {
        self.registrations.entry(node).or_default().push(event.clone());
        self.apply_now(node, event);
    }

    /// Submits an ADU at `node` at time `at`.
    pub fn submit(&mut self, node: NodeId, at: PlanTime, submission: Submission) {
        self.schedule(at, SimEvent::Submit { node, submission });
    }

    fn dtn_time(&self) -> DtnTime {
        DtnTime(self.config.epoch.0 + u64::try_from(self.now.0 / 1_000_000).unwrap_or(0))
    }

    /// What `node`'s clock reads now.
    fn clock(&self, node: NodeId) -> DtnTime {
        let offset = self.clock_offsets.get(&node).copied().unwrap_or(0);
        DtnTime(self.dtn_time().0.saturating_add_signed(offset))
    }

    /// Sets `node`'s clock `offset_ms` ahead of true time (negative: behind), from now on.
    pub fn clock_offset(&mut self, node: NodeId, offset_ms: i64) {
        self.clock_offsets.insert(node, offset_ms);
    }

    /// Runs every event up to `until`.
    pub fn run_until(&mut self, until: PlanTime) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.events += 1;
            self.record(&event);
            self.apply(event);
        }
        self.now = self.now.max(until);
    }

    fn record(&mut self, event: &SimEvent) {
        let (kind, a, b, len) = match event {
            SimEvent::Frame { from, to, bytes } => (1u64, *from, *to, bytes.len() as u64),
            SimEvent::Sent { node, peer, bundle, ok } => (2, *node, *peer, bundle * 2 + u64::from(*ok)),
            SimEvent::Up { node, peer } => (3, *node, *peer, 0),
            SimEvent::Down { node, peer } => (4, *node, *peer, 0),
            SimEvent::Timer { node } => (5, *node, 0, 0),
            SimEvent::Submit { node, submission } => (6, *node, submission.token, submission.payload.len() as u64),
            SimEvent::Crash { node } => (7, *node, 0, 0),
            SimEvent::Restart { node } => (8, *node, 0, 0),
            SimEvent::PlanUpdate { contacts } => (9, contacts.len() as u64, 0, 0),
            SimEvent::Segment { from, to, bytes } => (10, *from, *to, bytes.len() as u64),
            SimEvent::LtpPump { node, peer } => (11, *node, *peer, 0),
            SimEvent::LtpTimer { node } => (12, *node, 0, 0),
        };
        for word in [self.now.0 as u64, kind, a, b, len] {
            for byte in word.to_le_bytes() {
                self.trace = (self.trace ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }

    fn apply(&mut self, event: SimEvent) {
        let (node, agent_event) = match event {
            SimEvent::Crash { node } => return self.crash(node),
            SimEvent::Restart { node } => return self.restart(node),
            SimEvent::PlanUpdate { contacts } => return self.plan_update(contacts),
            SimEvent::Segment { from, to, bytes } => return self.ltp_segment(from, to, &bytes),
            SimEvent::LtpPump { node, peer } => return self.ltp_pump_due(node, peer),
            SimEvent::LtpTimer { node } => return self.ltp_timer(node),
            SimEvent::Frame { from, to, bytes } if self.down.contains_key(&to) || self.silent(to) => {
                self.lose(from, &bytes);
                return;
            }
            SimEvent::Frame { from, to, bytes } => (to, Some(Event::Received { link: LinkId(from as u32), bytes })),
            SimEvent::Sent { node, peer, bundle, ok } => {
                (node, Some(Event::Transmitted { link: LinkId(peer as u32), bundle, ok }))
            }
            SimEvent::Up { node, peer } => (node, Some(Event::LinkUp { link: LinkId(peer as u32), peer })),
            SimEvent::Down { node, peer } => (node, Some(Event::LinkDown { link: LinkId(peer as u32) })),
            SimEvent::Timer { node } => {
                // This timer is spent: the agent's next deadline must be armed anew, even if it
                // is later than this one (a spent entry left here hid every later deadline).
                if self.timers.get(&node) == Some(&self.now) {
                    self.timers.remove(&node);
                }
                (node, None)
            }
            SimEvent::Submit { node, submission } => (node, Some(Event::Submit(submission))),
        };
        let now = self.clock(node);
        if let Some(e) = &agent_event {
            self.track_link(node, e);
        }
        let ltp_link = agent_event.as_ref().and_then(ltp_link_change);
        let Some(agent) = self.agents.get_mut(&node) else { return };
        let result = match agent_event {
            Some(e) => agent.handle(e, now),
            None => agent.handle_timeout(now),
        };
        if result.is_err() {
            return;
        }
        self.drain(node);
        if let Some((peer, up)) = ltp_link {
            self.ltp_link(node, peer, up);
        }
    }

    fn drain(&mut self, node: NodeId) {
        let mut actions = Vec::new();
        if let Some(agent) = self.agents.get_mut(&node) {
            while let Some(a) = agent.poll_action() {
                actions.push(a);
            }
        }
        for action in actions {
            match action {
                Action::Transmit { link, bundle, bytes } if self.ltp_nodes.contains_key(&node) => {
                    self.ltp_transmit(node, NodeId::from(link.0), bundle, bytes);
                }
                Action::Transmit { link, bundle, bytes } => {
                    let peer = NodeId::from(link.0);
                    // The convergence layer reports a frame sent when its last byte has left.
                    // Only the contact open now carries it: a frame that cannot leave before
                    // the contact ends (or handed over in a pass that is missed) fails back to
                    // the agent at once, as a real session closing at the contact's end fails
                    // its unacknowledged transfers, and is routed again instead of waiting for
                    // this link's next pass.
                    let (mut fate, left) = self.links.get_mut(&(node, peer)).map_or((Fate::NoContact, self.now), |l| {
                        let fate = l.send_now(self.now, bytes.len() as u64);
                        let left = match fate {
                            Fate::Arrives(_) => l.busy_until(),
                            Fate::Lost { sent } => sent,
                            Fate::BufferFull | Fate::NoContact => self.now,
                        };
                        (fate, left)
                    });
                    if matches!(fate, Fate::Arrives(_)) && self.silent(node) {
                        fate = Fate::Lost { sent: self.now };
                    }
                    let ok = matches!(fate, Fate::Arrives(_) | Fate::Lost { .. });
                    self.transmissions.push(TxRecord {
                        at: self.now,
                        from: node,
                        to: peer,
                        bundle,
                        bytes: bytes.len() as u64,
                        sent: ok,
                    });
                    match fate {
                        Fate::Arrives(at) => self.schedule(at, SimEvent::Frame { from: node, to: peer, bytes }),
                        Fate::Lost { .. } => self.lose(node, &bytes),
                        Fate::BufferFull | Fate::NoContact => {}
                    }
                    self.last_sent.insert((node, bundle), left.max(self.now));
                    self.schedule(left.max(self.now), SimEvent::Sent { node, peer, bundle, ok });
                }
                Action::Deliver(d) => self.delivered.push(DeliveryRecord { node, at: self.now, payload: d.payload }),
                Action::Accepted { token, creation } => self.accepted.push(AcceptedRecord { node, token, creation }),
                Action::Deleted { source, creation, reason } => self.deleted.push((source, creation, reason)),
                _ => {}
            }
        }
        self.arm_timer(node);
    }

    /// An unannounced outage: from `at` for `duration` ns nothing `node` sends or is sent
    /// arrives, while its agent and its peers believe the links up.
    pub fn outage(&mut self, node: NodeId, at: PlanTime, duration: i64) {
        self.outages.push((node, at, at.plus(duration.max(0))));
    }

    pub(super) fn silent(&self, node: NodeId) -> bool {
        self.outages.iter().any(|&(n, from, to)| n == node && from <= self.now && self.now < to)
    }

    /// Schedules a reboot: `node` goes down at `at` and comes back `down_for` later.
    pub fn reboot(&mut self, node: NodeId, at: PlanTime, down_for: i64) {
        self.schedule(at, SimEvent::Crash { node });
        self.schedule(at.plus(down_for.max(0)), SimEvent::Restart { node });
    }

    /// The node loses everything its store had not committed; events for it are dropped
    /// until it restarts.
    fn crash(&mut self, node: NodeId) {
        if let Some(agent) = self.agents.remove(&node) {
            self.down.insert(node, agent.store().after_crash());
            self.timers.remove(&node);
            self.up_since.retain(|(from, _), _| *from != node);
            self.reboots += 1;
            self.ltp_nodes.remove(&node);
        }
    }

    /// The node rebuilds its agent from its store; its links in contact now come up again,
    /// on both ends, and its registrations are renewed.
    fn restart(&mut self, node: NodeId) {
        let (Some(store), Some(config)) = (self.down.remove(&node), self.configs.get(&node).cloned()) else { return };
        let registrations: Vec<Event> = self.registrations.get(&node).cloned().unwrap_or_default();
        let Ok(agent) = Bpa::recover(config, store, CgrRouter::new(self.plan.clone()), self.clock(node)) else {
            return;
        };
        self.agents.insert(node, agent);
        if let Some(settings) = self.config.ltp {
            let fresh = self.new_ltp_node(node, settings);
            self.ltp_nodes.insert(node, fresh);
        }
        for event in registrations {
            self.apply_now(node, event);
        }
        let now = self.now;
        let live: Vec<(NodeId, NodeId)> = self
            .links
            .iter()
            .filter(|((from, to), link)| {
                (*from == node || *to == node) && link.windows().iter().any(|w| w.start <= now && now < w.end)
            })
            .map(|(k, _)| *k)
            .collect();
        for (from, to) in live {
            if !self.down.contains_key(&from) {
                self.apply_now(from, Event::LinkUp { link: LinkId(to as u32), peer: to });
            }
        }
    }

    /// A late plan update reaches every agent; nodes that are down learn it when they restart
    /// (their agent is rebuilt on the updated plan).
    fn plan_update(&mut self, contacts: Vec<dtn_core::routing::Contact>) {
        let mut all = self.plan.contacts().to_vec();
        all.extend_from_slice(&contacts);
        self.plan = std::sync::Arc::new(ContactPlan::new(all, self.plan.reference()));
        let nodes: Vec<NodeId> = self.agents.keys().copied().collect();
        for node in nodes {
            self.apply_now(node, Event::ContactsAdded(contacts.clone()));
        }
    }

    pub(super) fn apply_now(&mut self, node: NodeId, event: Event) {
        self.track_link(node, &event);
        let now = self.clock(node);
        let ltp_link = ltp_link_change(&event);
        if let Some(agent) = self.agents.get_mut(&node)
            && agent.handle(event, now).is_ok()
        {
            self.drain(node);
            if let Some((peer, up)) = ltp_link {
                self.ltp_link(node, peer, up);
            }
        }
    }

    /// Keeps [`Self::up_since`] as the running agents see their links.
    fn track_link(&mut self, node: NodeId, event: &Event) {
        if !self.agents.contains_key(&node) {
            return;
        }
        match event {
            Event::LinkUp { peer, .. } => {
                self.up_since.entry((node, *peer)).or_insert(self.now);
            }
            Event::LinkDown { link } => {
                self.up_since.remove(&(node, NodeId::from(link.0)));
            }
            _ => {}
        }
    }

    /// Since when `node`'s agent has believed its link to `peer` up, if it does.
    pub fn link_up_since(&self, node: NodeId, peer: NodeId) -> Option<PlanTime> {
        self.up_since.get(&(node, peer)).copied()
    }

    /// When `node` last handed its bundle `id` to a link (the time the last byte left).
    pub fn last_sent(&self, node: NodeId, id: u64) -> Option<PlanTime> {
        self.last_sent.get(&(node, id)).copied()
    }

    /// The directed link `from → to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<&Link> {
        self.links.get(&(from, to))
    }

    /// The contact plan the agents route over now (late passes join it when announced).
    pub fn plan(&self) -> &ContactPlan {
        &self.plan
    }

    /// The plan time at which `node`'s clock reads `t`.
    pub fn plan_time_of(&self, node: NodeId, t: DtnTime) -> PlanTime {
        let offset = self.clock_offsets.get(&node).copied().unwrap_or(0);
        let ms = i64::try_from(t.0.saturating_sub(self.config.epoch.0)).unwrap_or(i64::MAX);
        PlanTime::from_millis(ms.saturating_sub(offset))
    }

    fn arm_timer(&mut self, node: NodeId) {
        let Some(due) = self.agents.get(&node).and_then(Bpa::poll_timeout) else { return };
        // The agent's deadline is on its own clock.
        let offset = self.clock_offsets.get(&node).copied().unwrap_or(0);
        let due_ms = i64::try_from(due.0.saturating_sub(self.config.epoch.0)).unwrap_or(i64::MAX);
        let at = PlanTime::from_millis(due_ms.saturating_sub(offset)).max(self.now);
        if self.timers.get(&node).is_some_and(|t| *t <= at && *t >= self.now) {
            return;
        }
        self.timers.insert(node, at);
        self.schedule(at, SimEvent::Timer { node });
    }

    /// Deliveries so far.
    pub fn delivered(&self) -> &[DeliveryRecord] {
        &self.delivered
    }

    /// Frames on the wire (sent, not yet arrived), as (from, to, bytes).
    pub fn in_flight(&self) -> impl Iterator<Item = (NodeId, NodeId, &Bytes)> {
        self.queue.values().filter_map(|e| match e {
            SimEvent::Frame { from, to, bytes } => Some((*from, *to, bytes)),
            _ => None,
        })
    }

    fn lose(&mut self, sender: NodeId, bytes: &Bytes) {
        if let Some(identity) = super::ledger::identify(bytes, sender) {
            self.lost.insert(identity);
        }
    }

    /// Bundles a frame of which was lost by the channel or sent to a node that was down, as
    /// (source node, creation timestamp).
    pub fn lost_bundles(&self) -> impl Iterator<Item = &(NodeId, dtn_core::time::CreationTimestamp)> {
        self.lost.iter()
    }

    /// What the stores of nodes that are down hold: (node, encoded bundle).
    pub fn stored_while_down(&self) -> impl Iterator<Item = (NodeId, Bytes)> + '_ {
        self.down
            .iter()
            .flat_map(|(node, store)| store.recover().unwrap_or_default().into_iter().map(move |b| (*node, b.bytes)))
    }

    /// How many reboots happened.
    pub fn reboots(&self) -> u64 {
        self.reboots
    }

    /// Every frame handed to a link, in order.
    pub fn transmissions(&self) -> &[TxRecord] {
        &self.transmissions
    }

    /// Submissions the agents accepted.
    pub fn accepted(&self) -> &[AcceptedRecord] {
        &self.accepted
    }

    /// Bundles deleted anywhere, with why.
    pub fn deleted(&self) -> &[(dtn_core::eid::Eid, dtn_core::time::CreationTimestamp, dtn_core::admin::ReasonCode)] {
        &self.deleted
    }

    /// The agents.
    pub fn agents(&self) -> impl Iterator<Item = (NodeId, &Bpa<MemoryStore, CgrRouter>)> {
        self.agents.iter().map(|(n, a)| (*n, a))
    }

    /// Takes a pass of `from → to` out (a scripted disruption).
    pub fn miss_pass(&mut self, from: NodeId, to: NodeId, pass: usize) {
        if let Some(link) = self.links.get_mut(&(from, to)) {
            link.miss_pass(pass);
        }
    }

    /// The time of the next event, if any.
    pub fn next_event_at(&self) -> Option<PlanTime> {
        self.queue.first_key_value().map(|(k, _)| k.0)
    }

    /// A 64-bit hash of every event processed, in order.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Virtual time now.
    pub fn now(&self) -> PlanTime {
        self.now
    }
}

/// The link an agent event brings up or down: LTP spans follow what the agent believes.
fn ltp_link_change(event: &Event) -> Option<(NodeId, bool)> {
    match event {
        Event::LinkUp { peer, .. } => Some((*peer, true)),
        Event::LinkDown { link } => Some((NodeId::from(link.0), false)),
        _ => None,
    }
}
