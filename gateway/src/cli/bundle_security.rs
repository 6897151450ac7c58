//! `dtn bundle sign | verify | encrypt | decrypt`: BPSec on a bundle from a file, stdin or
//! `--hex` (as `dtn bundle decode` reads them), with keys from JWK files; the result is
//! printed as hex, written binary with `--out`, or shown decoded with `--json`.

use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::cose;
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{
    Encrypt, KeyMaterial, Placement, RustCrypto, Security, SecurityError, Sign, accept_bcbs, accept_bibs,
    encrypt_apart, sign, verify_bib,
};
use dtn_core::bundle::Bundle;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use gateway::daemon::bpsec_config::{KeyFile, read_key_file};

use super::{input, render};

/// Where the bundle comes from and where the result goes.
#[derive(Debug, Args)]
pub struct Io {
    /// File holding the bundle as binary CBOR or hex; `-` reads stdin.
    #[arg(default_value = "-", conflicts_with = "hex")]
    file: PathBuf,
    /// The bundle as a hex string.
    #[arg(long)]
    hex: Option<String>,
    /// Accept the deviations RFC 9173's examples and other implementations emit.
    #[arg(long)]
    relaxed: bool,
    /// Write the binary bundle here instead of printing hex.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the result decoded, as JSON (as `dtn bundle decode --json`).
    #[arg(long)]
    json: bool,
}

/// Adds a BIB (BIB-HMAC-SHA2, or the COSE context with a COSE_Key).
#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    io: Io,
    /// The key, readable by its owner alone: a JWK file (BIB-HMAC-SHA2), or a COSE_Key
    /// (the COSE context: HMAC, ESP256, ESP384 or Ed25519 as the key says; `--sha`,
    /// `--scope` and `--wrap` are the RFC 9173 context's).
    #[arg(long)]
    key: PathBuf,
    /// Block numbers to protect (0: the primary block); default the payload.
    #[arg(long = "target", default_values_t = [1u64])]
    targets: Vec<u64>,
    /// The security source (default: the bundle's source node).
    #[arg(long)]
    security_source: Option<Eid>,
    /// SHA-2 variant: 256, 384 or 512.
    #[arg(long, default_value_t = 384)]
    sha: u16,
    /// Integrity scope flags (RFC 9173 3.3.3).
    #[arg(long, default_value_t = 7)]
    scope: u64,
    /// Send a fresh MAC key wrapped under the key (AES key wrap).
    #[arg(long)]
    wrap: bool,
}

/// Adds a BCB (BCB-AES-GCM, or the COSE context with a COSE_Key).
#[derive(Debug, Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    io: Io,
    /// The key: a JWK file (the content key, or with `--wrap` the key-encryption key), or a
    /// symmetric COSE_Key (COSE_Encrypt0 with AES-GCM).
    #[arg(long)]
    key: PathBuf,
    /// Block numbers to encrypt; default the payload (a BIB over one goes along).
    #[arg(long = "target", default_values_t = [1u64])]
    targets: Vec<u64>,
    /// The security source (default: the bundle's source node).
    #[arg(long)]
    security_source: Option<Eid>,
    /// AES key size: 128 or 256.
    #[arg(long, default_value_t = 256)]
    aes: u16,
    /// AAD scope flags (RFC 9173 4.3.4).
    #[arg(long, default_value_t = 7)]
    scope: u64,
    /// Use a fresh content key, sent wrapped under the key.
    #[arg(long)]
    wrap: bool,
}

/// Checks (`verify`) or accepts (`decrypt`) with candidate keys.
#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    io: Io,
    /// Candidate keys (JWK or COSE_Key files; COSE public keys verify); each is tried.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Only this security block (default: every BIB for verify, every BCB for decrypt).
    #[arg(long)]
    block: Option<u64>,
    /// `verify`: also remove the BIBs that verified (the acceptor role).
    #[arg(long)]
    strip: bool,
}

