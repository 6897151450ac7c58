//! `dtn bundle decode`: parse, validate and print a bundle.

use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use dtn_core::bundle::Bundle;
use dtn_core::parse_mode::ParseMode;

use super::{input, render};

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// File holding the bundle as binary CBOR or hex; `-` reads stdin.
    #[arg(default_value = "-", conflicts_with = "hex")]
    file: PathBuf,
    /// The bundle as a hex string.
    #[arg(long)]
    hex: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Accept the deviations that RFC 9173's examples and other implementations emit, and list
    /// them (default: strict RFC 9171).
    #[arg(long)]
    relaxed: bool,
}

pub fn run(args: &DecodeArgs) -> Result<(), String> {
    let raw = match &args.hex {
        Some(hex) => input::decode_hex(hex.trim().as_bytes())?,
        None => input::hex_or_binary(input::read_source(&args.file)?)?,
    };
    let mode = if args.relaxed { ParseMode::Relaxed } else { ParseMode::Strict };
    let bundle = Bundle::parse(Bytes::from(raw), mode).map_err(|e| {
        let reason = e.reason_code().map(|r| format!("; a node deletes it with reason {r}")).unwrap_or_default();
        format!("invalid bundle: {e} [{}]{reason}", e.kind.name())
    })?;
    if args.json {
        println!("{}", render::json(&bundle, mode));
    } else {
        print!("{}", render::text(&bundle, mode));
    }
    Ok(())
}
