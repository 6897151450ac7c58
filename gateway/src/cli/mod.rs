//! Command-line parsing and dispatch.

mod app_cmd;
mod bench_cmd;
mod bpsec_cmd;
mod bundle_decode;
mod bundle_encode;
mod bundle_security;
mod cert_cmd;
mod client_config;
mod gateway_cmd;
mod input;
mod plan_cmd;
mod render;
mod route_cmd;
mod status_render;

use clap::{Parser, Subcommand};

/// The DTN stack's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "dtn", version, about = "Delay-tolerant networking tools (Bundle Protocol v7)")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with encoded bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Earliest arrival, hop count and route over a contact plan (CGR / SABR).
    Route(Box<route_cmd::RouteArgs>),
    /// Work with contact plans.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// The ground-station daemon.
    #[command(subcommand)]
    Gateway(GatewayCommand),
    /// Load tests against live gateways.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Send a file as an ADU through a gateway's application bridge.
    Send(Box<app_cmd::SendArgs>),
    /// Receive ADUs for an endpoint from a gateway's application bridge.
    Recv(Box<app_cmd::RecvArgs>),
    /// Round trips through an echo endpoint.
    Ping(Box<app_cmd::PingArgs>),
    /// The gateway's links, contacts and queues (JSON).
    Status(Box<app_cmd::StatusArgs>),
    /// A certificate authority for the mission's nodes (TLS for TCPCLv4 and QUIC).
    #[command(subcommand)]
    Cert(CertCommand),
    /// BPSec key material.
    #[command(subcommand)]
    Bpsec(BpsecCommand),
}

#[derive(Debug, Subcommand)]
enum BpsecCommand {
    /// Write a fresh symmetric key as a JWK file (mode 0600) for `[bpsec] keys`.
    Key(bpsec_cmd::KeyArgs),
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Create a CA: PREFIX.pem and PREFIX.key.
    Ca(cert_cmd::CaArgs),
    /// Issue a certificate naming a node ID, signed by the CA.
    Issue(cert_cmd::IssueArgs),
}

#[derive(Debug, Subcommand)]
enum GatewayCommand {
    /// Run the gateway (SIGHUP reloads the contact plan, SIGTERM stops it gracefully).
    Run(gateway_cmd::ConfigArgs),
    /// Check a configuration file (with its plans and TLS material) without starting.
    CheckConfig(gateway_cmd::ConfigArgs),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Push bundles through a gateway chain over TCPCLv4; report bundles/s, Gbit/s, latency.
    Tcpcl(Box<bench_cmd::TcpclArgs>),
    /// Submit ADUs through a gateway's application bridge (QUIC) as fast as it stores them.
    App(Box<bench_cmd::AppArgs>),
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Load a plan and print its node and contact counts, time span and every problem.
    Check(plan_cmd::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Decode and validate a bundle (hex or binary, from a file, stdin or --hex).
    Decode(bundle_decode::DecodeArgs),
    /// Build a bundle from flags and a payload.
    Encode(Box<bundle_encode::EncodeArgs>),
    /// Add a BIB (BIB-HMAC-SHA2) with a key from a JWK file.
    Sign(Box<bundle_security::SignArgs>),
    /// Check the BIBs with candidate keys (non-zero exit and the reason when one fails).
    Verify(Box<bundle_security::OpenArgs>),
    /// Add a BCB (BCB-AES-GCM) with a key from a JWK file.
    Encrypt(Box<bundle_security::EncryptArgs>),
    /// Decrypt and remove the BCBs with candidate keys.
    Decrypt(Box<bundle_security::OpenArgs>),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Bundle(BundleCommand::Decode(args)) => bundle_decode::run(&args),
        Command::Bundle(BundleCommand::Encode(args)) => bundle_encode::run(&args),
        Command::Bundle(BundleCommand::Sign(args)) => bundle_security::sign_cmd(&args),
        Command::Bundle(BundleCommand::Verify(args)) => bundle_security::verify_cmd(&args),
        Command::Bundle(BundleCommand::Encrypt(args)) => bundle_security::encrypt_cmd(&args),
        Command::Bundle(BundleCommand::Decrypt(args)) => bundle_security::decrypt_cmd(&args),
        Command::Route(args) => route_cmd::run(&args),
        Command::Plan(PlanCommand::Check(args)) => plan_cmd::run(&args),
        Command::Gateway(GatewayCommand::Run(args)) => gateway_cmd::run(&args),
        Command::Gateway(GatewayCommand::CheckConfig(args)) => gateway_cmd::check(&args),
        Command::Bench(BenchCommand::Tcpcl(args)) => bench_cmd::tcpcl(&args),
        Command::Bench(BenchCommand::App(args)) => bench_cmd::app(&args),
        Command::Send(args) => app_cmd::send(&args),
        Command::Recv(args) => app_cmd::recv(&args),
        Command::Ping(args) => app_cmd::ping(&args),
        Command::Status(args) => app_cmd::status(&args),
        Command::Cert(CertCommand::Ca(args)) => cert_cmd::ca(&args),
        Command::Cert(CertCommand::Issue(args)) => cert_cmd::issue(&args),
        Command::Bpsec(BpsecCommand::Key(args)) => bpsec_cmd::key(&args),
    }
}
