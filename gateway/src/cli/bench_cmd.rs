//! `dtn bench tcpcl`: pushes bundles through a live gateway chain.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use dtn_core::eid::Eid;
use gateway::app::client::Outgoing;
use gateway::loadgen::{self, LoadSpec};
use gateway::tcpcl::{NodeIdPolicy, TlsSetup};

/// Load-test options.
#[derive(Debug, Args)]
pub struct TcpclArgs {
    /// The first gateway's TCPCL address.
    #[arg(long)]
    to: SocketAddr,
    /// The last gateway's TCPCL address, to receive on (default: back through `--to`).
    #[arg(long)]
    back: Option<SocketAddr>,
    /// Payload bytes per bundle (at least 8).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Bundles to send.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Most bundles out at once (1: one at a time, for round-trip times).
    #[arg(long, default_value_t = 100_000)]
    window: u64,
    /// This tool's node number.
    #[arg(long, default_value_t = 4_000_000)]
    node: u64,
    /// Destination endpoint (default `ipn:<node>.1`: back to this tool).
    #[arg(long)]
    dest: Option<Eid>,
    /// Use TLS (needs --cert, --key, --ca).
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain naming `ipn:<node>.0`.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long)]
    key: Option<PathBuf>,
    /// PEM trust anchors.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Seconds to wait for stragglers.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Do not wait for bundles to come back: count the first gateway's acknowledgements
    /// (ingest rate, or sending into a network that does not route back here).
    #[arg(long)]
    no_return: bool,
    /// Hand bundles to the first gateway with custody and measure how fast it accepts
    /// custody (it commits each bundle to its store first).
    #[arg(long, conflicts_with_all = ["back", "no_return"])]
    custody: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the load test.
pub fn tcpcl(args: &TcpclArgs) -> Result<(), String> {
    let tls = if args.tls {
        let (Some(cert), Some(key), Some(ca)) = (&args.cert, &args.key, &args.ca) else {
            return Err("--tls needs --cert, --key and --ca".into());
        };
        Some(TlsSetup::from_pem_files(cert, key, ca, NodeIdPolicy::Require)?)
    } else {
        None
    };
    let spec = LoadSpec {
        to: args.to,
        back: args.back,
        node: args.node,
        destination: args.dest.clone(),
        size: args.size,
        count: args.count,
        window: args.window,
        tls,
        timeout: Duration::from_secs(args.timeout),
        expect_return: !args.no_return,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let custody = args.custody;
    let report = runtime
        .block_on(async move { if custody { loadgen::custody::run(spec).await } else { loadgen::run(spec).await } })?;
    if args.json {
        println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    } else {
        println!("{report}");
    }
    if report.received < report.sent {
        let what = if custody { "were not accepted into custody" } else { "did not come back" };
        return Err(format!("{} bundle(s) {what}", report.sent - report.received));
    }
    Ok(())
}

/// Ingest through the application bridge.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    /// ADU size, bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// ADUs.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Submissions open at once.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// ADUs per QUIC stream (each with its length; 1: the ADU runs to the stream's end).
    #[arg(long, default_value_t = 1)]
    per_stream: usize,
    /// Destination endpoint (default: one the gateway holds, ipn:9.1).
    #[arg(long, default_value = "ipn:9.1")]
    dest: String,
    /// Source endpoint (default: the first the certificate names).
    #[arg(long)]
    from: Option<String>,
    #[command(flatten)]
    connection: super::client_config::Connection,
}

/// Submits ADUs as fast as the gateway stores them; reports ADUs/s, Gbit/s and the
/// submit-to-stored latency.
pub fn app(args: &AppArgs) -> Result<(), String> {
    let from = match &args.from {
        Some(f) => f.clone(),
        None => args.connection.own_endpoint()?,
    };
    let runtime = super::app_cmd::runtime()?;
    let client = std::sync::Arc::new(args.connection.open(&runtime)?);
    let payload = bytes::Bytes::from(vec![0x5a; args.size]);
    let per_stream = args.per_stream.max(1);
    let (count, dest) = (args.count, args.dest.clone());
    let streams = (args.window / per_stream).max(1);
    let (latencies, took) = runtime.block_on(async move {
        let started = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        let mut latencies = Vec::with_capacity(count as usize);
        let mut left = count;
        while left > 0 {
            if set.len() >= streams
                && let Some(Ok(r)) = set.join_next().await
            {
                latencies.extend(r?);
            }
            let n = left.min(per_stream as u64);
            left -= n;
            let adu = Outgoing { lifetime_ms: 3_600_000, ..Outgoing::new(&from, &dest) };
            let batch: Vec<(Outgoing, bytes::Bytes)> = (0..n)
                .map(|_| {
                    (Outgoing { reference: gateway::app::client::fresh_reference(), ..adu.clone() }, payload.clone())
                })
                .collect();
            let client = client.clone();
            set.spawn(async move {
                let t = std::time::Instant::now();
                let answers = if batch.len() == 1 {
                    vec![client.submit(&batch[0].0, batch[0].1.clone()).await?]
                } else {
                    client.submit_batch(&batch).await?
                };
                if let Some(refused) = answers.iter().find(|a| a.status != 0) {
                    return Err(dtn_core::app::submitted::describe(refused.status));
                }
                Ok::<Vec<u64>, String>(vec![t.elapsed().as_micros() as u64; answers.len()])
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                latencies.extend(r?);
            }
        }
        client.close();
        Ok::<_, String>((latencies, started.elapsed().as_secs_f64()))
    })?;
    let mut l = latencies;
    l.sort_unstable();
    let pct = |p: f64| l.get(((l.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(0);
    println!(
        "{} ADUs of {} B stored in {:.3} s: {:.0} ADUs/s, {:.3} Gbit/s; submit-to-stored p50 {} µs, p99 {} µs",
        l.len(),
        args.size,
        took,
        l.len() as f64 / took,
        l.len() as f64 * args.size as f64 * 8.0 / took / 1e9,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
