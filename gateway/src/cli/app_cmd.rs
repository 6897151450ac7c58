//! `dtn send | recv | ping | status`: a ground application's tools over the gateway's
//! application bridge (QUIC, mutual TLS; docs/app-protocol.md).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::client_config::Connection;
use bytes::Bytes;
use clap::Args;
use gateway::app::client::{AppClient, Outgoing};

/// The tools' runtime: two workers (the client's QUIC endpoint and its streams).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())
}

/// `dtn send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The file to send (`-`: standard input).
    file: PathBuf,
    /// Destination endpoint.
    #[arg(long)]
    to: String,
    /// Source endpoint (default: the first one the certificate names).
    #[arg(long)]
    from: Option<String>,
    /// Lifetime, seconds.
    #[arg(long, default_value_t = 86_400)]
    lifetime: u64,
    /// After a lost connection, try again for this long, seconds (the retry is the same ADU:
    /// the gateway never stores it twice).
    #[arg(long, default_value_t = 60)]
    retry_for: u64,
    /// Ask the gateway's BPSec policy to sign the ADU (a BIB over the payload); refused if
    /// no source rule of its policy can.
    #[arg(long)]
    sign: bool,
    /// Ask the gateway's BPSec policy to encrypt the ADU (a BCB over the payload).
    #[arg(long)]
    encrypt: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Sends one file as one ADU; prints the bundle's identity and the throughput.
