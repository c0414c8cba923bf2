#!/usr/bin/env bash
# Every statement the binaries send, checked on a current ClickHouse engine (issue 19,
# item 4). The only server package here is Debian's ClickHouse 18.16; production runs
# 24.x and later, whose analyzer rejects some old forms. So:
#
# 1. a CI-sized pipeline runs against a private 18.16 server whose query log is on
#    (migrate, load the sample, build and a range rebuild, validate, status, a backfill,
#    injury reports, a tiny model trained and promoted, nba-server serve + predict, a
#    slate run, prop lines loaded and a slate priced against them, grade twice (the
#    second replaces), every `nba-ingest query NAME`, and migrate again over a database
#    missing migration 8's columns, so the ALTER TABLE ... ADD COLUMN statements are
#    sent too);
# 2. the server's own `system.query_log` gives every statement exactly as it arrived
#    (bound values filled in, `?fields` expanded, the FORMAT clause the client added);
#    nothing is copied from the code by hand, and queries built outside `Store` are
#    caught as well;
# 3. the tables are exported (TSVWithNamesAndTypes) and scripts/check_current_engine.py
#    replays it all in chdb (ClickHouse 26.x in-process, pinned below): the captured DDL,
#    the exported data, then every distinct captured statement. It fails on any statement
#    the current engine rejects and prints the count checked and each rejection with its
#    statement.
#
#   bash scripts/check_current_engine.sh
#
# Environment: NBA_DATA_DIR (default ../shared/data/nba); NBA_CHDB_TOOLS_DIR (the venv,
# default /var/tmp/nba-chdb-tools, created once and reused); NBA_CHECK_PORT_BASE (loopback
# ports BASE..BASE+3: ClickHouse HTTP and native, gRPC, admin; default 18640);
# CARGO_TARGET_DIR (the debug binaries are taken from there, built by `cargo build`);
# NBA_CHECK_KEEP_STATEMENTS=FILE keeps the captured statements (JSON lines) there.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[current_engine %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { printf 'check_current_engine: error: %s\n' "$*" >&2; exit 1; }

CHDB_CORE_VERSION=26.9.0
tools=${NBA_CHDB_TOOLS_DIR:-/var/tmp/nba-chdb-tools}
data=${NBA_DATA_DIR:-$(cd .. && pwd)/shared/data/nba}
sample=$data/sample_bbref_html.tar.gz
[ -f "$sample" ] || die "no sample at $sample (set NBA_DATA_DIR)"
base=${NBA_CHECK_PORT_BASE:-18640}
db=nba_current_engine

# --- tools ---------------------------------------------------------------------------
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || {
    apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 python3-venv >/dev/null
}
venv=$tools/venv
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("chdb-core"))' 2>/dev/null || true)
if [ "$have" != "$CHDB_CORE_VERSION" ]; then
    log "creating $venv (chdb-core $CHDB_CORE_VERSION)"
    mkdir -p "$tools"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "chdb-core==$CHDB_CORE_VERSION"
fi

log "building nba-ingest, nba-trainer, nba-server (debug)"
cargo build --locked -p nba-ingest -p nba-trainer -p nba-server >/dev/null 2>&1 \
    || cargo build --locked -p nba-ingest -p nba-trainer -p nba-server
bin=${CARGO_TARGET_DIR:-target}/debug
ingest=$bin/nba-ingest trainer=$bin/nba-trainer server=$bin/nba-server

