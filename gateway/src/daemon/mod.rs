//! `dtn gateway run`: one agent on a tokio runtime, with its store, convergence-layer links,
//! admin API and signals.
//!
//! Data flow: link tasks → [`agent::Command`] channel (bounded: a busy agent slows the peers
//! through TCP) → the agent task, which handles commands in batches (one store commit each)
//! and hands bundles to links through unbounded per-link channels (the agent never waits on a
//! link; what is queued there is already in the store).

pub mod admin;
pub mod agent;
pub mod bpsec_config;
pub mod config;
mod deliver;
pub mod links;
pub mod ltp_config;
pub mod metrics;
pub(crate) mod pacer;
pub mod router;
pub mod snapshot;
pub mod store_lock;
mod units;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use dtn_core::bpa::{Bpa, NodeConfig};
use dtn_core::cla::tcpcl::SessionConfig;
use dtn_core::routing::parse::ImportPolicy;
use dtn_core::routing::{CgrRouter, ContactPlan};
use dtn_core::store::{BundleStore, MemoryStore};
use dtn_core::time::DtnTime;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::{Config, ConfigError};

use self::agent::{Agent, Command};
use self::links::LinkContext;
use self::metrics::Counters;
use self::router::GatewayRouter;
use crate::logstore::LogStore;
use crate::quic::QuicConfig;
use crate::store::RedbStore;
use crate::tcpcl::{TcpclConfig, TlsSetup};

/// Commands waiting for the agent at most.
const COMMAND_QUEUE: usize = 4096;

/// The store path that keeps bundles in memory only (benchmarks: the price of durability).
pub const MEMORY_STORE: &str = ":memory:";

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// Where TCPCL listens (ports resolved).
    pub tcpcl: Vec<SocketAddr>,
    /// Where MTCP listens.
    pub mtcp: Vec<SocketAddr>,
    /// Where QUIC listens.
    pub quic: Vec<SocketAddr>,
    /// Where LTP listens (UDP).
    pub ltp: Vec<SocketAddr>,
    /// Where applications connect.
    pub app: Vec<SocketAddr>,
    /// Where the admin API listens.
    pub admin: Option<SocketAddr>,
    commands: mpsc::Sender<Command>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    agent: JoinHandle<Result<(), dtn_core::bpa::BpaError>>,
    plan: Arc<RwLock<Option<Arc<ContactPlan>>>>,
    config: Arc<Config>,
    counters: Arc<Counters>,
    /// Held while the gateway runs: no second gateway on the same store.
    _store_lock: Option<store_lock::StoreLock>,
}

/// Loads the contact plan files of `config` into one plan; `None` when there are none.
pub fn load_plan(config: &Config) -> Result<Option<ContactPlan>, String> {
    let mut contacts = Vec::new();
    let mut reference = None;
    for path in &config.plans {
        let loaded = crate::plan_file::load(path, ImportPolicy::Reject)?;
        let plan_ref = loaded.plan.reference();
        match (reference, plan_ref) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("{}: its reference time differs from the other plan files'", path.display()));
            }
            (None, Some(b)) => reference = Some(b),
            _ => {}
        }
        contacts.extend_from_slice(loaded.plan.contacts());
    }
    if config.plans.is_empty() {
        return Ok(None);
    }
    Ok(Some(ContactPlan::new(contacts, reference)))
}

/// Reads PEM files into TLS material.
fn tls_setup(config: &Config) -> Result<Option<TlsSetup>, String> {
    config.tls.as_ref().map(load_tls).transpose()
}

/// Reads one set of PEM files.
fn load_tls(tls: &config::TlsConfig) -> Result<TlsSetup, String> {
    TlsSetup::from_pem_files(&tls.cert, &tls.key, &tls.ca, tls.policy)
}

/// The QUIC settings, when the node has a `[quic]` section.
fn quic_config(config: &Config) -> Result<Option<QuicConfig>, String> {
    let Some(tls) = &config.quic_tls else { return Ok(None) };
    Ok(Some(QuicConfig {
        tls: load_tls(tls)?,
        max_bundle: config.transfer_mru,
        idle_timeout: Duration::from_secs(config.quic_idle_s),
        budget: None,
    }))
}

