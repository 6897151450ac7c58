#!/usr/bin/env bash
# Exchanges bundles between our gateway and dtn7-rs's dtnd 0.21 over TCPCLv4 and over MTCP,
# both ways. Installs dtn7 0.21 from crates.io if dtnd is not found (DTN7_ROOT, default
# ~/.cargo). Not part of `cargo test`: it needs that install and free ports 47200-47299.
# Usage: scripts/interop-dtnd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${DTN7_ROOT:-$HOME/.cargo}"
if [ -x "$ROOT/bin/dtnd" ] && "$ROOT/bin/dtnd" --version | grep -q " 0\.21\."; then
  :
else
  echo "installing dtn7 0.21 into $ROOT (a few minutes)..."
  cargo install dtn7 --version 0.21.0 --locked --root "$ROOT"
fi
DTND="$ROOT/bin/dtnd"; DTNSEND="$ROOT/bin/dtnsend"; DTNRECV="$ROOT/bin/dtnrecv"
cargo build --release -p gateway --bin dtn
DTN="$PWD/target/release/dtn"

WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
FAILED=0

# wait_for CMD...: retries for 20 s.
wait_for() { for _ in $(seq 1 100); do if "$@" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done; return 1; }

# dtnrecv exits 0 with no output when nothing is waiting.
dtnd_has_bundle() { local out; out="$("$DTNRECV" -p "$1" -e 1 -x 2>/dev/null)"; [ -n "$out" ]; }
# dtnd does not reassemble: it hands out each fragment as a bundle. Adds up the bundles dtnd
# holds for ipn:20.1 (hex: two characters a byte) until they reach $2 bytes.
RECEIVED=0
dtnd_has_bytes() {
  local out; out="$("$DTNRECV" -p "$1" -e 1 -x 2>/dev/null)"
  RECEIVED=$(( RECEIVED + ${#out} / 2 )); [ "$RECEIVED" -ge "$2" ]
}

run_case() {
  local cla="$1" base="$2"
  local dir="$WORK/$cla"; mkdir -p "$dir/inbox" "$dir/dtnd"
  local web=$((base)) dtnd_tcp=$((base + 1)) dtnd_mtcp=$((base + 2)) our_tcp=$((base + 3)) our_mtcp=$((base + 4))
  local dtnd_cla our_port peer_port
  if [ "$cla" = tcpcl ]; then dtnd_cla=tcp; our_port=$our_tcp; peer_port=$dtnd_tcp; else dtnd_cla=mtcp; our_port=$our_mtcp; peer_port=$dtnd_mtcp; fi
  cat > "$dir/node.toml" <<TOML
[node]
id = 2
# dtnd's bundles carry no primary-block CRC (RFC 9171 4.3.1 requires one).
accept = "relaxed"
[storage]
path = "store"
budget = "256 MiB"
[[endpoint]]
eid = "ipn:2.1"
deliver = "dir"
dir = "inbox"
[tcpcl]
listen = ["127.0.0.1:$our_tcp"]
[mtcp]
listen = ["127.0.0.1:$our_mtcp"]
[[peer]]
node = 20
cla = "$cla"
address = "127.0.0.1:$peer_port"
TOML
  (cd "$dir/dtnd" && exec "$DTND" -n ipn:20.0 -w "$web" -W "$dir/dtnd" -D mem --disable_nd -r flooding \
      -C "tcp:port=$dtnd_tcp:bind=127.0.0.1" -C "mtcp:port=$dtnd_mtcp:bind=127.0.0.1" -e 1 \
      -s "$dtnd_cla://127.0.0.1:$our_port/2" > "$dir/dtnd.log" 2>&1) &
  PIDS+=($!)
  "$DTN" gateway run --config "$dir/node.toml" > "$dir/gateway.out" 2> "$dir/gateway.log" &
  PIDS+=($!)
  wait_for curl -sf "http://127.0.0.1:$web/status/nodeid" || { echo "dtnd did not start"; cat "$dir/dtnd.log"; return 1; }
  wait_for grep -q ready "$dir/gateway.out" || { echo "gateway did not start"; cat "$dir/gateway.log"; return 1; }

  # dtnd -> us
  echo "hello from dtnd over $cla" > "$dir/msg.txt"
  "$DTNSEND" -p "$web" -r ipn:2.1 "$dir/msg.txt" >/dev/null
  if wait_for grep -rqs "hello from dtnd over $cla" "$dir/inbox"; then
    echo "PASS dtnd -> gateway over $cla"
  else
    echo "FAIL dtnd -> gateway over $cla"; tail -n 20 "$dir/dtnd.log" "$dir/gateway.log"; FAILED=1
  fi

  # us -> dtnd: bundles from the load tool enter our gateway and go on to dtnd's ipn:20.1.
  if "$DTN" bench tcpcl --to "127.0.0.1:$our_tcp" --dest ipn:20.1 --count 5 --size 64 --no-return --timeout 20 >/dev/null \
     && wait_for dtnd_has_bundle "$web"; then
    echo "PASS gateway -> dtnd over $cla"
  else
    echo "FAIL gateway -> dtnd over $cla"; tail -n 20 "$dir/dtnd.log" "$dir/gateway.log"; FAILED=1
  fi
  # us -> dtnd, a bundle above dtnd's 64,000-byte TCPCL transfer MRU: our gateway fragments
  # it to fit (MTCP has no MRU) and dtnd takes every fragment.
  if [ "$cla" = tcpcl ]; then
    if "$DTN" bench tcpcl --to "127.0.0.1:$our_tcp" --dest ipn:20.1 --count 1 --size 200000 --no-return --timeout 20 \
         >/dev/null && RECEIVED=0 && wait_for dtnd_has_bytes "$web" 200000; then
      echo "PASS gateway -> dtnd over $cla, 200 kB in fragments"
    else
      echo "FAIL gateway -> dtnd over $cla, 200 kB in fragments"; tail -n 20 "$dir/dtnd.log" "$dir/gateway.log"; FAILED=1
    fi
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

run_case tcpcl 47200
run_case mtcp 47210
if [ "$FAILED" = 0 ]; then echo "interop with dtnd 0.21: all passed"; else echo "interop with dtnd 0.21: FAILED"; exit 1; fi
