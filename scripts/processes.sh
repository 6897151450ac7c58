# Sourced by the benchmark and interop scripts: a scratch directory, the processes the script
# starts (PIDS: only these are stopped at exit, by PID), a poll helper, and a gateway starter.
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_for() { for _ in $(seq 1 100); do if "$@" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done; return 1; }
# Starts `$DTN gateway run` with this config body in $WORK/NAME; waits for it to be ready.
start_gateway() { # name config-body -> sets $ADDR, $PID
  local name="$1"; mkdir -p "$WORK/$name"
  printf '%s\n' "$2" > "$WORK/$name/node.toml"
  "$DTN" gateway run --config "$WORK/$name/node.toml" > "$WORK/$name/out" 2> "$WORK/$name/log" &
  PID=$!; PIDS+=($PID)
  wait_for grep -q ready "$WORK/$name/out" || { cat "$WORK/$name/log"; exit 1; }
  ADDR="$(sed -n 's/.*tcpcl=\([^ ]*\).*/\1/p' "$WORK/$name/out")"
}
