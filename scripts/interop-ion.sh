#!/usr/bin/env bash
# Interoperability with ION-DTN over LTP (ION's TCPCL is v3, so LTP is the layer we share).
#
# Needs an ION 4.1.3 installation you built by hand, named by ION_PREFIX (its bin/ holds
# ionadmin, ltpadmin, bpadmin, bpsendfile, bprecvfile); this script never builds ION: build it
# with ION's own instructions and install it under a scratch prefix, not /usr/local.
#
# It runs one ION node (node and LTP engine 1, BP as LTP client service 1, udplsi/udplso on
# loopback) and one of our gateways (node and engine 2), and exchanges bundles both ways:
#   ION -> us: files sent with bpsendfile (one large, several small ones that ION aggregates
#              into one block) arrive intact in our gateway's `dir` endpoint ipn:2.7;
#   us -> ION: bundles from `dtn bench tcpcl` into our gateway (small ones aggregated into
#              blocks, then 1 MB ones) arrive at ION's bprecvfile on ipn:1.7.
# It stops only what it started: ION's daemons through its own admin programs ('.'), then any
# left in its node directory by PID, and only the shared-memory segments that node used (ION's
# killm kills by name: not used). Exit status 0 when every check passes.
# Usage: ION_PREFIX=/opt/ion-4.1.3 scripts/interop-ion.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ION_PREFIX:?set ION_PREFIX to an ION-DTN 4.1.3 installation (README: LTP with ION)}"
[ -x "$ION_PREFIX/bin/ionadmin" ] || { echo "no ionadmin in $ION_PREFIX/bin" >&2; exit 1; }
cargo build --release -p gateway --bin dtn 2>&1 | tail -n 1
DTN="$PWD/target/release/dtn"
# shellcheck source=scripts/processes.sh
. scripts/processes.sh
free_udp() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ION_PORT="$(free_udp)"; OUR_PORT="$(free_udp)"
ION_DIR="$WORK/ion/node1"; mkdir -p "$ION_DIR/rx"
export PATH="$ION_PREFIX/bin:$PATH"
export ION_NODE_LIST_DIR="$WORK/ion"       # several ION nodes on a host: one registry, own keys
export ION_NODE_WDNAME="$ION_DIR"
WMKEY="${ION_WMKEY:-$(( 60000 + RANDOM % 5000 ))}"

ion_pids() { # ION processes of our node: their working directory is ION_DIR
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$ION_DIR" ] && echo "$p"
  done
  return 0
}
ion_stop() {
  [ -d "$ION_DIR" ] || return 0
  (cd "$ION_DIR" && { bpadmin . ; sleep 1; ltpadmin . ; sleep 1; ionadmin . ; sleep 2; } >> admin.out 2>&1 < /dev/null) || true
  for p in $(ion_pids); do kill -TERM "$p" 2>/dev/null || true; done
  for k in $(cat "$ION_DIR/ipc.keys" 2>/dev/null); do
    [ "$(ipcs -m | awk -v k="$k" '$1==k {print $6}')" = 0 ] && ipcrm -M "$k" 2>/dev/null || true
  done
  # ION's host-wide semaphores go only when no ION segment is left on the host.
  ipcs -m | grep -q -E '0x0000(ee08|ff00)' || rm -f /dev/shm/sem.ion:GLOBAL:* 2>/dev/null || true
}
stop_all() { ion_stop; cleanup; }
trap stop_all EXIT

echo "== ION node 1 on udp/127.0.0.1:$ION_PORT (wmKey $WMKEY), our gateway node 2 on udp/127.0.0.1:$OUR_PORT"
cat > "$ION_DIR/node.ionconfig" <<EOF
wmKey $WMKEY
sdrName ion1
wmSize 10000000
configFlags 1
heapWords 2500000
pathName $ION_DIR
EOF
# Contacts both ways: ION sends only inside a contact, screens what arrives by the reverse
# one and sets its LTP timers from the ranges.
cat > "$ION_DIR/node.ionrc" <<EOF
1 1 node.ionconfig
a contact +0 +86400 1 2 100000000
a contact +0 +86400 2 1 100000000
a range +0 +86400 1 2 0
m horizon +0
s
EOF
cat > "$ION_DIR/node.ltprc" <<EOF
1 100
a span 2 100 100 1400 10000 1 'udplso 127.0.0.1:$OUR_PORT' 1
a seat 'udplsi 127.0.0.1:$ION_PORT'
s
EOF
cat > "$ION_DIR/node.bprc" <<EOF
1
a scheme ipn 'ipnfw' 'ipnadminep'
a endpoint ipn:1.0 q
a endpoint ipn:1.6 q
a endpoint ipn:1.7 q
a protocol ltp
a induct ltp 1 ltpcli
a outduct ltp 2 ltpclo
a plan ipn:2.0
a planduct ipn:2.0 ltp 2
s
EOF
# Never pipe ION's admin output: its daemons inherit it.
(cd "$ION_DIR" && for rc in "ionadmin node.ionrc" "ltpadmin node.ltprc" "bpadmin node.bprc"; do
  $rc >> admin.out 2>&1 < /dev/null || { echo "ION failed: $rc (see $ION_DIR/admin.out)"; exit 1; }
done)
sleep 1
ion_pids > "$ION_DIR/daemons.pids"
first="$(sed -n 1p "$ION_DIR/daemons.pids")"
[ -n "$first" ] || { cat "$ION_DIR/admin.out"; echo "ION did not start"; exit 1; }
grep -h SYSV "/proc/$first/maps" | sed 's/.*SYSV\(........\).*/0x\1/' | sort -u > "$ION_DIR/ipc.keys" || true
(cd "$ION_DIR/rx" && exec bprecvfile ipn:1.7 >> ../bprecvfile.out 2>&1 < /dev/null) &
PIDS+=($!)

