#!/usr/bin/env bash
# Fuzzes every target (or those named) for SECONDS each with libFuzzer on stable Rust: no
# cargo-fuzz needed (the coverage instrumentation flags are set here), no sanitizer. Seeds
# are fuzz/corpus/<target> (committed; new finds go to a scratch directory unless
# MINIMISE=1 merges them back into the committed corpus), dictionaries fuzz/dict/<kind>.dict.
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the run.
# JOBS=2 runs two targets at once.
# Usage: scripts/fuzz.sh SECONDS [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
declare -A DICT=(
  [bundle_decode]=cbor [admin_record_decode]=cbor [app_message_decode]=app [app_client_stream]=app
  [eid_parse]=cbor [contact_plan_parse]=plan [hdtn_plan_parse]=json [node_config_parse]=toml
  [tcpcl_session]=tcpcl [mtcp_decode]=cbor [ltp_segment]=ltp [bpsec_decode]=cbor [cose_decode]=cbor
)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(bundle_decode eid_parse contact_plan_parse hdtn_plan_parse admin_record_decode \
  tcpcl_session mtcp_decode ltp_segment bpsec_decode cose_decode app_message_decode app_client_stream node_config_parse)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$PWD/target/fuzz"
# An explicit target keeps the instrumentation out of build scripts and proc macros.
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --locked --bins --target "$TRIPLE" 2>&1 | tail -n 1
BIN="$CARGO_TARGET_DIR/$TRIPLE/release"
# One target: fuzz, report, optionally merge the new finds into the committed corpus.
fuzz_one() {
  local t="$1" scratch dict log runs merged
  mkdir -p "corpus/$t" "artifacts/$t"
  scratch="$(mktemp -d)"
  dict="dict/${DICT[$t]:-cbor}.dict"
  log="$(mktemp)"
  if "$BIN/$t" "$scratch" "corpus/$t" -dict="$dict" -max_total_time="$SECONDS_EACH" \
      -max_len=65536 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
      >"$log" 2>&1; then
    runs="$(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "$t: ${SECONDS_EACH} s, $runs runs, no finding"
  else
    echo "$t: FINDING (input in fuzz/artifacts/$t/):"; tail -n 30 "$log"
    rm -rf "$scratch" "$log"
    return 1
  fi
  if [ "${MINIMISE:-0}" = 1 ]; then
    merged="$(mktemp -d)"
    "$BIN/$t" -merge=1 "$merged" "corpus/$t" "$scratch" >/dev/null 2>&1 || true
    rm -rf "corpus/$t" && mv "$merged" "corpus/$t"
  fi
  rm -rf "$scratch" "$log"
}

# JOBS targets at a time (default 1).
status=0
running=0
for t in "${TARGETS[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "${JOBS:-1}" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
