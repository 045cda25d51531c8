#!/usr/bin/env bash
# tests/deps.sh: install what building, testing, benchmarking and the demo need on a
# Debian machine: only the Debian packages that are missing, then the pinned npm peers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PKGS=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev libjansson-dev
	libsystemd-dev libzstd-dev libcurl4-openssl-dev libcap-dev libpcre2-dev pkg-config
	# tests
	libcmocka-dev libclang-rt-14-dev iproute2 util-linux systemd jq curl openssl nodejs npm procps
	postgresql postgresql-client
	# benchmarks
	nginx mitmproxy
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere than Debian (a newer build already on PATH): keep it.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs/}")
	missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$ROOT/tests/e2e/peers/install.sh"
echo "deps: ready"
