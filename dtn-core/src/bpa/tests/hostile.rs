//! Hostile input the agent must handle in time linear in its size.

use super::*;
use crate::crc::CrcType;

#[test]
#[cfg(feature = "std")]
fn a_bundle_of_a_hundred_thousand_blocks_is_handled_at_once() {
    let mut a = agent(1, &[(2, 2)]);
    a.store = MemoryStore::new(8 << 20);
    let mut net = Net::new(vec![a, agent(2, &[])]);
    net.agents[1].store = MemoryStore::new(8 << 20);
    net.agents[1].handle(register(Eid::ipn(2, 1)), T0).unwrap();
    net.connect(0, 1, T0);
    // Every other block is to be discarded as unprocessable; the rest travel on.
    let mut builder = bundle_to(Eid::ipn(2, 1)).payload(&b"many blocks"[..]);
    for i in 0..100_000u64 {
        let flags = if i % 2 == 0 { BlockFlags::DISCARD_IF_UNPROCESSABLE } else { BlockFlags::default() };
        builder = builder.numbered_block(200, i + 2, flags, CrcType::None, vec![1]);
    }
    let bundle = builder.build().unwrap();
    let started = std::time::Instant::now();
    received(&mut net, 0, &bundle);
    let took = started.elapsed();
    assert_eq!(net.delivered.len(), 1, "{:?}", net.other);
    let (_, delivery) = &net.delivered[0];
    assert_eq!(&delivery.payload[..], b"many blocks");
    // Two agents each parse, edit and store it; the quadratic checks took seconds per parse.
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
}

#[test]
fn a_block_numbered_u64_max_is_forwarded_with_unique_numbers() {
    let mut net = Net::new(vec![agent(1, &[(3, 2)]), agent(2, &[(3, 3)]), agent(3, &[])]);
    net.connect(0, 1, T0);
    net.connect(1, 2, T0);
    net.agents[2].handle(register(Eid::ipn(3, 1)), T0).unwrap();
    let bundle = bundle_to(Eid::ipn(3, 1))
        .numbered_block(200, u64::MAX, BlockFlags::default(), CrcType::None, vec![1])
        .build()
        .unwrap();
    received(&mut net, 0, &bundle);
    assert_eq!(net.delivered.len(), 1, "{:?}", net.other);
    assert!(deleted_reasons(&net).is_empty(), "{:?}", net.other);
}
