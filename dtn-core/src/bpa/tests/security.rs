//! BPSec policy in the agent: authenticated custody signals (a forged one releases nothing),
//! and payloads encrypted at the source and opened at the destination only.

use alloc::string::ToString;

use super::*;
use crate::admin::{CustodySignal, Disposition};
use crate::bpsec::bcb_aes_gcm::AesVariant;
use crate::bpsec::hmac_sha2::ShaVariant;
use crate::bpsec::{
    BundleKind, Context, Failure, KeyMaterial, OnFailure, Placement, Policy, Role, Rule, Service, Sign,
};
use crate::custody::CustodyConfig;
use crate::eid::EidPattern;

const PEER_KEY: [u8; 32] = [0x42; 32];

fn pattern(s: &str) -> EidPattern {
    s.parse().unwrap()
}

fn rule(role: Role, service: Service, source: &str, destination: &str, bundles: BundleKind) -> Rule {
    Rule {
        name: "test".to_string(),
        role,
        service,
        source: pattern(source),
        destination: pattern(destination),
        bundles,
        block_types: vec![1],
        security_source: None,
        context: match service {
            Service::Integrity => Context::HmacSha2 { variant: ShaVariant::Sha384, scope: 7 },
            Service::Confidentiality => Context::AesGcm { variant: AesVariant::A256, scope: 7 },
        },
        keys: vec!["k".to_string()],
        wrap: true,
        on_request: false,
        on_failure: OnFailure::Drop,
    }
}

fn policy(rules: Vec<Rule>) -> Policy {
    let mut p = Policy { rules, ..Policy::default() };
    p.keys.insert("k", PEER_KEY.to_vec());
    p
}

/// Node 1 holds custody of bundles for node 2 (its custodial peer); node 3 is another
/// neighbour of node 1. Node 2 signs every administrative record it sends; node 1 accepts
/// records from node 2 only with that signature.
fn custody_net() -> Net {
    let mut a = agent(1, &[(2, 2), (3, 3)]);
    a.config.custody = Some(CustodyConfig::with_peers([2]));
    let mut signed = rule(Role::Acceptor, Service::Integrity, "ipn:2.*", "ipn:1.0", BundleKind::Admin);
    signed.security_source = Some(pattern("ipn:2.0"));
    a.config.security = Some(policy(vec![signed]));
    let mut b = agent(2, &[(1, 1)]);
    b.config.security =
        Some(policy(vec![rule(Role::Source, Service::Integrity, "ipn:2.0", "*:**", BundleKind::Admin)]));
    let c = agent(3, &[(1, 1)]);
    let mut net = Net::new(vec![a, b, c]);
    net.connect(0, 1, T0);
    net.connect(0, 2, T0);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net
}

fn forged_signal(key: Option<&[u8]>) -> Bytes {
    let record = AdminRecord::CustodySignal(CustodySignal {
        disposition: Disposition::Accepted,
        ranges: vec![(1, u64::MAX - 1)],
    });
    let bundle = BundleBuilder::new(Eid::ipn(2, 0), Eid::ipn(1, 0))
        .creation(CreationTimestamp::new(T0, 99))
        .flags(BundleFlags::ADMIN_RECORD)
        .payload(Bytes::from(record.encode()))
        .build()
        .unwrap();
    let Some(key) = key else { return bundle.to_bytes() };
    let op = Sign {
        targets: &[1],
        source: Eid::ipn(2, 0),
        variant: ShaVariant::Sha384,
        scope: 7,
        key: KeyMaterial::Direct(key),
        placement: Placement::default(),
    };
    crate::bpsec::sign(&crate::bpsec::RustCrypto, &bundle, &op).unwrap().to_bytes()
}

