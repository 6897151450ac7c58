#!/usr/bin/env bash
# Application-bridge ingest (BENCHMARKS.md): one `dtn gateway` with `[app]`, one `dtn bench app`
# client on loopback submitting ADUs over QUIC (mutual TLS) to an endpoint the gateway holds;
# each ADU counts once the gateway answered SUBMITTED (durably stored). Runs 1 KiB, 64 KiB and
# 1 MiB ADUs (1 KiB also eight to a stream) on the segment-log store, then the same on
# `path = ":memory:"`.
# Usage: scripts/bench-app.sh [quick]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gateway --bin dtn 2>&1 | tail -n 1
DTN="$PWD/target/release/dtn"
QUICK="${1:-}"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
"$DTN" cert ca --out ca >/dev/null
"$DTN" cert issue --ca ca --node ipn:2.0 --out ground >/dev/null
"$DTN" cert issue --ca ca --node ipn:2.5 --out client >/dev/null
export DTN_CERT=client.pem DTN_KEY=client.key DTN_CA=ca.pem

scale() { if [ -n "$QUICK" ]; then echo $(( $1 / 10 )); else echo "$1"; fi; }
for store in store ":memory:"; do
  rm -rf store
  cat > node.toml <<TOML
[node]
id = 2
[storage]
path = "$store"
budget = "4 GiB"
[app]
listen = ["127.0.0.1:0"]
cert = "ground.pem"
key = "ground.key"
ca = "ca.pem"
in_flight = 256
submits_per_sec = 1000000
[log]
level = "warn"
TOML
  "$DTN" gateway run --config node.toml > out 2> log &
  PID=$!
  for _ in $(seq 1 100); do grep -q ready out 2>/dev/null && break; sleep 0.2; done
  export DTN_GATEWAY="$(sed -n 's/.*app=\([^ ,]*\).*/\1/p' out)"
  echo "== store: $store"
  "$DTN" bench app --size 1024 --count "$(scale 50000)" --window 256
  "$DTN" bench app --size 1024 --count "$(scale 50000)" --window 256 --per-stream 8
  "$DTN" bench app --size 65536 --count "$(scale 5000)" --window 64
  "$DTN" bench app --size 1048576 --count "$(scale 1000)" --window 32
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
