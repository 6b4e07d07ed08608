#!/usr/bin/env bash
# The whole test suite: unit tests, the storage conformance suite on SQLite and
# PostgreSQL, and the integration tests that spawn the real server.
# PostgreSQL tests use postgres://postgres@127.0.0.1:5432 (override: CHARTER_TEST_PG_URL),
# each run in a fresh database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked -- --test-threads 4 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
