#!/usr/bin/env bash
# Weekly retraining (CronJob nba-trainer-weekly): `nba-trainer train --promote` on rolling
# periods from the ConfigMap (NBA_AS_OF=yesterday, NBA_TRAIN_SEASONS, NBA_VALID_DAYS,
# NBA_TEST_DAYS: the newest games are always in), then push the outcome, whether the gate
# refused (it compares the candidate with the current model on the newest rows), and the
# current model's age and MAE (on its test window, or its validation window without one).
#
# Exit code: the trainer's: 0 trained and promoted; 3 trained, gate refused (the servers
# keep the current model: an alert, not a retry); 2 error.
#
# Environment: NBA_TRAINER_BIN (default nba-trainer), NBA_JOB_NAME (default
# nba-trainer-weekly), and the trainer's own NBA_*/CLICKHOUSE_* variables.
# shellcheck source=k8s/jobs/lib.sh
. "$(dirname "$0")/lib.sh"
TRAINER=${NBA_TRAINER_BIN:-nba-trainer}
job_start "${NBA_JOB_NAME:-nba-trainer-weekly}"

step train "$TRAINER" train --promote
code=$?
case $code in
    0) extra_metric "nba_trainer_gate_refused 0" ;;
    3) extra_metric "nba_trainer_gate_refused 1" ;;
esac

# The current version from `list`: "* VERSION  OBJECTIVE  test MAE X on N rows  created TS".
if listing=$("$TRAINER" list 2>/dev/null); then
    versions=$(printf '%s\n' "$listing" | grep -c . || true)
    extra_metric "nba_registry_versions $versions"
    read -r current mae created < <(printf '%s\n' "$listing" | awk '$1 == "*" {
        for (i = 1; i <= NF; i++) if ($i == "MAE") mae = $(i + 1)
        print $2, mae, $NF }')
    if [ -n "${current:-}" ]; then
        if ts=$(date -u -d "$created" +%s 2>/dev/null); then
            extra_metric "nba_registry_current_model_created_timestamp_seconds{model_version=\"$current\"} $ts"
        fi
        [[ ${mae:-} =~ ^[0-9.]+$ ]] && extra_metric "nba_registry_current_model_test_mae{model_version=\"$current\"} $mae"
    fi
else
    log "warning: nba-trainer list failed; registry metrics not pushed"
fi

job_finish "$code"
