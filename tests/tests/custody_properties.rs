//! Custody transfer under loss, duplication, reordering and crashes: every custody-accepted
//! bundle is delivered to the application exactly once (or its loss is reported), and no
//! custodian lets go of a bundle before the next node holds it durably. The application
//! submits again everything after each crash of the first node (as if every answer was lost):
//! the submission references make the retries the same ADUs.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, DeliveryMode, Event, LinkId, NodeConfig, Submission};
use dtn_core::bundle::{Bundle, BundleFlags};
use dtn_core::custody::CustodyConfig;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::routing::{NodeId, Priority, StaticRouter};
use dtn_core::store::{BundleStore, MemoryStore};
use dtn_core::time::{CreationTimestamp, DtnTime};
use dtn_tests::Rng;
use proptest::prelude::*;

type Agent = Bpa<MemoryStore, StaticRouter>;

const T0: DtnTime = DtnTime(757_382_400_000);
const STEP_MS: u64 = 250;

#[derive(Debug, Clone)]
struct Case {
    nodes: usize,
    bundles: u64,
    drop: u64,
    duplicate: u64,
    crash: u64,
    seed: u64,
}

struct Frame {
    to: usize,
    from: usize,
    bytes: Bytes,
}

struct Sim {
    case: Case,
    agents: Vec<Agent>,
    channel: Vec<Frame>,
    rng: Rng,
    now: DtnTime,
    /// Tokens accepted, with the creation timestamp of the bundle each became.
    accepted: BTreeMap<u64, CreationTimestamp>,
    delivered: BTreeMap<u64, u32>,
    deleted: u32,
}

fn node(i: usize) -> NodeId {
    i as NodeId + 1
}

fn build_agent(case: &Case, i: usize, store: Option<MemoryStore>, now: DtnTime) -> Agent {
    let mut router = StaticRouter::new();
    let last = case.nodes - 1;
    for j in 0..case.nodes {
        if j > i {
            router.add(node(j), node(i + 1));
        } else if j < i {
            router.add(node(j), node(i - 1));
        }
    }
    let mut config = NodeConfig::new(node(i));
    config.retry_interval_ms = 2_000;
    if i < last {
        let mut custody = CustodyConfig::with_peers([node(i + 1)]);
        custody.margin_ms = 500;
        custody.default_owlt_ms = 250;
        config.custody = Some(custody);
    }
    let mut agent = match store {
        Some(store) => Bpa::recover(config, store, router, now).unwrap(),
        None => Bpa::new(config, MemoryStore::new(1 << 20), router),
    };
    for j in [i.wrapping_sub(1), i + 1] {
        if j < case.nodes {
            agent.handle(Event::LinkUp { link: LinkId(j as u32), peer: node(j) }, now).unwrap();
        }
    }
    if i == last {
        let endpoint = Eid::ipn(node(i) as u32, 1);
        agent.handle(Event::Register { endpoint, mode: DeliveryMode::Active }, now).unwrap();
    }
    agent
}

impl Sim {
    fn new(case: Case) -> Self {
        let agents = (0..case.nodes).map(|i| build_agent(&case, i, None, T0)).collect();
        let rng = Rng(case.seed);
        Sim {
            case,
            agents,
            channel: Vec::new(),
            rng,
            now: T0,
            accepted: BTreeMap::new(),
            delivered: BTreeMap::new(),
            deleted: 0,
        }
    }

    fn submit_all(&mut self) {
        let destination = Eid::ipn(node(self.case.nodes - 1) as u32, 1);
        for token in 0..self.case.bundles {
            let submission = Submission {
                token,
                source: None,
                destination: destination.clone(),
                payload: Bytes::from(token.to_be_bytes().to_vec()),
                lifetime_ms: 3_600_000,
                flags: BundleFlags::default(),
                priority: Priority::Normal,
                reference: Some(token),
                protection: Default::default(),
            };
            self.agents[0].handle(Event::Submit(submission), self.now).unwrap();
        }
    }

    /// Drains every agent's actions into the channel and the ledgers.
    fn drain(&mut self) {
        for i in 0..self.agents.len() {
            while let Some(action) = self.agents[i].poll_action() {
                match action {
                    Action::Transmit { link, bundle, bytes } => {
                        let to = link.0 as usize;
                        if !self.rng.chance(self.case.drop) {
                            if self.rng.chance(self.case.duplicate) {
                                self.channel.push(Frame { to, from: i, bytes: bytes.clone() });
                            }
                            self.channel.push(Frame { to, from: i, bytes });
                        }
                        self.agents[i].handle(Event::Transmitted { link, bundle, ok: true }, self.now).unwrap();
                    }
                    Action::Deliver(d) => {
                        let token = u64::from_be_bytes(d.payload[..8].try_into().unwrap());
                        *self.delivered.entry(token).or_default() += 1;
                    }
                    Action::Accepted { token, creation } => {
                        let first = *self.accepted.entry(token).or_insert(creation);
                        assert_eq!(first, creation, "token {token} resubmitted became another bundle: {:?}", self.case);
                    }
                    Action::Deleted { .. } => self.deleted += 1,
                    Action::Refused { .. } | Action::Rejected { .. } => {}
                }
            }
        }
    }

