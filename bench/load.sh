#!/usr/bin/env bash
# Load benchmark of the release build on loopback.
#
#   bench/load.sh                 # SQLite (the default backend)
#   BACKEND=postgres bench/load.sh
#   DURATION=10 CONNECTIONS=64 bench/load.sh
#
# Prints requests/s, p50/p99 and the server's peak resident memory for:
# client_credentials with opaque tokens, with EdDSA, ES256 and RS256 JWTs,
# and introspection of an opaque token. Idle memory is printed first.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${BACKEND:-sqlite}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18111}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p charter
BIN=$PWD/target/release/charter

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  if [ "$BACKEND" = postgres ]; then psql "$PG_BASE/test" -qc "DROP DATABASE IF EXISTS charter_bench WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
  psql "$PG_BASE/test" -qc "DROP DATABASE IF EXISTS charter_bench WITH (FORCE)" >/dev/null
  psql "$PG_BASE/test" -qc "CREATE DATABASE charter_bench" >/dev/null
  export CHARTER_DATABASE_URL="$PG_BASE/charter_bench"
  export CHARTER_MASTER_KEY_FILE="$WORK/master.key"
else
  export CHARTER_DATABASE_URL="sqlite://$WORK/charter.db"
fi
export CHARTER_LOG_FILTER=warn

"$BIN" migrate >/dev/null
"$BIN" service-user create bench-svc --json >/dev/null
secret_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"]["client_secret"])'; }
OPAQUE_SECRET=$("$BIN" app create --name "Bench opaque" --owner bench-svc --client-id bench-opaque --token-format opaque --scope grades:read --json | secret_of)
JWT_SECRET=$("$BIN" app create --name "Bench JWT" --owner bench-svc --client-id bench-jwt --token-format jwt --scope grades:read --json | secret_of)
RS_SECRET=$("$BIN" app create --name "Bench resource server" --owner bench-svc --client-id bench-rs --scope charter:introspect --json | secret_of)

"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

# Warm up, then idle memory.
curl -s -u "bench-opaque:$OPAQUE_SECRET" -d grant_type=client_credentials "$BASE/oauth2/token" >/dev/null
sleep 1
echo "backend=$BACKEND connections=$CONNECTIONS threads=$THREADS duration=${DURATION}s cores=$(nproc)"
awk -v k="$(rss_kb)" 'BEGIN {printf "idle resident memory: %.1f MB\n", k / 1024}'
printf '%-34s %10s %9s %9s %8s %14s\n' case "req/s" "p50 ms" "p99 ms" "non-2xx" "peak RSS MB"

run_case() { # name auth body
  local name=$1
  local out
  out=$(AUTH="$2" BODY="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s bench/wrk-post.lua "$BASE$4" | tail -n 1)
  python3 - "$name" "$out" "$(hwm_kb)" <<'PY'
import json, sys
name, out, hwm = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
print(f"{name:<34} {out['rps']:>10.0f} {out['p50_ms']:>9.2f} {out['p99_ms']:>9.2f} {out['non_2xx'] + out['socket_errors']:>8} {hwm/1024:>14.1f}")
PY
}

run_case "client_credentials opaque" "$(basic bench-opaque "$OPAQUE_SECRET")" "grant_type=client_credentials&scope=grades%3Aread" /oauth2/token
for alg in EdDSA ES256 RS256; do
  "$BIN" keys rotate --alg "$alg" --delay 0 >/dev/null
  sleep 1.1
  run_case "client_credentials JWT $alg" "$(basic bench-jwt "$JWT_SECRET")" "grant_type=client_credentials&scope=grades%3Aread" /oauth2/token
done
TOKEN=$(curl -s -u "bench-opaque:$OPAQUE_SECRET" -d grant_type=client_credentials "$BASE/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
run_case "introspection (opaque token)" "$(basic bench-rs "$RS_SECRET")" "token=$TOKEN" /oauth2/introspect
awk -v k="$(hwm_kb)" 'BEGIN {printf "peak resident memory over the run: %.1f MB\n", k / 1024}'