#[test]
fn a_forged_accepted_signal_from_another_link_releases_nothing() {
    let mut net = custody_net();
    // The BIBE PDUs leave and are lost: every transfer stays pending at node 1.
    net.lossy.push((0, 1));
    for token in 1..=5 {
        net.agents[0].handle(submit(token, Eid::ipn(2, 1), b"model shard"), T0).unwrap();
    }
    net.run(T0);
    assert_eq!(held(&net, 0), 5);
    // Node 3 claims to be node 2 and accepts every transmission ID there is: unsigned, then
    // signed with a key that is not node 2's.
    for key in [None, Some([0x13u8; 32].as_slice())] {
        net.agents[0].handle(Event::Received { link: LinkId(2), bytes: forged_signal(key) }, T0).unwrap();
        net.run(T0);
        assert_eq!(held(&net, 0), 5, "a forged signal released custody");
    }
    let failures = net.agents[0].security_failures();
    assert_eq!(failures[0], (Failure::Missing, 1), "{failures:?}");
    assert_eq!(failures[3], (Failure::Failed, 1), "{failures:?}");
    // Node 2's own, signed signals still release them once the link delivers.
    net.lossy.clear();
    net.tick(T0.saturating_add_millis(4_000));
    assert_eq!(net.delivered.len(), 5);
    assert_eq!(held(&net, 0), 0, "node 2's signed signals release custody");
    assert_eq!(net.agents[0].security_failures()[3].1, 1, "no failure from the genuine signals");
}

#[test]
fn a_payload_is_encrypted_at_the_source_and_opened_only_at_the_destination() {
    let mut a = agent(1, &[(2, 2)]);
    a.config.security =
        Some(policy(vec![rule(Role::Source, Service::Confidentiality, "ipn:1.*", "ipn:2.*", BundleKind::Data)]));
    a.config.security_seed = [7; 32];
    let mut b = agent(2, &[(1, 1)]);
    let mut accept = rule(Role::Acceptor, Service::Confidentiality, "ipn:1.*", "ipn:2.*", BundleKind::Data);
    accept.on_failure = OnFailure::DropWithReport;
    b.config.security = Some(policy(vec![accept]));
    let mut net = Net::new(vec![a, b]);
    net.connect(0, 1, T0);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"weights: 0.12 0.98 0.33"), T0).unwrap();
    // On the wire the payload is ciphertext.
    let actions: Vec<Action> = core::iter::from_fn(|| net.agents[0].poll_action()).collect();
    let Some(Action::Transmit { link, bundle, bytes }) =
        actions.into_iter().find(|a| matches!(a, Action::Transmit { .. }))
    else {
        panic!("no transmit")
    };
    assert!(!bytes.windows(7).any(|w| w == b"weights"), "plaintext on the link");
    net.agents[0].handle(Event::Transmitted { link, bundle, ok: true }, T0).unwrap();
    net.agents[1].handle(Event::Received { link: LinkId(0), bytes: bytes.clone() }, T0).unwrap();
    net.run(T0);
    assert_eq!(net.delivered.len(), 1);
    assert_eq!(net.delivered[0].1.payload.as_ref(), b"weights: 0.12 0.98 0.33");

    // The same bundle with its ciphertext changed is deleted at the destination, reason 15.
    let received = crate::bundle::Bundle::parse(bytes, crate::parse_mode::ParseMode::Strict).unwrap();
    let mut editor = received.edit();
    let mut data = received.payload().to_vec();
    data[0] ^= 1;
    editor.set_block_data(1, Bytes::from(data), crate::crc::CrcType::None);
    let mut tampered = editor.build().unwrap().edit();
    tampered.set_bundle_age_ms(1);
    let mut c = agent(2, &[(1, 1)]);
    let mut accept = rule(Role::Acceptor, Service::Confidentiality, "ipn:1.*", "ipn:2.*", BundleKind::Data);
    accept.on_failure = OnFailure::DropWithReport;
    c.config.security = Some(policy(vec![accept]));
    c.handle(register(Eid::ipn(2, 1)), T0).unwrap();
    c.handle(Event::Received { link: LinkId(0), bytes: tampered.build().unwrap().to_bytes() }, T0).unwrap();
    let actions: Vec<Action> = core::iter::from_fn(|| c.poll_action()).collect();
    assert!(actions.iter().all(|a| !matches!(a, Action::Deliver(_))));
    assert!(
        actions.iter().any(|a| matches!(a, Action::Deleted { reason: ReasonCode::FailedSecurityOperation, .. })),
        "{actions:?}"
    );
}

