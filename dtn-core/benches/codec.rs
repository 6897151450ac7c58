//! Codec benchmark: `dtn-core` and the `bp7` crate side by side on the same bundles.
//!
//! Bundles carry a hop count block and a payload of 1 KiB, 64 KiB or 1 MiB, with CRC-32C on
//! every block. "decode" = parse + full validation including every CRC (bp7: `try_from` +
//! `validate` + `crc_valid`); "encode" = produce the wire bytes from in-memory fields, CRCs
//! included (ours: `BundleBuilder::encode`; bp7: `Bundle::to_cbor`).
//!
//! Run: `cargo bench -p dtn-core --bench codec`

// Benchmark code: a failed setup should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dtn_core::bundle::{Bundle, BundleBuilder};
use dtn_core::crc::CrcType;
use dtn_core::eid::Eid;
use dtn_core::parse_mode::ParseMode;
use dtn_core::time::{CreationTimestamp, DtnTime};

const SIZES: [(&str, usize); 3] = [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)];

fn ours(payload_len: usize) -> BundleBuilder {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 31 % 251) as u8).collect();
    BundleBuilder::new(Eid::ipn(1, 1), Eid::ipn(2, 1))
        .creation(CreationTimestamp::new(DtnTime(757_382_400_000), 1))
        .lifetime_ms(3_600_000)
        .crc(CrcType::Crc32c)
        .hop_count(32, 0)
        .payload(payload)
}

fn theirs(bytes: &[u8]) -> bp7::bundle::Bundle {
    bp7::bundle::Bundle::try_from(bytes).expect("bp7 decodes the benchmark bundle")
}

/// Both codecs decode (and fully validate) the same bundles, built with `block_crc` on the
/// payload and hop-count blocks.
fn decode_group(c: &mut Criterion, name: &str, block_crc: CrcType) {
    let mut group = c.benchmark_group(name);
    for (size, len) in SIZES {
        let bytes = Bytes::from(ours(len).block_crc(block_crc).encode());
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("dtn-core", size), &bytes, |b, bytes| {
            b.iter(|| Bundle::parse(black_box(bytes.clone()), ParseMode::Strict).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("bp7", size), &bytes, |b, bytes| {
            b.iter(|| {
                let mut bundle = bp7::bundle::Bundle::try_from(black_box(&bytes[..])).unwrap();
                bundle.validate().unwrap();
                assert!(bundle.crc_valid());
                bundle
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    decode_group(c, "decode", CrcType::Crc32c);
}

/// Zero copy: with CRC-32C on the primary and hop-count blocks only, parsing does not touch the
/// payload, so the time should not grow with its size.
fn decode_without_payload_crc(c: &mut Criterion) {
    decode_group(c, "decode_no_payload_crc", CrcType::None);
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, len) in SIZES {
        let builder = ours(len);
        let mut bp7_bundle = theirs(&builder.encode());
        assert_eq!(bp7_bundle.to_cbor(), builder.encode(), "both encoders produce the same bytes");
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("dtn-core", name), |b| b.iter(|| black_box(&builder).encode()));
        group.bench_function(BenchmarkId::new("bp7", name), |b| b.iter(|| black_box(&mut bp7_bundle).to_cbor()));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = decode, decode_without_payload_crc, encode
}
criterion_main!(benches);
