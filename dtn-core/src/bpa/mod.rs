//! The Bundle Protocol Agent (RFC 9171 section 5), sans-I/O.
//!
//! The host feeds [`Event`]s with [`Bpa::handle`] and the time with
//! [`Bpa::handle_timeout`], then drains [`Action`]s with [`Bpa::poll_action`] and sleeps until
//! [`Bpa::poll_timeout`]. The agent owns a [`BundleStore`] (every bundle it holds is in it,
//! committed before the agent acknowledges anything that depends on it) and a [`Router`]
//! (contact graph routing or static routes). No globals: any number of agents can run in one
//! process, which the simulator does.

mod bounded;
mod config;
mod custody;
mod entry;
mod forward;
mod local;
mod passive;
mod quota;
mod receipts;
mod receive;
mod report;
mod security;
mod slab;

use alloc::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;

use bytes::Bytes;

pub use config::{NodeConfig, ReportPolicy, StoragePolicy};
pub use entry::{BundleEntry, BundleState, CustodyTransmission, PersistedMeta, priority_from};
pub use receipts::DEFAULT_RECEIPTS_PER_SOURCE;

use crate::admin::ReasonCode;
use crate::bundle::BundleFlags;
use crate::eid::Eid;
use crate::fragment::Reassembly;
use crate::routing::{NodeId, Priority, Router};
use crate::store::{BundleId, BundleStore};
use crate::time::CreationTimestamp;
use crate::time::DtnTime;

/// A convergence-layer link to one neighbour, numbered by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// How an application collects deliveries for an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Each delivery becomes an [`Action::Deliver`] at once.
    Active,
    /// Deliveries wait in the agent until [`Bpa::take_delivery`].
    Passive,
}

/// An application data unit to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The application's reference, echoed in [`Action::Accepted`] / [`Action::Refused`].
    pub token: u64,
    /// Sending endpoint (must be on this node); `None` for this node's admin endpoint.
    pub source: Option<Eid>,
    /// Destination endpoint.
    pub destination: Eid,
    /// The ADU.
    pub payload: Bytes,
    /// Milliseconds until the bundle expires.
    pub lifetime_ms: u64,
    /// Bundle flags (reports requested, must not fragment, …).
    pub flags: BundleFlags,
    /// Routing priority.
    pub priority: Priority,
    /// The application's own reference for this ADU, if it gave one: a later submission with
    /// the same source and reference is the same ADU (a retry after a lost answer) and is
    /// answered with this one's acceptance instead of making a second bundle, also after a
    /// restart (the latest [`NodeConfig::receipts_per_source`] per source are remembered).
    pub reference: Option<u64>,
    /// BPSec services the application asks for this ADU: the node's policy must give them
    /// (rules kept `on_request` apply), or the submission is refused with reason 12.
    pub protection: crate::bpsec::Protection,
}

/// Something that happened, told to the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Bytes of one bundle arrived on a link.
    Received {
        /// The link.
        link: LinkId,
        /// The bundle.
        bytes: Bytes,
    },
    /// An application submits an ADU.
    Submit(Submission),
    /// A link to `peer` is up.
    LinkUp {
        /// The link.
        link: LinkId,
        /// The neighbour's node number.
        peer: NodeId,
    },
    /// The largest bundle a link takes (a TCPCL peer's transfer MRU): bigger ones are
    /// fragmented to fit (RFC 9171 5.8); one that must not be waits for another way. Limits
    /// below [`MIN_LINK_LIMIT`] are ignored (a peer cannot make this node cut bundles into
    /// slivers). Tell it before (or with) [`Event::LinkUp`]; it lasts until the link goes down.
    LinkLimit {
        /// The link.
        link: LinkId,
        /// Largest encoded bundle, bytes.
        max_bundle: u64,
    },
    /// A link went down.
    LinkDown {
        /// The link.
        link: LinkId,
    },
    /// The convergence layer finished (or gave up on) a transmission.
    Transmitted {
        /// The link.
        link: LinkId,
        /// The bundle, as in [`Action::Transmit`].
        bundle: BundleId,
        /// Whether the peer got it.
        ok: bool,
    },
    /// New contacts joined the plan (a plan update).
    ContactsAdded(Vec<crate::routing::Contact>),
    /// An application registers an endpoint.
    Register {
        /// The endpoint (on this node).
        endpoint: Eid,
        /// Active or passive delivery.
        mode: DeliveryMode,
    },
    /// The operator deletes a stored bundle (a status report says so, reason "no
    /// information", where one is asked for). Unknown ids are ignored.
    Delete {
        /// The bundle.
        bundle: BundleId,
    },
}

