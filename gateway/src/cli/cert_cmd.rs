//! `dtn cert ca | issue`: a small certificate authority for a mission's nodes, so TLS (TCPCLv4,
//! QUIC) needs no other tool. Node certificates carry the node ID as a URI SAN (RFC 9174
//! 4.4.1), which peers check against the ID they expect.

use std::path::{Path, PathBuf};

use clap::Args;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, string::Ia5String};

/// Creates a CA.
#[derive(Debug, Args)]
pub struct CaArgs {
    /// Writes `PREFIX.pem` (certificate) and `PREFIX.key` (private key, mode 0600).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing certificate and key (without it, existing files are kept and the
    /// command fails: a new CA would orphan every certificate the old one issued).
    #[arg(long)]
    force: bool,
}

/// Issues a node certificate.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The CA's `PREFIX` (reads `PREFIX.pem` and `PREFIX.key`).
    #[arg(long)]
    ca: PathBuf,
    /// The node ID (or, for an application, the endpoint) the certificate names, e.g.
    /// `ipn:101.0`; repeat it for a certificate naming several.
    #[arg(long, required = true)]
    node: Vec<String>,
    /// Writes `PREFIX.pem` and `PREFIX.key` (mode 0600).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing certificate and key.
    #[arg(long)]
    force: bool,
}

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// Refuses to replace `paths` unless `force`.
fn may_write(paths: &[&Path], force: bool) -> Result<(), String> {
    match paths.iter().find(|p| p.exists()) {
        Some(p) if !force => Err(format!("{} exists: not replaced (--force replaces it)", p.display())),
        _ => Ok(()),
    }
}

/// Writes a file readable by its owner only (private keys), or by all (certificates). The
/// file is created afresh, so an old one's looser mode does not carry over.
fn write(path: &Path, text: &str, private: bool) -> Result<(), String> {
    use std::io::Write;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(failed)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The CA's parameters: the same every time, so that a certificate issued later names the CA
/// certificate's subject as its issuer without parsing it back.
fn ca_params() -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "DTN mission CA");
    Ok(params)
}

/// `dtn cert ca`.
pub fn ca(args: &CaArgs) -> Result<(), String> {
    let (pem, key_file) = (with_ext(&args.out, ".pem"), with_ext(&args.out, ".key"));
    may_write(&[&pem, &key_file], args.force)?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let params = ca_params()?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    write(&key_file, &key.serialize_pem(), true)?;
    write(&pem, &cert.pem(), false)?;
    println!("CA written to {}.pem / .key", args.out.display());
    Ok(())
}

/// `dtn cert issue`.
pub fn issue(args: &IssueArgs) -> Result<(), String> {
    for node in &args.node {
        match node.parse::<dtn_core::eid::Eid>() {
            Ok(dtn_core::eid::Eid::Ipn(_)) | Ok(dtn_core::eid::Eid::Dtn(_)) => {}
            _ => return Err(format!("--node {node:?} is not an ipn or dtn EID")),
        }
    }
    let (pem, key_file) = (with_ext(&args.out, ".pem"), with_ext(&args.out, ".key"));
    may_write(&[&pem, &key_file], args.force)?;
    let ca_key = KeyPair::from_pem(&read(&with_ext(&args.ca, ".key"))?).map_err(|e| format!("CA key: {e}"))?;
    read(&with_ext(&args.ca, ".pem"))?;
    let ca_params = ca_params()?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    for node in &args.node {
        let uri = Ia5String::try_from(node.as_str()).map_err(|e| e.to_string())?;
        params.subject_alt_names.push(SanType::URI(uri));
    }
    let names = args.node.join(", ");
    params.distinguished_name.push(rcgen::DnType::CommonName, names.as_str());
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    write(&key_file, &key.serialize_pem(), true)?;
    write(&pem, &cert.pem(), false)?;
    println!("certificate for {names} written to {}.pem / .key", args.out.display());
    Ok(())
}
