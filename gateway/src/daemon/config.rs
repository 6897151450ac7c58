//! The node's TOML configuration file, checked whole before anything starts: every error names
//! the file, line and column of the value at fault.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dtn_core::eid::Eid;
use dtn_core::routing::NodeId;
use serde::Deserialize;
use toml::Spanned;

use super::units::{parse_rate, parse_size};

/// A configuration problem, with where it is (`file:line:column: message`; a file that could
/// not be read has no place in it: `cannot read FILE: why`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The bundle store's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEngine {
    /// The append-only segment log (a directory): one sequential write and sync per commit.
    Log,
    /// A redb database file (B-tree, copy-on-write pages).
    Redb,
}

/// How endpoints hand deliveries to applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// One file per ADU in a directory, named by the bundle's source and creation timestamp,
    /// written (and synced) before the agent lets the bundle go: exactly once across crashes.
    Dir(PathBuf),
    /// Counted and dropped (load tests).
    Sink,
    /// Sent back to the source (round-trip measurements).
    Echo,
}

/// A local endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Its EID (on this node).
    pub eid: Eid,
    /// Where deliveries go.
    pub delivery: Delivery,
}

/// Which convergence layer reaches a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaKind {
    /// TCPCLv4 (RFC 9174).
    Tcpcl,
    /// MTCP (µD3TN, dtn7).
    Mtcp,
    /// QUIC (draft-ek-dtn-qubicle), between gateways.
    Quic,
    /// LTP over UDP (RFC 5326), for space links.
    Ltp,
}

/// A neighbour this node dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Its node number.
    pub node: NodeId,
    /// How to reach it.
    pub cla: ClaKind,
    /// Its address; `None`: it dials us.
    pub address: Option<SocketAddr>,
    /// Outduct rate cap in bytes/s (the plan's contact rate applies when lower); 0: none.
    pub rate: u64,
    /// Ingress limit for bundles from it, bytes/s; 0: none.
    pub ingress_rate: u64,
    /// Bundles to it go with custody (BIBE).
    pub custody: bool,
    /// Its LTP engine ID (LTP peers; the node number unless configured).
    pub engine_id: u64,
}

/// TLS material for TCPCL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain, this node's first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM trust anchors for peers.
    pub ca: PathBuf,
    /// What to do when a peer's certificate does not name its node ID.
    pub policy: crate::tcpcl::NodeIdPolicy,
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the file was (relative paths in it are relative to its directory).
    pub path: PathBuf,
    /// Node number.
    pub node: NodeId,
    /// `dtn://` names of nodes (this one included) for routing `dtn` scheme endpoints.
    pub dtn_names: Vec<(String, NodeId)>,
    /// DTN time of the plan's time 0 when the plan files do not say (`None`: start-up time).
    pub plan_epoch: Option<dtn_core::time::DtnTime>,
    /// Contact plan files.
    pub plans: Vec<PathBuf>,
    /// Store directory (segment log) or file (redb), or [`super::MEMORY_STORE`].
    pub store_path: PathBuf,
    /// Which store keeps the bundles.
    pub store_engine: StoreEngine,
    /// Storage budget in bytes.
    pub store_budget: u64,
    /// Local endpoints.
    pub endpoints: Vec<EndpointConfig>,
    /// TCPCL listen addresses.
    pub tcpcl_listen: Vec<SocketAddr>,
    /// TCPCL keepalive, seconds.
    pub keepalive_s: u16,
    /// Largest segment and transfer accepted.
    pub segment_mru: u64,
    /// Largest bundle accepted from a peer.
    pub transfer_mru: u64,
    /// TLS, when configured.
    pub tls: Option<TlsConfig>,
    /// What a TCPCL session a peer opened without authenticating (no TLS certificate naming
    /// its node) may receive.
    pub unauthenticated: Unauthenticated,
    /// MTCP listen addresses.
    pub mtcp_listen: Vec<SocketAddr>,
    /// QUIC listen addresses.
    pub quic_listen: Vec<SocketAddr>,
    /// QUIC TLS material (QUIC is always encrypted and mutually authenticated).
    pub quic_tls: Option<TlsConfig>,
    /// QUIC idle timeout.
    pub quic_idle_s: u64,
    /// LTP, when configured.
    pub ltp: Option<super::ltp_config::LtpSettings>,
    /// BPSec policy and keys (`[bpsec]`), when configured.
    pub bpsec: Option<dtn_core::bpsec::Policy>,
    /// Where ground applications connect (QUIC, `dtn-app/1`) and how.
    pub app: Option<AppSettings>,
    /// Neighbours.
    pub peers: Vec<PeerConfig>,
    /// Static routes: destination node (None = default) → next hop.
    pub routes: Vec<(Option<NodeId>, NodeId)>,
    /// Custody transfer settings (`None`: off).
    pub custody: Option<dtn_core::custody::CustodyConfig>,
    /// Status reports this node sends.
    pub reports: dtn_core::bpa::ReportPolicy,
    /// Hop limit for bundles created here.
    pub hop_limit: Option<u64>,
    /// How bundles from peers are parsed.
    pub parse_mode: dtn_core::parse_mode::ParseMode,
    /// Submission receipts kept per source endpoint (`[app] receipts_per_source`).
    pub receipts_per_source: usize,
    /// Admin HTTP address.
    pub admin: Option<SocketAddr>,
    /// The bearer token state-changing admin requests must carry (`None`: they are refused).
    pub admin_token: Option<String>,
    /// What peers and sources may make this node hold.
    pub storage_policy: dtn_core::bpa::StoragePolicy,
    /// Bounds on what peers may make this node hold.
    pub limits: Limits,
    /// Log format: JSON lines (`true`) or text.
    pub log_json: bool,
    /// Log level.
    pub log_level: tracing::Level,
}

