#!/usr/bin/env bash
# Load benchmark: all seven season archives into an empty database, with the load
# summary (pages/s, MB/s of HTML, rows/s) and peak memory. Loopback only.
#
#   bash scripts/bench_load.sh            # full load into a fresh database `bench_load`
#   bash scripts/bench_load.sh --dry-run  # parse only (no ClickHouse writes)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}"
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null; }
cargo build --release --locked -p nba-ingest
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/.clickhouse")"
fi
export CLICKHOUSE_URL NBA_DATABASE="${NBA_DATABASE:-bench_load}" NBA_PROGRESS=never
if [ "${1:-}" != "--dry-run" ]; then
    curl -fsS "$CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS \`$NBA_DATABASE\`"
    target/release/nba-ingest migrate
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; ClickHouse $(curl -fsS "$CLICKHOUSE_URL" --data-binary 'SELECT version()')"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KB" target/release/nba-ingest load "$@" "$data/raw/"
