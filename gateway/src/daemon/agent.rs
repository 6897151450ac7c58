//! The agent task: the one owner of the node's `Bpa`. Links and timers send it commands; it
//! handles them in batches (one store commit per batch: group commit) and carries out the
//! agent's actions: bundles to links, deliveries to endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dtn_core::bpa::{Action, Bpa, BpaError, DeliveryMode, Event, LinkId, Submission};
use dtn_core::eid::Eid;
use dtn_core::routing::{CgrRouter, NodeId, Priority};
use dtn_core::store::{BundleId, BundleStore};
use dtn_core::time::DtnTime;
use tokio::sync::{mpsc, oneshot};

use super::config::{Delivery, EndpointConfig};
use super::deliver::DirWriter;
use super::metrics::{Counters, Gauges};
use super::router::GatewayRouter;
use super::snapshot::{BundleView, LinkView, Snapshot};

/// Directory deliveries written per commit.
const DIR_BATCH: usize = 256;

/// Deliveries offered to an application and not yet acknowledged, per endpoint.
pub const APP_WINDOW: usize = 16;

/// Commands handled per batch at most (one commit each).
const BATCH: usize = 1024;

/// A link as the agent sees it.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// Convergence layer and transport details, for the admin API.
    pub cla: &'static str,
    /// The peer's address.
    pub address: String,
    /// TLS in use.
    pub tls: bool,
    /// The largest bundle the peer takes, if the convergence layer says (TCPCL).
    pub max_bundle: Option<u64>,
}

/// Runs `f`, which may block on the disk, without stalling the tasks queued behind this one
/// (on a multi-threaded runtime; elsewhere it just runs).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A delivery's identity: source and creation timestamp.
pub type DeliveryKey = (Eid, dtn_core::time::CreationTimestamp);

/// Where a submission's answer goes: 0 and the creation timestamp, or 1 + the reason code.
pub type SubmitReply = oneshot::Sender<(u64, (u64, u64))>;

/// A delivery's identity.
pub fn delivery_key(d: &dtn_core::bpa::Delivery) -> DeliveryKey {
    (d.source.clone(), d.creation)
}

