#!/usr/bin/env bash
# Hourglass's worker (thread executors; process isolation) against the
# official Temporal TS SDK worker, one run, one hourglass-devserver; the
# table for BENCHMARKS.md ("Hourglass worker vs the official TS worker").
#
#   bench/worker_vs_ts/run.sh                  default: -n 2000 -c 50 --warmup 100 -k 500 --rounds 2
#   bench/worker_vs_ts/run.sh --smoke          -n 20 -c 5 -k 20, one round (ctest bench_smoke_worker_vs_ts)
#   bench/worker_vs_ts/run.sh --contenders thread,ts --workloads noop -n 500
#   bench/worker_vs_ts/run.sh --json-only | tail -1
#
# Binaries: --bin-dir DIR, $HOURGLASS_BIN_DIR, or build/bin. The TS SDK is the
# one tests/conformance pins; it is installed there exactly as
# tests/conformance/run.sh does (npm ci from package-lock.json, only when
# node_modules is missing or older than the lockfile; --prefer-offline, so
# npm's cache makes it work offline). Other options: bench.js --help.
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

conf="$repo/tests/conformance"
if [[ ! -f "$conf/node_modules/.package-lock.json" || "$conf/package-lock.json" -nt "$conf/node_modules/.package-lock.json" ]]; then
  echo "bench: npm ci in tests/conformance (TS SDK pinned by package-lock.json)" >&2
  (cd "$conf" && npm ci --prefer-offline --no-audit --no-fund)
fi

exec node "$here/bench.js" "$@"
