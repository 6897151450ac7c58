#!/usr/bin/env bash
# LTP benchmarks (BENCHMARKS.md): two `dtn gateway` processes with an LTP hop between them
# (load tool -> TCPCL -> A -> LTP -> B -> TCPCL -> load tool).
#   loopback: no proxy, one hop, 1 MiB bundles and 1 KiB bundles (aggregated into blocks);
#   p8: through `link-sim proxy --udp` at 500 Mbit/s, 300 ms each way (600 ms RTT), 1 %
#       datagram loss both ways, 1 MB bundles, red data, custody on.
# Usage: scripts/bench-ltp.sh [loopback|p8|all] (default all); QUICK=1 sends a tenth;
# P8_MTU sets the segment size of the P8 run (default 1400).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gateway --bin dtn -p link-sim --bin link-sim 2>&1 | tail -n 1
DTN="$PWD/target/release/dtn"
SIM="$PWD/target/release/link-sim"
WHAT="${1:-all}"
# shellcheck source=scripts/processes.sh
. scripts/processes.sh
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
count() { if [ -n "${QUICK:-}" ]; then echo $(( $1 / 10 )); else echo "$1"; fi; }

start_gateway_in() { # dir name config-body -> sets $ADDR (TCPCL); the files live in dir
  local dir="$1" name="$2"; mkdir -p "$dir"
  printf '%s\n' "$3" > "$dir/$name.toml"
  "$DTN" gateway run --config "$dir/$name.toml" > "$dir/$name.out" 2> "$dir/$name.log" &
  PIDS+=($!)
  wait_for grep -q ready "$dir/$name.out" || { cat "$dir/$name.log"; exit 1; }
  ADDR="$(sed -n 's/.*tcpcl=\([^ ]*\).*/\1/p' "$dir/$name.out")"
}

# A pair: A (node 1) sends to B (node 2) over LTP. $1 dir, $2 A's peer address for B, $3 B's
# peer address for A, $4 A's LTP port, $5 B's LTP port, $6 extra [ltp] lines, $7 extra node lines.
pair() {
  local dir="$1"
  local common='[storage]
path = "store"
budget = "2 GiB"
[tcpcl]
listen = ["127.0.0.1:0"]
segment_mru = "16 MiB"
unauthenticated = "trusted"   # the load tool claims node 4000000 without TLS (loopback lab)
[log]
level = "warn"'
  start_gateway_in "$dir/b" b "[node]
id = 2
$7
$common
[ltp]
listen = [\"127.0.0.1:$5\"]
$6
[[peer]]
node = 1
cla = \"ltp\"
address = \"$3\""
  B="$ADDR"
  start_gateway_in "$dir/a" a "[node]
id = 1
$7
$common
[ltp]
listen = [\"127.0.0.1:$4\"]
$6
[[peer]]
node = 2
cla = \"ltp\"
address = \"$2\"
custody = ${CUSTODY:-false}
[[route]]
dest = 4000000
via = 2"
  A="$ADDR"
  sleep 1
}

if [ "$WHAT" = loopback ] || [ "$WHAT" = all ]; then
  echo "== loopback, one LTP hop, no impairment"
  pa="$(free_port)"; pb="$(free_port)"
  pair "$WORK/loop" "127.0.0.1:$pb" "127.0.0.1:$pa" "$pa" "$pb" 'mtu = 65000
max_export_sessions = 256
aggregation_size = "256 KiB"
aggregation_ms = 5
socket_buffer = "32 MiB"' ''
  "$DTN" bench tcpcl --to "$A" --back "$B" --size 1048576 --count "$(count 5000)" --window 256
  "$DTN" bench tcpcl --to "$A" --back "$B" --size 1024 --count "$(count 500000)" --window 20000
  "$DTN" bench tcpcl --to "$A" --back "$B" --size 1024 --count 200 --window 1   # one at a time: aggregation waits <= 5 ms
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=()
  echo "== loopback, the same one at a time without aggregation (aggregation_ms = 0)"
  pa="$(free_port)"; pb="$(free_port)"
  pair "$WORK/loop0" "127.0.0.1:$pb" "127.0.0.1:$pa" "$pa" "$pb" 'mtu = 65000
aggregation_ms = 0' ''
  "$DTN" bench tcpcl --to "$A" --back "$B" --size 1024 --count 200 --window 1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=()
fi

if [ "$WHAT" = p8 ] || [ "$WHAT" = all ]; then
  echo "== P8: 500 Mbit/s, 300 ms each way, 1 % loss, 1 MB bundles, custody on"
  dir="$WORK/p8"; mkdir -p "$dir/a" "$dir/b"
  # Contacts both ways all day: 62.5 MB/s, 300 ms one-way light time.
  plan='from,to,start,end,rate_Bps,owlt_min_ms,owlt_max_ms,kind,start_exact,end_exact
1,2,0,86400,62500000,300,300,space,0.000,86400.000
2,1,0,86400,62500000,300,300,space,0.000,86400.000'
  printf '%s\n' "$plan" > "$dir/plan.csv"; cp "$dir/plan.csv" "$dir/a/plan.csv"; cp "$dir/plan.csv" "$dir/b/plan.csv"
  pa="$(free_port)"; pb="$(free_port)"; listen="$(free_port)"; source="$(free_port)"
  "$SIM" proxy --plan "$dir/plan.csv" --link 1-2 --listen "127.0.0.1:$listen" --to "127.0.0.1:$pb" \
    --udp --udp-source "127.0.0.1:$source" --loss 0.01 --report-every-s 0 > "$dir/proxy.log" 2>&1 &
  PIDS+=($!)
  sleep 0.5
  CUSTODY=true pair "$dir" "127.0.0.1:$listen" "127.0.0.1:$source" "$pa" "$pb" "mtu = ${P8_MTU:-1400}
max_export_sessions = 512
socket_buffer = \"32 MiB\"" '[plans]
files = ["../plan.csv"]
[custody]
enabled = true'
  "$DTN" bench tcpcl --to "$A" --back "$B" --size 1000000 --count "$(count 3000)" --window 512 --timeout 600
fi
