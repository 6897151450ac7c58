//! `dtn bundle encode`: build a bundle from flags and a payload.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use dtn_core::bundle::{BundleBuilder, BundleFlags};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::time::{CreationTimestamp, DtnTime};

use super::input;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Crc {
    None,
    Crc16,
    Crc32c,
}

impl From<Crc> for CrcType {
    fn from(c: Crc) -> CrcType {
        match c {
            Crc::None => CrcType::None,
            Crc::Crc16 => CrcType::Crc16,
            Crc::Crc32c => CrcType::Crc32c,
        }
    }
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Source node ID or endpoint, e.g. ipn:1.1 (dtn:none for an anonymous bundle).
    #[arg(long)]
    source: Eid,
    /// Destination endpoint, e.g. ipn:2.1 or dtn://ground/ops.
    #[arg(long = "dest")]
    destination: Eid,
    /// Where status reports go (default: the source).
    #[arg(long)]
    report_to: Option<Eid>,
    /// Lifetime in milliseconds.
    #[arg(long, default_value_t = 3_600_000)]
    lifetime_ms: u64,
    /// Creation time as DTN milliseconds; default now. 0 means "no clock" and adds a bundle age block.
    #[arg(long)]
    creation_ms: Option<u64>,
    /// Creation sequence number.
    #[arg(long, default_value_t = 0)]
    sequence: u64,
    /// A bundle flag by name (repeatable): must-not-fragment, app-ack, status-time,
    /// report-reception, report-forwarding, report-delivery, report-deletion, admin-record.
    #[arg(long = "flag", value_parser = parse_flag)]
    flags: Vec<BundleFlags>,
    /// CRC type of the primary block.
    #[arg(long, value_enum, default_value = "crc32c")]
    primary_crc: Crc,
    /// CRC type of the payload and extension blocks.
    #[arg(long, value_enum, default_value = "none")]
    block_crc: Crc,
    /// Add a hop count block with this limit (1-255).
    #[arg(long)]
    hop_limit: Option<u64>,
    /// Add a bundle age block with this value.
    #[arg(long)]
    bundle_age_ms: Option<u64>,
    /// Payload from a file (`-` for stdin).
    #[arg(long, conflicts_with = "payload")]
    payload_file: Option<PathBuf>,
    /// Payload as text.
    #[arg(long)]
    payload: Option<String>,
    /// Write the binary bundle to this file instead of printing hex.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_flag(name: &str) -> Result<BundleFlags, String> {
    BundleFlags::from_name(name).ok_or_else(|| format!("unknown bundle flag {name:?}"))
}

pub fn run(args: &EncodeArgs) -> Result<(), String> {
    let payload = match (&args.payload_file, &args.payload) {
        (Some(path), _) => input::read_source(path)?,
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => return Err("give the payload with --payload TEXT or --payload-file FILE".into()),
    };
    let creation_ms = args.creation_ms.unwrap_or_else(|| DtnTime::now().0);
    let flags = args.flags.iter().fold(BundleFlags::default(), |acc, f| acc | *f);
    let mut builder = BundleBuilder::new(args.source.clone(), args.destination.clone())
        .report_to(args.report_to.clone().unwrap_or_else(|| args.source.clone()))
        .lifetime_ms(args.lifetime_ms)
        .creation(CreationTimestamp::new(DtnTime(creation_ms), args.sequence))
        .flags(flags)
        .primary_crc(args.primary_crc.into())
        .block_crc(args.block_crc.into())
        .payload(payload);
    if let Some(limit) = args.hop_limit {
        builder = builder.hop_count(limit, 0);
    }
    match args.bundle_age_ms {
        Some(age) => builder = builder.bundle_age_ms(age),
        None if creation_ms == 0 => builder = builder.bundle_age_ms(0),
        None => {}
    }
    let bundle = builder.build().map_err(|e| format!("cannot build bundle: {e}"))?;
    match &args.out {
        Some(path) => std::fs::write(path, bundle.raw()).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => writeln!(std::io::stdout(), "{}", input::encode_hex(bundle.raw())).map_err(|e| e.to_string()),
    }
}
