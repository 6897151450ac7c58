//! `link-sim`: run a constellation scenario deterministically.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use link_sim::model::link::windows_from_csv;
use link_sim::sim::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(name = "link-sim", version, about = "Deterministic DTN constellation simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file: prints the delivery summary and the trace hash, writes report.json and SVG plots.
    Run {
        /// The scenario (TOML).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write the report and plots.
        #[arg(long, default_value = "sim-out")]
        out: PathBuf,
    },
}

fn read_plan(path: &std::path::Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(text);
    }
    String::from_utf8(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(scenario_path: &std::path::Path, seed: Option<u64>, out: &std::path::Path) -> Result<bool, String> {
    let (scenario, plan_path) = Scenario::load(scenario_path).map_err(|e| e.to_string())?;
    let windows = windows_from_csv(&read_plan(&plan_path)?).map_err(|e| format!("{}: {e}", plan_path.display()))?;
    let seed = seed.unwrap_or(scenario.run.seed);
    let started = Instant::now();
    // The bar only on a terminal: a log gets the summary alone.
    let terminal = std::io::stderr().is_terminal();
    let mut shown = usize::MAX;
    let outcome = link_sim::sim::run(&scenario, &windows, seed, |done, events| {
        let percent = (done * 100.0) as usize;
        if terminal && percent != shown {
            shown = percent;
            let bar = "#".repeat((done * 30.0) as usize);
            eprint!("\r[{bar:<30}] {percent:>3}%  {events} events");
            let _ = std::io::stderr().flush();
        }
    });
    if terminal {
        eprintln!();
    }
    let wall = started.elapsed();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut report = outcome.report.clone();
    report["seed"] = seed.into();
    report["wall_s"] = wall.as_secs_f64().into();
    let report_path = out.join("report.json");
    let pretty = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&report_path, pretty).map_err(|e| format!("{}: {e}", report_path.display()))?;
    for (name, svg) in &outcome.plots {
        let path = out.join(name);
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let b = &report["bundles"];
    println!(
        "{}: seed {seed}, {} simulated s in {:.2} s wall, {} events, {} reboots",
        scenario_path.display(),
        report["simulated_s"],
        wall.as_secs_f64(),
        report["events"],
        report["reboots"]
    );
    println!(
        "bundles: {} generated, {} accepted, {} delivered, {} deleted with a reason, {} still held, {} silently lost",
        b["generated"], b["accepted"], b["delivered"], b["deleted_with_reason"], b["held_at_end"], b["silently_lost"]
    );
    println!(
        "latency: median {} s, p99 {} s; median latency / reference earliest arrival: {}",
        report["latency_s"]["median"],
        report["latency_s"]["p99"],
        report["latency_over_reference_earliest_arrival"]["median"]
    );
    println!("trace hash: {:016x}", outcome.trace_hash);
    println!("report: {}", report_path.display());
    let names: Vec<&str> = outcome.plots.iter().map(|(n, _)| n.as_str()).collect();
    println!("plots: {} in {}", names.join(", "), out.display());
    for v in &outcome.violations {
        eprintln!("INVARIANT VIOLATION: {v} (replay with --seed {seed})");
    }
    Ok(outcome.violations.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { scenario, seed, out } => run(scenario, *seed, out),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
