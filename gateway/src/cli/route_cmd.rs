//! `dtn route`: earliest arrival, hop count and route for one query or a batch.

use std::path::PathBuf;

use clap::Args;
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, Scratch, search_with};
use dtn_core::routing::time::{NANOS_PER_SEC, parse_decimal};
use dtn_core::routing::{ContactPlan, PlanTime};
use serde_json::json;

use gateway::plan_file::{self, Policy};

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Contact plan: ION .rc/.ionrc, .csv or HDTN .json, optionally gzipped.
    #[arg(long)]
    plan: PathBuf,
    /// Take light times (owlt_max_ms) from this CSV instead of the plan's ranges.
    #[arg(long)]
    owlt_csv: Option<PathBuf>,
    /// Source node number.
    #[arg(long, required_unless_present = "batch")]
    from: Option<u64>,
    /// Destination node number.
    #[arg(long, required_unless_present = "batch")]
    to: Option<u64>,
    /// Seconds after the plan's reference time when the bundle is at the source.
    #[arg(long, default_value = "0")]
    at: String,
    /// Bundle size in bytes (0: time-only search).
    #[arg(long, default_value_t = 0)]
    size: u64,
    /// Answer every `src dst t0 size` line of this file, one JSON line each.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    batch: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// What to do with unusable contacts in the plan.
    #[arg(long, value_enum, default_value = "skip")]
    policy: Policy,
}

fn seconds(text: &str, what: &str) -> Result<PlanTime, String> {
    parse_decimal(text, NANOS_PER_SEC)
        .map(PlanTime)
        .ok_or_else(|| format!("{what}: {text:?} is not a number of seconds"))
}

/// Why a node cannot be routed to or from: the plan does not have it (with what it has).
fn unknown_node(plan: &ContactPlan, node: u64) -> Option<String> {
    if plan.nodes().binary_search(&node).is_ok() {
        return None;
    }
    let nodes = plan.nodes();
    let range = match (nodes.first(), nodes.last()) {
        (Some(a), Some(b)) => format!("{} nodes, {a} to {b}", nodes.len()),
        _ => "no nodes".into(),
    };
    Some(format!("the plan has no node {node} ({range})"))
}

fn answer(plan: &ContactPlan, query: &RouteQuery, scratch: &mut Scratch) -> serde_json::Value {
    let route = search_with(plan, query, &EmptyNetwork, scratch);
    let mut out = json!({
        "src": query.source,
        "dst": query.destination,
        "t0": query.start.to_string().parse::<f64>().unwrap_or(0.0),
        "size": query.size,
    });
    match route {
        Some(r) => {
            out["eat"] = json!(r.arrival.to_string().parse::<f64>().unwrap_or(f64::NAN));
            out["eat_exact"] = json!(r.arrival.to_string());
            out["hops"] = json!(r.hops());
            out["route"] = json!(r.nodes(plan));
            out["contacts"] = r
                .contacts
                .iter()
                .filter_map(|&id| plan.contact(id))
                .map(|c| {
                    json!({"from": c.from, "to": c.to, "start": c.start.to_string(), "end": c.end.to_string(),
                           "rate_Bps": c.rate_bytes_per_sec, "owlt": c.owlt_nanos as f64 / 1e9})
                })
                .collect();
        }
        None => {
            out["eat"] = serde_json::Value::Null;
            out["hops"] = serde_json::Value::Null;
        }
    }
    out
}

pub fn run(args: &RouteArgs) -> Result<(), String> {
    let loaded = plan_file::load_with_owlt(&args.plan, args.owlt_csv.as_deref(), args.policy.into())?;
    let plan = loaded.plan;
    let mut scratch = Scratch::default();
    if let Some(batch) = &args.batch {
        let text = plan_file::read_text(batch)?;
        let started = std::time::Instant::now();
        let (mut routed, mut unroutable, mut unknown) = (0u64, 0u64, 0u64);
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let bad = |what: &str| format!("{}: line {}: {what}", batch.display(), i + 1);
            let [src, dst, t0, size] = f[..] else { return Err(bad("expected `src dst t0 size`")) };
            let query = RouteQuery::new(
                src.parse().map_err(|_| bad("src is not a node number"))?,
                dst.parse().map_err(|_| bad("dst is not a node number"))?,
                seconds(t0, &bad("t0"))?,
                size.parse().map_err(|_| bad("size is not a byte count"))?,
            );
            let missing = unknown_node(&plan, query.source).or_else(|| unknown_node(&plan, query.destination));
            let out = match missing {
                Some(error) => {
                    unknown += 1;
                    json!({"src": query.source, "dst": query.destination, "eat": null, "hops": null, "error": error})
                }
                None => answer(&plan, &query, &mut scratch),
            };
            if out["eat"].is_null() {
                unroutable += 1;
            } else {
                routed += 1;
            }
            println!("{out}");
        }
        // The summary goes to stderr: stdout stays one JSON object per line.
        let took = started.elapsed();
        let queries = routed + unroutable;
        let each = if queries > 0 { took.as_secs_f64() * 1e3 / queries as f64 } else { 0.0 };
        let unknown = if unknown > 0 { format!(" ({unknown} name a node the plan lacks)") } else { String::new() };
        let total = if took.as_secs() > 0 {
            format!("{:.2} s", took.as_secs_f64())
        } else {
            format!("{:.1} ms", took.as_secs_f64() * 1e3)
        };
        eprintln!("{queries} queries: {routed} routed, {unroutable} unroutable{unknown}; {total} ({each:.3} ms each)");
        return Ok(());
    }
    let (Some(from), Some(to)) = (args.from, args.to) else { return Err("give --from and --to, or --batch".into()) };
    for (flag, node) in [("--from", from), ("--to", to)] {
        if let Some(why) = unknown_node(&plan, node) {
            return Err(format!("{flag} {node}: {why}"));
        }
    }
    let query = RouteQuery::new(from, to, seconds(&args.at, "--at")?, args.size);
    let out = answer(&plan, &query, &mut scratch);
    if args.json {
        println!("{out}");
        return Ok(());
    }
    match out.get("eat_exact").and_then(|v| v.as_str()) {
        Some(eat) => {
            let hops = out["hops"].as_u64().unwrap_or(0);
            println!("earliest arrival: {eat} s, {hops} {}", if hops == 1 { "hop" } else { "hops" });
            let route: Vec<String> = out["route"].as_array().into_iter().flatten().map(ToString::to_string).collect();
            println!("route: {}", route.join(" -> "));
            for c in out["contacts"].as_array().into_iter().flatten() {
                println!(
                    "  {} -> {}  contact {}..{} s  {} B/s  owlt {} s",
                    c["from"],
                    c["to"],
                    c["start"].as_str().unwrap_or(""),
                    c["end"].as_str().unwrap_or(""),
                    c["rate_Bps"],
                    c["owlt"]
                );
            }
        }
        None => println!("no route from {from} to {to} at {} s for {} bytes", args.at, args.size),
    }
    Ok(())
}