/// A delivery to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The registered endpoint.
    pub endpoint: Eid,
    /// Who sent it.
    pub source: Eid,
    /// Its creation timestamp (with the source, it identifies the ADU).
    pub creation: CreationTimestamp,
    /// The ADU (reassembled if it came in fragments).
    pub payload: Bytes,
}

/// Something the host must do, or learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a bundle on a link; answer with [`Event::Transmitted`].
    Transmit {
        /// The link.
        link: LinkId,
        /// The agent's id for the bundle.
        bundle: BundleId,
        /// The encoded bundle (per-hop blocks updated).
        bytes: Bytes,
    },
    /// Hand an ADU to an active registration.
    Deliver(Delivery),
    /// A submission is stored durably and will be forwarded.
    Accepted {
        /// The application's token.
        token: u64,
        /// The bundle's creation timestamp (with the source, its identity in the network).
        creation: CreationTimestamp,
    },
    /// A submission was refused.
    Refused {
        /// The application's token.
        token: u64,
        /// Why, as a status-report reason.
        reason: ReasonCode,
    },
    /// Bytes that arrived on a link were not a valid bundle and were dropped.
    Rejected {
        /// The link.
        link: LinkId,
        /// What was wrong.
        error: crate::bundle::BundleError,
    },
    /// A bundle was deleted here (for logs and oracles: no bundle is dropped silently).
    Deleted {
        /// Its source.
        source: Eid,
        /// Its creation timestamp.
        creation: CreationTimestamp,
        /// Why.
        reason: ReasonCode,
    },
}

/// Why an event could not be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BpaError {
    /// The store failed. Changes staged by the failing event stay staged; a host should treat
    /// this as fatal and rebuild the agent from the store (`Bpa::recover`).
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A bundle could not be built.
    #[error("bundle: {0}")]
    Bundle(#[from] crate::bundle::BundleError),
    /// A registration for an endpoint of another node.
    #[error("endpoint {0} is not on this node")]
    NotLocal(Eid),
    /// A security-source rule could not be applied to a bundle created here (a key missing
    /// from the key ring: the host checks its policy at start-up).
    #[error("security rule {rule}: {error}")]
    Security {
        /// The rule.
        rule: alloc::string::String,
        /// What failed.
        error: crate::bpsec::SecurityError,
    },
}

/// Identifies a bundle across nodes: source, creation timestamp, fragment extent.
pub type BundleKey = (Eid, CreationTimestamp, Option<(u64, u64)>);

/// Longest a node remembers a bundle it has seen, whatever lifetime its sender chose: a flood
/// of bundles with year-long lifetimes must not grow the duplicate table for a year.
pub(crate) const MAX_DUPLICATE_MEMORY_MS: u64 = 7 * 24 * 3_600_000;

/// A bundle whose transmissions keep failing (or being refused) on a link that stays up is
/// tried again after 1, 2, 4, … retry intervals, never more than this many.
pub const MAX_RETRY_BACKOFF: u64 = 32;

/// The smallest link size limit the agent honours (see [`Event::LinkLimit`]).
pub const MIN_LINK_LIMIT: u64 = 1024;

/// Store ids of tombstones start here, apart from bundle ids (which the agent reuses).
pub(crate) const TOMBSTONE_IDS: BundleId = 1 << 62;

