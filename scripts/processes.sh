# Sourced by the benchmark and interop scripts: a scratch directory, the processes the script
# starts (PIDS: only these are stopped at exit, by PID) and a poll helper.
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_for() { for _ in $(seq 1 100); do if "$@" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done; return 1; }
