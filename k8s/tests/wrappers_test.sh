#!/usr/bin/env bash
# Runs the batch-job wrappers (k8s/jobs/*.sh) against stub binaries and a real
# Prometheus Pushgateway on loopback, and checks what they push: exit codes, per-step
# codes, the success timestamp only on success, validation, drift, freshness, gate and
# registry metrics. Called by scripts/check_k8s.sh; standalone:
#
#   bash k8s/tests/wrappers_test.sh       # needs prometheus-pushgateway and curl
#
# NBA_TEST_PUSHGATEWAY_PORT: loopback port (default 19391).
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${NBA_TEST_PUSHGATEWAY_PORT:-19391}
pg=$(command -v prometheus-pushgateway || command -v pushgateway || true)
[ -n "$pg" ] || { echo "wrappers_test: prometheus-pushgateway is not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/nba-wrappers-test.XXXXXX)
pg_pid=""
cleanup() {
    [ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null && wait "$pg_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# An explicit persistence file: Debian's build defaults to one under /var/lib/prometheus,
# which would carry pushes over from earlier runs.
"$pg" --web.listen-address="127.0.0.1:$port" --persistence.file="$tmp/pushgateway.data" >"$tmp/pushgateway.log" 2>&1 &
pg_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 50); do
    curl -fsS "$url/-/ready" >/dev/null 2>&1 && break
    kill -0 "$pg_pid" 2>/dev/null || { cat "$tmp/pushgateway.log" >&2; exit 2; }
    sleep 0.1
done

passed=0 failed=0
expect() { # expect DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what" >&2
    fi
}
# The Pushgateway's exposition, fetched whole (grep -q on a pipe would cut curl short).
metrics() { local m; m=$(curl -fsS "$url/metrics") && printf '%s\n' "$m" | grep -v '^#'; }
# has 'name{labels} value': that series with that value (compared as numbers: the
# Pushgateway prints 1714564800 as 1.7145648e+09).
has() {
    local series=${1% *} want=${1##* } m
    m=$(metrics) || return 1
    printf '%s\n' "$m" | awk -v s="$series" -v w="$want" 'index($0, s " ") == 1 { found = 1; if ($NF + 0 == w + 0) ok = 1 } END { exit !(found && ok) }'
}
has_re() { local m; m=$(metrics) || return 1; printf '%s\n' "$m" | grep -qE -- "$1"; }
lacks() { local m; m=$(metrics) || return 1; ! printf '%s\n' "$m" | grep -qF -- "$1"; }

mkdir -p "$tmp/bin"
today=$(date -u +%F)
yesterday=$(date -u -d yesterday +%F)
cat >"$tmp/bin/nba-ingest" <<STUB
#!/usr/bin/env bash
case "\$1" in
    scrape) exit "\${STUB_SCRAPE:-0}" ;;
    build) exit "\${STUB_BUILD:-0}" ;;
    validate) exit "\${STUB_VALIDATE:-0}" ;;
    grade) exit 0 ;;
    migrate) exit 0 ;;
    backfill) echo "backfill \$*" >"$tmp/backfill.args"; exit 0 ;;
    query)
        case "\$2" in
            pipeline_health) printf '2023\t1320\t1320\t1319\t1\t1319\t26000\t2023-06-12\n2024\t1320\t1200\t1198\t2\t1198\t25000\t$yesterday\n' ;;
            model_drift) printf '$yesterday\tv2\t300\t6\t0.1\t5\t1\n$yesterday\tv1\t10\t5\t0\t\\\\N\t\\\\N\n$today\tv2\t100\t7\t0.2\t5\t2\n2001-01-01\tv2\t9999\t99\t0\t5\t94\n' ;;
        esac ;;
esac
STUB
cat >"$tmp/bin/nba-trainer" <<'STUB'
#!/usr/bin/env bash
case "$1" in
    train) exit "${STUB_TRAIN:-0}" ;;
    list)
        echo "  20240101T000000000Z-0badc0de  absolute_error test MAE 5.1000 on 20000 rows  created 2024-01-01T00:00:00Z"
        echo "* 20240501T120000000Z-deadbeef  absolute_error test MAE 4.9000 on 21000 rows  created 2024-05-01T12:00:00.123Z" ;;
esac
STUB
chmod +x "$tmp/bin/"*
export NBA_PUSHGATEWAY_URL=$url NBA_INGEST_BIN=$tmp/bin/nba-ingest NBA_TRAINER_BIN=$tmp/bin/nba-trainer

