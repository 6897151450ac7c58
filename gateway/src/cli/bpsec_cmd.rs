//! `dtn bpsec key`: a fresh symmetric key as a JWK file (mode 0600), the format `[bpsec]`
//! keys are read in (and hardy reads).

use std::path::PathBuf;

use clap::Args;

/// Makes a key file.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The file to write (refused if it exists).
    #[arg(long)]
    out: PathBuf,
    /// Key length, bytes: 16 or 32 for AES-128/256 and for wrapping, 32 to 64 for HMAC.
    #[arg(long, default_value_t = 32)]
    bytes: usize,
    /// The key ID written as the JWK's "kid" (the config names keys by its own `id`).
    #[arg(long, default_value = "")]
    id: String,
}

/// `dtn bpsec key`.
pub fn key(args: &KeyArgs) -> Result<(), String> {
    use ring::rand::SecureRandom;
    if !(16..=64).contains(&args.bytes) {
        return Err(format!("--bytes {}: keys are 16 to 64 bytes", args.bytes));
    }
    let mut key = vec![0u8; args.bytes];
    ring::rand::SystemRandom::new().fill(&mut key).map_err(|_| "no system randomness".to_string())?;
    let id = if args.id.is_empty() {
        args.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    } else {
        args.id.clone()
    };
    gateway::daemon::bpsec_config::write_jwk(&args.out, &id, &key)
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("wrote {} ({} bytes, kid {id:?}, mode 0600)", args.out.display(), args.bytes);
    Ok(())
}