    /// Tokens whose bundle some store holds durably (as itself or encapsulated).
    fn durably_held(&self) -> Vec<u64> {
        let mut held = Vec::new();
        for agent in &self.agents {
            for stored in agent.store().after_crash().recover().unwrap() {
                let bundle = Bundle::parse(stored.bytes, ParseMode::Relaxed).ok();
                if let Some(b) = bundle.filter(|b| b.payload().len() == 8 && !b.is_admin_record()) {
                    held.push(u64::from_be_bytes(b.payload()[..8].try_into().unwrap()));
                }
            }
        }
        held
    }

    fn check_invariants(&self) {
        for (token, count) in &self.delivered {
            assert!(*count <= 1, "token {token} delivered {count} times: {:?}", self.case);
        }
        if self.deleted == 0 {
            let held = self.durably_held();
            for token in self.accepted.keys() {
                assert!(
                    self.delivered.contains_key(token) || held.contains(token),
                    "token {token} accepted, not delivered and held nowhere: {:?}",
                    self.case
                );
            }
        }
    }

    fn step(&mut self) {
        self.drain();
        // Deliver some frames, in random order.
        let n = self.channel.len();
        for _ in 0..n {
            if self.channel.is_empty() {
                break;
            }
            let k = (self.rng.next_u64() % self.channel.len() as u64) as usize;
            let frame = self.channel.swap_remove(k);
            let link = LinkId(frame.from as u32);
            self.agents[frame.to].handle(Event::Received { link, bytes: frame.bytes }, self.now).unwrap();
            self.drain();
        }
        if self.rng.chance(self.case.crash) {
            let i = (self.rng.next_u64() % self.agents.len() as u64) as usize;
            let store = self.agents[i].store().after_crash();
            self.agents[i] = build_agent(&self.case, i, Some(store), self.now);
            // A restarted node's neighbours see its links come back too.
            for j in [i.wrapping_sub(1), i + 1] {
                if j < self.case.nodes {
                    self.agents[j].handle(Event::LinkUp { link: LinkId(i as u32), peer: node(i) }, self.now).unwrap();
                }
            }
            if i == 0 {
                self.submit_all();
            }
        }
        self.check_invariants();
        self.now = self.now.saturating_add_millis(STEP_MS);
        for agent in &mut self.agents {
            agent.handle_timeout(self.now).unwrap();
        }
    }

    fn run(mut self) {
        self.submit_all();
        // 150 s of the case's faults, then a calm channel long enough for the longest custody
        // backoff (64 times the 4 s timeout) to run out.
        for round in 0..2_000 {
            if round == 600 {
                (self.case.drop, self.case.duplicate, self.case.crash) = (0, 0, 0);
            }
            self.step();
            if self.accepted.keys().all(|t| self.delivered.contains_key(t)) && self.channel.is_empty() {
                break;
            }
        }
        self.drain();
        self.check_invariants();
        assert_eq!(self.accepted.len() as u64, self.case.bundles, "{:?}", self.case);
        for token in self.accepted.keys() {
            assert!(
                self.delivered.get(token) == Some(&1) || self.deleted > 0,
                "token {token} never delivered: {:?} (delivered {:?})",
                self.case,
                self.delivered
            );
        }
    }
}

fn cases(crash: bool) -> impl Strategy<Value = Case> {
    (2usize..=3, 1u64..6, 0u64..40, 0u64..30, any::<u64>()).prop_map(move |(nodes, bundles, drop, duplicate, seed)| {
        Case { nodes, bundles, drop, duplicate, crash: if crash { 5 } else { 0 }, seed }
    })
}

fn case_count(default: u32) -> u32 {
    std::env::var("CUSTODY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(case_count(10_000)))]

    #[test]
    fn lossy_channel_delivers_every_custody_bundle_once(case in cases(false)) {
        Sim::new(case).run();
    }

    #[test]
    fn crashes_and_restarts_lose_nothing(case in cases(true)) {
        Sim::new(case).run();
    }
}
