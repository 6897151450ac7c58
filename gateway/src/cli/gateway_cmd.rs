//! `dtn gateway run | check-config`.

use std::path::PathBuf;

use clap::Args;
use gateway::daemon::{self, Config};

/// Where the node's configuration is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The node's TOML configuration file.
    #[arg(long, short = 'c')]
    config: PathBuf,
}

/// Runs the daemon until SIGTERM / SIGINT; SIGHUP reloads the contact plan.
pub fn run(args: &ConfigArgs) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    daemon::run_forever(config)
}

/// Checks the file, its plans and TLS material, and prints a summary.
pub fn check(args: &ConfigArgs) -> Result<(), String> {
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let summary = daemon::check(&config)?;
    println!("{}: OK: {summary}", args.config.display());
    Ok(())
}
