//! `link-sim`: run a constellation scenario deterministically, or proxy one link in real time.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use dtn_core::routing::PlanTime;
use link_sim::model::link::{Impairments, windows_from_csv, windows_from_plan_text};
use link_sim::model::loss::FrameLoss;
use link_sim::proxy::{Proxy, ProxyConfig};
use link_sim::sim::scenario::Scenario;

#[derive(Debug, Parser)]
#[command(name = "link-sim", version, about = "Deterministic DTN constellation simulator and real-time link proxy")]
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
    /// Apply one link of a contact plan (windows, rate, light time, loss) to live TCP or UDP traffic.
    Proxy(ProxyArgs),
}

#[derive(Debug, clap::Args)]
struct ProxyArgs {
    /// Contact plan: our CSV (full precision, light-time ranges) or ION .rc; gzip allowed.
    #[arg(long)]
    plan: PathBuf,
    /// The link, as FROM-TO node numbers (e.g. 1001-101); the reverse direction uses TO-FROM's contacts.
    #[arg(long)]
    link: String,
    /// Where clients connect or send (the FROM side).
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// Where to forward (the TO side).
    #[arg(long)]
    to: std::net::SocketAddr,
    /// Carry UDP datagrams instead of TCP streams.
    #[arg(long)]
    udp: bool,
    /// With --udp: the address datagrams to the TO side come from (default: any free port).
    /// A peer that names its partner by address (LTP) needs it fixed.
    #[arg(long)]
    udp_source: Option<std::net::SocketAddr>,
    /// Plan seconds per wall second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Plan time at start-up, seconds.
    #[arg(long, default_value_t = 0.0)]
    start_s: f64,
    /// Bit-error rate.
    #[arg(long, default_value_t = 0.0)]
    ber: f64,
    /// Flat frame (chunk or datagram) loss probability.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Seconds after a contact opens before anything passes.
    #[arg(long, default_value_t = 0.0)]
    lag_s: f64,
    /// Link buffer, bytes (default: unbounded).
    #[arg(long)]
    buffer_bytes: Option<u64>,
    /// Seed of the link's random streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the counters every this many wall seconds (0: only at exit).
    #[arg(long, default_value_t = 10.0)]
    report_every_s: f64,
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
    println!("delivered {} of the {} routable (physics allows them by the end)", b["delivered"], b["routable"]);
    if let Some(causes) = b["undelivered_by_cause"].as_object().filter(|c| !c.is_empty()) {
        let list: Vec<String> = causes.iter().map(|(cause, n)| format!("{n} {cause}")).collect();
        println!("undelivered: {} (each bundle's cause in report.json)", list.join(", "));
    }
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

fn proxy_config(args: &ProxyArgs) -> Result<ProxyConfig, String> {
    let (from, to) = args
        .link
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
        .ok_or_else(|| format!("--link {:?}: expected FROM-TO node numbers, e.g. 1001-101", args.link))?;
    let text = read_plan(&args.plan)?;
    let windows = windows_from_plan_text(&text).map_err(|e| format!("{}: {e}", args.plan.display()))?;
    let mut config = ProxyConfig::for_link(&windows, from, to, args.listen, args.to)
        .ok_or_else(|| format!("{}: no contact from {from} to {to}", args.plan.display()))?;
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(format!("--time-scale {}: must be a positive number", args.time_scale));
    }
    let loss =
        FrameLoss::new(args.ber, args.loss).map_err(|e| format!("--ber {} / --loss {}: {e}", args.ber, args.loss))?;
    config.impairments = Impairments {
        acquisition_lag_nanos: (args.lag_s.max(0.0) * 1e9) as i64,
        buffer_bytes: args.buffer_bytes.unwrap_or(u64::MAX),
        loss,
        ..Impairments::default()
    };
    config.udp = args.udp;
    config.udp_source = args.udp_source;
    config.time_scale = args.time_scale;
    config.start = PlanTime((args.start_s * 1e9) as i64);
    config.seed = args.seed;
    Ok(config)
}

fn proxy(args: &ProxyArgs) -> Result<bool, String> {
    let config = proxy_config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        let next = config.forward.iter().find(|w| w.end > config.start).map(|w| w.start);
        let proxy = Proxy::start(config.clone()).await.map_err(|e| format!("{}: {e}", config.listen))?;
        println!(
            "proxy {}-{} ({}) on {} -> {}, plan time {:.3} s at x{}, {}",
            config.from,
            config.to_node,
            if config.udp { "udp" } else { "tcp" },
            proxy.local_addr(),
            config.upstream,
            config.start.0 as f64 / 1e9,
            config.time_scale,
            match next {
                Some(t) if t <= config.start => "in contact".to_string(),
                Some(t) => format!("next contact at plan {:.3} s", t.0 as f64 / 1e9),
                None => "no contact left in the plan".to_string(),
            }
        );
        let every =
            std::time::Duration::from_secs_f64(if args.report_every_s > 0.0 { args.report_every_s } else { 1e9 });
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        let mut last = proxy.stats();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = ticker.tick() => {
                    let now = proxy.stats();
                    if now != last {
                        print_stats(&proxy);
                        last = now;
                    }
                }
            }
        }
        print_stats(&proxy);
        Ok(true)
    })
}

fn print_stats(proxy: &Proxy) {
    let s = proxy.stats();
    let line = |d: &link_sim::proxy::CounterSnapshot| {
        format!(
            "{} in / {} out ({} / {} bytes), {} lost, {} no contact, {} buffer full, {} resent",
            d.frames_in, d.frames_out, d.bytes_in, d.bytes_out, d.lost, d.no_contact, d.buffer_full, d.resent
        )
    };
    println!(
        "plan {:.3} s: forward {}; reverse {}",
        proxy.plan_now().0 as f64 / 1e9,
        line(&s.forward),
        line(&s.reverse)
    );
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { scenario, seed, out } => run(scenario, *seed, out),
        Command::Proxy(args) => proxy(args),
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
