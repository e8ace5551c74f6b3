#!/usr/bin/env bash
# `make demo`: runs, end to end, what Hourglass can do today. Each process role
# joins the demo as its issue lands; nothing here is mocked. (The supervisor
# issue turns steps 2-6 into one `hourglass-supervisor` tree.)
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
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_for() {  # wait_for FILE PATTERN WHAT
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$3 did not start:"; cat "$1"; exit 1
}
sock="$tmp/run/bridge.sock"
hg() { "$bin/hourglass" "$@" --bridge-socket "$sock"; }

echo "-- 1. hourglass-devserver: a durable Temporal-compatible server on SQLite"
"$bin/hourglass-devserver" --port 0 --db-filename "$tmp/dev.db" --log-level warn \
  > "$tmp/ready" 2> "$tmp/devserver.log" &
pids+=($!)
wait_for "$tmp/ready" 'ready on' devserver
address=$(sed -n 's/.*ready on //p' "$tmp/ready")
echo "   $(cat "$tmp/ready")"
echo

echo "-- 2. hourglass-bridgehost: the one process that talks to Temporal"
"$bin/hourglass-bridgehost" --target "$address" --runtime-dir "$tmp/run" > "$tmp/bridgehost.log" 2>&1 &
pids+=($!)
wait_for "$tmp/bridgehost.log" 'serving on' bridgehost
echo "   serving on $sock"
echo

echo "-- 3. hourglass-workerproc: the C++ worker for task queue 'default' (Hello, KitchenSink)"
"$bin/hourglass-workerproc" --bridge-socket "$sock" --task-queue default > "$tmp/worker.log" 2>&1 &
worker=$!
pids+=($worker)
wait_for "$tmp/worker.log" 'serving task queue' worker
sed -n 's/.*\(serving task queue.*\)/   \1/p' "$tmp/worker.log"
echo

echo "-- 4. hourglass workflow execute: Hello, a C++ workflow calling a C++ activity"
echo "   \$ hourglass workflow execute --type Hello --task-queue default --input '\"World\"'"
hg workflow execute --type Hello --task-queue default --workflow-id demo-hello --input '"World"' | sed 's/^/   /'
echo

echo "-- 5. SIGKILL the worker in the middle of a workflow; a new worker replays it and finishes"
hg workflow start --type KitchenSink --task-queue default --workflow-id demo-kill \
  --input '{"signals":["go"],"actions":[{"activity":"noop"},{"signal":"go"},{"return":"finished after the kill"}]}' \
  > /dev/null
sleep 0.5
kill -KILL "$worker"
echo "   worker $worker killed"
"$bin/hourglass-workerproc" --bridge-socket "$sock" --task-queue default > "$tmp/worker2.log" 2>&1 &
pids+=($!)
wait_for "$tmp/worker2.log" 'serving task queue' worker
hg workflow signal --workflow-id demo-kill --name go > /dev/null
hg workflow result --workflow-id demo-kill | sed 's/^/   /'
echo

echo "-- 6. replay: the recorded histories of the samples against the current code"
"$bin/hourglass" replay tests/workerproc/histories/hello.json tests/workerproc/histories/kitchen_sink.json \
  --worker "$bin/hourglass-workerproc" | sed 's/^/   /'
echo

echo "-- 7. the IPC layer: a bridge-host style server (libevent, Unix socket in a"
echo "   0700 directory, SO_PEERCRED check) against raw socketpair ping-pong with"
echo "   the same payload, in one run:"
"$bin/ipc_roundtrip_bench" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^IPC request\/reply/,$p'
