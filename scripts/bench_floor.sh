#!/usr/bin/env bash
# Predict against its floor: a bare tonic server with a native walk of the same ensemble,
# nba-server with the prediction log off, with it on, and with it on and
# --reuse-answers false, asked by the same client (concurrency 1 interleaved call by call,
# concurrency 32 in turn, rounds alternated), with the ratios to the floor of each round
# and the CPU per call (server, client) and per logged answer and row (ClickHouse). Keep
# the machine otherwise quiet: CPU is read from /proc. Starts the private ClickHouse if
# CLICKHOUSE_URL is unset; uses the `serve` bench's database (season 2023-24, loaded on
# first use) and empties its `predictions` table.
#
#   bash scripts/bench_floor.sh        # NBA_BENCH_SECONDS, NBA_BENCH_CALLS, NBA_BENCH_ROUNDS,
#                                      # NBA_BENCH_LOG_WINDOW_SECS
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/target/clickhouse-test")"
fi
export CLICKHOUSE_URL RUST_LOG="${RUST_LOG:-warn}"
exec cargo bench --locked -p nba-server --bench floor