pub fn send(args: &SendArgs) -> Result<(), String> {
    let mut payload = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut payload).map_err(|e| e.to_string())?;
    } else {
        payload = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    }
    let from = match &args.from {
        Some(f) => f.clone(),
        None => args.connection.own_endpoint()?,
    };
    let (gateway, tls) = (args.connection.gateway()?, args.connection.tls()?);
    let runtime = runtime()?;
    let len = payload.len();
    let payload = Bytes::from(payload);
    let adu = Outgoing {
        lifetime_ms: args.lifetime.saturating_mul(1000),
        protection: dtn_core::bpsec::Protection { integrity: args.sign, confidentiality: args.encrypt },
        ..Outgoing::new(&from, &args.to)
    };
    let started = Instant::now();
    // A progress bar on a terminal; nothing in a pipe.
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = |sent: u64| {
        if tty {
            let pct = if len == 0 { 100 } else { sent * 100 / len as u64 };
            let filled = (pct / 4) as usize;
            eprint!("\r[{}{}] {pct:>3}% {sent}/{len} bytes", "#".repeat(filled), " ".repeat(25 - filled.min(25)));
        }
    };
    let give_up = started + Duration::from_secs(args.retry_for);
    let mut wait = Duration::from_millis(250);
    let mut reached = false;
    let done = loop {
        let attempt = runtime.block_on(async {
            let client = AppClient::connect(gateway, &tls).await?;
            reached = true;
            let done = client.submit_with_progress(&adu, payload.clone(), bar).await;
            client.close();
            done
        });
        match attempt {
            Ok(done) => break done,
            // A refusal is an answer, not a lost connection, and a gateway that never answered
            // will not appear by retrying: `--retry-for` covers connections that dropped.
            Err(e) if e.starts_with(gateway::app::client::NO_GATEWAY) && !reached => return Err(e),
            Err(e) if !e.starts_with("the gateway refused") && Instant::now() + wait < give_up => {
                eprintln!("\n{e}: trying again in {:.1} s", wait.as_secs_f64());
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    };
    if tty {
        eprintln!();
    }
    let took = started.elapsed().as_secs_f64().max(1e-9);
    if done.status != 0 {
        return Err(format!("the gateway did not take it: {}", dtn_core::app::submitted::describe(done.status)));
    }
    println!(
        "sent {len} bytes {from} -> {} as bundle ({}, {}), stored at the gateway in {:.3} s ({:.1} Mbit/s)",
        args.to,
        done.creation.0,
        done.creation.1,
        took,
        len as f64 * 8.0 / took / 1e6
    );
    Ok(())
}

/// `dtn recv`.
#[derive(Debug, Args)]
pub struct RecvArgs {
    /// The endpoint to receive for (default: the first one the certificate names).
    #[arg(long)]
    endpoint: Option<String>,
    /// Write each ADU to a file in this directory (named by source and creation timestamp)
    /// instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop after this many.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

/// Receives deliveries: each is stored (file synced, or written to stdout) before it is
/// acknowledged; a repeat of one already stored is acknowledged and not written again.
pub fn recv(args: &RecvArgs) -> Result<(), String> {
    let endpoint = match &args.endpoint {
        Some(e) => e.clone(),
        None => args.connection.own_endpoint()?,
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let runtime = runtime()?;
    let client = args.connection.open(&runtime)?;
    runtime.block_on(async {
        client.register(&endpoint).await?;
        eprintln!("receiving for {endpoint}");
        let mut got = 0u64;
        while args.count.is_none_or(|n| got < n) {
            let Some(d) = client.next_delivery(1 << 30).await else {
                return Err("the gateway closed the connection".into());
            };
            match &args.out {
                Some(dir) => {
                    let name: String = format!("{}_{}_{}.adu", d.source, d.creation.0, d.creation.1)
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
                        .collect();
                    let path = dir.join(&name);
                    if !path.exists() {
                        let tmp = dir.join(format!(".{name}.part"));
                        let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
                        f.write_all(&d.payload).and_then(|()| f.sync_all()).map_err(|e| e.to_string())?;
                        std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
                        println!("{} ({} bytes from {})", path.display(), d.payload.len(), d.source);
                    }
                }
                None => {
                    let mut out = std::io::stdout();
                    out.write_all(&d.payload).and_then(|()| out.flush()).map_err(|e| e.to_string())?;
                }
            }
            d.acknowledge().await?;
            got += 1;
        }
        Ok::<(), String>(())
    })?;
    client.close();
    Ok(())
}

/// `dtn ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// The echo endpoint to ping (a gateway's `deliver = "echo"` endpoint, e.g. ipn:2.7).
    target: String,
    /// This client's endpoint the echoes come back to (default: the certificate's first).
    #[arg(long)]
    from: Option<String>,
    /// Pings.
    #[arg(long, default_value_t = 5)]
    count: u64,
    #[command(flatten)]
    connection: Connection,
}

/// Round trips through the network's echo service.
pub fn ping(args: &PingArgs) -> Result<(), String> {
    let from = match &args.from {
        Some(f) => f.clone(),
        None => args.connection.own_endpoint()?,
    };
    let runtime = runtime()?;
    let client = args.connection.open(&runtime)?;
    runtime.block_on(async {
        client.register(&from).await?;
        let mut rtts = Vec::new();
        for i in 0..args.count {
            let payload = Bytes::from(format!("ping {i} {}", std::process::id()));
            let started = Instant::now();
            let adu = Outgoing { lifetime_ms: 60_000, ..Outgoing::new(&from, &args.target) };
            let done = client.submit(&adu, payload.clone()).await?;
            if done.status != 0 {
                return Err(dtn_core::app::submitted::describe(done.status));
            }
            loop {
                let waiting = tokio::time::timeout(Duration::from_secs(30), client.next_delivery(1 << 20));
                let Ok(Some(d)) = waiting.await else { return Err(format!("no echo for ping {i} within 30 s")) };
                let mine = d.payload == payload;
                d.acknowledge().await?;
                if mine {
                    break;
                }
            }
            let rtt = started.elapsed();
            println!("echo from {}: seq {i} time {:.3} ms", args.target, rtt.as_secs_f64() * 1000.0);
            rtts.push(rtt.as_secs_f64() * 1000.0);
        }
        let min = rtts.iter().copied().fold(f64::MAX, f64::min);
        let max = rtts.iter().copied().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / rtts.len().max(1) as f64;
        println!("{} pings: min {min:.3} / avg {avg:.3} / max {max:.3} ms", rtts.len());
        Ok::<(), String>(())
    })?;
    client.close();
    Ok(())
}

/// `dtn status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the gateway's whole `/node` JSON (every held bundle too) instead of the report.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Prints the gateway's state: links, contacts, queues, store and counters.
pub fn status(args: &StatusArgs) -> Result<(), String> {
    let runtime = runtime()?;
    let client = args.connection.open(&runtime)?;
    let json = runtime.block_on(client.status())?;
    client.close();
    if args.json {
        println!("{json}");
    } else {
        print!("{}", super::status_render::render(&json, dtn_core::time::DtnTime::now().0)?);
    }
    Ok(())
}