/// What links, timers and operators tell the agent.
#[derive(Debug)]
pub enum Command {
    /// A session to `peer` is up; bundles for it go into `tx`.
    LinkUp {
        /// The link.
        link: LinkId,
        /// Its peer.
        peer: NodeId,
        /// Where the agent puts bundles for it.
        tx: LinkSender,
        /// Details for the admin API.
        info: LinkInfo,
    },
    /// The session ended.
    LinkDown {
        /// The link.
        link: LinkId,
        /// Why, in words (for the log).
        reason: String,
    },
    /// A bundle arrived.
    Received {
        /// The link.
        link: LinkId,
        /// The bundle.
        bytes: Bytes,
        /// Its share of the ingress byte budget, given back once the agent has it.
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// What became of a bundle handed to a link.
    Transmitted {
        /// The link.
        link: LinkId,
        /// The bundle.
        bundle: BundleId,
        /// Whether the peer has it.
        ok: bool,
    },
    /// A new contact plan (SIGHUP); `None`: no plan.
    Reload(Box<Option<CgrRouter>>),
    /// The admin API asks what the node is doing.
    Snapshot(oneshot::Sender<Snapshot>),
    /// A page of stored bundles: at most `limit`, with ids above `after`, in id order.
    Bundles {
        /// The last id of the previous page (0: from the start).
        after: u64,
        /// Most bundles in the page.
        limit: usize,
        /// The page.
        reply: oneshot::Sender<Vec<BundleView>>,
    },
    /// The operator deletes a bundle; the answer says whether it was held.
    Delete {
        /// The bundle's id.
        bundle: BundleId,
        /// `true`: it was held and is deleted.
        reply: oneshot::Sender<bool>,
    },
    /// An application submits an ADU; the answer comes once it is durably stored (or refused).
    AppSubmit {
        /// What to send (the token is the agent's to set).
        submission: Submission,
        /// 0 and the creation timestamp, or the refusal's reason code.
        reply: SubmitReply,
    },
    /// An application connected for an endpoint: its deliveries go into `tx`, one at a time.
    AppRegister {
        /// The endpoint.
        endpoint: Eid,
        /// Where deliveries go.
        tx: mpsc::Sender<dtn_core::bpa::Delivery>,
        /// Whether it may (the endpoint is not one the config gives to a directory or echo).
        reply: oneshot::Sender<bool>,
    },
    /// The application has the delivery with this identity (`taken`: let it go), or did not
    /// take it (offer it again).
    AppDelivered {
        /// The endpoint.
        endpoint: Eid,
        /// The delivery's source and creation timestamp.
        key: DeliveryKey,
        /// Whether the application acknowledged it.
        taken: bool,
    },
    /// Finish the batch and stop.
    Shutdown,
}

/// Where the agent puts bundles for one link.
pub type LinkSender = mpsc::UnboundedSender<(BundleId, Bytes)>;

/// The agent and what it needs to act.
#[derive(Debug)]
pub struct Agent<S> {
    bpa: Bpa<S, GatewayRouter>,
    links: BTreeMap<LinkId, (NodeId, LinkSender, LinkInfo)>,
    endpoints: Vec<EndpointConfig>,
    dirs: Vec<(Eid, DirWriter)>,
    counters: Arc<Counters>,
    /// Failed hand-overs to report back at the next turn.
    failed: Vec<Event>,
    /// Applications' submissions waiting for the commit, by token.
    submits: BTreeMap<u64, SubmitReply>,
    next_token: u64,
    /// Connected applications per endpoint, and the delivery offered and not yet acknowledged.
    apps: BTreeMap<Eid, (mpsc::Sender<dtn_core::bpa::Delivery>, std::collections::BTreeSet<DeliveryKey>)>,
}

impl<S: BundleStore> Agent<S> {
    /// Wraps a recovered (or fresh) agent and registers the endpoints.
    pub fn new(
        mut bpa: Bpa<S, GatewayRouter>,
        endpoints: Vec<EndpointConfig>,
        counters: Arc<Counters>,
    ) -> Result<Self, String> {
        let mut dirs = Vec::new();
        for e in &endpoints {
            let mode = match &e.delivery {
                Delivery::Dir(path) => {
                    dirs.push((e.eid.clone(), DirWriter::open(path)?));
                    DeliveryMode::Passive
                }
                Delivery::Sink | Delivery::Echo => DeliveryMode::Active,
            };
            bpa.handle(Event::Register { endpoint: e.eid.clone(), mode }, DtnTime::now())
                .map_err(|err| format!("registering {}: {err}", e.eid))?;
        }
        let mut agent = Agent {
            bpa,
            links: BTreeMap::new(),
            endpoints,
            dirs,
            counters,
            failed: Vec::new(),
            submits: BTreeMap::new(),
            next_token: 1,
            apps: BTreeMap::new(),
        };
        agent.act().map_err(|e| e.to_string())?;
        Ok(agent)
    }

    /// Runs until [`Command::Shutdown`] or until every sender is gone. A store that cannot
    /// write (a full disk) keeps what it staged and refuses new bundles, and the agent goes on,
    /// trying the commit again every second; any other store failure ends the task with the
    /// error: the host restarts and recovers from the store.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Result<(), BpaError> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut permits = Vec::with_capacity(BATCH);
        // A commit the disk refused is tried again this often until it goes through.
        let mut disk_retry = false;
        loop {
            let mut wait =
                self.bpa.poll_timeout().map(|at| Duration::from_millis(at.0.saturating_sub(DtnTime::now().0)));
            if disk_retry {
                wait = Some(wait.map_or(DISK_RETRY, |w| w.min(DISK_RETRY)));
            }
            let first = match wait {
                Some(wait) => match tokio::time::timeout(wait, commands.recv()).await {
                    Ok(c) => c,
                    Err(_) => {
                        let timers = self.bpa.handle_timeout(DtnTime::now());
                        let bpa = &mut self.bpa;
                        let retried = match disk_retry {
                            true => blocking(|| bpa.handle_batch(std::iter::empty(), DtnTime::now())),
                            false => Ok(()),
                        };
                        // Hand-overs that failed go back to the agent now, not with the next
                        // command (an idle node may get none for a while).
                        let flushed = self.flush(&mut batch);
                        disk_retry = disk_full(timers.and(retried).and(flushed))?;
                        continue;
                    }
                },
                None => commands.recv().await,
            };
            let Some(first) = first else { return Ok(()) };
            let mut next = Some(first);
            let mut stop = false;
            while let Some(command) = next.take() {
                match command {
                    Command::Received { link, bytes, permit } => {
                        permits.extend(permit);
                        Counters::add(&self.counters.bundles_received, 1);
                        Counters::add(&self.counters.bytes_received, bytes.len() as u64);
                        batch.push(Event::Received { link, bytes });
                    }
                    // Submissions go in the batch too: one commit answers them all.
                    Command::AppSubmit { mut submission, reply } => {
                        submission.token = self.next_token;
                        self.next_token += 1;
                        self.submits.insert(submission.token, reply);
                        batch.push(Event::Submit(submission));
                    }
                    Command::Transmitted { link, bundle, ok } => {
                        let counter =
                            if ok { &self.counters.transmissions_ok } else { &self.counters.transmissions_failed };
                        Counters::add(counter, 1);
                        batch.push(Event::Transmitted { link, bundle, ok });
                    }
                    other => {
                        // Order matters for these: what came before goes in first.
                        self.flush(&mut batch)?;
                        stop = self.control(other)?;
                    }
                }
                if batch.len() < BATCH && !stop {
                    next = commands.try_recv().ok();
                }
            }
            // The store refuses new bundles meanwhile; its commit is tried again after a while.
            disk_retry = disk_full(self.flush(&mut batch))?;
            permits.clear();
            if stop {
                return Ok(());
            }
        }
    }

