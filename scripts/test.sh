#!/usr/bin/env bash
# The whole test suite: unit tests, the storage conformance suite on SQLite and
# PostgreSQL, and the integration tests that spawn the real server.
# PostgreSQL tests use postgres://postgres@127.0.0.1:5432 (override: CHARTER_TEST_PG_URL),
# each run in a fresh database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
cargo test --workspace --locked -- --test-threads 4
