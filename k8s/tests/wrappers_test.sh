#!/usr/bin/env bash
# Runs the batch-job wrappers (k8s/jobs/*.sh) against stub binaries and a real
# Prometheus Pushgateway on loopback, and checks what they push: exit codes, per-step
# codes, the success timestamp only on success, validation, drift, freshness, gate,
# registry and slate metrics. Called by scripts/check_k8s.sh; standalone:
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
            live_calibration) printf 'v2\tslate\tpretip\t7\t800\t0.7\t0.8\t5.1\t4.9\t1.041\t0.2\t0.4\t0.6\nv2\trequest\t\t7\t120\t0.81\t0.8\t5\t4.9\t1.02\t0\t0.4\t0.6\n' ;;
            call_hit_rate) printf 'v2\tslate\tpretip\t5+\t30\t20\t0.6\t10\t0.5\t0\t0.567\t0.524\t0.082\nv2\tslate\tpretip\tall\t330\t200\t0.55\t130\t0.5\t10\t0.531\t0.524\t0.014\n' ;;
            market) printf 'v2\tslate\tpretip\t5+\t40\t6.1\t5.9\t0.6\t0.5\t0.524\t30\t3.2\t0.1067\t30\t0.4\t18\t9\nv2\tslate\tpretip\tall\t600\t4.8\t4.6\t0.55\t0.5\t0.524\t320\t6.4\t0.02\t300\t0.15\t160\t110\nv2\trequest\t\tall\t50\t5.2\t4.9\t0.5\tnan\t0.524\t0\t0\tnan\t0\tnan\t0\t0\n' ;;
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
# nba-server slate: the summary as slate_run.rs renders it, per STUB_SLATE outcome.
cat >"$tmp/bin/nba-server" <<STUB
#!/usr/bin/env bash
echo "\$* lineups=\${NBA_SLATE_LINEUPS:-none}" >"$tmp/slate.args"
head="slate $today run \$3 (as of ${today}T16:00:00+00:00), model v2"
case "\${STUB_SLATE:-clean}" in
    clean)
        printf '%s\n  7 games, 180 players: 177 written, 3 already stored by this run, 0 failed\n' "\$head"
        printf '  inactive lists: injury_report 120, official 57\n  lineups: unknown 177\n'
        printf '  stored lines: 64 of 177 written players\n' ;;
    partial)
        printf '%s\n  7 games, 180 players: 170 written, 8 already stored by this run, 2 failed\n' "\$head"
        printf '  failed doejo01: no history\n  failed roejo01: no history\n'
        printf '  lineup set aside: /lineups/today.json: team "BOS": 4 players listed, a lineup has 5\n'
        exit 1 ;;
    offday) printf '%s\n  0 games, 0 players: 0 written, 0 already stored by this run, 0 failed\n' "\$head" ;;
    error) echo "nba-server: no model has been promoted in the registry yet" >&2; exit 2 ;;
esac
STUB
chmod +x "$tmp/bin/"*
export NBA_PUSHGATEWAY_URL=$url NBA_INGEST_BIN=$tmp/bin/nba-ingest NBA_TRAINER_BIN=$tmp/bin/nba-trainer NBA_SERVER_BIN=$tmp/bin/nba-server

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
# Live coverage and MAE per version, source and slate run (live_calibration); requests
# have no run. Call hit rates from the `all` rows of call_hit_rate: 330 calls - 10 pushes.
expect "live coverage per slate run" has 'nba_grade_coverage_7d{instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"} 0.7'
expect "graded per slate run" has 'nba_grade_graded_7d{instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"} 800'
expect "live MAE per slate run" has 'nba_grade_mae_7d{instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"} 5.1'
expect "live coverage of requests" has_re '^nba_grade_coverage_7d\{instance="",job="nba-ingest-nightly",model_version="v2",(run="",)?source="request"\} 0\.81$'
expect "decided calls" has 'nba_grade_calls_decided_30d{instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"} 320'
expect "call hit rate of all edges" has 'nba_grade_call_hit_rate_30d{instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"} 0.531'
expect "one hit rate per run (the bucket rows are not pushed)" test "$(metrics | grep -c '^nba_grade_call_hit_rate_30d')" -eq 1
# Against the market (query market, `all` rows): MAE of the model and of the line on the
# same 600 lined rows, ROI and CLV; requests with no priced call and no closing line push
# their MAEs but no ROI or CLV (nan).
mk='instance="",job="nba-ingest-nightly",model_version="v2",run="pretip",source="slate"'
expect "lined rows" has "nba_grade_lined_30d{$mk} 600"
expect "model MAE on the lined rows" has "nba_grade_lined_model_mae_30d{$mk} 4.8"
expect "line MAE on the same rows" has "nba_grade_line_mae_30d{$mk} 4.6"
expect "priced calls" has "nba_grade_priced_calls_30d{$mk} 320"
expect "ROI at the stored prices" has "nba_grade_roi_30d{$mk} 0.02"
expect "mean closing-line value" has "nba_grade_clv_mean_30d{$mk} 0.15"
expect "line MAE of requests" has_re '^nba_grade_line_mae_30d\{instance="",job="nba-ingest-nightly",model_version="v2",(run="",)?source="request"\} 4\.9$'
expect "no ROI without priced calls" test "$(metrics | grep -c '^nba_grade_roi_30d')" -eq 1
expect "no CLV without closing lines" test "$(metrics | grep -c '^nba_grade_clv_mean_30d')" -eq 1

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