    fn flush(&mut self, batch: &mut Vec<Event>) -> Result<(), BpaError> {
        batch.append(&mut self.failed);
        if !batch.is_empty() {
            let bpa = &mut self.bpa;
            // The batch ends in the store's commit (a sync to disk): let the runtime move this
            // worker's other tasks (the sessions feeding the next batch) to another thread.
            let handled = blocking(|| bpa.handle_batch(batch.drain(..), DtnTime::now()));
            // What needs no commit (refusals, transmissions) goes out even when the commit
            // failed; what waits on it (acknowledgements) stays in the agent until it is done.
            let acted = self.act();
            return handled.and(acted);
        }
        self.act()
    }

    /// Commands that change links, the plan or nothing at all. True: stop.
    fn control(&mut self, command: Command) -> Result<bool, BpaError> {
        let now = DtnTime::now();
        match command {
            Command::LinkUp { link, peer, tx, info } => {
                tracing::info!(link = link.0, peer, cla = info.cla, address = %info.address, tls = info.tls, "link up");
                let limit = info.max_bundle.map(|max_bundle| Event::LinkLimit { link, max_bundle });
                self.links.insert(link, (peer, tx, info));
                self.bpa.router_mut().set_connected(peer, true);
                self.bpa.handle_batch(limit.into_iter().chain([Event::LinkUp { link, peer }]), now)?;
            }
            Command::LinkDown { link, reason } => {
                if let Some((peer, _, _)) = self.links.remove(&link) {
                    tracing::info!(link = link.0, peer, %reason, "link down");
                    if !self.links.values().any(|(p, _, _)| *p == peer) {
                        self.bpa.router_mut().set_connected(peer, false);
                    }
                }
                self.bpa.handle(Event::LinkDown { link }, now)?;
            }
            Command::Reload(plan) => {
                Counters::add(&self.counters.plan_reloads, 1);
                self.bpa.update_router(|r| r.replace_plan(*plan))?;
                tracing::info!("contact plan reloaded");
            }
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Command::Bundles { after, limit, reply } => {
                let page = self.bpa.bundles_after(after).take(limit).map(|(id, e)| bundle_view(id, e)).collect();
                let _ = reply.send(page);
            }
            Command::Delete { bundle, reply } => {
                let held = self.bpa.bundle(bundle).is_some();
                if held {
                    self.bpa.handle(Event::Delete { bundle }, now)?;
                    tracing::info!(bundle, "bundle deleted by the operator");
                }
                let _ = reply.send(held);
            }
            Command::AppRegister { endpoint, tx, reply } => {
                let configured = self.endpoints.iter().any(|e| e.eid == endpoint);
                if configured || self.bpa.config().node_of(&endpoint) != Some(self.bpa.config().node) {
                    let _ = reply.send(false);
                } else {
                    self.bpa
                        .handle(Event::Register { endpoint: endpoint.clone(), mode: DeliveryMode::Passive }, now)?;
                    tracing::info!(%endpoint, "application registered");
                    self.apps.insert(endpoint, (tx, std::collections::BTreeSet::new()));
                    let _ = reply.send(true);
                }
            }
            Command::AppDelivered { endpoint, key, taken } => {
                if taken && self.bpa.take_delivery_of(&endpoint, &key.0, key.1)?.is_some() {
                    Counters::add(&self.counters.deliveries, 1);
                }
                if let Some(app) = self.apps.get_mut(&endpoint) {
                    app.1.remove(&key);
                }
            }
            Command::Shutdown => return Ok(true),
            Command::Received { .. } | Command::Transmitted { .. } | Command::AppSubmit { .. } => {}
        }
        Ok(false)
    }