#[test]
#[cfg(feature = "std")]
fn a_bib_and_a_bcb_over_a_hundred_thousand_blocks_take_linear_time() {
    use crate::bpsec::{Encrypt, RustCrypto, encrypt, sign};
    let mut builder = bundle_to(Eid::ipn(2, 1)).payload(&b"many targets"[..]);
    for i in 0..100_000u64 {
        builder = builder.numbered_block(200, i + 2, BlockFlags::default(), crate::crc::CrcType::Crc32c, vec![1]);
    }
    let plain = builder.build().unwrap();
    let targets: Vec<u64> = (1..=100_001).collect();
    let started = std::time::Instant::now();
    let session = [0x11u8; 32];
    let op = Sign {
        targets: &targets,
        source: Eid::ipn(5, 0),
        variant: ShaVariant::Sha256,
        scope: 7,
        key: KeyMaterial::Wrapped { kek: &PEER_KEY, session: &session },
        placement: Placement::default(),
    };
    let signed = sign(&RustCrypto, &plain, &op).unwrap();
    let op = Encrypt {
        targets: &targets,
        source: Eid::ipn(5, 0),
        variant: AesVariant::A256,
        scope: 7,
        iv: &[3; 12],
        key: KeyMaterial::Wrapped { kek: &PEER_KEY, session: &session },
        placement: Placement::default(),
    };
    let secured = encrypt(&RustCrypto, &signed, &op).unwrap();
    let made = started.elapsed();
    let mut b = agent(2, &[]);
    b.store = MemoryStore::new(64 << 20);
    let mut rules = Vec::new();
    for service in [Service::Confidentiality, Service::Integrity] {
        let mut r = rule(Role::Acceptor, service, "ipn:5.*", "ipn:2.*", BundleKind::Data);
        r.block_types = vec![1, 200];
        rules.push(r);
    }
    b.config.security = Some(policy(rules));
    let mut net = Net::new(vec![b]);
    net.agents[0].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    let started = std::time::Instant::now();
    received(&mut net, 0, &secured);
    let took = started.elapsed();
    assert_eq!(net.delivered.len(), 1, "{:?}", net.other);
    assert_eq!(net.delivered[0].1.payload.as_ref(), b"many targets");
    assert_eq!(net.agents[0].security_failures().iter().map(|f| f.1).sum::<u64>(), 0);
    // A lookup per target through the block list took targets × blocks = 10^10 steps.
    assert!(made < std::time::Duration::from_secs(5), "signing and encrypting took {made:?}");
    assert!(took < std::time::Duration::from_secs(5), "accepting took {took:?}");
}

#[test]
fn an_on_request_rule_acts_only_for_an_application_that_asks() {
    let mut a = agent(1, &[(2, 2)]);
    let mut on_request = rule(Role::Source, Service::Confidentiality, "*:**", "ipn:2.*", BundleKind::Data);
    on_request.on_request = true;
    a.config.security = Some(policy(vec![on_request]));
    let wire = |a: &mut Agent| -> Bytes {
        let actions: Vec<Action> = core::iter::from_fn(|| a.poll_action()).collect();
        actions
            .into_iter()
            .find_map(|x| if let Action::Transmit { bytes, .. } = x { Some(bytes) } else { None })
            .expect("a transmission")
    };
    a.handle(Event::LinkUp { link: LinkId(2), peer: 2 }, T0).unwrap();
    let clear = |b: &Bytes| b.windows(6).any(|w| w == b"secret");
    // Not asked, and in transit (nobody asked): plaintext.
    a.handle(submit(1, Eid::ipn(2, 1), b"secret one"), T0).unwrap();
    assert!(clear(&wire(&mut a)));
    let transit = bundle_to(Eid::ipn(2, 1)).payload(&b"secret two"[..]).build().unwrap();
    a.handle(Event::Received { link: LinkId(9), bytes: transit.to_bytes() }, T0).unwrap();
    assert!(clear(&wire(&mut a)));
    // Asked: ciphertext.
    let Event::Submit(s) = submit(3, Eid::ipn(2, 1), b"secret three") else { unreachable!() };
    let asked = crate::bpsec::Protection { integrity: false, confidentiality: true };
    a.handle(Event::Submit(Submission { protection: asked, ..s }), T0).unwrap();
    assert!(!clear(&wire(&mut a)));
    // Integrity asked, which no rule gives: refused with reason 12.
    let Event::Submit(s) = submit(4, Eid::ipn(2, 1), b"secret four") else { unreachable!() };
    let asked = crate::bpsec::Protection { integrity: true, confidentiality: true };
    a.handle(Event::Submit(Submission { protection: asked, ..s }), T0).unwrap();
    let actions: Vec<Action> = core::iter::from_fn(|| a.poll_action()).collect();
    assert!(
        actions.iter().any(|x| matches!(x, Action::Refused { token: 4, reason: ReasonCode::MissingSecurityOperation })),
        "{actions:?}"
    );
}

