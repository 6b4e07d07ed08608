#!/usr/bin/env bash
# The whole test suite: unit tests, the storage conformance suite on SQLite and
# PostgreSQL, and the integration tests that spawn the real server (one of them drives
# headless Chromium; screenshots of the consent page land in target/artifacts/).
# PostgreSQL tests use postgres://postgres@127.0.0.1:5432 (override: CHARTER_TEST_PG_URL),
# each run in a fresh database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# The browser tests drive Debian's headless Chromium through chromedriver.
if ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "scripts/test.sh: the browser tests need chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2
  fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked -- --test-threads 4 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