    /// Carries out the agent's actions, then writes out deliveries for directory endpoints.
    fn act(&mut self) -> Result<(), BpaError> {
        let mut echoes = Vec::new();
        while let Some(action) = self.bpa.poll_action() {
            match action {
                Action::Transmit { link, bundle, bytes } => {
                    Counters::add(&self.counters.bundles_sent, 1);
                    Counters::add(&self.counters.bytes_sent, bytes.len() as u64);
                    let sent = self.links.get(&link).is_some_and(|(_, tx, _)| tx.send((bundle, bytes)).is_ok());
                    if !sent {
                        self.failed.push(Event::Transmitted { link, bundle, ok: false });
                    }
                }
                Action::Deliver(d) => {
                    Counters::add(&self.counters.deliveries, 1);
                    let echo = self.endpoints.iter().any(|e| e.eid == d.endpoint && e.delivery == Delivery::Echo);
                    if echo && d.source != self.bpa.config().admin_endpoint() {
                        echoes.push(Submission {
                            token: 0,
                            source: Some(d.endpoint),
                            destination: d.source,
                            payload: d.payload,
                            lifetime_ms: 3_600_000,
                            flags: dtn_core::bundle::BundleFlags::default(),
                            priority: Priority::Normal,
                            reference: None,
                            protection: Default::default(),
                        });
                    }
                }
                Action::Accepted { token, creation } => {
                    Counters::add(&self.counters.submissions_accepted, 1);
                    if let Some(reply) = self.submits.remove(&token) {
                        let _ = reply.send((0, (creation.time.0, creation.sequence)));
                    }
                }
                Action::Refused { token, reason } => {
                    Counters::add(&self.counters.submissions_refused, 1);
                    if let Some(reply) = self.submits.remove(&token) {
                        let _ = reply.send((reason.code().saturating_add(1), (0, 0)));
                    }
                    tracing::warn!(token, ?reason, "submission refused");
                }
                Action::Rejected { link, error } => {
                    Counters::add(&self.counters.bundles_rejected, 1);
                    tracing::warn!(link = link.0, %error, "bytes received were not a valid bundle");
                }
                Action::Deleted { source, creation, reason } => {
                    Counters::add(&self.counters.bundles_deleted, 1);
                    tracing::info!(%source, time = creation.time.0, seq = creation.sequence, ?reason, "bundle deleted");
                }
            }
        }
        if !echoes.is_empty() {
            self.bpa.handle_batch(echoes.into_iter().map(Event::Submit), DtnTime::now())?;
            return self.act();
        }
        self.offer_deliveries();
        self.write_deliveries()
    }

    /// Offers each connected application the deliveries for its endpoint, up to
    /// [`APP_WINDOW`] unacknowledged at once; the agent lets each go when the application
    /// acknowledges it.
    fn offer_deliveries(&mut self) {
        let mut gone = Vec::new();
        for (endpoint, (tx, offered)) in self.apps.iter_mut() {
            if tx.is_closed() {
                gone.push(endpoint.clone());
                continue;
            }
            for d in self.bpa.deliveries(endpoint) {
                if offered.len() >= APP_WINDOW {
                    break;
                }
                let key = delivery_key(d);
                if offered.contains(&key) {
                    continue;
                }
                if tx.try_send(d.clone()).is_err() {
                    break;
                }
                offered.insert(key);
            }
        }
        for endpoint in gone {
            self.apps.remove(&endpoint);
            tracing::info!(%endpoint, "application gone; its deliveries wait");
        }
    }

