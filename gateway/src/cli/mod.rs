//! Command-line parsing and dispatch.

mod bundle_decode;
mod bundle_encode;
mod input;
mod render;

use clap::{Parser, Subcommand};

/// The DTN stack's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "dtn", version, about = "Delay-tolerant networking tools (Bundle Protocol v7)")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with encoded bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Decode and validate a bundle (hex or binary, from a file, stdin or --hex).
    Decode(bundle_decode::DecodeArgs),
    /// Build a bundle from flags and a payload.
    Encode(Box<bundle_encode::EncodeArgs>),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Bundle(BundleCommand::Decode(args)) => bundle_decode::run(&args),
        Command::Bundle(BundleCommand::Encode(args)) => bundle_encode::run(&args),
    }
}
