#!/usr/bin/env bash
# hourglass-devserver with the official Temporal TS worker: throughput,
# start→result latency and CPU split, one run (see BENCHMARKS.md).
#
#   bench/devserver/run.sh                         default: 2000 workflows, 20 in flight, 100 warm-up
#   bench/devserver/run.sh --fsync                 the server fsyncs every commit
#   bench/devserver/run.sh -n 5000 -c 50           other sizes
#   bench/devserver/run.sh --profile callgrind     server under callgrind (defaults to -n 200 -c 10 --warmup 20)
#   bench/devserver/run.sh --profile perf          perf record -g attached to the server for the measured window
#   bench/devserver/run.sh --json-only | tail -1   only the JSON line
#
# The binary is $HOURGLASS_DEVSERVER, --server PATH, or build/bin/hourglass-devserver.
# The TS SDK is the one tests/conformance pins; it is installed there (npm ci)
# when tests/conformance/node_modules is missing. Other options: bench.js --help.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: '$tool' is not installed (scripts/install-deps.sh installs nodejs and npm)" >&2
    exit 2
  fi
done
if (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
  echo "$0: Node.js >= 20 is required (found $(node --version))" >&2
  exit 2
fi

if [[ ! -f "$repo/tests/conformance/node_modules/.package-lock.json" ]]; then
  echo "bench: npm ci in tests/conformance (TS SDK pinned by package-lock.json)" >&2
  (cd "$repo/tests/conformance" && npm ci --prefer-offline --no-audit --no-fund)
fi

exec node "$here/bench.js" "$@"
