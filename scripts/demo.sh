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

echo "-- The IPC layer: a real bridge-host style server (libevent, Unix socket in a"
echo "   0700 directory, SO_PEERCRED check) answering real clients, against raw"
echo "   socketpair ping-pong with the same payload, in one run:"
"$bin/ipc_roundtrip_bench" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^IPC request\/reply/,$p'
