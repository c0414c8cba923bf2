#!/usr/bin/env bash
# Soak and overload run of the gRPC server (server/benches/soak.rs): NBA_SOAK_CALLS
# Predict calls (default 2,000,000) at concurrency NBA_SOAK_CONCURRENCY (64) against a
# separate nba-server process, a line of p50/p99/errors/RSS every NBA_SOAK_INTERVAL_SECS
# (60), RSS growth after warm-up, then NBA_SOAK_OVERLOAD (256) callers on one connection
# beyond --max-concurrency NBA_SOAK_MAX_CONCURRENCY (32), which must be shed with
# RESOURCE_EXHAUSTED. Exits 1 on any failed soak call or if the overload is not shed.
# Starts the private ClickHouse if CLICKHOUSE_URL is unset; season 2023-24 is loaded into
# database bench_serve on first use.
#
#   bash scripts/soak.sh                                          # full run, release build
#   NBA_SOAK_CALLS=20000 NBA_SOAK_INTERVAL_SECS=2 bash scripts/soak.sh --ci
#
# --ci: a debug-profile build (`cargo test --bench soak`, the artifacts `cargo test
# --workspace` already built), for CI; figures from it are not benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/target/clickhouse-test")"
fi
export CLICKHOUSE_URL RUST_LOG="${RUST_LOG:-warn}"
export NBA_DATA_DIR="${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}"
if [ "${1:-}" = --ci ]; then
    exec cargo test --workspace --locked --bench soak
fi
exec cargo bench --locked -p nba-server --bench soak
