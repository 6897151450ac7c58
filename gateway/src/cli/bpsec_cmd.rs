//! `dtn bpsec key`: a fresh key file, readable by its owner alone — a symmetric JWK (the
//! RFC 9173 contexts' format, which hardy reads too), or with `--cose` a COSE_Key for the
//! COSE context, its public half beside it with `--public`.

use std::path::PathBuf;

use clap::Args;
use dtn_core::bpsec::cose::{CoseKey, Curve, GenerateKind, KeyKind, generate};
use gateway::daemon::bpsec_config::{write_cose_key, write_jwk};

/// Makes a key file.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The file to write (refused if it exists).
    #[arg(long)]
    out: PathBuf,
    /// Key length, bytes: 16 or 32 for AES-128/256 and for wrapping, 32 to 64 for HMAC (JWK).
    #[arg(long, default_value_t = 32)]
    bytes: usize,
    /// The key ID: the JWK's "kid" or the COSE_Key's (default: the file's name). The
    /// config names keys by its own `id`.
    #[arg(long, default_value = "")]
    id: String,
    /// A COSE_Key for this algorithm instead of a JWK: ed25519, esp256, esp384 (key pairs),
    /// hmac256, hmac384, hmac512, a128gcm, a256gcm.
    #[arg(long)]
    cose: Option<String>,
    /// With `--cose` and a key pair: also write its public half here (mode 0644), for the
    /// nodes that verify.
    #[arg(long, requires = "cose")]
    public: Option<PathBuf>,
}

fn random(n: usize) -> Result<Vec<u8>, String> {
    use ring::rand::SecureRandom;
    let mut key = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut key).map_err(|_| "no system randomness".to_string())?;
    Ok(key)
}

/// `dtn bpsec key`.
pub fn key(args: &KeyArgs) -> Result<(), String> {
    let id = if args.id.is_empty() {
        args.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        args.id.clone()
    };
    if let Some(alg) = &args.cose {
        return cose_key(args, alg, &id);
    }
    if !(16..=64).contains(&args.bytes) {
        return Err(format!("--bytes {}: keys are 16 to 64 bytes", args.bytes));
    }
    let key = random(args.bytes)?;
    write_jwk(&args.out, &id, &key).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("wrote {} ({} bytes, kid {id:?}, mode 0600)", args.out.display(), args.bytes);
    Ok(())
}

fn cose_key(args: &KeyArgs, alg: &str, id: &str) -> Result<(), String> {
    let pair = |kind: GenerateKind, len: usize| -> Result<KeyKind, String> {
        // A random scalar is below the group order but for a chance of 2^-128 or less; try again then.
        for _ in 0..4 {
            if let Some(k) = generate(kind, &random(len)?) {
                return Ok(k);
            }
        }
        Err("no valid key from the system's randomness".into())
    };
    let symmetric =
        |len: usize| -> Result<KeyKind, String> { Ok(KeyKind::Symmetric { k: random(len)?, base_iv: None }) };
    let (kind, code) = match alg {
        "ed25519" => (pair(GenerateKind::Ed25519, 32)?, -19),
        "esp256" => (pair(GenerateKind::Ecdsa(Curve::P256), 32)?, -9),
        "esp384" => (pair(GenerateKind::Ecdsa(Curve::P384), 48)?, -51),
        "hmac256" => (symmetric(32)?, 5),
        "hmac384" => (symmetric(48)?, 6),
        "hmac512" => (symmetric(64)?, 7),
        "a128gcm" => (symmetric(16)?, 1),
        "a256gcm" => (symmetric(32)?, 3),
        other => {
            return Err(format!(
                "--cose {other}: ed25519, esp256, esp384, hmac256, hmac384, hmac512, a128gcm or a256gcm"
            ));
        }
    };
    let key = CoseKey { kid: Some(id.as_bytes().to_vec()), alg: Some(code), kind };
    write_cose_key(&args.out, &key).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("wrote {} (COSE_Key {alg}, kid {id:?}, mode 0600)", args.out.display());
    if let Some(public) = &args.public {
        if matches!(key.kind, KeyKind::Symmetric { .. }) {
            return Err("--public: a symmetric key has no public half".into());
        }
        write_cose_key(public, &key.public()).map_err(|e| format!("{}: {e}", public.display()))?;
        println!("wrote {} (its public key, mode 0644)", public.display());
    }
    Ok(())
}
