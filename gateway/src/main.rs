//! `dtn`: the command-line tool of the DTN stack.
//!
//! Today it decodes and encodes bundles; the gateway daemon, routing and application tools join
//! it as their issues land.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