/// Timers the agent keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Ask the router again for bundles waiting without a route.
    Retry,
    /// A custodial transmission's signal is due.
    Custody(BundleId, u64),
    /// A delivered bundle's tombstone may go.
    Tombstone(BundleId),
}

/// The Bundle Protocol Agent of one node.
#[derive(Debug)]
pub struct Bpa<S, R> {
    pub(crate) config: NodeConfig,
    pub(crate) store: S,
    pub(crate) router: R,
    pub(crate) bundles: slab::Slab,
    /// Next id for a delivered bundle's tombstone (a separate range: bundle ids are reused).
    pub(crate) next_tombstone: BundleId,
    pub(crate) sequence: u64,
    /// Bundles seen, by the 128-bit digest of their key, with when this node may forget them
    /// (duplicate suppression; 24 bytes a bundle instead of a full key).
    pub(crate) seen: BTreeMap<u128, DtnTime>,
    /// Bundles whose custody this node passed on, by key digest: the next hops it gave them
    /// to (the last four; 0 = none) and until when to remember. A copy that comes back went
    /// round a loop and is routed again without those hops.
    pub(crate) released_to: BTreeMap<u128, entry::Released>,
    /// Stored bundles that came back round a loop, with their key digest in `released_to`:
    /// routing them again needs no parse of the stored bundle.
    pub(crate) looped: BTreeMap<BundleId, u128>,
    /// Custody timeouts in a row per custodial peer (no signal from it since): each doubles
    /// the wait before the next retransmission to it, up to 64 times, so a peer that cannot
    /// answer (its way back is gone) is not flooded with copies.
    pub(crate) custody_backoff: BTreeMap<NodeId, u8>,
    /// Receipts of submissions made with a reference (resubmissions are recognised).
    pub(crate) receipts: receipts::Receipts,
    pub(crate) registrations: BTreeMap<Eid, DeliveryMode>,
    /// Deliveries queued for passive registrations, with the stored bundles that make them up
    /// (buried only when the application takes the delivery).
    pub(crate) passive: BTreeMap<Eid, passive::PassiveQueue>,
    pub(crate) links: BTreeMap<LinkId, NodeId>,
    /// The largest bundle each link takes, where the host said.
    pub(crate) link_limits: BTreeMap<LinkId, u64>,
    /// Bundles waiting for a link to their next hop. Ids of bundles that left (forgotten,
    /// routed again) stay until the queue is used or compacted (consumers skip them), so a
    /// bundle leaving costs no scan of its queue.
    pub(crate) waiting_for: BTreeMap<NodeId, VecDeque<BundleId>>,
    /// How many ids in each hop's queue have left since it was last compacted.
    pub(crate) waiting_stale: BTreeMap<NodeId, usize>,
    /// When the route each queued bundle was given ends (its earliest contact end): one still
    /// queued then missed its contact (the link never came up, or came up late) and is routed
    /// again rather than left for that neighbour's next contact, hours later. Entries of
    /// bundles that left are skipped when their time comes.
    pub(crate) queued_until: BTreeMap<DtnTime, Vec<BundleId>>,
    /// Bundles without a route (and why), retried on plan updates, link changes and a timer,
    /// each not before the time given (a bundle whose transmission failed backs off).
    pub(crate) unrouted: BTreeMap<BundleId, (crate::routing::NoRoute, DtnTime)>,
    pub(crate) reassembly: BTreeMap<(Eid, CreationTimestamp), (Reassembly, BTreeSet<BundleId>)>,
    /// The ADU each fragment in `reassembly` belongs to.
    pub(crate) fragment_of: BTreeMap<BundleId, (Eid, CreationTimestamp)>,
    /// The endpoint and queue position of each bundle behind a delivery in `passive`.
    pub(crate) passive_of: BTreeMap<BundleId, (Eid, u64)>,
    /// Store use per peer and source, against the storage policy's quotas.
    pub(crate) usage: quota::Usage,
    pub(crate) timers: BinaryHeap<Reverse<(DtnTime, Timer)>>,
    /// Bundle expiry times, kept apart from `timers`: one 16-byte entry a bundle.
    pub(crate) expiries: alloc::collections::BTreeSet<(DtnTime, BundleId)>,
    /// Whether a [`Timer::Retry`] is pending.
    pub(crate) retry_scheduled: bool,
    pub(crate) actions: VecDeque<Action>,
    /// Acknowledgements waiting for the store's next commit.
    pub(crate) after_commit: Vec<Action>,
    /// Transmission IDs for custodial transmissions.
    pub(crate) tids: crate::custody::TransmissionIds,
    /// Transmission IDs reserved in the store up to here.
    pub(crate) tid_mark: u64,
    /// Creation sequence numbers reserved in the store up to here.
    pub(crate) seq_reserved: u64,
    /// Pending custodial transmissions: transmission ID → bundle.
    pub(crate) custody_ids: BTreeMap<u64, BundleId>,
    /// The same bundles by the digest of their key: a copy that comes back (a retransmission,
    /// or a loop) is found without reading the store.
    pub(crate) custody_keys: BTreeMap<u128, BundleId>,
    /// Custody dispositions to signal after the next commit.
    pub(crate) signals: crate::custody::SignalBatch,
    pub(crate) now: DtnTime,
    /// The security source's randomness, seeded from the config.
    pub(crate) drbg: crate::bpsec::Drbg,
    /// Security failures by class (reason codes 12–16), since start.
    pub(crate) security_failures: [u64; 5],
    /// The primitives BPSec runs on (RustCrypto unless the host gives others).
    pub(crate) crypto: alloc::boxed::Box<dyn crate::bpsec::Crypto + Send + Sync>,
}

