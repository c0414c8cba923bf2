#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian machine: installs what is missing, starts a
# private ClickHouse (in .clickhouse/, left running), builds the binaries, creates the
# schema, loads one season of real pages, builds the analytics and point-in-time feature
# tables, validates them, trains a model on the season (split by date), prints the test
# table against the baselines, promotes it, starts nba-server and asks it (a real gRPC
# client) for the season's last games of its top scorers, beside what they scored.
#
#   bash scripts/demo.sh [SEASON]        # default season 2024 (2023-24)
#
# Environment: NBA_DATA_DIR (default ../shared/data/nba), NBA_DATABASE (default nba),
# CLICKHOUSE_URL (default: the private server started here).
set -euo pipefail
cd "$(dirname "$0")/.."
season="${1:-2024}"
data="${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}"
archive="$data/raw/bbref_${season}.tar.zst"
[ -f "$archive" ] || { echo "demo: no archive at $archive (set NBA_DATA_DIR)" >&2; exit 1; }

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL="$(scripts/clickhouse.sh start "$PWD/.clickhouse")"
fi
export CLICKHOUSE_URL
export NBA_DATABASE="${NBA_DATABASE:-nba}"
echo "== ClickHouse at $CLICKHOUSE_URL, database $NBA_DATABASE"

echo "== building (release)"
cargo build --release --locked -p nba-ingest -p nba-trainer -p nba-server
ingest=target/release/nba-ingest
trainer=target/release/nba-trainer
server=target/release/nba-server

echo "== nba-ingest migrate"
$ingest migrate
echo "== nba-ingest load $archive"
set +e
$ingest load "$archive"
code=$?
set -e
[ "$code" -le 1 ] || exit "$code"

echo "== nba-ingest build"
$ingest build
echo "== nba-ingest validate"
set +e
$ingest validate | grep -v -E '^  (nan_rate|range):'
vcode=${PIPESTATUS[0]}
set -e
[ "$vcode" -le 1 ] || exit "$vcode"
echo "== nba-ingest status"
$ingest status

echo "== loaded, per season and type"
curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary \
  "SELECT season, season_type, uniqExact(game_id) AS games, count() AS player_rows, countIf(status = 'Played') AS played
   FROM player_boxscores GROUP BY season, season_type ORDER BY season, season_type FORMAT PrettyCompact"
echo "== top scorers of the season loaded"
curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary \
  "SELECT any(player_name) AS player, count() AS games, round(avg(pts), 1) AS ppg
   FROM player_boxscores WHERE season = $season AND status = 'Played' AND season_type = 'Regular Season'
   GROUP BY player_id HAVING games >= 20 ORDER BY ppg DESC LIMIT 5 FORMAT PrettyCompact"
echo "== pre-game features of the season's last games for its top scorers (nothing from the game itself)"
curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary \
  "SELECT game_date, player_id, team, opponent, round(pts_avg_10, 1) AS pts_avg_10, round(min_avg_10, 1) AS min_avg_10,
          round(usg_avg_10, 1) AS usg_avg_10, team_rest_days, team_regulars_out, opp_regulars_out, target_pts
   FROM player_features_wide
   WHERE season = $season AND player_id IN (
       SELECT player_id FROM player_boxscores WHERE season = $season AND status = 'Played'
       GROUP BY player_id HAVING count() >= 20 ORDER BY avg(pts) DESC LIMIT 5)
   ORDER BY game_date DESC LIMIT 5 FORMAT PrettyCompact"
echo "== nba-trainer train: one season, split by date (the full default splits by season: train 2018-22, validate 2023, test 2024)"
export NBA_REGISTRY="${NBA_REGISTRY:-$PWD/models}"
set +e
$trainer train --promote --train "$((season - 1))-10-01..$season-01-31" --valid "$season-02-01..$season-02-29" --test "$season-03-01..$season-06-30"
tcode=$?
set -e
[ "$tcode" -eq 0 ] || [ "$tcode" -eq 3 ] || exit "$tcode"
$trainer list
if [ "$tcode" -eq 3 ]; then
    latest="$($trainer list | tail -n 1 | tr -d '*' | awk '{print $1}')"
    echo "== the gate refused it (see above); the demo promotes $latest anyway to show serving"
    $trainer promote "$latest"
fi

echo "== nba-server serve (gRPC 127.0.0.1:${NBA_DEMO_GRPC_PORT:-50151}, admin 127.0.0.1:${NBA_DEMO_ADMIN_PORT:-19190})"
export NBA_LISTEN="127.0.0.1:${NBA_DEMO_GRPC_PORT:-50151}" NBA_ADMIN_LISTEN="127.0.0.1:${NBA_DEMO_ADMIN_PORT:-19190}"
$server serve > server.log 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -fsS "http://$NBA_ADMIN_LISTEN/ready" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat server.log; exit 2; }
    sleep 0.5
done
curl -fsS "http://$NBA_ADMIN_LISTEN/ready"; echo
echo "== nba-server predict: the season's last game of its top scorers (line: his 10-game average rounded to .5)"
mapfile -t reqs < <(curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary \
  "SELECT concat(player_id, ',', toString(game_date), ',', opponent, ',', if(is_home = 1, 'home', 'away'), ',', toString(floor(pts_avg_10) + 0.5))
   FROM player_features_wide
   WHERE season = $season AND status = 'Played' AND (player_id, game_date) IN (
       SELECT player_id, max(game_date) FROM player_features WHERE season = $season AND status = 'Played' AND player_id IN (
           SELECT player_id FROM player_boxscores WHERE season = $season AND status = 'Played'
           GROUP BY player_id HAVING count() >= 20 ORDER BY avg(pts) DESC LIMIT 5)
       GROUP BY player_id)
   ORDER BY player_id FORMAT TSV")
$server predict --addr "http://$NBA_LISTEN" "${reqs[@]}"
echo "== what they scored"
curl -fsS "$CLICKHOUSE_URL/?database=$NBA_DATABASE" --data-binary \
  "SELECT player_id, game_date, team, opponent, target_pts AS points FROM player_features
   WHERE season = $season AND status = 'Played' AND (player_id, game_date) IN (
       SELECT player_id, max(game_date) FROM player_features WHERE season = $season AND status = 'Played' AND player_id IN (
           SELECT player_id FROM player_boxscores WHERE season = $season AND status = 'Played'
           GROUP BY player_id HAVING count() >= 20 ORDER BY avg(pts) DESC LIMIT 5)
       GROUP BY player_id)
   ORDER BY player_id FORMAT PrettyCompact"
echo "== SIGTERM: graceful shutdown"
kill -TERM "$server_pid"
wait "$server_pid"
trap - EXIT
tail -n 3 server.log
[ "$code" -eq 0 ] && [ "$vcode" -eq 0 ] || exit 1