fn read(io: &Io) -> Result<Bundle, String> {
    let raw = match &io.hex {
        Some(hex) => input::decode_hex(hex.trim().as_bytes())?,
        None => input::hex_or_binary(input::read_source(&io.file)?)?,
    };
    let mode = if io.relaxed { ParseMode::Relaxed } else { ParseMode::Strict };
    Bundle::parse(Bytes::from(raw), mode).map_err(|e| format!("invalid bundle: {e} [{}]", e.kind.name()))
}

fn write(io: &Io, bundle: &Bundle) -> Result<(), String> {
    if io.json {
        println!("{}", render::json(bundle, ParseMode::Relaxed));
        return Ok(());
    }
    match &io.out {
        Some(path) => std::fs::write(path, bundle.raw()).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            println!("{}", input::encode_hex(bundle.raw()));
            Ok(())
        }
    }
}

fn refused(e: SecurityError) -> String {
    e.to_string()
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut out).map_err(|_| "no system randomness".to_string())?;
    Ok(out)
}

fn security_source(given: &Option<Eid>, bundle: &Bundle) -> Eid {
    given.clone().unwrap_or_else(|| bundle.source().node_id().unwrap_or_else(|| bundle.source().clone()))
}

/// `dtn bundle sign`.
pub fn sign_cmd(args: &SignArgs) -> Result<(), String> {
    let bundle = read(&args.io)?;
    let key = match read_key_file(&args.key)? {
        KeyFile::Jwk(key) => key,
        KeyFile::Cose(key) => {
            let alg = cose_alg(&key, true)?;
            let op = cose::CoseSign {
                targets: &args.targets,
                source: security_source(&args.security_source, &bundle),
                alg,
                key: &key,
                scope: None,
                additional_protected: &[],
                placement: Placement::default(),
            };
            return write(&args.io, &cose::sign(&RustCrypto, &bundle, &op).map_err(refused)?);
        }
    };
    let variant = match args.sha {
        256 => ShaVariant::Sha256,
        384 => ShaVariant::Sha384,
        512 => ShaVariant::Sha512,
        other => return Err(format!("--sha {other}: 256, 384 or 512")),
    };
    let session: [u8; 32] = random()?;
    let op = Sign {
        targets: &args.targets,
        source: security_source(&args.security_source, &bundle),
        variant,
        scope: args.scope,
        key: if args.wrap { KeyMaterial::Wrapped { kek: &key, session: &session } } else { KeyMaterial::Direct(&key) },
        placement: Placement::default(),
    };
    write(&args.io, &sign(&RustCrypto, &bundle, &op).map_err(refused)?)
}

/// `dtn bundle encrypt`.
pub fn encrypt_cmd(args: &EncryptArgs) -> Result<(), String> {
    let bundle = read(&args.io)?;
    let key = match read_key_file(&args.key)? {
        KeyFile::Jwk(key) => key,
        KeyFile::Cose(key) => {
            // Each target gets its own nonce within the message (the op counts from this IV).
            let op = cose::CoseEncrypt {
                targets: &args.targets,
                source: security_source(&args.security_source, &bundle),
                alg: cose_alg(&key, false)?,
                key: &key,
                iv: random()?,
                scope: None,
                placement: Placement::default(),
            };
            return write(&args.io, &cose::encrypt(&RustCrypto, &bundle, &op).map_err(refused)?);
        }
    };
    let variant = match args.aes {
        128 => AesVariant::A128,
        256 => AesVariant::A256,
        other => return Err(format!("--aes {other}: 128 or 256")),
    };
    let session: [u8; 32] = random()?;
    let iv: [u8; 12] = random()?;
    let session = &session[..variant.key_len()];
    let op = Encrypt {
        targets: &args.targets,
        source: security_source(&args.security_source, &bundle),
        variant,
        scope: args.scope,
        iv: &iv,
        key: if args.wrap { KeyMaterial::Wrapped { kek: &key, session } } else { KeyMaterial::Direct(&key) },
        placement: Placement::default(),
    };
    // A BCB and a fresh IV per block: one IV over two blocks under one key reuses a nonce.
    let mut failed = false;
    let mut fresh = |iv: &mut [u8]| {
        use ring::rand::SecureRandom;
        failed |= ring::rand::SystemRandom::new().fill(iv).is_err();
    };
    let sealed = encrypt_apart(&RustCrypto, &bundle, &op, &mut fresh).map_err(refused)?;
    if failed {
        return Err("no system randomness".into());
    }
    write(&args.io, &sealed)
}

