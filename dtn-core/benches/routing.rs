//! Routing benchmarks on `../shared/scenarios` (see BENCHMARKS.md for the targets).
//!
//! - `cold/{medium,large,xlarge}`: the `rand200` queries, 100 kB bundles, a fresh search state
//!   per query, plan load excluded. Criterion times the whole batch; per-query median and p99
//!   are printed before the criterion run.
//! - `streaming/large`: `large.rand10000` in time order through one `CgrRouter`, volume
//!   booked, route caching on.
//! - `unroutable/{large,xlarge}`: the reference queries with no route (1 TB bundles, a query
//!   past the last contact).
//! - `load/xlarge`: gunzip, parse and index the 615 k-contact plan.
//!
//! Run: `cargo bench -p dtn-core --bench routing`

// Benchmark code: a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dtn_core::routing::ContactPlan;
use dtn_core::routing::PlanTime;
use dtn_core::routing::parse::{ImportPolicy, ion};
use dtn_core::routing::search::{EmptyNetwork, RouteQuery, Scratch, search_with};
use dtn_core::routing::{CgrRouter, Priority, RouteRequest, Router};

fn scenario_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/scenarios").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (lay shared/ beside the repository)", path.display()))
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

fn plan(scenario: &str) -> ContactPlan {
    let text = match scenario {
        "large" | "xlarge" => gunzip(&scenario_file(&format!("{scenario}.ionrc.gz"))),
        _ => String::from_utf8(scenario_file(&format!("{scenario}.ionrc"))).unwrap(),
    };
    ion::parse(&text, ImportPolicy::Reject).unwrap().plan
}

fn queries(file: &str) -> Vec<RouteQuery> {
    String::from_utf8(scenario_file(&format!("bench/{file}")))
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let start = dtn_core::routing::time::parse_decimal(f[2], 1_000_000_000).unwrap();
            RouteQuery::new(f[0].parse().unwrap(), f[1].parse().unwrap(), PlanTime(start), f[3].parse().unwrap())
        })
        .collect()
}

fn percentiles(plan: &ContactPlan, queries: &[RouteQuery]) -> (Duration, Duration, usize) {
    let mut times: Vec<Duration> = queries
        .iter()
        .map(|q| {
            (0..5)
                .map(|_| {
                    let started = Instant::now();
                    black_box(search_with(plan, q, &EmptyNetwork, &mut Scratch::default()));
                    started.elapsed()
                })
                .min()
                .unwrap()
        })
        .collect();
    times.sort();
    let routed =
        queries.iter().filter(|q| search_with(plan, q, &EmptyNetwork, &mut Scratch::default()).is_some()).count();
    (times[times.len() / 2], times[times.len() * 99 / 100], routed)
}

fn cold(c: &mut Criterion) {
    let mut group = c.benchmark_group("cold");
    for (scenario, file) in
        [("medium", "medium.rand200.tsv"), ("large", "large.rand200.tsv"), ("xlarge", "xlarge.rand200.tsv")]
    {
        let plan = plan(scenario);
        let queries = queries(file);
        let (median, p99, routed) = percentiles(&plan, &queries);
        println!(
            "cold/{scenario}: {} queries ({routed} routed), per query median {median:?}, p99 {p99:?}",
            queries.len()
        );
        group.bench_function(scenario, |b| {
            b.iter(|| {
                for q in &queries {
                    black_box(search_with(&plan, q, &EmptyNetwork, &mut Scratch::default()));
                }
            })
        });
    }
    group.finish();
}

/// `large.rand10000` in time order through one router: volume booked per bundle, route lists
/// cached per (source, destination).
fn streaming(c: &mut Criterion) {
    let plan = plan("large");
    let queries = queries("large.rand10000.tsv");
    let requests: Vec<RouteRequest> = queries
        .iter()
        .map(|q| RouteRequest {
            avoid: Vec::new(),
            local: q.source,
            destination: q.destination,
            now: q.start,
            size: q.size,
            priority: Priority::Normal,
            expiry: PlanTime::NEVER,
            previous_hop: None,
        })
        .collect();
    let mut router = CgrRouter::new(plan.clone());
    let started = Instant::now();
    let routed = requests.iter().filter(|r| router.route(r).is_ok()).count();
    println!("streaming/large: {} bundles, {routed} routed, {:?} in one pass", requests.len(), started.elapsed());
    let mut group = c.benchmark_group("streaming");
    group.sample_size(10);
    group.bench_function("large", |b| {
        b.iter_batched(
            || CgrRouter::new(plan.clone()),
            |mut router| requests.iter().filter(|r| router.route(r).is_ok()).count(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn unroutable(c: &mut Criterion) {
    let mut group = c.benchmark_group("unroutable");
    for scenario in ["large", "xlarge"] {
        let plan = plan(scenario);
        let cases = [
            ("1TB", RouteQuery::new(3005, 100, PlanTime::from_secs(0), 1_000_000_000_000)),
            ("after-horizon", RouteQuery::new(100, 3611, PlanTime::from_secs(86_399), 100_000)),
        ];
        for (name, q) in cases {
            assert!(
                search_with(&plan, &q, &EmptyNetwork, &mut Scratch::default()).is_none(),
                "{scenario} {name} routes"
            );
            group.bench_function(format!("{scenario}/{name}"), |b| {
                b.iter(|| black_box(search_with(&plan, &q, &EmptyNetwork, &mut Scratch::default())))
            });
        }
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let compressed = scenario_file("xlarge.ionrc.gz");
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("xlarge", |b| {
        b.iter(|| {
            let text = gunzip(&compressed);
            black_box(ion::parse(&text, ImportPolicy::Reject).unwrap().plan.contacts().len())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1)).sample_size(10);
    targets = cold, streaming, unroutable, load
}
criterion_main!(benches);