impl<S: BundleStore, R: Router> Bpa<S, R> {
    /// A fresh agent (an empty store).
    pub fn new(config: NodeConfig, store: S, router: R) -> Self {
        let drbg = crate::bpsec::Drbg::new(config.security_seed);
        Bpa {
            config,
            store,
            router,
            bundles: slab::Slab::default(),
            next_tombstone: TOMBSTONE_IDS,
            sequence: 0,
            seen: BTreeMap::new(),
            released_to: BTreeMap::new(),
            looped: BTreeMap::new(),
            custody_backoff: BTreeMap::new(),
            receipts: receipts::Receipts::default(),
            registrations: BTreeMap::new(),
            passive: BTreeMap::new(),
            links: BTreeMap::new(),
            link_limits: BTreeMap::new(),
            waiting_for: BTreeMap::new(),
            waiting_stale: BTreeMap::new(),
            queued_until: BTreeMap::new(),
            unrouted: BTreeMap::new(),
            reassembly: BTreeMap::new(),
            fragment_of: BTreeMap::new(),
            passive_of: BTreeMap::new(),
            usage: quota::Usage::default(),
            timers: BinaryHeap::new(),
            expiries: alloc::collections::BTreeSet::new(),
            retry_scheduled: false,
            actions: VecDeque::new(),
            after_commit: Vec::new(),
            tids: crate::custody::TransmissionIds::default(),
            tid_mark: 0,
            seq_reserved: 0,
            custody_ids: BTreeMap::new(),
            custody_keys: BTreeMap::new(),
            signals: crate::custody::SignalBatch::default(),
            now: DtnTime(0),
            drbg,
            security_failures: [0; 5],
            crypto: alloc::boxed::Box::new(crate::bpsec::RustCrypto),
        }
    }