impl ConfigError {
    fn describe(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!("{}:{}:{}: {}", self.file, self.line, self.column, self.message)
        }
    }
}

/// serde's words for an unknown top-level key — "unknown field `bogus`, expected one of
/// `node`, …" — said as what it is in a TOML file: a section.
fn section_words(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message.to_string() };
    let Some((name, expected)) = rest.split_once("`, expected one of ") else { return message.to_string() };
    if !expected.starts_with("`node`, `storage`") {
        return message.to_string();
    }
    let sections: Vec<String> = expected.split(", ").map(|s| format!("[{}]", s.trim_matches('`'))).collect();
    format!("unknown section [{name}]; the sections are {}", sections.join(", "))
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: format!("cannot read {}", path.display()),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Checks configuration text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
            ConfigError { file: path.display().to_string(), line, column, message }
        };
        let raw: Raw = toml::from_str(text).map_err(|e| at(e.span(), section_words(e.message())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &str| if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
        let spanned_err = |s: std::ops::Range<usize>, m: String| at(Some(s), m);

        let node = *raw.node.id.get_ref();
        if node == 0 {
            return Err(spanned_err(raw.node.id.span(), "node id must be a non-zero ipn node number".into()));
        }
        let plan_epoch = match &raw.node.plan_epoch {
            None => None,
            Some(s) => Some(
                super::units::parse_utc(s.get_ref()).map_err(|m| spanned_err(s.span(), format!("plan_epoch: {m}")))?,
            ),
        };
        let parse_mode = match raw.node.accept.get_ref().as_str() {
            "strict" => dtn_core::parse_mode::ParseMode::Strict,
            "relaxed" => dtn_core::parse_mode::ParseMode::Relaxed,
            other => {
                return Err(spanned_err(
                    raw.node.accept.span(),
                    format!("accept = {other:?}: expected \"strict\" or \"relaxed\""),
                ));
            }
        };
        let mut dtn_names = Vec::new();
        for (name, n) in &raw.node.dtn_names {
            dtn_names.push((name.clone(), *n));
        }

        let store_engine = match raw.storage.engine.get_ref().as_str() {
            "log" => StoreEngine::Log,
            "redb" => StoreEngine::Redb,
            other => {
                return Err(spanned_err(
                    raw.storage.engine.span(),
                    format!("engine = {other:?}: expected \"log\" or \"redb\""),
                ));
            }
        };
        let store_budget =
            parse_size(raw.storage.budget.get_ref()).map_err(|m| at(Some(raw.storage.budget.span()), m))?;
        let size_or = |spec: &Option<Spanned<SizeSpec>>, default: u64| match spec {
            None => Ok(default),
            Some(s) => parse_size(s.get_ref()).map_err(|m| at(Some(s.span()), m)),
        };
        // One peer or source may take half the store, bundles for endpoints nobody registered
        // a quarter: the rest stays for custody, the node's applications and everyone else.
        let storage_policy = dtn_core::bpa::StoragePolicy {
            max_lifetime_ms: Some(raw.storage.max_lifetime_s.max(1).saturating_mul(1_000)),
            per_peer_bytes: Some(size_or(&raw.storage.peer_quota, store_budget / 2)?),
            per_source_bytes: Some(size_or(&raw.storage.source_quota, store_budget / 2)?),
            unregistered_hold_ms: Some(raw.storage.unregistered_hold_s.max(1).saturating_mul(1_000)),
            unregistered_bytes: Some(size_or(&raw.storage.unregistered_budget, store_budget / 4)?),
            ..dtn_core::bpa::StoragePolicy::default()
        };

        let mut endpoints = Vec::new();
        let mut seen_eids = BTreeSet::new();
        for e in &raw.endpoint {
            let eid: Eid = e
                .eid
                .get_ref()
                .parse()
                .map_err(|err| spanned_err(e.eid.span(), format!("endpoint {:?}: {err}", e.eid.get_ref())))?;
            let local = match &eid {
                Eid::Ipn(ipn) => ipn.fqnn() == node,
                Eid::Dtn(d) => dtn_names.iter().any(|(n, id)| n == d.node_name() && *id == node),
                _ => false,
            };
            if !local {
                return Err(spanned_err(e.eid.span(), format!("endpoint {eid} is not on node {node}")));
            }
            if !seen_eids.insert(eid.to_string()) {
                return Err(spanned_err(e.eid.span(), format!("endpoint {eid} is configured twice")));
            }
            let delivery = match (e.deliver.get_ref().as_str(), &e.dir) {
                ("dir", Some(dir)) => Delivery::Dir(resolve(dir)),
                ("dir", None) => {
                    return Err(spanned_err(e.deliver.span(), "deliver = \"dir\" needs dir = \"PATH\"".into()));
                }
                ("sink", _) => Delivery::Sink,
                ("echo", _) => Delivery::Echo,
                (other, _) => {
                    return Err(spanned_err(
                        e.deliver.span(),
                        format!("deliver = {other:?}: expected \"dir\", \"sink\" or \"echo\""),
                    ));
                }
            };
            endpoints.push(EndpointConfig { eid, delivery });
        }

        let tcpcl = raw.tcpcl.unwrap_or_default();
        let tcpcl_listen = addrs(&tcpcl.listen, &spanned_err)?;
        let segment_mru = parse_size(tcpcl.segment_mru.get_ref()).map_err(|m| at(Some(tcpcl.segment_mru.span()), m))?;
        let transfer_mru =
            parse_size(tcpcl.transfer_mru.get_ref()).map_err(|m| at(Some(tcpcl.transfer_mru.span()), m))?;
        let tls = match tcpcl.tls {
            None => None,
            Some(t) => {
                let policy = match t.node_id_policy.get_ref().as_str() {
                    "require" => crate::tcpcl::NodeIdPolicy::Require,
                    "warn" => crate::tcpcl::NodeIdPolicy::Warn,
                    "none" => crate::tcpcl::NodeIdPolicy::None,
                    other => {
                        return Err(spanned_err(
                            t.node_id_policy.span(),
                            format!("node_id_policy = {other:?}: expected \"require\", \"warn\" or \"none\""),
                        ));
                    }
                };
                Some(TlsConfig { cert: resolve(&t.cert), key: resolve(&t.key), ca: resolve(&t.ca), policy })
            }
        };
        let unauthenticated = match &tcpcl.unauthenticated {
            None => Unauthenticated::ReceiveOnly,
            Some(u) => match u.get_ref().as_str() {
                "receive-only" => Unauthenticated::ReceiveOnly,
                "peer-address" => Unauthenticated::PeerAddress,
                "trusted" => Unauthenticated::Trusted,
                other => {
                    return Err(spanned_err(
                        u.span(),
                        format!(
                            "unauthenticated = {other:?}: expected \"receive-only\", \"peer-address\" or \"trusted\""
                        ),
                    ));
                }
            },
        };
        // The receive budget: 256 MiB, and room for two of the largest bundles accepted.
        let limits = match &raw.limits {
            None => Limits {
                receive_memory: (2 * transfer_mru).max(256 << 20),
                max_sessions: default_max_sessions(),
                mtcp_idle_s: default_mtcp_idle(),
            },
            Some(l) => Limits {
                receive_memory: match &l.receive_memory {
                    None => (2 * transfer_mru).max(256 << 20),
                    Some(m) => parse_size(m.get_ref()).map_err(|e| at(Some(m.span()), e))?,
                },
                max_sessions: l.max_sessions.max(1),
                mtcp_idle_s: l.mtcp_idle_s.max(1),
            },
        };
        let mtcp = raw.mtcp.unwrap_or_default();
        let mtcp_listen = addrs(&mtcp.listen, &spanned_err)?;
        let app = match &raw.app {
            None => None,
            Some(a) => Some(AppSettings {
                listen: addrs(&a.listen, &spanned_err)?,
                tls: TlsConfig {
                    cert: resolve(&a.cert),
                    key: resolve(&a.key),
                    ca: resolve(&a.ca),
                    policy: crate::tcpcl::NodeIdPolicy::Require,
                },
                submits_per_sec: a.submits_per_sec.max(1),
                in_flight: a.in_flight.max(1),
                idle_s: a.idle_s.max(1),
            }),
        };
        let (quic_listen, quic_tls, quic_idle_s) = match &raw.quic {
            None => (Vec::new(), None, 30),
            Some(q) => {
                let tls = TlsConfig {
                    cert: resolve(&q.cert),
                    key: resolve(&q.key),
                    ca: resolve(&q.ca),
                    policy: crate::tcpcl::NodeIdPolicy::Require,
                };
                (addrs(&q.listen, &spanned_err)?, Some(tls), q.idle_timeout_s.max(1))
            }
        };

        let mut peers = Vec::new();
        let mut peer_nodes = BTreeSet::new();
        for p in &raw.peer {
            let n = *p.node.get_ref();
            if n == 0 || n == node {
                return Err(spanned_err(p.node.span(), format!("peer node {n} must be another node's number")));
            }
            if !peer_nodes.insert(n) {
                return Err(spanned_err(p.node.span(), format!("peer {n} is configured twice")));
            }
            let cla = match p.cla.get_ref().as_str() {
                "tcpcl" => ClaKind::Tcpcl,
                "mtcp" => ClaKind::Mtcp,
                "quic" => ClaKind::Quic,
                "ltp" => ClaKind::Ltp,
                other => {
                    return Err(spanned_err(
                        p.cla.span(),
                        format!("cla = {other:?}: expected \"tcpcl\", \"mtcp\", \"quic\" or \"ltp\""),
                    ));
                }
            };
            let address = match &p.address {
                None => None,
                Some(a) => Some(
                    a.get_ref()
                        .parse::<SocketAddr>()
                        .map_err(|e| spanned_err(a.span(), format!("address {:?}: {e}", a.get_ref())))?,
                ),
            };
            if cla == ClaKind::Quic && raw.quic.is_none() {
                return Err(spanned_err(
                    p.cla.span(),
                    "a QUIC peer needs a [quic] section (certificate, key, CA)".into(),
                ));
            }
            if cla == ClaKind::Ltp && (raw.ltp.is_none() || address.is_none()) {
                return Err(spanned_err(
                    p.cla.span(),
                    "an LTP peer needs an [ltp] section and the peer's UDP address".into(),
                ));
            }
            if p.engine_id.is_some() && cla != ClaKind::Ltp {
                return Err(spanned_err(p.node.span(), "engine_id is for LTP peers (cla = \"ltp\")".into()));
            }
            if cla == ClaKind::Mtcp && address.is_none() {
                return Err(spanned_err(
                    p.cla.span(),
                    "an MTCP peer needs an address (MTCP does not name nodes)".into(),
                ));
            }
            let rate = match &p.rate {
                None => 0,
                Some(r) => parse_rate(r.get_ref()).map_err(|m| spanned_err(r.span(), m))?,
            };
            let ingress_rate = match &p.ingress_rate {
                None => 0,
                Some(r) => parse_rate(r.get_ref()).map_err(|m| spanned_err(r.span(), m))?,
            };
            let engine_id = p.engine_id.unwrap_or(n);
            peers.push(PeerConfig { node: n, cla, address, rate, ingress_rate, custody: p.custody, engine_id });
        }

        let mut routes = Vec::new();
        for r in &raw.route {
            let dest = match r.dest.get_ref() {
                DestSpec::Node(n) => Some(*n),
                DestSpec::Word(w) if w == "default" => None,
                DestSpec::Word(w) => {
                    return Err(spanned_err(r.dest.span(), format!("dest = {w:?}: a node number or \"default\"")));
                }
            };
            routes.push((dest, *r.via.get_ref()));
        }

        let custody = match raw.custody {
            Some(c) if c.enabled => {
                let codes = match c.codes.get_ref().as_str() {
                    "draft" => dtn_core::admin::CustodyCodes::DRAFT,
                    "ion" => dtn_core::admin::CustodyCodes::ION,
                    other => {
                        return Err(spanned_err(
                            c.codes.span(),
                            format!("codes = {other:?}: expected \"draft\" or \"ion\""),
                        ));
                    }
                };
                let mut cfg =
                    dtn_core::custody::CustodyConfig::with_peers(peers.iter().filter(|p| p.custody).map(|p| p.node));
                cfg.codes = codes;
                cfg.margin_ms = c.margin_ms;
                cfg.default_owlt_ms = c.default_owlt_ms;
                Some(cfg)
            }
            _ => None,
        };
        if custody.is_none()
            && let Some(p) = raw.peer.iter().find(|p| p.custody)
        {
            return Err(spanned_err(p.node.span(), "custody = true for a peer needs [custody] enabled = true".into()));
        }
        let r = raw.reports.unwrap_or_default();
        let reports = dtn_core::bpa::ReportPolicy {
            reception: r.reception,
            forwarding: r.forwarding,
            delivery: r.delivery,
            deletion: r.deletion,
        };

        let admin = match &raw.admin {
            None => None,
            Some(a) => Some(
                a.listen
                    .get_ref()
                    .parse::<SocketAddr>()
                    .map_err(|e| spanned_err(a.listen.span(), format!("listen {:?}: {e}", a.listen.get_ref())))?,
            ),
        };
        let log = raw.log.unwrap_or_default();
        let log_json = match log.format.get_ref().as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(spanned_err(
                    log.format.span(),
                    format!("format = {other:?}: expected \"text\" or \"json\""),
                ));
            }
        };
        let log_level = log.level.get_ref().parse::<tracing::Level>().map_err(|_| {
            spanned_err(
                log.level.span(),
                format!("level = {:?}: expected error, warn, info, debug or trace", log.level.get_ref()),
            )
        })?;

        Ok(Config {
            path: path.to_path_buf(),
            node,
            dtn_names,
            plan_epoch,
            plans: raw.plans.files.iter().map(|f| resolve(f)).collect(),
            store_path: if raw.storage.path == super::MEMORY_STORE {
                PathBuf::from(super::MEMORY_STORE)
            } else {
                resolve(&raw.storage.path)
            },
            store_budget,
            store_engine,
            endpoints,
            tcpcl_listen,
            keepalive_s: tcpcl.keepalive_s,
            segment_mru,
            transfer_mru,
            tls,
            unauthenticated,
            mtcp_listen,
            quic_listen,
            quic_tls,
            quic_idle_s,
            ltp: match &raw.ltp {
                None => None,
                Some(l) => Some(l.check(&spanned_err)?),
            },
            bpsec: match &raw.bpsec {
                None => None,
                Some(b) => Some(b.check(&base, &spanned_err)?),
            },
            app,
            peers,
            routes,
            custody,
            reports,
            hop_limit: if raw.node.hop_limit == 0 { None } else { Some(raw.node.hop_limit) },
            parse_mode,
            receipts_per_source: raw
                .app
                .as_ref()
                .map_or(dtn_core::bpa::DEFAULT_RECEIPTS_PER_SOURCE, |a| a.receipts_per_source.max(1)),
            admin,
            admin_token: raw.admin.as_ref().and_then(|a| a.token.clone()).filter(|t| !t.is_empty()),
            storage_policy,
            limits,
            log_json,
            log_level,
        })
    }

    /// This node's TCPCL node ID, `ipn:N.0`.
    pub fn node_id(&self) -> String {
        format!("ipn:{}.0", self.node)
    }

    /// The configured peer with this node number.
    pub fn peer(&self, node: NodeId) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.node == node)
    }
}

