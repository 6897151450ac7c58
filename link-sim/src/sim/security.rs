//! `[run] bpsec = true`: every node runs a BPSec policy, so the sweep covers security with
//! custody, fragmentation and reboots. Each node signs every administrative record it sends
//! (custody signals, BIBE PDUs, status reports) and accepts those addressed to it only with
//! a valid signature; it encrypts the payload of every bundle it creates (a fresh key per
//! bundle, wrapped) and decrypts those for its endpoints — so payloads cross every relay as
//! ciphertext, the compute cluster's results to the operations centre included. One network
//! key per service; each node's randomness is seeded from the run's seed, so runs repeat (and a
//! rebooted node draws the same IVs again: fine in a simulation, never on a real node, which
//! the gateway seeds from the OS at every start).

use dtn_core::bpsec::bcb_aes_gcm::AesVariant;
use dtn_core::bpsec::hmac_sha2::ShaVariant;
use dtn_core::bpsec::{BundleKind, Context, OnFailure, Policy, Role, Rule, Service};
use dtn_core::eid::EidPattern;
use dtn_core::routing::NodeId;

fn pattern(s: &str) -> EidPattern {
    // The patterns below are well formed for every node number.
    s.parse().unwrap_or_else(|_| EidPattern::any())
}

fn rule(name: &str, role: Role, service: Service, source: &str, destination: &str, bundles: BundleKind) -> Rule {
    let (context, key) = match service {
        Service::Integrity => (Context::HmacSha2 { variant: ShaVariant::Sha256, scope: 7 }, "admin"),
        Service::Confidentiality => (Context::AesGcm { variant: AesVariant::A128, scope: 7 }, "payload"),
    };
    Rule {
        name: name.into(),
        role,
        service,
        source: pattern(source),
        destination: pattern(destination),
        bundles,
        block_types: vec![1],
        security_source: None,
        context,
        keys: vec![key.into()],
        wrap: service == Service::Confidentiality,
        on_request: false,
        on_failure: OnFailure::Drop,
    }
}

/// The policy of `node`.
pub fn policy(node: NodeId) -> Policy {
    let me = format!("ipn:{node}.*");
    let admin = format!("ipn:{node}.0");
    let mut p = Policy {
        rules: vec![
            rule("sign admin records", Role::Source, Service::Integrity, &admin, "*:**", BundleKind::Admin),
            rule("signed admin records only", Role::Acceptor, Service::Integrity, "*:**", &admin, BundleKind::Admin),
            rule("encrypt payloads", Role::Source, Service::Confidentiality, &me, "*:**", BundleKind::Data),
            rule("decrypt payloads", Role::Acceptor, Service::Confidentiality, "*:**", &me, BundleKind::Data),
        ],
        ..Policy::default()
    };
    p.keys.insert("admin", vec![0x5a; 32]);
    p.keys.insert("payload", vec![0x3c; 16]);
    p
}

/// The node's BPSec seed, from the run's.
pub fn seed(run_seed: u64, node: NodeId) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&run_seed.to_be_bytes());
    out[8..16].copy_from_slice(&node.to_be_bytes());
    out
}
