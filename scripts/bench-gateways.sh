#!/usr/bin/env bash
# Gateway benchmarks on loopback (BENCHMARKS.md): two `dtn gateway` processes, one TCPCLv4 hop
# (load tool -> A -> B -> load tool), at 1 KiB, 64 KiB and 1 MiB, plus the round trip of one
# bundle at a time; then the ingest rate of one gateway next to dtn7-rs's dtnd 0.21 (if
# installed: DTN7_ROOT, default ~/.cargo), both fed by the same load tool.
# STORE=":memory:" runs the gateways without durable storage (the price of durability);
# ENGINE=redb uses the redb store instead of the segment log.
# Usage: scripts/bench-gateways.sh [quick]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gateway --bin dtn 2>&1 | tail -n 1
DTN="$PWD/target/release/dtn"
STORE="${STORE:-store}"
QUICK="${1:-}"
# shellcheck source=scripts/processes.sh
. scripts/processes.sh

common='[storage]
path = "'"$STORE"'"
engine = "'"${ENGINE:-log}"'"
budget = "256 MiB"
[tcpcl]
listen = ["127.0.0.1:0"]
segment_mru = "16 MiB"
unauthenticated = "trusted"   # the load tool claims node 4000000 without TLS (loopback lab)
[log]
level = "warn"'
start_gateway b "[node]
id = 2
$common"
B="$ADDR"; B_PID="$PID"
start_gateway a "[node]
id = 1
$common
[[peer]]
node = 2
cla = \"tcpcl\"
address = \"$B\"
[[route]]
dest = 4000000
via = 2"
A="$ADDR"; A_PID="$PID"
sleep 1

scale() { if [ -n "$QUICK" ]; then echo $(( $1 / 10 )); else echo "$1"; fi; }
three_sizes() { # entry-gateway return-gateway: 1 KiB, 64 KiB and 1 MiB through the chain
  "$DTN" bench tcpcl --to "$1" --back "$2" --size 1024 --count "$(scale 300000)" --window 20000
  "$DTN" bench tcpcl --to "$1" --back "$2" --size 65536 --count "$(scale 50000)" --window 2000
  "$DTN" bench tcpcl --to "$1" --back "$2" --size 1048576 --count "$(scale 5000)" --window 128
}
echo "== ours: load tool -> A -> B -> load tool (store: $STORE)"
three_sizes "$A" "$B"
echo "== ours: one bundle at a time (round trip load tool -> A -> B -> load tool)"
"$DTN" bench tcpcl --to "$A" --back "$B" --size 64 --count 2000 --window 1
echo "== ours: the same chain with A -> B over QUIC (draft-ek-dtn-qubicle) instead of TCPCLv4"
"$DTN" cert ca --out "$WORK/ca" >/dev/null
"$DTN" cert issue --ca "$WORK/ca" --node ipn:11.0 --out "$WORK/qa" >/dev/null
"$DTN" cert issue --ca "$WORK/ca" --node ipn:12.0 --out "$WORK/qb" >/dev/null
quic_section() { printf '[quic]\nlisten = ["127.0.0.1:0"]\ncert = "%s.pem"\nkey = "%s.key"\nca = "%s.pem"\n' "$WORK/$1" "$WORK/$1" "$WORK/ca"; }
start_gateway qb "[node]
id = 12
$common
$(quic_section qb)"
QB="$ADDR"; QB_QUIC="$(sed -n 's/.*quic=\([^ ]*\).*/\1/p' "$WORK/qb/out")"
start_gateway qa "[node]
id = 11
$common
$(quic_section qa)
[[peer]]
node = 12
cla = \"quic\"
address = \"$QB_QUIC\"
[[route]]
dest = 4000000
via = 12"
QA="$ADDR"
sleep 1
three_sizes "$QA" "$QB"
"$DTN" bench tcpcl --to "$QA" --back "$QB" --size 64 --count 2000 --window 1

echo "== ours: 300 x 1 MiB burst; peak RSS of each gateway (storage budget 256 MiB)"
echo 5 > /proc/$A_PID/clear_refs; echo 5 > /proc/$B_PID/clear_refs  # restart the peak (VmHWM) here
"$DTN" bench tcpcl --to "$A" --back "$B" --size 1048576 --count 300 --window 300
echo "peak RSS A: $(grep VmHWM /proc/$A_PID/status | awk '{print $2/1024 " MiB"}'), B: $(grep VmHWM /proc/$B_PID/status | awk '{print $2/1024 " MiB"}')"

echo "== durable custody ingest: load tool -> C with custody, acceptances counted (C's store: $STORE, then :memory:)"
for c_store in "$STORE" ":memory:"; do
  start_gateway "c${c_store//[^a-z]/}" "[node]
id = 5
[storage]
path = \"$c_store\"
engine = \"${ENGINE:-log}\"
budget = \"4 GiB\"
[tcpcl]
listen = [\"127.0.0.1:0\"]
segment_mru = \"16 MiB\"
unauthenticated = \"trusted\"
[custody]
enabled = true
[log]
level = \"warn\""
  echo "-- C on $c_store"
  "$DTN" bench tcpcl --custody --to "$ADDR" --dest ipn:9.1 --size 1024 --count "$(scale 100000)" --window 5000
  "$DTN" bench tcpcl --custody --to "$ADDR" --dest ipn:9.1 --size 65536 --count "$(scale 10000)" --window 500
  "$DTN" bench tcpcl --custody --to "$ADDR" --dest ipn:9.1 --size 1048576 --count "$(scale 1000)" --window 64
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

ROOT="${DTN7_ROOT:-$HOME/.cargo}"
if [ -x "$ROOT/bin/dtnd" ]; then
  # dtnd's TCPCL takes transfers of at most 64,000 bytes: the large size is 60,000 here.
  echo "== ingest side by side: load tool -> one node, acknowledged (--no-return)"
  for size in 1024 60000; do
    case $size in 1024) n=20000;; *) n=300;; esac
    echo "-- ours, $size B"
    "$DTN" bench tcpcl --to "$B" --dest ipn:2.99 --no-return --size $size --count "$n" --window "$n"
  done
  mkdir -p "$WORK/dtnd"
  (cd "$WORK/dtnd" && exec "$ROOT/bin/dtnd" -n ipn:20.0 -w 47390 -W "$WORK/dtnd" -D mem --disable_nd -r flooding \
      -C "tcp:port=47391:bind=127.0.0.1" -e 1 > "$WORK/dtnd/log" 2>&1) &
  DTND_PID=$!; PIDS+=($DTND_PID)
  wait_for curl -sf http://127.0.0.1:47390/status/nodeid
  for size in 1024 60000; do
    case $size in 1024) n=20000;; *) n=300;; esac
    echo "-- dtnd 0.21, $size B"
    "$DTN" bench tcpcl --to 127.0.0.1:47391 --dest ipn:20.1 --no-return --size $size --count "$n" --window "$n" --timeout 120 || true
  done
  echo "dtnd peak RSS: $(grep VmHWM /proc/$DTND_PID/status | awk '{print $2/1024 " MiB"}')"
else
  echo "(dtnd not installed: scripts/interop-dtnd.sh installs it)"
fi