fn addrs(
    list: &[Spanned<String>],
    err: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Vec<SocketAddr>, ConfigError> {
    list.iter()
        .map(|a| a.get_ref().parse().map_err(|e| err(a.span(), format!("listen address {:?}: {e}", a.get_ref()))))
        .collect()
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    node: RawNode,
    storage: RawStorage,
    #[serde(default)]
    plans: RawPlans,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
    tcpcl: Option<RawTcpcl>,
    mtcp: Option<RawMtcp>,
    quic: Option<RawQuic>,
    ltp: Option<super::ltp_config::RawLtp>,
    bpsec: Option<super::bpsec_config::RawBpsec>,
    app: Option<RawApp>,
    #[serde(default)]
    peer: Vec<RawPeer>,
    #[serde(default)]
    route: Vec<RawRoute>,
    custody: Option<RawCustody>,
    reports: Option<RawReports>,
    admin: Option<RawAdmin>,
    log: Option<RawLog>,
    limits: Option<RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    receive_memory: Option<Spanned<SizeSpec>>,
    #[serde(default = "default_max_sessions")]
    max_sessions: u32,
    #[serde(default = "default_mtcp_idle")]
    mtcp_idle_s: u64,
}

fn default_max_sessions() -> u32 {
    1024
}

fn default_mtcp_idle() -> u64 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: Spanned<u64>,
    plan_epoch: Option<Spanned<String>>,
    #[serde(default = "default_hop_limit")]
    hop_limit: u64,
    #[serde(default)]
    dtn_names: std::collections::BTreeMap<String, u64>,
    #[serde(default = "default_accept")]
    accept: Spanned<String>,
}

