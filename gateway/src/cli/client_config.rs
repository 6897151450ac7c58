//! Where the gateway is and who this client is, for the application tools: flags, then the
//! environment, then a small client config file.
//!
//! ```toml
//! # ~/.config/dtn/client.toml (or --client-config FILE / DTN_CLIENT_CONFIG)
//! gateway = "127.0.0.1:4800"
//! cert = "client.pem"     # relative paths: next to this file
//! key = "client.key"
//! ca = "ca.pem"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use gateway::app::client::AppClient;
use gateway::tcpcl::{NodeIdPolicy, TlsSetup};
use serde::Deserialize;

/// Connection settings (each flag also reads its environment variable; what neither gives
/// comes from the client config file).
#[derive(Debug, Args)]
pub struct Connection {
    /// The gateway's application address (its `[app] listen`).
    #[arg(long, env = "DTN_GATEWAY")]
    gateway: Option<SocketAddr>,
    /// This client's PEM certificate chain (its URI SANs are the endpoints it may use).
    #[arg(long, env = "DTN_CERT")]
    cert: Option<PathBuf>,
    /// This client's PEM private key.
    #[arg(long, env = "DTN_KEY")]
    key: Option<PathBuf>,
    /// PEM trust anchors for the gateway's certificate.
    #[arg(long, env = "DTN_CA")]
    ca: Option<PathBuf>,
    /// Client config file (default: $XDG_CONFIG_HOME/dtn/client.toml or
    /// ~/.config/dtn/client.toml, if there is one).
    #[arg(long, env = "DTN_CLIENT_CONFIG")]
    client_config: Option<PathBuf>,
}

/// The client config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    gateway: Option<SocketAddr>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
}

/// Settings resolved from every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The gateway's application address.
    pub gateway: SocketAddr,
    /// Certificate, key and trust anchors.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl Connection {
    /// Flags and environment first, then the config file; says what is missing.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let (file, dir) = match self.config_path() {
            Some(path) => (read_file(&path)?, path.parent().map(Path::to_path_buf).unwrap_or_default()),
            None => (ClientFile::default(), PathBuf::new()),
        };
        let in_dir = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
        let missing = |what: &str, flag: &str, env: &str| {
            format!(
                "no {what}: give --{flag}, set {env}, or put `{flag} = …` in a client config file (--client-config)"
            )
        };
        Ok(Resolved {
            gateway: self
                .gateway
                .or(file.gateway)
                .ok_or_else(|| missing("gateway address", "gateway", "DTN_GATEWAY"))?,
            cert: self
                .cert
                .clone()
                .or(file.cert.map(in_dir))
                .ok_or_else(|| missing("certificate", "cert", "DTN_CERT"))?,
            key: self.key.clone().or(file.key.map(in_dir)).ok_or_else(|| missing("private key", "key", "DTN_KEY"))?,
            ca: self.ca.clone().or(file.ca.map(in_dir)).ok_or_else(|| missing("trust anchors", "ca", "DTN_CA"))?,
        })
    }

    /// The config file named, or the default one if it exists.
    fn config_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.client_config {
            return Some(p.clone());
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("dtn").join("client.toml")).filter(|p| p.is_file())
    }

    /// This client's TLS material.
    pub fn tls(&self) -> Result<TlsSetup, String> {
        let r = self.resolve()?;
        TlsSetup::from_pem_files(&r.cert, &r.key, &r.ca, NodeIdPolicy::None)
    }

    /// The gateway's address.
    pub fn gateway(&self) -> Result<SocketAddr, String> {
        Ok(self.resolve()?.gateway)
    }

    /// The first endpoint the certificate names.
    pub fn own_endpoint(&self) -> Result<String, String> {
        let tls = self.tls()?;
        tls.chain
            .first()
            .map(gateway::tcpcl::tls::uri_sans)
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| "the certificate names no endpoint; give --from".to_string())
    }

    /// Connects.
    pub fn open(&self, runtime: &tokio::runtime::Runtime) -> Result<AppClient, String> {
        let (gateway, tls) = (self.gateway()?, self.tls()?);
        runtime.block_on(AppClient::connect(gateway, &tls))
    }
}

/// Reads a client config file; errors name the file, line and column.
fn read_file(path: &Path) -> Result<ClientFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| line_col(&text, s.start)).map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
        format!("{}{at}: {}", path.display(), e.message())
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Connection {
        Connection { gateway: None, cert: None, key: None, ca: None, client_config: None }
    }

    #[test]
    fn flags_win_and_the_file_fills_in_relative_to_itself() {
        let dir = std::env::temp_dir().join(format!("dtn-client-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.toml");
        std::fs::write(
            &file,
            "gateway = \"127.0.0.1:4800\"\ncert = \"c.pem\"\nkey = \"/abs/c.key\"\nca = \"ca.pem\"\n",
        )
        .unwrap();
        let c = Connection { client_config: Some(file.clone()), cert: Some("flag.pem".into()), ..none() };
        assert_eq!(
            c.resolve(),
            Ok(Resolved {
                gateway: ([127, 0, 0, 1], 4800).into(),
                cert: "flag.pem".into(),
                key: "/abs/c.key".into(),
                ca: dir.join("ca.pem"),
            })
        );
        std::fs::write(&file, "gateway = \"127.0.0.1:4800\"\ncerts = \"c.pem\"\n").unwrap();
        let err = c.resolve().unwrap_err();
        assert!(err.contains("client.toml:2:1") && err.contains("unknown field"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_setting_says_where_it_could_come_from() {
        let c = Connection { client_config: Some("/nonexistent/dtn.toml".into()), ..none() };
        assert!(c.resolve().unwrap_err().contains("/nonexistent/dtn.toml"));
        let err = Connection { gateway: Some(([127, 0, 0, 1], 1).into()), ..none() }.resolve().unwrap_err();
        assert!(err.contains("--cert") && err.contains("DTN_CERT"), "{err}");
    }
}
