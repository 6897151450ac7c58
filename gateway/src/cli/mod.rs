//! Command-line parsing and dispatch.

mod bundle_decode;
mod bundle_encode;
mod input;
mod plan_cmd;
mod plan_file;
mod render;
mod route_cmd;

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
    /// Earliest arrival, hop count and route over a contact plan (CGR / SABR).
    Route(Box<route_cmd::RouteArgs>),
    /// Work with contact plans.
    #[command(subcommand)]
    Plan(PlanCommand),
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Load a plan and print its node and contact counts, time span and every problem.
    Check(plan_cmd::CheckArgs),
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
        Command::Route(args) => route_cmd::run(&args),
        Command::Plan(PlanCommand::Check(args)) => plan_cmd::run(&args),
    }
}