fn default_accept() -> Spanned<String> {
    Spanned::new(0..0, "strict".to_string())
}

fn default_hop_limit() -> u64 {
    64
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: String,
    budget: Spanned<SizeSpec>,
    #[serde(default = "default_engine")]
    engine: Spanned<String>,
    #[serde(default = "default_max_lifetime")]
    max_lifetime_s: u64,
    peer_quota: Option<Spanned<SizeSpec>>,
    source_quota: Option<Spanned<SizeSpec>>,
    #[serde(default = "default_unregistered_hold")]
    unregistered_hold_s: u64,
    unregistered_budget: Option<Spanned<SizeSpec>>,
}

fn default_max_lifetime() -> u64 {
    30 * 86_400
}

fn default_unregistered_hold() -> u64 {
    86_400
}

fn default_engine() -> Spanned<String> {
    Spanned::new(0..0, "log".to_string())
}

/// A size or rate: a plain number or a string with a unit.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum SizeSpec {
    Number(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlans {
    #[serde(default)]
    files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    eid: Spanned<String>,
    deliver: Spanned<String>,
    dir: Option<String>,
}

/// Bounds on what peers may make the node hold (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes received and not yet taken in by the agent, partly received ones included,
    /// across every session of every convergence layer and the application bridge.
    pub receive_memory: u64,
    /// Sessions each listener kind (TCPCL, MTCP, QUIC, applications) may have open at once;
    /// connections beyond are closed at once.
    pub max_sessions: u32,
    /// An accepted MTCP connection that sends nothing for this long is closed, seconds.
    pub mtcp_idle_s: u64,
}

