//! `dtn cert ca | issue`: a small certificate authority for a mission's nodes, so TLS (TCPCLv4,
//! QUIC) needs no other tool. Node certificates carry the node ID as a URI SAN (RFC 9174
//! 4.4.1), which peers check against the ID they expect.

use std::path::{Path, PathBuf};

use clap::Args;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, string::Ia5String};

/// Creates a CA.
#[derive(Debug, Args)]
pub struct CaArgs {
    /// Writes `PREFIX.pem` (certificate) and `PREFIX.key` (private key, keep it safe).
    #[arg(long)]
    out: PathBuf,
}

/// Issues a node certificate.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The CA's `PREFIX` (reads `PREFIX.pem` and `PREFIX.key`).
    #[arg(long)]
    ca: PathBuf,
    /// The node ID the certificate names, e.g. `ipn:101.0`.
    #[arg(long)]
    node: String,
    /// Writes `PREFIX.pem` and `PREFIX.key`.
    #[arg(long)]
    out: PathBuf,
}

fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let params = ca_params()?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    write(&with_ext(&args.out, ".pem"), &cert.pem())?;
    write(&with_ext(&args.out, ".key"), &key.serialize_pem())?;
    println!("CA written to {}.pem / .key", args.out.display());
    Ok(())
}

/// `dtn cert issue`.
pub fn issue(args: &IssueArgs) -> Result<(), String> {
    match args.node.parse::<dtn_core::eid::Eid>() {
        Ok(dtn_core::eid::Eid::Ipn(_)) | Ok(dtn_core::eid::Eid::Dtn(_)) => {}
        _ => return Err(format!("--node {:?} is not an ipn or dtn node ID", args.node)),
    }
    let ca_key = KeyPair::from_pem(&read(&with_ext(&args.ca, ".key"))?).map_err(|e| format!("CA key: {e}"))?;
    read(&with_ext(&args.ca, ".pem"))?;
    let ca_params = ca_params()?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    let uri = Ia5String::try_from(args.node.as_str()).map_err(|e| e.to_string())?;
    params.subject_alt_names = vec![SanType::URI(uri)];
    params.distinguished_name.push(rcgen::DnType::CommonName, args.node.as_str());
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    write(&with_ext(&args.out, ".pem"), &cert.pem())?;
    write(&with_ext(&args.out, ".key"), &key.serialize_pem())?;
    println!("certificate for {} written to {}.pem / .key", args.node, args.out.display());
    Ok(())
}
