//! Loading a contact plan file: ION `.rc`/`.ionrc`, our `.csv` or HDTN `.json`, optionally
//! gzip-compressed (detected by its magic bytes, so `.gz` names are optional).

use std::io::Read;
use std::path::Path;

use clap::ValueEnum;
use dtn_core::routing::parse::csv::OwltColumn;
use dtn_core::routing::parse::{ImportPolicy, LoadedPlan, csv, hdtn, ion};

/// What to do with contacts that parse but make no sense.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Policy {
    /// Stop at the first problem.
    Reject,
    /// Drop the contact and report it.
    Skip,
}

impl From<Policy> for ImportPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Reject => ImportPolicy::Reject,
            Policy::Skip => ImportPolicy::Skip,
        }
    }
}

/// Reads a text file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: bad gzip data: {e}", path.display()))?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes)
        .map_err(|e| format!("{}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

/// The plan format, from the file name without any `.gz`.
fn format_of(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let name = name.strip_suffix(".gz").unwrap_or(name);
    if name.ends_with(".json") {
        "json"
    } else if name.ends_with(".csv") {
        "csv"
    } else {
        "ion"
    }
}

/// Loads a plan file in the format its name says.
pub fn load(path: &Path, policy: ImportPolicy) -> Result<LoadedPlan, String> {
    let text = read_text(path)?;
    let loaded = match format_of(path) {
        "json" => hdtn::parse(&text, policy),
        "csv" => csv::parse(&text, OwltColumn::Max, policy),
        _ => ion::parse(&text, policy),
    };
    loaded.map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads a plan and, if given, replaces its light times with a CSV's millisecond ones.
pub fn load_with_owlt(path: &Path, owlt_csv: Option<&Path>, policy: ImportPolicy) -> Result<LoadedPlan, String> {
    let mut loaded = load(path, policy)?;
    if let Some(csv_path) = owlt_csv {
        let text = read_text(csv_path)?;
        let (plan, matched) = csv::overlay_owlt(&loaded.plan, &text, OwltColumn::Max)
            .map_err(|e| format!("{}: {e}", csv_path.display()))?;
        if matched == 0 {
            return Err(format!("{}: no contact of the plan appears in it", csv_path.display()));
        }
        loaded.plan = plan;
    }
    Ok(loaded)
}
