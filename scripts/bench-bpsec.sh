#!/usr/bin/env bash
# BPSec forwarding cost on loopback (BENCHMARKS.md): load tool -> A -> B -> load tool over
# TCPCLv4 at 64 KiB, first without BPSec, then with A signing every payload (BIB-HMAC-SHA-384,
# a waypoint as security source) and B verifying and accepting it (the BIB checked and
# removed) before handing the bundle on; then the same with encryption added (BCB-AES-256-GCM,
# A encrypts, B decrypts). Each pair of gateways is fresh.
# MAC=hmac-sha256 (or -512) picks the integrity context.
# Usage: scripts/bench-bpsec.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gateway --bin dtn 2>&1 | tail -n 1
DTN="$PWD/target/release/dtn"
COUNT="${1:-20000}"
# shellcheck source=scripts/processes.sh
. scripts/processes.sh

"$DTN" bpsec key --out "$WORK/mac.jwk" >/dev/null
"$DTN" bpsec key --out "$WORK/kek.jwk" --bytes 32 >/dev/null
rules() { # role services...
  local role="$1"; shift
  printf '[bpsec]\nkeys = [{ id = "mac", file = "%s" }, { id = "kek", file = "%s" }]\n' "$WORK/mac.jwk" "$WORK/kek.jwk"
  for service in "$@"; do
    local context="${MAC:-hmac-sha384}" key=mac
    if [ "$service" = confidentiality ]; then context=aes256-gcm; key=kek; fi
    printf '[[bpsec.rule]]\nrole = "%s"\nservice = "%s"\nbundles = "data"\ndestination = "ipn:4000000.*"\ncontext = "%s"\nkeys = ["%s"]\non_failure = "drop"\n' \
      "$role" "$service" "$context" "$key"
  done
}

run() { # label services...
  local label="$1"; shift
  local common='[storage]
path = "store"
budget = "1 GiB"
[tcpcl]
listen = ["127.0.0.1:0"]
segment_mru = "16 MiB"
unauthenticated = "trusted"
[log]
level = "warn"'
  local a_rules="" b_rules=""
  if [ $# -gt 0 ]; then a_rules="$(rules source "$@")"; b_rules="$(rules acceptor "$@")"; fi
  start_gateway "b-$label" "[node]
id = 2
$common
$b_rules"
  local b="$ADDR"
  start_gateway "a-$label" "[node]
id = 1
$common
[[peer]]
node = 2
cla = \"tcpcl\"
address = \"$b\"
[[route]]
dest = 4000000
via = 2
$a_rules"
  local a="$ADDR"
  sleep 1
  echo "== $label"
  "$DTN" bench tcpcl --to "$a" --back "$b" --size 65536 --count "$COUNT" --window 2000
}

run "no BPSec"
run "BIB: A signs, B verifies and accepts" integrity
run "BIB and BCB: A signs and encrypts, B decrypts, verifies and accepts" integrity confidentiality