# 7. Morning slate, clean: exit 0, success, the run's figures under its own job name.
set +e
NBA_SLATE_RUN=morning k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>"$tmp/slate.log"
code=$?
set -e
sj='instance="",job="nba-slate-morning"'
expect "morning slate exits 0 (got $code)" test "$code" -eq 0
expect "morning slate runs slate --run morning" grep -qxF "slate --run morning lineups=none" "$tmp/slate.args"
expect "morning slate pushes its exit code" has "nba_job_last_exit_code{$sj} 0"
expect "morning slate pushes a success timestamp" has_re "^nba_job_last_success_timestamp_seconds\{$sj\} [0-9.e+]+\$"
expect "slate games" has "nba_slate_games{$sj} 7"
expect "slate players" has "nba_slate_players{$sj} 180"
expect "slate rows written" has "nba_slate_written_rows{$sj} 177"
expect "slate rows already stored" has "nba_slate_already_stored{$sj} 3"
expect "slate failed players" has "nba_slate_failed_players{$sj} 0"
expect "slate lineups set aside" has "nba_slate_rejected_lineups{$sj} 0"
expect "slate players priced against a stored line" has "nba_slate_lined_players{$sj} 64"
expect "no lineups file asked for: no lineups metric" lacks "nba_slate_lineups_file_present{$sj}"
expect "the summary is in the job's output" grep -qF "177 written" "$tmp/slate.out"

# 8. Pre-tip slate with a lineups file, players and a lineup set aside: exit 1 (a
# result), no success, the figures say what was set aside.
echo '{"game_date": "'"$today"'", "teams": {}}' >"$tmp/lineups.json"
set +e
STUB_SLATE=partial NBA_SLATE_RUN=pretip NBA_SLATE_LINEUPS=$tmp/lineups.json k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code=$?
set -e
pj='instance="",job="nba-slate-pretip"'
expect "pre-tip slate exit 1 passes through (got $code)" test "$code" -eq 1
expect "the lineups file reaches nba-server" grep -qxF "slate --run pretip lineups=$tmp/lineups.json" "$tmp/slate.args"
expect "pre-tip pushes exit 1" has "nba_job_last_exit_code{$pj} 1"
expect "no success timestamp for a partial run" lacks "nba_job_last_success_timestamp_seconds{$pj}"
expect "failed players counted" has "nba_slate_failed_players{$pj} 2"
expect "lineups set aside counted" has "nba_slate_rejected_lineups{$pj} 1"
expect "no stored-lines line: none lined" has "nba_slate_lined_players{$pj} 0"
expect "lineups file present" has "nba_slate_lineups_file_present{$pj} 1"
expect "the morning run's figures are its own" has "nba_slate_failed_players{$sj} 0"

# 9. Lineups feed has not delivered: the run goes on without it.
set +e
NBA_SLATE_RUN=pretip NBA_SLATE_LINEUPS=$tmp/missing.json k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code=$?
set -e
expect "missing lineups file: exit 0 (got $code)" test "$code" -eq 0
expect "missing lineups file: run without --lineups" grep -qxF "slate --run pretip lineups=none" "$tmp/slate.args"
expect "missing lineups file flagged" has "nba_slate_lineups_file_present{$pj} 0"

# 9b. A feed's file per day: {date} is the slate's date on the league's calendar at the
# run's clock (02:00 UTC on 21 March is still 20 March in New York).
echo '{"game_date": "2024-03-20", "teams": {}}' >"$tmp/lineups-2024-03-20.json"
set +e
NBA_SLATE_RUN=pretip NBA_SLATE_AS_OF=2024-03-21T02:00:00Z NBA_SLATE_LINEUPS="$tmp/lineups-{date}.json" \
    k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code=$?
set -e
expect "dated lineups file: exit 0 (got $code)" test "$code" -eq 0
expect "dated lineups file: the slate date's file" grep -qxF "slate --run pretip lineups=$tmp/lineups-2024-03-20.json" "$tmp/slate.args"
set +e
NBA_SLATE_RUN=pretip NBA_SLATE_DATE=2024-03-19 NBA_SLATE_LINEUPS="$tmp/lineups-{date}.json" \
    k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
set -e
expect "dated lineups file: another day's file is not read" grep -qxF "slate --run pretip lineups=none" "$tmp/slate.args"

# 10. Off day: no games is a success (the missed-slate alert stays quiet).
set +e
STUB_SLATE=offday NBA_SLATE_RUN=morning k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code=$?
set -e
expect "off day exits 0 (got $code)" test "$code" -eq 0
expect "off day: 0 games" has "nba_slate_games{$sj} 0"
expect "off day: 0 players" has "nba_slate_players{$sj} 0"

# 11. Error: exit 2 passes through, the step says so; no run name: exit 2 before running.
set +e
STUB_SLATE=error NBA_SLATE_RUN=morning k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code=$?
rm -f "$tmp/slate.args"
NBA_SLATE_RUN='' k8s/jobs/slate-run.sh >"$tmp/slate.out" 2>>"$tmp/slate.log"
code2=$?
set -e
expect "slate error exits 2 (got $code)" test "$code" -eq 2
expect "slate step code 2" has "nba_job_step_exit_code{$sj,step=\"slate\"} 2"
expect "slate error pushes exit 2" has "nba_job_last_exit_code{$sj} 2"
expect "no run name: exit 2 (got $code2)" test "$code2" -eq 2
expect "no run name: nba-server not started" test ! -e "$tmp/slate.args"
expect "no run name: pushed as nba-slate" has 'nba_job_last_exit_code{instance="",job="nba-slate"} 2'

if [ "$failed" -gt 0 ]; then
    echo "--- logs" >&2
    cat "$tmp"/*.log >&2
fi
echo "wrappers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