/// Checks everything `run` would need without starting: the file, the plans, the TLS
/// material. Returns a one-paragraph summary.
pub fn check(config: &Config) -> Result<String, String> {
    let plan = load_plan(config)?;
    let tls = tls_setup(config)?;
    if let Some(setup) = &tls {
        crate::tcpcl::tls::server_config(setup).map_err(|e| e.to_string())?;
    }
    if let Some(quic) = quic_config(config)? {
        crate::tcpcl::tls::server_config(&quic.tls).map_err(|e| format!("[quic]: {e}"))?;
    }
    Ok(format!(
        "node {} ({}): {} endpoint(s), {} peer(s), {} static route(s), {} contact(s) in {} plan file(s), TLS {}, \
         custody {}, store {} ({:?}, budget {} bytes)",
        config.node,
        config.node_id(),
        config.endpoints.len(),
        config.peers.len(),
        config.routes.len(),
        plan.as_ref().map_or(0, |p| p.contacts().len()),
        config.plans.len(),
        if tls.is_some() { "on" } else { "off" },
        if config.custody.is_some() { "on" } else { "off" },
        config.store_path.display(),
        config.store_engine,
        config.store_budget,
    ))
}

/// Starts a gateway on the current tokio runtime.
/// 128 random bits from the system, for the agent's duplicate digest (a peer must not know
/// it; a new one each start is fine).
fn secret_key() -> Result<u128, String> {
    use ring::rand::SecureRandom;
    let mut key = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| "no system randomness for the agent's digest key".to_string())?;
    Ok(u128::from_le_bytes(key))
}

/// Fresh entropy for the security source's IVs and per-bundle keys.
fn security_seed() -> Result<[u8; 32], String> {
    use ring::rand::SecureRandom;
    let mut seed = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut seed).map_err(|_| "no system randomness for BPSec".to_string())?;
    Ok(seed)
}