    /// An agent rebuilt from a store after a restart: every stored bundle is queued again.
    /// Links start down and registrations empty; the host re-announces them.
    pub fn recover(config: NodeConfig, store: S, router: R, now: DtnTime) -> Result<Self, BpaError> {
        let index = store.recover_index()?;
        let mut bpa = Bpa::new(config, store, router);
        bpa.now = now;
        let mut receipts = Vec::new();
        for (id, meta) in index {
            // Records first (state, tombstones, receipts need no bytes); a bundle's bytes are
            // read when it is restored and let go after.
            let b = crate::store::StoredBundle { id, bytes: Bytes::new(), meta };
            if b.id == custody::NODE_STATE_ID {
                let (tid_mark, seq_mark) = custody::decode_node_state(&b.meta);
                bpa.tids = crate::custody::TransmissionIds::resume(tid_mark);
                bpa.tid_mark = tid_mark;
                bpa.sequence = seq_mark;
                bpa.seq_reserved = seq_mark;
                continue;
            }
            if let Some(stone) = entry::Tombstone::decode(&b.meta) {
                bpa.next_tombstone = bpa.next_tombstone.max(b.id.saturating_add(1));
                bpa.remember(receive::digest(bpa.config.digest_key, &stone.key), stone.until);
                bpa.schedule(stone.until, Timer::Tombstone(b.id));
                continue;
            }
            if let Some(receipt) = receipts::Receipt::decode(&b.meta) {
                bpa.next_tombstone = bpa.next_tombstone.max(b.id.saturating_add(1));
                receipts.push((b.id, receipt));
                continue;
            }
            if b.id >= TOMBSTONE_IDS {
                // Not an id this agent hands out to bundles: a damaged record.
                let _ = bpa.store.remove(b.id);
                continue;
            }
            let bytes = bpa.store.bytes(b.id).ok_or(crate::store::StoreError::Failed("reading a stored bundle"))?;
            bpa.restore(b.id, bytes, &b.meta);
        }
        // Oldest first (their records' ids grow), so the oldest are the ones evicted.
        receipts.sort_unstable_by_key(|(id, _)| *id);
        for (id, receipt) in receipts {
            for old in bpa.receipts.insert(receipt, id, bpa.config.receipts_per_source) {
                bpa.store.remove(old)?;
            }
        }
        // Only now route them: dispatching can store new bundles (fragments, reports), and their
        // ids must not fall on records not restored yet.
        let waiting: Vec<BundleId> =
            bpa.bundles.iter().filter(|(_, e)| e.state == BundleState::Waiting).map(|(id, _)| id).collect();
        for id in waiting {
            if let Some(bundle) = bpa.stored_bundle(id) {
                bpa.dispatch(id, &bundle)?;
            }
        }
        bpa.flush_commit()?;
        Ok(bpa)
    }

    /// This node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The router, to change what it knows outside the agent's events (a neighbour's session
    /// came up: tell the router, then send [`Event::LinkUp`]). To change routes for bundles
    /// already queued, use [`Bpa::update_router`].
    pub fn router_mut(&mut self) -> &mut R {
        &mut self.router
    }

    /// The router.
    pub fn router(&self) -> &R {
        &self.router
    }

    /// Bundles held, with their in-RAM metadata.
    pub fn bundle(&self, id: BundleId) -> Option<&BundleEntry> {
        self.bundles.get(&id)
    }

    /// The next hops a held bundle avoids because copies of it came back round a loop
    /// through them (routing takes them only when every other way is much later).
    pub fn avoided_hops(&self, id: BundleId) -> Vec<NodeId> {
        self.hops_to_avoid(id).0
    }

    /// Bundles with ids above `after`, in id order (a page of them costs its length, not a
    /// walk of the table).
    pub fn bundles_after(&self, after: BundleId) -> impl Iterator<Item = (BundleId, &BundleEntry)> {
        self.bundles.iter_from(after.saturating_add(1))
    }