# --- a private 18.16 with its query log on ---------------------------------------------
# scripts/clickhouse.sh rewrites config.xml and users.xml on each start; the server also
# reads the config.d/ and users.d/ folders beside them, which it leaves alone.
tmp=$(mktemp -d /tmp/nba-current-engine.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    scripts/clickhouse.sh stop "$tmp/clickhouse" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/clickhouse/config.d" "$tmp/clickhouse/users.d"
cat >"$tmp/clickhouse/config.d/query_log.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>1000</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF
cat >"$tmp/clickhouse/users.d/log_queries.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <log_queries>1</log_queries>
        </default>
    </profiles>
</yandex>
EOF
CLICKHOUSE_URL=$(CLICKHOUSE_HTTP_PORT=$base CLICKHOUSE_TCP_PORT=$((base + 1)) scripts/clickhouse.sh start "$tmp/clickhouse" 2>"$tmp/clickhouse.log") \
    || { cat "$tmp/clickhouse.log" >&2; die "ClickHouse did not start"; }
export CLICKHOUSE_URL NBA_DATABASE=$db NBA_PROGRESS=never NBA_LOG=warn NBA_REGISTRY=$tmp/registry
ch() { curl -fsS "$CLICKHOUSE_URL/?database=$db" --data-binary "$1"; }
log "ClickHouse $(curl -fsS "$CLICKHOUSE_URL" --data-binary 'SELECT version()') at $CLICKHOUSE_URL, database $db"

# --- 1. the pipeline ------------------------------------------------------------------
# Runs a step; exit codes listed in $ok (default 0) are fine, others stop the check.
step() {
    local name=$1 ok=$2
    shift 2
    local code=0
    "$@" >"$tmp/$name.log" 2>&1 || code=$?
    [[ " $ok " == *" $code "* ]] || { cat "$tmp/$name.log" >&2; die "$name exited $code"; }
    log "$name: exit $code"
}
fixtures=tests/fixtures/injuries
step migrate 0 "$ingest" migrate
step load 0 "$ingest" load "$sample"
step build 0 "$ingest" build
step build_range 0 "$ingest" build --from 2023-10-30 --to 2023-10-31   # replaces rows: ALTER ... DELETE
step validate "0 1" "$ingest" validate
step status 0 "$ingest" status
step backfill "0 1" "$ingest" backfill --from 2023-10-24 --to 2023-10-31 --chunk-days 4 "$sample"
step injuries "0 1" "$ingest" injuries load "$fixtures/2023-10-25.json" "$fixtures/2023-10-27.csv" "$fixtures/2023-06-12.csv" "$fixtures/bad.csv"
# Every prop-line fixture, the bad ones included (exit 1), then loaded again (unchanged).
step lines "0 1" "$ingest" lines load tests/fixtures/lines
step lines_again "0 1" "$ingest" lines load tests/fixtures/lines
# A tiny model on the sample's week (exit 3: the gate refused it; promoted anyway).
step train "0 3" "$trainer" train --train 2023-10-24..2023-10-28 --valid 2023-10-29..2023-10-29 --test 2023-10-30..2023-10-31 \
    --min-rows 20 --iterations 20 --learning-rate 0.3 --max-depth 3 --min-leaf-weight 5
if [ -z "$("$trainer" list | grep '\*' || true)" ]; then
    step promote 0 "$trainer" promote "$("$trainer" list | tail -n 1 | awk '{print $1}')"
fi
# The server: Predict through a real gRPC client, then a slate run of the last day.
NBA_LISTEN=127.0.0.1:$((base + 2)) NBA_ADMIN_LISTEN=127.0.0.1:$((base + 3)) "$server" serve >"$tmp/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
    curl -fsS "http://127.0.0.1:$((base + 3))/ready" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "nba-server serve stopped"; }
    sleep 0.5
done
request=$(ch "SELECT concat(player_id, ',', toString(game_date), ',', opponent, ',', if(is_home = 1, 'home', 'away'), ',20.5')
              FROM player_features WHERE game_date = toDate('2023-10-31') AND status = 'Played' ORDER BY player_id LIMIT 1 FORMAT TSV")
step predict 0 "$server" predict --addr "http://127.0.0.1:$((base + 2))" "$request"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
step slate "0 1" "$server" slate --date 2023-10-31 --run pretip --as-of 2023-10-31T22:00:00Z
# A morning slate priced against the stored lines' consensus of 14:30 UTC.
step slate_lines "0 1" "$server" slate --date 2023-10-27 --run morning --as-of 2023-10-27T14:30:00Z
step grade 0 "$ingest" grade --from 2023-10-24 --to 2023-10-31
step grade_again 0 "$ingest" grade --from 2023-10-24 --to 2023-10-31   # replaces the days' grades
for q in $("$ingest" query --list | awk '{print $1}'); do
    step "query_$q" 0 "$ingest" query "$q"
done
# A database from before migration 8: its columns dropped, migrate adds them back.
for c in source run run_at availability_source opponent_availability_source lineup_source opponent_lineup_source; do
    ch "ALTER TABLE predictions DROP COLUMN $c"
done
step migrate_again 0 "$ingest" migrate

# --- 2. the statements, as the server received them -----------------------------------
# Only the binaries' (the clickhouse crate's user agent); this script's curl calls are not
# the platform's. Without ORDER BY, one thread: the log's own order, which is the order
# the statements finished in (a DROP before the CREATE that follows it).
ch "SYSTEM FLUSH LOGS"
ch "SELECT type, query, exception FROM system.query_log
    WHERE type != 1 AND http_user_agent NOT LIKE 'curl%' AND interface = 2
    SETTINGS max_threads = 1 FORMAT JSONEachRow" >"$tmp/statements.jsonl"
log "captured $(wc -l <"$tmp/statements.jsonl") statements"
[ -z "${NBA_CHECK_KEEP_STATEMENTS:-}" ] || cp "$tmp/statements.jsonl" "$NBA_CHECK_KEEP_STATEMENTS"
mkdir -p "$tmp/tables"
for t in $(ch "SELECT name FROM system.tables WHERE database = '$db' AND engine NOT LIKE '%View' ORDER BY name"); do
    ch "SELECT * FROM \`$t\` FORMAT TSVWithNamesAndTypes" >"$tmp/tables/$t.tsv"
done
log "exported $(find "$tmp/tables" -name '*.tsv' | wc -l) tables"

# --- 3. replayed on the current engine ------------------------------------------------
"$venv/bin/python" scripts/check_current_engine.py --database "$db" --statements "$tmp/statements.jsonl" --tables "$tmp/tables"
log "done"