pub async fn start(config: Config) -> Result<Running, String> {
    let config = Arc::new(config);
    let plan = load_plan(&config)?.map(Arc::new);
    let now = DtnTime::now();
    let epoch = plan.as_ref().and_then(|p| p.reference()).or(config.plan_epoch).unwrap_or(now);
    let mut node = NodeConfig::new(config.node);
    node.reports = config.reports;
    node.plan_epoch = epoch;
    node.hop_limit = config.hop_limit;
    node.custody = config.custody.clone();
    node.parse_mode = config.parse_mode;
    node.receipts_per_source = config.receipts_per_source;
    node.storage = config.storage_policy.clone();
    node.dtn_nodes = config.dtn_names.iter().cloned().collect();
    node.digest_key = secret_key()?;
    node.security = config.bpsec.clone();
    node.security_seed = security_seed()?;
    let router = GatewayRouter::new(&config.routes, plan.clone().map(CgrRouter::new));
    let counters = Arc::new(Counters::default());
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let store_lock = if config.store_path.as_os_str() == MEMORY_STORE {
        None
    } else {
        let directory = config.store_engine != config::StoreEngine::Redb;
        Some(store_lock::StoreLock::acquire(&config.store_path, directory)?)
    };
    let agent = if config.store_path.as_os_str() == MEMORY_STORE {
        spawn_agent(node, MemoryStore::new(config.store_budget), router, &config, &counters, rx)?
    } else if config.store_engine == config::StoreEngine::Redb {
        let store = RedbStore::open(&config.store_path, config.store_budget)
            .map_err(|e| format!("store {}: {e}", config.store_path.display()))?;
        spawn_agent(node, store, router, &config, &counters, rx)?
    } else {
        let store = LogStore::open(&config.store_path, config.store_budget)
            .map_err(|e| format!("store {}: {e}", config.store_path.display()))?;
        spawn_agent(node, store, router, &config, &counters, rx)?
    };

    let mut session = SessionConfig::new(config.node_id());
    session.keepalive_s = config.keepalive_s;
    session.segment_mru = config.segment_mru;
    session.transfer_mru = config.transfer_mru;
    // One bound on received data not yet taken in, shared by every session of every CLA.
    let budget = crate::budget::ReceiveBudget::new(config.limits.receive_memory);
    let tcpcl =
        Arc::new(TcpclConfig { budget: Some(budget.clone()), ..TcpclConfig::new(session, tls_setup(&config)?) });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let plan = Arc::new(RwLock::new(plan));
    // QUIC: one endpoint per listen address (the first also dials), or a dialling one.
    let mut quic_endpoints = Vec::new();
    let quic = match quic_config(&config)? {
        None => None,
        Some(mut q) => {
            q.budget = Some(budget.clone());
            for &addr in &config.quic_listen {
                let endpoint = crate::quic::endpoint(addr, &q, true)
                    .map_err(|e| format!("cannot listen on {addr} (QUIC): {e}"))?;
                quic_endpoints.push(endpoint);
            }
            let dialler = match quic_endpoints.first() {
                Some(e) => e.clone(),
                None => {
                    let any = SocketAddr::from(([0, 0, 0, 0], 0));
                    crate::quic::endpoint(any, &q, false).map_err(|e| format!("QUIC endpoint: {e}"))?
                }
            };
            Some(links::QuicContext { endpoint: dialler, config: Arc::new(q) })
        }
    };
    let ctx = LinkContext {
        config: config.clone(),
        tcpcl,
        commands: commands.clone(),
        next_link: Arc::new(AtomicU32::new(1)),
        counters: counters.clone(),
        plan: plan.clone(),
        epoch,
        shutdown: shutdown_rx.clone(),
        budget: budget.clone(),
        sessions: links::SessionCaps::new(config.limits.max_sessions),
        mtcp_idle: Duration::from_secs(config.limits.mtcp_idle_s),
        quic,
    };
    let mut tasks = Vec::new();
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let mut tcpcl_addrs = Vec::new();
    for &addr in &config.tcpcl_listen {
        let listener = bind(addr).await?;
        tcpcl_addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
        tasks.push(tokio::spawn(links::listen_tcpcl(ctx.clone(), listener)));
    }
    let mut mtcp_addrs = Vec::new();
    for &addr in &config.mtcp_listen {
        let listener = bind(addr).await?;
        mtcp_addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
        tasks.push(tokio::spawn(links::listen_mtcp(ctx.clone(), listener)));
    }
    let mut app_addrs = Vec::new();
    if let Some(crate::daemon::config::AppSettings { listen, tls, submits_per_sec, in_flight, idle_s }) = &config.app {
        let node_ids: Vec<dtn_core::eid::Eid> = std::iter::once(config.node_id())
            .chain(config.dtn_names.iter().filter(|(_, n)| *n == config.node).map(|(name, _)| format!("dtn://{name}/")))
            .filter_map(|id| id.parse().ok())
            .collect();
        let node_ids = Arc::new(node_ids);
        let limits = crate::app::server::ClientLimits {
            submits_per_sec: *submits_per_sec,
            in_flight: *in_flight,
            max_adu: config.transfer_mru,
            idle: Duration::from_secs(*idle_s),
        };
        let app_config = QuicConfig {
            tls: load_tls(tls)?,
            max_bundle: config.transfer_mru,
            idle_timeout: Duration::from_secs(*idle_s),
            budget: Some(budget.clone()),
        };
        for &addr in listen {
            let endpoint = crate::app::server::endpoint(addr, &app_config, limits)?;
            app_addrs.push(endpoint.local_addr().map_err(|e| e.to_string())?);
            let shared = crate::app::server::Shared {
                node_ids: node_ids.clone(),
                budget: Some(budget.clone()),
                slots: ctx.sessions.app.clone(),
            };
            let (c, s) = (commands.clone(), shutdown_rx.clone());
            tasks.push(tokio::spawn(crate::app::server::serve(endpoint, c, limits, shared, s)));
        }
    }
    let mut quic_addrs = Vec::new();
    for endpoint in quic_endpoints {
        quic_addrs.push(endpoint.local_addr().map_err(|e| e.to_string())?);
        tasks.push(tokio::spawn(links::listen_quic(ctx.clone(), endpoint)));
    }
    for peer in config.peers.iter().filter(|p| p.address.is_some() && p.cla != config::ClaKind::Ltp) {
        tasks.push(tokio::spawn(links::dial(ctx.clone(), peer.clone())));
    }
    let mut ltp_addrs = Vec::new();
    if let Some(settings) = &config.ltp {
        let socket = crate::ltp::bind(settings)?;
        ltp_addrs.push(socket.local_addr().map_err(|e| e.to_string())?);
        let peers: Vec<_> = config.peers.iter().filter(|p| p.cla == config::ClaKind::Ltp).cloned().collect();
        tasks.push(tokio::spawn(crate::ltp::run(ctx.clone(), settings.clone(), socket, peers)));
    }
    let mut admin_addr = None;
    if let Some(addr) = config.admin {
        let listener = bind(addr).await?;
        admin_addr = Some(listener.local_addr().map_err(|e| e.to_string())?);
        let (c, k, n, s) = (commands.clone(), counters.clone(), config.node, shutdown_rx.clone());
        let token = config.admin_token.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = admin::serve(listener, c, k, n, token, s).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        }));
    }
    // Addresses as text ("127.0.0.1:4556, [::1]:4556"), not Rust's Debug of a Vec or an Option.
    let list = |addrs: &[std::net::SocketAddr]| addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let admin = admin_addr.map_or_else(|| "off".to_string(), |a| a.to_string());
    tracing::info!(
        node = config.node,
        tcpcl = %list(&tcpcl_addrs),
        mtcp = %list(&mtcp_addrs),
        quic = %list(&quic_addrs),
        ltp = %list(&ltp_addrs),
        %admin,
        "gateway running"
    );
    Ok(Running {
        tcpcl: tcpcl_addrs,
        mtcp: mtcp_addrs,
        quic: quic_addrs,
        ltp: ltp_addrs,
        app: app_addrs,
        admin: admin_addr,
        commands,
        shutdown,
        tasks,
        agent,
        plan,
        config,
        counters,
        _store_lock: store_lock,
    })
}