#[test]
fn a_flight_node_holding_only_the_grounds_public_key_accepts_its_commands_and_no_others() {
    use crate::bpsec::cose::{Alg, CoseKey, GenerateKind, generate};
    let pair = |seed: u8| CoseKey {
        kid: Some(b"ground-2026".to_vec()),
        alg: None,
        kind: generate(GenerateKind::Ed25519, &[seed; 32]).unwrap(),
    };
    let ground_key = pair(1);
    let run = |verifier_key: &CoseKey| {
        let mut a = agent(1, &[(2, 2)]);
        let mut sign = rule(Role::Source, Service::Integrity, "ipn:1.*", "ipn:2.*", BundleKind::Data);
        sign.context = Context::Cose(Alg::Ed25519);
        let mut signing = Policy { rules: vec![sign], ..Policy::default() };
        signing.keys.insert("k", ground_key.encode());
        a.config.security = Some(signing);
        let mut b = agent(2, &[(1, 1)]);
        let mut accept = rule(Role::Acceptor, Service::Integrity, "ipn:1.*", "ipn:2.*", BundleKind::Data);
        accept.context = Context::Cose(Alg::Ed25519);
        accept.security_source = Some(pattern("ipn:1.0"));
        let mut checking = Policy { rules: vec![accept], ..Policy::default() };
        // The public half only: nothing on the flight node can sign.
        checking.keys.insert("k", verifier_key.public().encode());
        b.config.security = Some(checking);
        let mut net = Net::new(vec![a, b]);
        net.connect(0, 1, T0);
        net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
        net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"slew to 41.2"), T0).unwrap();
        net.run(T0);
        let failed = net.agents[1].security_failures()[3].1;
        (net.delivered.len(), failed)
    };
    assert_eq!(run(&ground_key), (1, 0), "the ground's command is accepted");
    assert_eq!(run(&pair(2)), (0, 1), "a command signed by another key is dropped and counted");
}

#[test]
fn a_bundle_under_custody_keeps_its_security_blocks_inside_the_bibe_pdu() {
    // Node 1 signs and encrypts what it sends to node 2 and holds custody of it; the PDU's
    // inner bundle reaches node 2 with its BIB and BCBs, which node 2 requires and removes.
    let mut a = agent(1, &[(2, 2)]);
    a.config.custody = Some(CustodyConfig::with_peers([2]));
    a.config.security = Some(policy(vec![
        rule(Role::Source, Service::Integrity, "ipn:1.*", "ipn:2.*", BundleKind::Data),
        rule(Role::Source, Service::Confidentiality, "ipn:1.*", "ipn:2.*", BundleKind::Data),
    ]));
    let mut b = agent(2, &[(1, 1)]);
    b.config.security = Some(policy(vec![
        rule(Role::Acceptor, Service::Integrity, "ipn:1.*", "ipn:2.*", BundleKind::Data),
        rule(Role::Acceptor, Service::Confidentiality, "ipn:1.*", "ipn:2.*", BundleKind::Data),
    ]));
    let mut net = Net::new(vec![a, b]);
    net.connect(0, 1, T0);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net.agents[0].handle(submit(1, Eid::ipn(2, 1), b"archive shard 12"), T0).unwrap();
    // What crosses the link is a BIBE PDU (an administrative record) with ciphertext inside.
    let actions: Vec<Action> = core::iter::from_fn(|| net.agents[0].poll_action()).collect();
    let Some(Action::Transmit { link, bundle, bytes }) =
        actions.into_iter().find(|x| matches!(x, Action::Transmit { .. }))
    else {
        panic!("nothing sent")
    };
    let outer = crate::bundle::Bundle::parse(bytes.clone(), crate::parse_mode::ParseMode::Strict).unwrap();
    assert!(outer.is_admin_record(), "custody sends a BIBE PDU");
    assert!(!bytes.windows(7).any(|w| w == b"archive"), "plaintext inside the PDU");
    net.agents[0].handle(Event::Transmitted { link, bundle, ok: true }, T0).unwrap();
    net.agents[1].handle(Event::Received { link: LinkId(0), bytes }, T0).unwrap();
    net.run(T0);
    assert_eq!(net.delivered.len(), 1, "{:?}", net.other);
    assert_eq!(net.delivered[0].1.payload.as_ref(), b"archive shard 12");
    assert_eq!(net.agents[1].security_failures().iter().map(|f| f.1).sum::<u64>(), 0);
    assert_eq!(held(&net, 0), 0, "custody released by node 2's signal");
}