/// The application bridge (`[app]`).
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Where ground applications connect (QUIC, `dtn-app/1`).
    pub listen: Vec<SocketAddr>,
    /// The TLS material for them.
    pub tls: TlsConfig,
    /// Submissions per second, per client.
    pub submits_per_sec: u32,
    /// Submissions in flight, per client.
    pub in_flight: u32,
    /// A connection or a submission silent this long is given up, seconds.
    pub idle_s: u64,
}

/// What an accepted TCPCL session that did not authenticate its node ID (TLS with a
/// certificate naming it) may receive. Its bundles are always taken in; what it claims to be
/// decides what is sent to it only when trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unauthenticated {
    /// Nothing is sent to it (bundles for its node go over sessions this node dials or
    /// sessions that authenticated): the default.
    #[default]
    ReceiveOnly,
    /// A session claiming a configured peer gets that peer's bundles when it comes from the
    /// IP address configured for the peer (TLS off by choice, on a network that is trusted).
    PeerAddress,
    /// As `PeerAddress` for configured peers, and any other claim is believed (laboratories
    /// and load tests on loopback only).
    Trusted,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTcpcl {
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    unauthenticated: Option<Spanned<String>>,
    #[serde(default = "default_keepalive")]
    keepalive_s: u16,
    #[serde(default = "default_segment_mru")]
    segment_mru: Spanned<SizeSpec>,
    #[serde(default = "default_transfer_mru")]
    transfer_mru: Spanned<SizeSpec>,
    tls: Option<RawTls>,
}