fn spawn_agent<S: BundleStore + Send + 'static>(
    node: NodeConfig,
    store: S,
    router: GatewayRouter,
    config: &Config,
    counters: &Arc<Counters>,
    rx: mpsc::Receiver<Command>,
) -> Result<JoinHandle<Result<(), dtn_core::bpa::BpaError>>, String> {
    let mut bpa =
        Bpa::recover(node, store, router, DtnTime::now()).map_err(|e| format!("recovering the store: {e}"))?;
    // BPSec on ring's assembly (see `bpsec_ring`): the flight build's RustCrypto is slower here.
    bpa.set_crypto(Box::new(crate::bpsec_ring::RingCrypto));
    let held = bpa.bundles().count();
    if held > 0 {
        tracing::info!(bundles = held, "recovered bundles from the store");
    }
    let agent = Agent::new(bpa, config.endpoints.clone(), counters.clone())?;
    Ok(tokio::spawn(agent.run(rx)))
}

impl Running {
    /// The node's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Loads the plan files again and hands the new plan to the agent (SIGHUP).
    pub async fn reload(&self) -> Result<(), String> {
        let plan = load_plan(&self.config)?.map(Arc::new);
        *self.plan.write().unwrap_or_else(PoisonError::into_inner) = plan.clone();
        self.commands
            .send(Command::Reload(Box::new(plan.map(CgrRouter::new))))
            .await
            .map_err(|_| "the agent is not running".to_string())
    }

    /// Stops taking bundles, lets links settle, stops the agent (SIGTERM).
    pub async fn shutdown(self) -> Result<(), String> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(6), task).await;
        }
        // Sessions finishing their last transfers report to the agent for a moment longer.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = self.commands.send(Command::Shutdown).await;
        match self.agent.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("agent: {e}")),
            Err(e) => Err(format!("agent task: {e}")),
        }
    }

    /// Waits until the agent stops on its own (a store failure).
    pub async fn agent_stopped(&mut self) -> String {
        match (&mut self.agent).await {
            Ok(Ok(())) => "the agent stopped".to_string(),
            Ok(Err(e)) => format!("agent: {e}"),
            Err(e) => format!("agent task: {e}"),
        }
    }
}

/// Runs a gateway until SIGTERM or SIGINT, reloading the plan on SIGHUP. Prints one line,
/// `ready tcpcl=ADDR,... mtcp=... admin=...`, on standard output once listening.
pub fn run_forever(config: Config) -> Result<(), String> {
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        let mut running = start(config).await?;
        let list = |a: &[SocketAddr]| a.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        println!(
            "ready tcpcl={} mtcp={} quic={} ltp={} app={} admin={}",
            list(&running.tcpcl),
            list(&running.mtcp),
            list(&running.quic),
            list(&running.ltp),
            list(&running.app),
            running.admin.map(|a| a.to_string()).unwrap_or_default()
        );
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => match running.reload().await {
                    Ok(()) => {}
                    Err(e) => tracing::error!(error = %e, "plan reload failed; the old plan stays"),
                },
                why = running.agent_stopped() => return Err(why),
            }
        }
        tracing::info!("shutting down");
        running.shutdown().await
    })
}

fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_max_level(config.log_level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second subscriber (tests starting several nodes) is not an error worth stopping for.
    let _ = if config.log_json { builder.json().try_init() } else { builder.try_init() };
}