mkdir -p "$WORK/ours"
cat > "$WORK/ours/node.toml" <<EOF
[node]
id = 2
[storage]
path = "store"
budget = "1 GiB"
[tcpcl]
listen = ["127.0.0.1:0"]
unauthenticated = "trusted"    # the load tool, on loopback
[ltp]
listen = ["127.0.0.1:$OUR_PORT"]
mtu = 1400
session_numbers = "32-bit"     # ION keeps session numbers in 32 bits
[[peer]]
node = 1
cla = "ltp"
address = "127.0.0.1:$ION_PORT"
rate = "200 Mbit/s"            # no plan here: pace the outduct, or ION's socket overflows
[[endpoint]]
eid = "ipn:2.7"
deliver = "dir"
dir = "inbox"
[log]
level = "info"
EOF
"$DTN" gateway run --config "$WORK/ours/node.toml" > "$WORK/ours/out" 2> "$WORK/ours/log" &
PIDS+=($!)
wait_for grep -q ready "$WORK/ours/out" || { cat "$WORK/ours/log"; exit 1; }
TCPCL="$(sed -n 's/.*tcpcl=\([^ ,]*\).*/\1/p' "$WORK/ours/out")"
failed=0
check() { if "$@"; then echo "ok: ${MSG}"; else echo "FAILED: ${MSG}"; failed=1; fi; }

echo "== ION -> us: one 1 MB file, then five small ones back to back (ION aggregates them)"
head -c 1000000 /dev/urandom > "$WORK/big.bin"
(cd "$ION_DIR" && bpsendfile ipn:1.6 ipn:2.7 "$WORK/big.bin" >> admin.out 2>&1 < /dev/null)
for i in 1 2 3 4 5; do
  head -c $(( 500 + i * 100 )) /dev/urandom > "$WORK/small$i.bin"
  (cd "$ION_DIR" && bpsendfile ipn:1.6 ipn:2.7 "$WORK/small$i.bin" >> admin.out 2>&1 < /dev/null)
done
arrived() { [ "$(find "$WORK/ours/inbox" -type f ! -name '.*' 2>/dev/null | wc -l)" -ge 6 ]; }
for _ in $(seq 1 150); do arrived && break; sleep 0.2; done
MSG="six files from ION arrived" check arrived
for f in "$WORK/big.bin" "$WORK"/small*.bin; do
  match=0
  for g in "$WORK"/ours/inbox/*; do cmp -s "$f" "$g" && match=1 && break; done
  MSG="$(basename "$f") arrived intact" check [ "$match" = 1 ]
done

echo "== us -> ION: 200 bundles of 1 KiB (aggregated into blocks), then 20 of 1 MB"
"$DTN" bench tcpcl --to "$TCPCL" --dest ipn:1.7 --size 1024 --count 200 --no-return > "$WORK/bench1" 2>&1 || true
"$DTN" bench tcpcl --to "$TCPCL" --dest ipn:1.7 --size 1000000 --count 20 --no-return > "$WORK/bench2" 2>&1 || true
# Distinct payloads (the load tool numbers its bundles): a bundle sent twice counts once.
distinct() { find "$ION_DIR/rx" -type f -size "$1" -exec md5sum {} + 2>/dev/null | awk '{print $1}' | sort -u | wc -l; }
at_ion() { [ "$(distinct 1024c)" -ge 200 ] && [ "$(distinct 1000000c)" -ge 20 ]; }
for _ in $(seq 1 300); do at_ion && break; sleep 0.2; done
MSG="200 distinct 1 KiB bundles reached ION's bprecvfile ($(distinct 1024c) there)" check [ "$(distinct 1024c)" -eq 200 ]
MSG="20 distinct 1 MB bundles reached it ($(distinct 1000000c) there)" check [ "$(distinct 1000000c)" -eq 20 ]
MSG="no bundle reached ION twice ($(find "$ION_DIR/rx" -type f | wc -l) files)" check [ "$(find "$ION_DIR/rx" -type f | wc -l)" -eq 220 ]
grep -q "LTP link up" "$WORK/ours/log" || true
if [ "$failed" != 0 ]; then
  echo "--- our gateway's log"; tail -n 20 "$WORK/ours/log"
  echo "--- ION's log"; tail -n 20 "$ION_DIR/ion.log" 2>/dev/null || true
fi
exit "$failed"
