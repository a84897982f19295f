#!/usr/bin/env bash
# Loopback load test: requests per second of the reference server's 402 path
# (GET /paid without a credential) against the same axum app without the paywall
# (GET /paid answering 200 directly). Needs wrk (Debian: apt-get install wrk).
#
#   bash mpp-server/reference/load/run.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --quiet --release -p mpp-reference-server --bin mpp-server --example bare_app
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT

start() { # name command...
  local name=$1; shift
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  for _ in $(seq 50); do
    grep -q '^listening on ' "$dir/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$dir/$name.out"
}

paywall=$(start paywall target/release/mpp-server --listen 127.0.0.1:0 \
  --secret "load-test-secret-load-test-secret-0123" --preimage load-test --sqlite "$dir/state.sqlite3")
bare=$(start bare target/release/examples/bare_app 127.0.0.1:0)

rps() { # url
  wrk -t1 -c"$conns" -d"${secs}s" --latency "$1" | tee "$dir/wrk.txt" >&2
  awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt"
}

echo "== paywall 402 path: $paywall/paid" >&2
with=$(rps "$paywall/paid")
echo "== bare app: $bare/paid" >&2
without=$(rps "$bare/paid")
ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.0f", 100 * a / b }')
echo "paywall 402 path: $with req/s; bare app: $without req/s; the paywall keeps ${ratio}%"
