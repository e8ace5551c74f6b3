#!/usr/bin/env bash
# Runs the hourglass-devserver conformance suite (the official Temporal
# TypeScript SDK, pinned in package-lock.json) against a devserver binary.
#
#   tests/conformance/run.sh /path/to/hourglass-devserver [extra node --test options]
#   CONFORMANCE_FILTER=S3 tests/conformance/run.sh build/bin/hourglass-devserver
#   CONFORMANCE_FILTER=S3,S7,M5 …        several scenarios (X… for cross_sdk.test.js)
#   CONFORMANCE_FILTER='S2[0-9]' …       anything else is a --test-name-pattern regex
#
# The binary may also come from $HOURGLASS_DEVSERVER. CONFORMANCE_KEEP_TMP=1
# keeps the temporary directories (dev.db, devserver.log) even on success.
# CONFORMANCE_FILES="a.test.js b.test.js" runs those test files instead of the
# default four (the ctest conformance_cross_sdk runs cross_sdk.test.js this
# way, with $HOURGLASS_BRIDGEHOST and $HOURGLASS_CROSS_SDK_WORKER set).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

bin="${1:-${HOURGLASS_DEVSERVER:-}}"
[[ $# -gt 0 ]] && shift
if [[ -z "$bin" ]]; then
  echo "usage: $0 /path/to/hourglass-devserver [node --test options]" >&2
  echo "       (or set HOURGLASS_DEVSERVER)" >&2
  exit 2
fi
if [[ ! -f "$bin" || ! -x "$bin" ]]; then
  echo "$0: hourglass-devserver binary not found or not executable: $bin" >&2
  exit 2
fi
HOURGLASS_DEVSERVER="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export HOURGLASS_DEVSERVER

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: '$tool' is not installed (scripts/install-deps.sh installs nodejs and npm)" >&2
    exit 2
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
  echo "$0: Node.js >= 20 is required (found $(node --version))" >&2
  exit 2
fi

cd "$here"

# Install the pinned SDK only when node_modules is missing or older than the
# lockfile; npm's cache (~/.npm) makes a reinstall work offline.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "conformance: npm ci (TS SDK pinned by package-lock.json)" >&2
  npm ci --prefer-offline --no-audit --no-fund
fi

pattern_args=()
if [[ -n "${CONFORMANCE_FILTER:-}" ]]; then
  if [[ "$CONFORMANCE_FILTER" =~ ^[SMX][0-9]+(,[SMX][0-9]+)*$ ]]; then
    # S3 must not also select S30..S37: anchor on the "S3:" test-name prefix.
    pattern="^(${CONFORMANCE_FILTER//,/|}):"
  else
    pattern="$CONFORMANCE_FILTER"
  fi
  echo "conformance: only tests matching /${pattern}/" >&2
  pattern_args=("--test-name-pattern=${pattern}")
fi

files=(matcher.test.js conformance.test.js durability.test.js malformed.test.js)
if [[ -n "${CONFORMANCE_FILES:-}" ]]; then
  read -r -a files <<<"$CONFORMANCE_FILES"
fi

exec node --test \
  --test-concurrency=1 \
  --test-force-exit \
  --test-reporter=spec \
  "${pattern_args[@]}" \
  "$@" \
  "${files[@]}"
