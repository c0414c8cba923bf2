#!/usr/bin/env bash
# Build benchmarks on all seven seasons (loopback ClickHouse):
#  1. full build of the three tables from the raw tables (`nba-ingest build --full`);
#  2. incremental build after loading one new day: the last day's pages are taken out
#     of the raw tables and the ledger, loaded again, and `nba-ingest build` times the
#     incremental rebuild.
# Expects a database with all seasons loaded (default `bench_load`, as left by
# scripts/bench_load.sh); run that first.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}"
cargo build --release --locked -p nba-ingest
if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/.clickhouse")"
fi
export CLICKHOUSE_URL NBA_DATABASE="${NBA_DATABASE:-bench_load}" NBA_PROGRESS=never
bin=target/release/nba-ingest
q() { curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary "$1"; }
wait_mutations() { while [ "$(q "SELECT count() FROM system.mutations WHERE database = '$NBA_DATABASE' AND is_done = 0")" != "0" ]; do sleep 0.1; done; }

echo "== full build (3 runs)"
for _ in 1 2 3; do /usr/bin/time -f "   wall %e s, user %U s, peak RSS %M KB" $bin build --full 2>&1 | grep -E "wall|rows written"; done

last=$(q "SELECT max(game_date) FROM team_boxscores")
echo "== incremental build after loading one new day ($last)"
for t in player_boxscores team_boxscores game_inactives data_quality_issues; do
    q "ALTER TABLE $t DELETE WHERE game_date = toDate('$last')"
done
q "ALTER TABLE ingest_files DELETE WHERE name LIKE 'scores/$(echo "$last" | tr -d -)0%'"
wait_mutations
$bin build >/dev/null 2>&1   # the day is now gone; features follow
$bin load "$data/raw/bbref_$(q "SELECT max(season) FROM team_boxscores").tar.zst" | grep -E "files:"
/usr/bin/time -f "   wall %e s, user %U s, peak RSS %M KB" $bin build 2>&1 | grep -E "wall|rows written|games"
