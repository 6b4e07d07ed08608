#!/usr/bin/env bash
# Rolling out least-privilege enforcement on a legacy application, end to end:
#
#   1. Charter (temporary SQLite database) with a catalogue of scopes for the
#      course catalogue service: catalog:read and enrollments:read.
#   2. A legacy application that holds none of them, and the catalogue's own
#      application (allowed charter:report and charter:introspect).
#   3. The course catalogue in report-only mode: the legacy application's calls
#      all succeed, and the would-be denials are reported to Charter.
#   4. Charter's access report of the legacy application, the retrofit proposal,
#      and the proposal applied.
#   5. The catalogue in enforce mode: the legacy application, now asking for the
#      scopes it was granted, still succeeds; a token without them is refused.
#
# Usage: examples/rollout-demo.sh        (PROFILE=release for an optimised build;
#        CHARTER_PORT / CATALOGUE_PORT to change the ports, KEEP=1 to keep the temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-debug}
CHARTER_PORT=${CHARTER_PORT:-18000}
CATALOGUE_PORT=${CATALOGUE_PORT:-18100}
CHARTER_URL="http://127.0.0.1:$CHARTER_PORT"
CATALOGUE="http://127.0.0.1:$CATALOGUE_PORT"
ISSUER="$CHARTER_URL/oauth2"

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "rollout-demo: needs $tool" >&2; exit 1; }
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Building charter and course-catalogue ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release -p charter -p course-catalogue
else
  cargo build -p charter -p course-catalogue
fi
BIN="target/$PROFILE"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Every charter command (server and CLI) uses this database and the master key file beside it.
export CHARTER_DATABASE_URL="sqlite://$WORK/charter.db"
export CHARTER_SERVER__PUBLIC_URL="$CHARTER_URL"
export CHARTER_SERVER__TOKENS__ISSUER="$ISSUER"
export CHARTER_SERVER__TOKENS__AUDIENCE="lms-key"
charter() { "$BIN/charter" "$@"; }

wait_for() { # url, log file
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "rollout-demo: $1 did not come up; its log:" >&2
  cat "$2" >&2
  exit 1
}

say "Starting Charter on $CHARTER_URL"
for port in "$CHARTER_PORT" "$CATALOGUE_PORT"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "rollout-demo: port $port is taken; set CHARTER_PORT / CATALOGUE_PORT" >&2
    exit 1
  fi
done
charter migrate >/dev/null
# The binary itself in the background (not the shell function), so that its pid is the one killed.
"$BIN/charter" serve --listen "127.0.0.1:$CHARTER_PORT" >"$WORK/charter.log" 2>&1 &
PIDS+=($!)
wait_for "$CHARTER_URL/healthz" "$WORK/charter.log"

say "The catalogue's scopes"
run charter resource create catalog --service discovery --description "Course catalogue"
run charter scope create catalog:read --description "Read the course catalogue"
run charter resource create enrollments --service lms --description "Enrollments of learners"
run charter scope create enrollments:read --description "Read the courses a learner is enrolled in"

say "A legacy application (no catalogue scopes) and the catalogue's own application"
run charter service-user create legacy-reports --email reports@partner.example
run charter service-user create catalogue --email catalogue@example.org
LEGACY_SECRET=$(charter --json app create --name "Legacy reports" --owner legacy-reports \
  --client-id legacy-reports --scope grades:read | jq -r .secret.client_secret)
RS_SECRET=$(charter --json app create --name "Course catalogue" --owner catalogue \
  --client-id course-catalogue --scope charter:report --scope charter:introspect | jq -r .secret.client_secret)
echo "legacy-reports: allowed grades:read (plus the defaults)"
echo "course-catalogue: allowed charter:report charter:introspect"

start_catalogue() { # mode
  "$BIN/course-catalogue" --issuer "$ISSUER" --charter-url "$CHARTER_URL" --audience lms-key \
    --listen "127.0.0.1:$CATALOGUE_PORT" --client-id course-catalogue --client-secret "$RS_SECRET" \
    --mode "$1" --policy strict --flush-secs 1 >"$WORK/catalogue-$1.log" 2>&1 &
  CATALOGUE_PID=$!
  PIDS+=("$CATALOGUE_PID")
  wait_for "$CATALOGUE/healthz" "$WORK/catalogue-$1.log"
}

stop_catalogue() { # graceful: the last decisions are flushed to Charter
  kill -TERM "$CATALOGUE_PID"
  wait "$CATALOGUE_PID" 2>/dev/null || true
}

token() { # [scope]
  local args=(-fsS -u "legacy-reports:$LEGACY_SECRET" -d grant_type=client_credentials)
  [ -n "${1:-}" ] && args+=(--data-urlencode "scope=$1")
  curl "${args[@]}" "$CHARTER_URL/oauth2/token" | jq -r .access_token
}

ROUTES=(/api/courses "/api/courses/course-v1:MITx+6.002x+2024_T1" /api/users/legacy-reports/enrollments)
call_routes() { # token
  for path in "${ROUTES[@]}"; do
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: JWT $1" "$CATALOGUE$path")
    printf '  GET %-45s -> %s  %s\n' "$path" "$code" "$(head -c 100 "$WORK/body")"
  done
}

say "The catalogue in report-only mode; the legacy application calls it as it always has"
start_catalogue report-only
LEGACY_TOKEN=$(token)
echo "legacy token scopes: $(curl -fsS -u "course-catalogue:$RS_SECRET" -d "token=$LEGACY_TOKEN" "$CHARTER_URL/oauth2/introspect" | jq -r .scope)"
call_routes "$LEGACY_TOKEN"
call_routes "$LEGACY_TOKEN" >/dev/null
echo "what the catalogue logged (one line per decision, target charter_guard::decision):"
sleep 0.2
grep 'charter_guard::decision' "$WORK/catalogue-report-only.log" | head -3 | sed 's/^/  /'
stop_catalogue

say "Charter's access report of the legacy application"
run charter report --client-id legacy-reports

say "The retrofit proposal"
run charter app retrofit legacy-reports
say "Applied"
run charter app retrofit legacy-reports --apply --yes
run charter app show legacy-reports

say "The catalogue in enforce mode"
start_catalogue enforce
echo "a token without the catalogue's scopes is now refused:"
call_routes "$(token)"
echo "the legacy application asks for the scopes it was granted, and succeeds:"
call_routes "$(token 'catalog:read enrollments:read')"
stop_catalogue

say "Done"
