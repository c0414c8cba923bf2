#!/usr/bin/env bash
# Nightly ingest (CronJob nba-ingest-nightly): fetch the last days' pages and load them,
# build features, validate, grade the last week's predictions and calls, then push the
# outcome and what the alerts need (validation result, data freshness, live MAE drift,
# live p10-p90 coverage and the calls' hit rate per model version, source and slate run,
# and against the market: model and line MAE on the lined rows, ROI, closing-line value).
#
# Exit code: 0 all good; 1 partial (pages rejected/failed, or validation found a
# critical failure: data is loaded but needs a look); 2 error (ClickHouse unreachable,
# schema missing, ...). The CronJob's podFailurePolicy retries only exit 2.
#
# Environment (besides the binaries' own NBA_*/CLICKHOUSE_* variables):
#   NBA_SCRAPE_LOOKBACK_DAYS  scrape from this many days ago to yesterday (default 3;
#                             stored box scores are never fetched twice)
#   NBA_INGEST_BIN            the binary (default nba-ingest; tests use a stub)
#   NBA_JOB_NAME              Pushgateway job name (default nba-ingest-nightly)
# shellcheck source=k8s/jobs/lib.sh
. "$(dirname "$0")/lib.sh"
INGEST=${NBA_INGEST_BIN:-nba-ingest}
job_start "${NBA_JOB_NAME:-nba-ingest-nightly}"

from=$(date -u -d "${NBA_SCRAPE_LOOKBACK_DAYS:-3} days ago" +%F)
code=0

step scrape "$INGEST" scrape --load --from "$from"
c=$?
code=$(worst "$code" "$c")
if [ "$c" -ge 2 ]; then
    skip build; skip validate; skip grade
    job_finish 2
fi

step build "$INGEST" build
c=$?
if [ "$c" -ne 0 ]; then
    skip validate; skip grade
    job_finish "$(worst "$code" 2)"
fi

step validate "$INGEST" validate
c=$?
case $c in
    0) extra_metric "nba_validation_critical_failed 0" ;;
    1) extra_metric "nba_validation_critical_failed 1" ;;
esac
code=$(worst "$code" "$c")

step grade "$INGEST" grade
c=$?
code=$(worst "$code" "$c")

# Freshness: the newest box score loaded (per season rows; the newest of all).
# pipeline_health columns: season scheduled played box_scores missing_box_scores
# games_with_features feature_rows newest_box_score.
if health=$("$INGEST" query pipeline_health --format TSV 2>/dev/null); then
    newest=$(printf '%s\n' "$health" | awk -F'\t' 'NF >= 8 && $8 > max { max = $8 } END { print max }')
    if [ -n "$newest" ] && ts=$(date -u -d "$newest" +%s 2>/dev/null); then
        extra_metric "nba_ingest_newest_game_timestamp_seconds $ts"
    fi
    while IFS=$'\t' read -r season _ _ _ missing _; do
        [[ $season =~ ^[0-9]+$ && $missing =~ ^-?[0-9]+$ ]] && extra_metric "nba_ingest_missing_box_scores{season=\"$season\"} $missing"
    done <<<"$health"
else
    log "warning: query pipeline_health failed; freshness not pushed"
fi

