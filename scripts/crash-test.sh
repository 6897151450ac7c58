#!/usr/bin/env bash
# Kills a custody-taking gateway with SIGKILL N times at random moments while bundles flow,
# restarting it each time, and checks that every bundle it accepted custody of reaches the
# application exactly once (gateway/tests/crash.rs). Usage: scripts/crash-test.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export DTN_CRASH_KILLS="${1:-100}"
if [ -n "${2:-}" ]; then export DTN_CRASH_SEED="$2"; fi
exec cargo test --release -p gateway --test crash -- --nocapture