fn keys(args: &OpenArgs) -> Result<Vec<Vec<u8>>, String> {
    args.keys.iter().map(|k| read_key_file(k).map(|f| f.ring_bytes())).collect()
}

/// The COSE algorithm a key is for: its own `alg`, or the one its kind and length imply.
fn cose_alg(key: &cose::CoseKey, integrity: bool) -> Result<cose::Alg, String> {
    use cose::{Alg, KeyKind};
    let alg = match (key.alg.and_then(Alg::from_code), &key.kind) {
        (Some(alg), _) => alg,
        (None, KeyKind::Ed25519 { .. }) => Alg::Ed25519,
        (None, KeyKind::Ec2 { curve, .. }) => Alg::Ecdsa(*curve),
        (None, KeyKind::Symmetric { k, .. }) => match (integrity, k.len()) {
            (true, 32) => Alg::Hmac(ShaVariant::Sha256),
            (true, 48) => Alg::Hmac(ShaVariant::Sha384),
            (true, 64) => Alg::Hmac(ShaVariant::Sha512),
            (false, 16) => Alg::Gcm(AesVariant::A128),
            (false, 32) => Alg::Gcm(AesVariant::A256),
            (_, n) => return Err(format!("a symmetric COSE_Key of {n} bytes fits no algorithm here")),
        },
    };
    if alg.is_integrity() != integrity {
        return Err(format!("the key is for {alg:?}, not for {}", if integrity { "signing" } else { "encryption" }));
    }
    Ok(alg)
}

/// `dtn bundle verify`: exits non-zero with the reason when a BIB does not verify.
pub fn verify_cmd(args: &OpenArgs) -> Result<(), String> {
    let bundle = read(&args.io)?;
    let keys = keys(args)?;
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let security = Security::of(&bundle).map_err(refused)?;
    let bibs: Vec<u64> = security
        .blocks()
        .iter()
        .filter(|b| b.is_bib() && args.block.is_none_or(|n| n == b.number()))
        .map(|b| b.number())
        .collect();
    if bibs.is_empty() {
        return Err("no BIB to verify (missing security operation, reason 12)".into());
    }
    for &n in &bibs {
        verify_bib(&RustCrypto, &bundle, &security, n, &keys).map_err(refused)?;
        let block = security.block(n).and_then(|b| b.asb.as_ref());
        eprintln!(
            "BIB {n} over blocks {:?} from {}: verified",
            block.map(|a| a.targets.clone()).unwrap_or_default(),
            block.map(|a| a.source.to_string()).unwrap_or_default()
        );
    }
    let out = if args.strip { accept_bibs(&RustCrypto, &bundle, &bibs, &keys).map_err(refused)? } else { bundle };
    if args.strip || args.io.json || args.io.out.is_some() { write(&args.io, &out) } else { Ok(()) }
}

/// `dtn bundle decrypt`: accepts the BCBs (targets back to plaintext, BCBs removed).
pub fn decrypt_cmd(args: &OpenArgs) -> Result<(), String> {
    let bundle = read(&args.io)?;
    let keys = keys(args)?;
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let security = Security::of(&bundle).map_err(refused)?;
    let bcbs: Vec<(u64, &[&[u8]])> = security
        .blocks()
        .iter()
        .filter(|b| !b.is_bib() && args.block.is_none_or(|n| n == b.number()))
        .map(|b| (b.number(), keys.as_slice()))
        .collect();
    if bcbs.is_empty() {
        return Err("no BCB to decrypt (missing security operation, reason 12)".into());
    }
    write(&args.io, &accept_bcbs(&RustCrypto, &bundle, &bcbs).map_err(refused)?)
}
