//! `dtn route` and `dtn plan check` on the shared scenario plans.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn dtn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtn")).args(args).output().expect("dtn runs")
}

fn scenario(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/scenarios");
    assert!(dir.is_dir(), "shared scenarios not found at {}: lay shared/ beside the repository", dir.display());
    dir.join(name).display().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn route_prints_earliest_arrival_hops_and_route() {
    let out = dtn(&[
        "route",
        "--plan",
        &scenario("small.ionrc"),
        "--from",
        "1001",
        "--to",
        "101",
        "--at",
        "0",
        "--size",
        "100000",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("earliest arrival: 1804.00104889 s, 4 hops"), "{stdout}");
    assert!(stdout.contains("1001 -> 201 -> 102 -> 100 -> 101"), "{stdout}");
}

#[test]
fn route_with_millisecond_light_times_as_json() {
    let out = dtn(&[
        "route",
        "--plan",
        &scenario("medium.ionrc"),
        "--owlt-csv",
        &scenario("medium.csv"),
        "--from",
        "1000",
        "--to",
        "100",
        "--size",
        "100000",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["eat"].as_f64().unwrap() - 0.069044).abs() < 1e-6, "{v}");
    assert_eq!(v["hops"], 5);
}

#[test]
fn route_batch_answers_every_line_from_a_gzipped_plan() {
    let out = dtn(&["route", "--plan", &scenario("large.ionrc.gz"), "--batch", &scenario("bench/large.rand200.tsv")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 200);
    assert!(lines.iter().all(|l| l["src"].is_u64() && (l["eat"].is_f64() || l["eat"].is_null())));
}

#[test]
fn no_route_is_said_plainly() {
    let out =
        dtn(&["route", "--plan", &scenario("small.ionrc"), "--from", "1001", "--to", "100", "--size", "1000000000000"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("no route from 1001 to 100"));
}

#[test]
fn plan_check_reads_every_shared_plan() {
    for (file, contacts) in [
        ("small.ionrc", 152),
        ("small.csv", 152),
        ("medium.ionrc", 13_158),
        ("medium.csv", 13_158),
        ("large.ionrc.gz", 133_028),
        ("large.csv.gz", 133_028),
        ("xlarge.ionrc.gz", 615_240),
        ("xlarge.csv.gz", 615_240),
    ] {
        let out = dtn(&["plan", "check", "--json", &scenario(file)]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["contacts"], contacts, "{file}");
        assert_eq!(v["problems"].as_array().unwrap().len(), 0, "{file}");
        assert_eq!(v["end"], "86400", "{file}");
    }
}

#[test]
fn plan_check_lists_problems_with_lines_and_fails() {
    let path = std::env::temp_dir().join(format!("dtn-plan-check-{}.rc", std::process::id()));
    std::fs::write(
        &path,
        "a range +0 +100 1 2 1\na contact +0 +10 1 2 5\na contact +9 +3 1 2 5\na contact +0 +10 1 2 5\n",
    )
    .unwrap();
    let out = dtn(&["plan", "check", path.to_str().unwrap()]);
    std::fs::write(&path, "a contact +0 +10 one 2 5\n").unwrap();
    let malformed = dtn(&["plan", "check", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("line 3: contact ends before it starts"), "{stdout}");
    assert!(stdout.contains("line 4: duplicate of the contact on line 2"), "{stdout}");
    assert_eq!(malformed.status.code(), Some(1));
    assert!(text(&malformed.stderr).contains("line 1, from-node"), "{}", text(&malformed.stderr));
}

#[test]
fn a_node_the_plan_lacks_is_said_and_fails_and_a_batch_ends_with_a_summary() {
    let out = dtn(&["route", "--plan", &scenario("small.ionrc"), "--from", "1001", "--to", "424242"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("--to 424242") && err.contains("the plan has no node 424242"), "{err}");
    // A batch with one line naming a node the plan lacks: answered as unroutable with the
    // reason, and counted in the summary on stderr (stdout stays JSON lines).
    let dir = std::env::temp_dir().join(format!("dtn-route-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("q.tsv");
    std::fs::write(&batch, "1001 100 0 1000\n1001 424242 0 1000\n").unwrap();
    let out = dtn(&["route", "--plan", &scenario("small.ionrc"), "--batch", batch.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1]["error"].as_str().unwrap().contains("no node 424242"), "{}", lines[1]);
    let summary = text(&out.stderr);
    assert!(
        summary.contains("2 queries:") && summary.contains("1 unroutable") && summary.contains("ms each"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