    /// Each waiting delivery is written (and synced) first and taken from the agent second:
    /// a crash in between finds the file on restart and does not write it twice.
    fn write_deliveries(&mut self) -> Result<(), BpaError> {
        for (eid, dir) in &self.dirs {
            loop {
                // A batch at a time: every file written and synced, the directory synced once,
                // then one commit lets them all go (a crash in between finds the files on
                // restart and does not write them twice).
                let batch: Vec<dtn_core::bpa::Delivery> = self.bpa.deliveries(eid).take(DIR_BATCH).cloned().collect();
                if batch.is_empty() {
                    break;
                }
                let mut written = Vec::with_capacity(batch.len());
                for d in &batch {
                    match dir.write_file(d) {
                        Ok(fresh) => written.push(((d.source.clone(), d.creation), fresh)),
                        Err(e) => {
                            // Kept in the agent (and the store): retried on the next turn.
                            tracing::error!(endpoint = %eid, error = %e, "cannot write a delivery");
                            break;
                        }
                    }
                }
                if let Err(e) = dir.sync() {
                    tracing::error!(endpoint = %eid, error = %e, "cannot sync the delivery directory");
                    break;
                }
                for (_, fresh) in &written {
                    let counter = if *fresh { &self.counters.deliveries } else { &self.counters.deliveries_repeated };
                    Counters::add(counter, 1);
                }
                let identities: Vec<_> = written.iter().map(|(id, _)| id.clone()).collect();
                self.bpa.take_deliveries_of(eid, &identities)?;
                if written.len() < batch.len() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The node at a glance: counts by state (one pass over the table, no allocation per
    /// bundle), the first page of bundles (`/bundles` pages through the rest).
    fn snapshot(&self) -> Snapshot {
        let census = self.bpa.census();
        let stored: u64 = census.iter().sum();
        let states: BTreeMap<String, u64> = dtn_core::bpa::BundleState::ALL
            .iter()
            .zip(census)
            .filter(|(_, n)| *n > 0)
            .map(|(state, n)| (format!("{state:?}"), n))
            .collect();
        let bundles = self.bpa.bundles().take(SNAPSHOT_BUNDLES).map(|(id, e)| bundle_view(id, e)).collect();
        let links = self
            .links
            .iter()
            .map(|(id, (peer, tx, info))| LinkView {
                id: id.0,
                peer: *peer,
                cla: info.cla,
                address: info.address.clone(),
                tls: info.tls,
                open: !tx.is_closed(),
            })
            .collect();
        let store = self.bpa.store();
        let gauges = Gauges {
            bundles_stored: stored,
            store_bytes: store.used_bytes(),
            store_budget: store.capacity_bytes(),
            links_up: self.links.len() as u64,
            security_failures: self.bpa.security_failures().map(|(f, n)| (f.name(), n)).to_vec(),
        };
        let config = self.bpa.config();
        let contacts = match self.bpa.router().cgr() {
            Some(cgr) => super::snapshot::contacts_of(cgr.plan(), config.node, config.plan_epoch, DtnTime::now()),
            None => Vec::new(),
        };
        Snapshot {
            node: config.node,
            links,
            contacts,
            queues: states,
            bundles,
            gauges,
            counters: self.counters.all().into_iter().map(|(n, _, v)| (n.to_string(), v)).collect(),
        }
    }
}

/// Bundles a snapshot lists (the rest through `/bundles?after=`).
const SNAPSHOT_BUNDLES: usize = 100;

/// What the admin API shows of one bundle.
fn bundle_view(id: BundleId, e: &dtn_core::bpa::BundleEntry) -> BundleView {
    BundleView {
        id,
        state: format!("{:?}", e.state),
        size: e.size,
        destination_node: e.destination.map(|d| d.get()),
        next_hop: e.next_hop.map(|d| d.get()),
        expiry_ms: e.expiry.0,
        custody_peer: e.custody.as_ref().map(|c| c.peer),
    }
}

/// How long the agent waits before trying a commit the disk refused again.
const DISK_RETRY: Duration = Duration::from_secs(1);

/// `Ok(true)` when `result` is a commit the disk could not take (not fatal: the store kept
/// the changes and refuses new bundles until a commit succeeds); other errors stay errors.
fn disk_full(result: Result<(), BpaError>) -> Result<bool, BpaError> {
    match result {
        Ok(()) => Ok(false),
        Err(BpaError::Store(dtn_core::store::StoreError::Full { .. })) => Ok(true),
        Err(e) => Err(e),
    }
}
