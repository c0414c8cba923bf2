#!/usr/bin/env bash
# Runs every test of the workspace against a real ClickHouse. Uses CLICKHOUSE_URL when
# set; otherwise the tests start a private server themselves (scripts/clickhouse.sh, left
# running afterwards for the next run: `scripts/clickhouse.sh stop target/clickhouse-test`).
#
#   scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
export NBA_DATA_DIR="${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}"
exec cargo test --workspace --locked "$@"