impl Default for RawTcpcl {
    fn default() -> Self {
        RawTcpcl {
            listen: Vec::new(),
            keepalive_s: default_keepalive(),
            segment_mru: default_segment_mru(),
            transfer_mru: default_transfer_mru(),
            unauthenticated: None,
            tls: None,
        }
    }
}

fn default_keepalive() -> u16 {
    30
}

fn default_segment_mru() -> Spanned<SizeSpec> {
    Spanned::new(0..0, SizeSpec::Number(1 << 20))
}

fn default_transfer_mru() -> Spanned<SizeSpec> {
    Spanned::new(0..0, SizeSpec::Number(1 << 30))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: String,
    key: String,
    ca: String,
    #[serde(default = "default_policy")]
    node_id_policy: Spanned<String>,
}

fn default_policy() -> Spanned<String> {
    Spanned::new(0..0, "require".to_string())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMtcp {
    #[serde(default)]
    listen: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuic {
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    cert: String,
    key: String,
    ca: String,
    #[serde(default = "default_quic_idle")]
    idle_timeout_s: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    listen: Vec<Spanned<String>>,
    cert: String,
    key: String,
    ca: String,
    #[serde(default = "default_submit_rate")]
    submits_per_sec: u32,
    #[serde(default = "default_in_flight")]
    in_flight: u32,
    #[serde(default = "default_app_idle")]
    idle_s: u64,
    #[serde(default = "default_receipts")]
    receipts_per_source: usize,
}

fn default_receipts() -> usize {
    dtn_core::bpa::DEFAULT_RECEIPTS_PER_SOURCE
}

fn default_submit_rate() -> u32 {
    20_000
}

fn default_app_idle() -> u64 {
    60
}

fn default_in_flight() -> u32 {
    64
}

fn default_quic_idle() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    node: Spanned<u64>,
    cla: Spanned<String>,
    address: Option<Spanned<String>>,
    rate: Option<Spanned<SizeSpec>>,
    ingress_rate: Option<Spanned<SizeSpec>>,
    #[serde(default)]
    custody: bool,
    engine_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DestSpec {
    Node(u64),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    dest: Spanned<DestSpec>,
    via: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustody {
    #[serde(default)]
    enabled: bool,
    #[serde(default = "default_codes")]
    codes: Spanned<String>,
    #[serde(default = "default_margin")]
    margin_ms: u64,
    #[serde(default = "default_owlt")]
    default_owlt_ms: u64,
}

fn default_codes() -> Spanned<String> {
    Spanned::new(0..0, "draft".to_string())
}

fn default_margin() -> u64 {
    2_000
}

fn default_owlt() -> u64 {
    1_000
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReports {
    #[serde(default)]
    reception: bool,
    #[serde(default)]
    forwarding: bool,
    #[serde(default)]
    delivery: bool,
    #[serde(default)]
    deletion: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Spanned<String>,
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default = "default_format")]
    format: Spanned<String>,
    #[serde(default = "default_level")]
    level: Spanned<String>,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog { format: default_format(), level: default_level() }
    }
}

fn default_format() -> Spanned<String> {
    Spanned::new(0..0, "text".to_string())
}

fn default_level() -> Spanned<String> {
    Spanned::new(0..0, "info".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_and_an_unknown_section_are_said_as_such() {
        let missing = Config::load(Path::new("/nonexistent/nope.toml")).unwrap_err().to_string();
        assert!(missing.starts_with("cannot read /nonexistent/nope.toml: "), "{missing}");
        assert!(!missing.contains(":0:0"), "{missing}");
        let text = "[node]\nid = 2\n[storage]\npath = \"s\"\nbudget = 1000\n[bogus]\nx = 1\n";
        let unknown = Config::parse(text, Path::new("n.toml")).unwrap_err().to_string();
        assert!(unknown.starts_with("n.toml:6:") && unknown.contains("unknown section [bogus]"), "{unknown}");
        assert!(unknown.contains("[storage]"), "{unknown}");
        // A field inside a section keeps serde's words.
        let text = "[node]\nid = 2\ncolour = 1\n[storage]\npath = \"s\"\nbudget = 1000\n";
        let field = Config::parse(text, Path::new("n.toml")).unwrap_err().to_string();
        assert!(field.contains("unknown field `colour`"), "{field}");
    }
}