    /// How many bundles are in each state, in [`BundleState::ALL`] order.
    pub fn census(&self) -> [u64; BundleState::ALL.len()] {
        let mut counts = [0u64; BundleState::ALL.len()];
        for (_, e) in self.bundles.iter() {
            if let Some(c) = counts.get_mut(e.state as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// Every stored bundle's entry, in id order.
    pub fn bundles(&self) -> impl Iterator<Item = (BundleId, &BundleEntry)> {
        self.bundles.iter()
    }

    /// Handles one event at `now`.
    pub fn handle(&mut self, event: Event, now: DtnTime) -> Result<(), BpaError> {
        self.now = self.now.max(now);
        self.apply(event)?;
        self.flush_commit()
    }

    /// Handles several events at `now` with one store commit and one round of custody signals
    /// for all of them (group commit; signals aggregate every transmission ID the batch
    /// accepted). Acknowledgements still follow the commit.
    pub fn handle_batch(&mut self, events: impl IntoIterator<Item = Event>, now: DtnTime) -> Result<(), BpaError> {
        self.now = self.now.max(now);
        for event in events {
            self.apply(event)?;
        }
        self.flush_commit()
    }

    fn apply(&mut self, event: Event) -> Result<(), BpaError> {
        match event {
            Event::Received { link, bytes } => self.receive(link, bytes),
            Event::Submit(submission) => self.submit(submission),
            Event::LinkUp { link, peer } => self.link_up(link, peer),
            Event::LinkLimit { link, max_bundle } => {
                if max_bundle >= MIN_LINK_LIMIT {
                    self.link_limits.insert(link, max_bundle);
                }
                Ok(())
            }
            Event::LinkDown { link } => {
                self.link_down(link);
                Ok(())
            }
            Event::Transmitted { link, bundle, ok } => self.transmitted(link, bundle, ok),
            Event::ContactsAdded(contacts) => self.contacts_added(&contacts),
            Event::Register { endpoint, mode } => self.register(endpoint, mode),
            Event::Delete { bundle } => match self.bundles.get(&bundle) {
                Some(_) => self.delete(bundle, ReasonCode::NoInformation),
                None => Ok(()),
            },
        }
    }

    /// Handles every timer due at `now`.
    pub fn handle_timeout(&mut self, now: DtnTime) -> Result<(), BpaError> {
        self.now = self.now.max(now);
        while let Some(&(at, id)) = self.expiries.first() {
            if at > self.now {
                break;
            }
            self.expiries.pop_first();
            self.expire(id)?;
        }
        while let Some(entry) = self.queued_until.first_entry() {
            if *entry.key() > self.now {
                break;
            }
            for id in entry.remove() {
                self.route_missed(id)?;
            }
        }
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > self.now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Retry => {
                    self.retry_scheduled = false;
                    self.retry_unrouted()?;
                }
                Timer::Custody(id, transmission_id) => self.custody_timeout(id, transmission_id)?,
                Timer::Tombstone(id) => {
                    let _ = self.store.remove(id);
                }
            }
        }
        self.forget_old_keys();
        self.flush_commit()
    }

    /// The next action for the host.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the agent next needs [`Bpa::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<DtnTime> {
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        let expiry = self.expiries.first().map(|(at, _)| *at);
        let queued = self.queued_until.first_key_value().map(|(at, _)| *at);
        [timer, expiry, queued].into_iter().flatten().min()
    }

    /// Commits the store if anything waits on it, then releases the acknowledgements.
    pub(crate) fn flush_commit(&mut self) -> Result<(), BpaError> {
        if let Err(e) = self.store.commit() {
            // Refusals go out all the same (their bundles need no commit); acceptances wait.
            let _ = self.send_refusals();
            return Err(e.into());
        }
        if !self.signals.is_empty() {
            // Custody is acknowledged only for bundles the commit above made durable.
            self.send_signals()?;
            self.store.commit()?;
        }
        self.actions.extend(self.after_commit.drain(..));
        Ok(())
    }

    pub(crate) fn schedule(&mut self, at: DtnTime, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    fn forget_old_keys(&mut self) {
        let now = self.now;
        self.seen.retain(|_, until| *until > now);
        self.released_to.retain(|_, r| r.until > now);
    }
}

#[cfg(test)]
mod tests;
