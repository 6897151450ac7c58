//! The custody oracle (`Ledger::unheld`) sees a bundle that no store holds: without custody a
//! lossy hop loses bundles and the oracle names them; with custody the same hop loses none.

// Test code: a broken expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bytes::Bytes;
use dtn_core::bpa::{DeliveryMode, Event, Submission};
use dtn_core::bundle::BundleFlags;
use dtn_core::eid::Eid;
use dtn_core::routing::{PlanTime, Priority};
use link_sim::model::link::{Impairments, windows_from_csv};
use link_sim::model::loss::FrameLoss;
use link_sim::sim::ledger::Ledger;
use link_sim::sim::{SimConfig, World};

fn unheld_after_a_lossy_day(custody: bool) -> (usize, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/scenarios/small.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (lay shared/ beside the repository)", path.display()));
    let windows = windows_from_csv(&text).unwrap();
    let loss = FrameLoss::new(0.0, 0.5).unwrap();
    let impairments = Impairments { loss, ..Impairments::default() };
    let mut world = World::new(&windows, SimConfig { seed: 7, custody, impairments, ..SimConfig::default() });
    world.register(100, Event::Register { endpoint: Eid::ipn(100, 1), mode: DeliveryMode::Active });
    for token in 0..20u64 {
        let mut payload = vec![0u8; 2_000];
        payload[..8].copy_from_slice(&token.to_be_bytes());
        let submission = Submission {
            token,
            source: None,
            destination: Eid::ipn(100, 1),
            payload: Bytes::from(payload),
            lifetime_ms: 86_400_000,
            flags: BundleFlags::default(),
            priority: Priority::Normal,
            reference: None,
            protection: Default::default(),
        };
        world.submit(1001, PlanTime::from_secs(60 * token as i64), submission);
    }
    world.run_until(PlanTime::from_secs(86_400));
    let ledger = Ledger::of(&world);
    (ledger.unheld(&world).len(), ledger.deliveries.len())
}

#[test]
fn without_custody_a_lossy_hop_leaves_bundles_nobody_holds() {
    let (unheld, delivered) = unheld_after_a_lossy_day(false);
    assert!(unheld > 0, "half the frames lost, nothing re-sent: some bundles must be in no store");
    assert!(delivered < 20);
}

#[test]
fn with_custody_every_undelivered_bundle_is_held() {
    let (unheld, delivered) = unheld_after_a_lossy_day(true);
    assert_eq!(unheld, 0);
    assert!(delivered > 0);
}
