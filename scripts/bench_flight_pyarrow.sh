#!/usr/bin/env bash
# pyarrow against nba-server's Flight DoExchange in both client patterns (issue 21's
# done-when): write-everything-then-read of 1,000,000 rows 10 times in a row, each with a
# timeout (how many got every answer, each run's time), then read-while-writing of
# 2,000,000 rows 3 times (rows/s end to end, the median). Release build, the 300-tree
# depth-6 bench ensemble, the server's default flags; the Python client shares the cores.
# Starts the private ClickHouse if CLICKHOUSE_URL is unset; uses the `serve` bench's
# database (season 2023-24, loaded on first use); pyarrow goes into target/pyarrow-venv
# (the tests' venv) on first use. Prints the load average before and after: say whether
# the machine was quiet.
#
#   bash scripts/bench_flight_pyarrow.sh   # NBA_BENCH_WRITE_THEN_READ_RUNS, NBA_BENCH_FLIGHT_ROWS,
#                                          # NBA_BENCH_ROUNDS, NBA_BENCH_TIMEOUT_SECS
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/target/clickhouse-test")"
fi
export CLICKHOUSE_URL RUST_LOG="${RUST_LOG:-warn}"
echo "before: $(uptime)"
cargo bench --locked -p nba-server --bench flight_pyarrow
echo "after: $(uptime)"
