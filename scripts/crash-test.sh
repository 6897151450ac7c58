#!/usr/bin/env bash
# Three gateways in a chain (an application -> A -> B -> C -> an application, custody on
# every hop): kills B with SIGKILL N times at random moments while ADUs flow, restarting it
# each time, and checks that every ADU A accepted reaches C's application exactly once,
# intact (gateway/tests/crash.rs). Usage: scripts/crash-test.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export DTN_CRASH_KILLS="${1:-100}"
if [ -n "${2:-}" ]; then export DTN_CRASH_SEED="$2"; fi
exec cargo test --release -p gateway --test crash -- --nocapture
