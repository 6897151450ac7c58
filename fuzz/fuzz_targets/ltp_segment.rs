//! Any datagrams, from a span peer, into an LTP engine that is also sending a block: no
//! panics, the session and memory limits hold, and every segment that decodes re-encodes
//! to one that decodes the same.
//!
//! Input: records of `[peer, time step, length lo, length hi, bytes...]`.
#![no_main]

use bytes::Bytes;
use dtn_core::cla::ltp::segment::Segment;
use dtn_core::cla::ltp::{Engine, EngineConfig, SpanConfig};
use libfuzzer_sys::fuzz_target;

const HOSTILE: u64 = 3;
const FRIEND: u64 = 1;

fuzz_target!(|data: &[u8]| {
    let mut config = EngineConfig::new(2);
    config.max_import_bytes = 200_000;
    config.max_import_sessions = 40;
    config.max_block_bytes = 1 << 20;
    let mut engine = Engine::new(config);
    let mut hostile = SpanConfig::new(HOSTILE);
    hostile.max_import_sessions = 16;
    hostile.max_import_bytes = 100_000;
    hostile.owlt_ms = 5;
    engine.add_span(hostile, 0);
    engine.add_span(SpanConfig::new(FRIEND), 0);
    let _ = engine.send_block(HOSTILE, 1, Bytes::from(vec![7u8; 5000]), 3000);
    let mut now = 0u64;
    let mut rest = data;
    let mut out = Vec::new();
    while let [peer, step, lo, hi, tail @ ..] = rest {
        let len = (usize::from(*lo) | usize::from(*hi) << 8).min(tail.len());
        let (datagram, after) = tail.split_at(len);
        rest = after;
        now += u64::from(*step) * 7;
        let from = if peer & 1 == 0 { HOSTILE } else { FRIEND };
        let datagram = Bytes::copy_from_slice(datagram);
        if let Ok(segment) = Segment::decode(&datagram) {
            let again = Segment::decode(&Bytes::from(segment.to_vec())).expect("our encoding decodes");
            assert_eq!(again, segment);
        }
        let _ = engine.handle_datagram(from, &datagram, now);
        if peer & 2 != 0 {
            engine.set_link(HOSTILE, peer & 4 != 0, now);
        }
        engine.handle_timeout(now);
        for remote in [HOSTILE, FRIEND] {
            for _ in 0..64 {
                out.clear();
                if !engine.poll_transmit(remote, now, &mut out) {
                    break;
                }
                assert!(out.len() <= 1400, "a segment above the MTU");
            }
        }
        while engine.poll_event().is_some() {}
        assert!(engine.import_bytes() <= 200_000);
        assert!(engine.import_sessions() <= 40);
    }
});