# 1. Nightly ingest: scrape partly failed (1), validation critical (1) -> exit 1.
set +e
STUB_SCRAPE=1 STUB_VALIDATE=1 k8s/jobs/ingest-nightly.sh 2>"$tmp/nightly.log"
code=$?
set -e
expect "nightly exits 1 on partial results (got $code)" test "$code" -eq 1
expect "nightly pushes its exit code" has 'nba_job_last_exit_code{instance="",job="nba-ingest-nightly"} 1'
expect "nightly pushes no success timestamp when it failed" lacks 'nba_job_last_success_timestamp_seconds{instance="",job="nba-ingest-nightly"}'
expect "scrape step code" has 'nba_job_step_exit_code{instance="",job="nba-ingest-nightly",step="scrape"} 1'
expect "validate step code" has 'nba_job_step_exit_code{instance="",job="nba-ingest-nightly",step="validate"} 1'
expect "validation critical flag" has 'nba_validation_critical_failed{instance="",job="nba-ingest-nightly"} 1'
expect "freshness = newest game" has "nba_ingest_newest_game_timestamp_seconds{instance=\"\",job=\"nba-ingest-nightly\"} $(date -u -d "$yesterday" +%s)"
expect "missing box scores per season" has 'nba_ingest_missing_box_scores{instance="",job="nba-ingest-nightly",season="2024"} 2'
# v2: (300*6 + 100*7) / 400 = 6.25 over the last 7 days; the 2001 row is outside.
expect "7-day live MAE weighted by graded rows" has 'nba_prediction_live_mae_7d{instance="",job="nba-ingest-nightly",model_version="v2"} 6.25'
expect "graded count" has 'nba_prediction_graded_7d{instance="",job="nba-ingest-nightly",model_version="v2"} 400'
expect "test MAE" has 'nba_model_test_mae{instance="",job="nba-ingest-nightly",model_version="v2"} 5'
expect "no test MAE for a version without one" lacks 'nba_model_test_mae{instance="",job="nba-ingest-nightly",model_version="v1"}'

# 2. Nightly ingest succeeds: success timestamp appears, validation flag clears.
set +e
k8s/jobs/ingest-nightly.sh 2>>"$tmp/nightly.log"
code=$?
set -e
expect "nightly exits 0 (got $code)" test "$code" -eq 0
expect "success timestamp pushed" has_re '^nba_job_last_success_timestamp_seconds\{instance="",job="nba-ingest-nightly"\} [0-9.e+]+$'
expect "validation flag cleared" has 'nba_validation_critical_failed{instance="",job="nba-ingest-nightly"} 0'

# 3. Build error: exit 2, later steps recorded as skipped.
set +e
STUB_BUILD=2 k8s/jobs/ingest-nightly.sh 2>>"$tmp/nightly.log"
code=$?
set -e
expect "nightly exits 2 on a build error (got $code)" test "$code" -eq 2
expect "validate skipped after a build error" has 'nba_job_step_exit_code{instance="",job="nba-ingest-nightly",step="validate"} -1'
expect "the last success survives a failed run (POST, not PUT)" has_re '^nba_job_last_success_timestamp_seconds\{instance="",job="nba-ingest-nightly"\} [0-9.e+]+$'

# 4. Weekly training, gate refused: exit 3, refused flag, registry metrics.
set +e
STUB_TRAIN=3 k8s/jobs/trainer-weekly.sh 2>"$tmp/trainer.log"
code=$?
set -e
expect "trainer exit 3 passes through (got $code)" test "$code" -eq 3
expect "gate refused flag" has 'nba_trainer_gate_refused{instance="",job="nba-trainer-weekly"} 1'
expect "current model's creation time" has "nba_registry_current_model_created_timestamp_seconds{instance=\"\",job=\"nba-trainer-weekly\",model_version=\"20240501T120000000Z-deadbeef\"} $(date -u -d 2024-05-01T12:00:00Z +%s)"
expect "current model's test MAE" has 'nba_registry_current_model_test_mae{instance="",job="nba-trainer-weekly",model_version="20240501T120000000Z-deadbeef"} 4.9000'
expect "registry versions" has 'nba_registry_versions{instance="",job="nba-trainer-weekly"} 2'

# 5. Backfill: needs its range; passes it on.
set +e
k8s/jobs/ingest-backfill.sh 2>"$tmp/backfill.log"
code=$?
NBA_BACKFILL_FROM=2017-10-01 NBA_BACKFILL_TO=2018-04-30 NBA_BACKFILL_PATHS="/a /b" k8s/jobs/ingest-backfill.sh 2>>"$tmp/backfill.log"
code2=$?
set -e
expect "backfill without a range exits 2 (got $code)" test "$code" -eq 2
expect "backfill with a range exits 0 (got $code2)" test "$code2" -eq 0
expect "backfill passes range and paths" grep -qxF "backfill backfill --from 2017-10-01 --to 2018-04-30 /a /b" "$tmp/backfill.args"

# 6. Migrate, and a push to nowhere does not fail the job.
set +e
k8s/jobs/migrate.sh 2>"$tmp/migrate.log"
code=$?
NBA_PUSHGATEWAY_URL=http://127.0.0.1:9 NBA_PUSH_TIMEOUT_SECS=2 k8s/jobs/migrate.sh 2>>"$tmp/migrate.log"
code2=$?
set -e
expect "migrate exits 0" test "$code" -eq 0
expect "migrate pushed" has 'nba_job_last_exit_code{instance="",job="nba-migrate"} 0'
expect "an unreachable Pushgateway does not fail the job" test "$code2" -eq 0

if [ "$failed" -gt 0 ]; then
    echo "--- logs" >&2
    cat "$tmp"/*.log >&2
fi
echo "wrappers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
