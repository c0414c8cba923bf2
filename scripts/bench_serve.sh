#!/usr/bin/env bash
# Serving benchmark: Predict and V2 ModelInfer latency (concurrency 1) and throughput
# (concurrency 32), Arrow Flight DoExchange rows/s and DoGet slate time, on loopback with
# a 300-tree depth-6 ensemble. Starts the private ClickHouse if CLICKHOUSE_URL is unset;
# loads season 2023-24 into database bench_serve on first use.
#
#   bash scripts/bench_serve.sh            # NBA_BENCH_SECONDS, NBA_BENCH_CALLS to tune
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/target/clickhouse-test")"
fi
export CLICKHOUSE_URL RUST_LOG="${RUST_LOG:-warn}"
exec cargo bench --locked -p nba-server --bench serve