# Live error per served model version over its last 7 graded days, beside its test MAE.
# model_drift columns: game_date model_version graded live_mae live_bias test_mae drift
# (newest first).
if drift=$("$INGEST" query model_drift --format TSV 2>/dev/null); then
    cutoff=$(date -u -d '7 days ago' +%F)
    while read -r version graded mae test_mae; do
        [ -n "$version" ] || continue
        extra_metric "nba_prediction_live_mae_7d{model_version=\"$version\"} $mae"
        extra_metric "nba_prediction_graded_7d{model_version=\"$version\"} $graded"
        [ "$test_mae" != nan ] && extra_metric "nba_model_test_mae{model_version=\"$version\"} $test_mae"
    done < <(printf '%s\n' "$drift" | awk -F'\t' -v cutoff="$cutoff" '
        NF >= 7 && $1 >= cutoff && $3 > 0 {
            n[$2] += $3; s[$2] += $3 * $4
            if (!($2 in t)) t[$2] = ($6 == "" || $6 == "\\N") ? "nan" : $6
        }
        END { for (v in n) printf "%s %d %.4f %s\n", v, n[v], s[v] / n[v], t[v] }')
else
    log "warning: query model_drift failed; drift not pushed"
fi

# Live calibration per served version, source and slate run over the last 7 graded days.
# live_calibration columns: model_version source run days graded live_coverage
# nominal_coverage live_mae test_mae mae_ratio ... (run is empty for requests; awk keeps
# the empty field, `read` with a tab IFS would not).
if calib=$("$INGEST" query live_calibration --format TSV 2>/dev/null); then
    while IFS='|' read -r version source run graded coverage mae; do
        labels="model_version=\"$version\",source=\"$source\",run=\"$run\""
        extra_metric "nba_grade_graded_7d{$labels} $graded"
        extra_metric "nba_grade_coverage_7d{$labels} $coverage"
        extra_metric "nba_grade_mae_7d{$labels} $mae"
    done < <(printf '%s\n' "$calib" | awk -F'\t' 'NF >= 8 && $1 != "" && $5 ~ /^[0-9]+$/ && $5 > 0 { printf "%s|%s|%s|%s|%s|%s\n", $1, $2, $3, $5, $6, $8 }')
else
    log "warning: query live_calibration failed; coverage not pushed"
fi

# Calls of the last 30 graded days per version, source and run (all edges):
# call_hit_rate columns: model_version source run edge_bucket calls over_calls
# over_hit_rate under_calls under_hit_rate pushes hit_rate break_even roi_at_110.
if calls=$("$INGEST" query call_hit_rate --format TSV 2>/dev/null); then
    while IFS='|' read -r version source run decided rate; do
        labels="model_version=\"$version\",source=\"$source\",run=\"$run\""
        extra_metric "nba_grade_calls_decided_30d{$labels} $decided"
        extra_metric "nba_grade_call_hit_rate_30d{$labels} $rate"
    done < <(printf '%s\n' "$calls" | awk -F'\t' 'NF >= 11 && $4 == "all" && $5 - $10 > 0 { printf "%s|%s|%s|%d|%s\n", $1, $2, $3, $5 - $10, $11 }')
else
    log "warning: query call_hit_rate failed; call hit rates not pushed"
fi

# Against the market, last 30 graded days per version, source and run (all edges), on
# the graded rows with a line only. market columns: model_version source run edge_bucket
# lined model_mae line_mae over_hit_rate under_hit_rate break_even priced_calls profit
# roi clv_calls clv_mean clv_toward clv_away. ROI and CLV only when there are priced
# calls and calls with a closing line (else they are nan).
if market=$("$INGEST" query market --format TSV 2>/dev/null); then
    while IFS='|' read -r version source run lined model_mae line_mae priced roi clv_calls clv_mean; do
        labels="model_version=\"$version\",source=\"$source\",run=\"$run\""
        extra_metric "nba_grade_lined_30d{$labels} $lined"
        extra_metric "nba_grade_lined_model_mae_30d{$labels} $model_mae"
        extra_metric "nba_grade_line_mae_30d{$labels} $line_mae"
        extra_metric "nba_grade_priced_calls_30d{$labels} $priced"
        [ "$priced" -gt 0 ] && extra_metric "nba_grade_roi_30d{$labels} $roi"
        [ "$clv_calls" -gt 0 ] && extra_metric "nba_grade_clv_mean_30d{$labels} $clv_mean"
    done < <(printf '%s\n' "$market" | awk -F'\t' 'NF >= 17 && $4 == "all" && $5 ~ /^[0-9]+$/ && $5 > 0 && $11 ~ /^[0-9]+$/ && $14 ~ /^[0-9]+$/ { printf "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n", $1, $2, $3, $5, $6, $7, $11, $13, $14, $15 }')
else
    log "warning: query market failed; market figures not pushed"
fi

job_finish "$code"
