#!/usr/bin/env bash
# Loopback load test of the PAID path: the reference server serving GET /paid to
# requests that each carry a credential of their own (minted in advance by the
# mint_credentials example with the server's secret, preimage test method), with
# each store, against the same axum app without the paywall. Prints requests per
# second and p50/p99 latency per store. Needs wrk (apt-get install wrk), and
# redis-server for the redis store.
#
#   bash mpp-server/reference/load/paid.sh [seconds] [connections] [stores...]
#
# Stores: memory, sqlite, redis, postgres (default: all four). For postgres the
# script starts a throwaway cluster (initdb/postgres from Debian's postgresql, run as
# the postgres user when root; fsync on, as in production). MPP_LOAD_CREDENTIALS
# sets how many credentials are minted (default 400000; a run must not use them up).
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-10}
conns=${2:-64}
shift $(( $# > 2 ? 2 : $# ))
stores=("$@")
[ ${#stores[@]} -gt 0 ] || stores=(memory sqlite redis postgres)
count=${MPP_LOAD_CREDENTIALS:-400000}
secret="load-test-secret-load-test-secret-0123"
preimage="load-test"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --quiet --release -p mpp-reference-server --bin mpp-server \
  --example bare_app --example mint_credentials
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
target/release/examples/mint_credentials "$secret" "$preimage" "$count" >"$dir/credentials"

start() { # name command...
  local name=$1; shift
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  for _ in $(seq 100); do
    grep -q '^listening on ' "$dir/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$dir/$name.out"
}

# wrk's report for URL (with the paid script when $2 is "paid"), as
# "requests/s p50 p99 non-2xx".
measure() {
  local url=$1 script=()
  [ "${2:-}" = paid ] && script=(-s mpp-server/reference/load/paid.lua)
  CREDENTIALS="$dir/credentials" wrk -t1 -c"$conns" -d"${secs}s" --latency "${script[@]}" "$url" \
    >"$dir/wrk.txt"
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
       /Non-2xx/ {bad=$5} END {printf "%s %s %s %s\n", rps, p50, p99, bad+0}' "$dir/wrk.txt"
}

bare=$(start bare target/release/examples/bare_app 127.0.0.1:0)
read -r bare_rps bare_p50 bare_p99 _ < <(measure "$bare/paid")
kill %1 2>/dev/null || true
printf '%-8s %12s %9s %9s %8s %7s\n' store "requests/s" p50 p99 non-2xx "of bare"
printf '%-8s %12s %9s %9s %8s %7s\n' bare "$bare_rps" "$bare_p50" "$bare_p99" - 100%

for store in "${stores[@]}"; do
  flags=()
  case $store in
    memory) flags=(--memory) ;;
    sqlite) flags=(--sqlite "$dir/state-$RANDOM.sqlite3") ;;
    redis)
      port=$((20000 + RANDOM % 20000))
      redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        >"$dir/redis.out" 2>&1 &
      sleep 0.5
      flags=(--redis "redis://127.0.0.1:$port") ;;
    postgres)
      bin=$(dirname "$(readlink -f "$(command -v initdb)")")
      as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
      pg="$dir/pg"; mkdir -p "$pg"; chmod o+x "$dir"; [ ${#as[@]} -gt 0 ] && chown postgres "$pg"
      port=$((20000 + RANDOM % 20000))
      "${as[@]}" "$bin/initdb" -D "$pg/data" -U postgres --auth=trust >/dev/null
      "${as[@]}" "$bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w \
        -o "-p $port -k $pg -c listen_addresses=127.0.0.1" start >/dev/null
      flags=(--postgres "postgres://postgres@127.0.0.1:$port/postgres") ;;
    *) echo "unknown store $store" >&2; exit 64 ;;
  esac
  url=$(start "server-$store" target/release/mpp-server --listen 127.0.0.1:0 \
    --secret "$secret" --preimage "$preimage" "${flags[@]}")
  read -r rps p50 p99 bad < <(measure "$url/paid" paid)
  runs=$(curl -s "$url/stats" | sed 's/[^0-9]//g')
  ratio=$(awk -v a="$rps" -v b="$bare_rps" 'BEGIN { printf "%.0f%%", 100 * a / b }')
  printf '%-8s %12s %9s %9s %8s %7s   (paid handler runs: %s)\n' \
    "$store" "$rps" "$p50" "$p99" "$bad" "$ratio" "$runs"
  pkill -f "mpp-server --listen 127.0.0.1:0 --secret $secret" 2>/dev/null || true
  [ "$store" = redis ] && { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; }
  [ "$store" = postgres ] && { "${as[@]}" "$bin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null || true; }
done
