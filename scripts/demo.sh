#!/usr/bin/env bash
# `make demo`: runs, end to end, what Hourglass can do today. Each process role
# joins the demo as its issue lands; nothing here is mocked.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin

echo "== Hourglass demo =="
echo
echo "Built so far:"
for b in hourglass-supervisor hourglass-bridgehost hourglass-workerproc hourglass-devserver hourglass; do
  if [ -x "$bin/$b" ]; then echo "  [x] $b"; else echo "  [ ] $b (not built yet)"; fi
done
echo

tmp=$(mktemp -d /tmp/hourglass-demo-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "-- 1. hourglass-devserver: a durable Temporal-compatible server on SQLite"
"$bin/hourglass-devserver" --port 0 --db-filename "$tmp/dev.db" --log-level warn \
  > "$tmp/ready" 2> "$tmp/devserver.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q 'ready on' "$tmp/ready" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q 'ready on' "$tmp/ready"; then
  echo "devserver did not start:"; cat "$tmp/devserver.log"; exit 1
fi
address=$(sed -n 's/.*ready on //p' "$tmp/ready")
echo "   $(cat "$tmp/ready")"
echo

echo "-- 2. the official Temporal TypeScript SDK runs Hello against it"
echo "   (Hourglass's own worker process replaces this worker when it lands)"
if [ ! -f tests/conformance/node_modules/.package-lock.json ]; then
  (cd tests/conformance && npm ci --prefer-offline --no-audit --no-fund --silent)
fi
node scripts/demo/hello.js "$address"
echo

echo "-- 3. the IPC layer: a bridge-host style server (libevent, Unix socket in a"
echo "   0700 directory, SO_PEERCRED check) against raw socketpair ping-pong with"
echo "   the same payload, in one run:"
"$bin/ipc_roundtrip_bench" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^IPC request\/reply/,$p'
