//! `dtn plan check`: load a plan and report its size, span and every problem.

use std::path::PathBuf;

use clap::Args;
use dtn_core::routing::parse::ImportPolicy;
use serde_json::json;

use gateway::plan_file;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Contact plan: ION .rc/.ionrc, .csv or HDTN .json, optionally gzipped.
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Exits non-zero when the plan has problems, so scripts can gate on it.
pub fn run(args: &CheckArgs) -> Result<(), String> {
    let loaded = plan_file::load(&args.file, ImportPolicy::Skip)?;
    let plan = &loaded.plan;
    let span = plan.span();
    let problems: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
    if args.json {
        println!(
            "{}",
            json!({
                "file": args.file.display().to_string(),
                "nodes": plan.nodes().len(),
                "contacts": plan.contacts().len(),
                "start": span.map(|s| s.0.to_string()),
                "end": span.map(|s| s.1.to_string()),
                "reference_time": plan.reference().map(|t| t.to_string()),
                "problems": problems,
            })
        );
    } else {
        println!("{}: {} nodes, {} usable contacts", args.file.display(), plan.nodes().len(), plan.contacts().len());
        if let Some((start, end)) = span {
            println!("span: {start} s .. {end} s");
        }
        if let Some(reference) = plan.reference() {
            println!("reference time: {reference}");
        }
        println!("problems: {}", problems.len());
        for p in &problems {
            println!("  {p}");
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{} problem(s) in {}", problems.len(), args.file.display())) }
}
