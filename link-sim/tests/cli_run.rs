//! `link-sim run` on the repository's small scenario, as the README runs it: a summary, a
//! report and the four plots.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn run_writes_report_and_plots() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("link-sim-cli-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_link-sim"))
        .current_dir(&root)
        .args(["run", "examples/small.toml", "--seed", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("0 silently lost"), "{stdout}");
    assert!(stdout.contains("trace hash: "), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["seed"], 2);
    assert!(report["bundles"]["delivered"].as_u64().unwrap() > 0);
    for plot in ["latency.svg", "contacts.svg", "utilisation.svg", "custody.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"), "{plot}");
        assert!(!svg.contains("no data"), "{plot} is empty");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn missing_scenario_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_link-sim")).args(["run", "no/such.toml"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no/such.toml"), "{stderr}");
}
