#!/usr/bin/env bash
# Installs the Debian 12 packages Hourglass builds and tests with. Idempotent:
# when everything is present it does nothing (and needs no root).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates tar
  clang clang-14 libclang-rt-14-dev           # libFuzzer + the ASan/UBSan preset
  protobuf-compiler libprotobuf-dev           # protoc 3.21, libprotobuf
  protobuf-compiler-grpc libgrpc++-dev        # grpc_cpp_plugin, grpc++ 1.51
  libevent-dev libspdlog-dev libfmt-dev libcap-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
  nodejs npm                                  # fetches the pinned Temporal protos once
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# npm may come from outside Debian (e.g. a NodeSource install): accept any npm.
if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing missing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "error: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
