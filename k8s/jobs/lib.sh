#!/usr/bin/env bash
# Shared by the batch-job wrappers (sourced, not run): run named steps, remember each
# step's exit code and duration, and push the run's outcome to the Prometheus
# Pushgateway so that a job that failed, or did not run at all, raises an alert
# (exit codes alone are not monitoring: a CronJob that never starts exits nothing).
#
#   . /opt/nba/jobs/lib.sh
#   job_start nba-ingest-nightly
#   step build nba-ingest build          # runs it, records nba_job_step_* for "build"
#   extra_metric 'nba_some_gauge{label="x"} 1'
#   job_finish "$code"                   # pushes and exits with $code
#
# Environment:
#   NBA_PUSHGATEWAY_URL   e.g. http://nba-pushgateway:9091; unset or empty: no push
#                         (the outcome is still logged)
#   NBA_PUSH_TIMEOUT_SECS curl timeout for the push (default 10)
#
# Pushed, grouped by job (POST, so metrics absent from this push keep their last value:
# a failed run leaves nba_job_last_success_timestamp_seconds at the last success):
#   nba_job_last_run_timestamp_seconds       end of this run
#   nba_job_last_success_timestamp_seconds   end of this run, only when it exited 0
#   nba_job_last_exit_code                   the run's exit code
#   nba_job_duration_seconds                 the run's wall time
#   nba_job_step_exit_code{step}             each step's exit code (-1: skipped)
#   nba_job_step_duration_seconds{step}      each step's wall time
# A push that fails is logged and does not change the job's exit code.

set -uo pipefail

JOB_NAME=""
JOB_STARTED=0
STEP_METRICS=""
EXTRA_METRICS=""

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${JOB_NAME:-job}" "$*" >&2; }

job_start() {
    JOB_NAME=$1
    JOB_STARTED=$(date +%s)
    log "started"
}

# step NAME CMD [ARGS...]: runs CMD, records its exit code; returns the exit code.
step() {
    local name=$1 t0 code
    shift
    t0=$(date +%s)
    log "step $name: $*"
    "$@"
    code=$?
    log "step $name: exit $code after $(( $(date +%s) - t0 )) s"
    STEP_METRICS+="nba_job_step_exit_code{step=\"$name\"} $code"$'\n'
    STEP_METRICS+="nba_job_step_duration_seconds{step=\"$name\"} $(( $(date +%s) - t0 ))"$'\n'
    return "$code"
}

# skip NAME: records a step that did not run (after an earlier error).
skip() {
    log "step $1: skipped"
    STEP_METRICS+="nba_job_step_exit_code{step=\"$1\"} -1"$'\n'
}

# extra_metric 'name{labels} value': one more sample for this push.
extra_metric() {
    EXTRA_METRICS+="$1"$'\n'
}

# The exposition-format body of this run's push (printed, for tests and logs).
job_metrics_body() {
    local code=$1 now
    now=$(date +%s)
    printf '# TYPE nba_job_last_run_timestamp_seconds gauge\nnba_job_last_run_timestamp_seconds %s\n' "$now"
    if [ "$code" -eq 0 ]; then
        printf '# TYPE nba_job_last_success_timestamp_seconds gauge\nnba_job_last_success_timestamp_seconds %s\n' "$now"
    fi
    printf '# TYPE nba_job_last_exit_code gauge\nnba_job_last_exit_code %s\n' "$code"
    printf '# TYPE nba_job_duration_seconds gauge\nnba_job_duration_seconds %s\n' "$(( now - JOB_STARTED ))"
    if [ -n "$STEP_METRICS" ]; then
        printf '# TYPE nba_job_step_exit_code gauge\n# TYPE nba_job_step_duration_seconds gauge\n'
        printf '%s' "$STEP_METRICS" | sort
    fi
    printf '%s' "$EXTRA_METRICS"
}

job_push() {
    local code=$1 url=${NBA_PUSHGATEWAY_URL:-}
    if [ -z "$url" ]; then
        log "NBA_PUSHGATEWAY_URL is not set: outcome not pushed"
        return 0
    fi
    if job_metrics_body "$code" | curl -fsS --max-time "${NBA_PUSH_TIMEOUT_SECS:-10}" --data-binary @- \
        "${url%/}/metrics/job/$JOB_NAME" >/dev/null; then
        log "outcome pushed to $url (exit code $code)"
    else
        log "warning: could not push the outcome to $url"
    fi
}

# job_finish CODE: pushes and exits with CODE.
job_finish() {
    local code=$1
    job_push "$code"
    log "finished: exit $code after $(( $(date +%s) - JOB_STARTED )) s"
    exit "$code"
}

# worst A B: the more severe of two exit codes (0 < 1 < 3 < 2: an error beats a refusal
# beats a partial result).
worst() {
    local rank_a rank_b
    rank() { case $1 in 0) echo 0 ;; 1) echo 1 ;; 3) echo 2 ;; *) echo 3 ;; esac; }
    rank_a=$(rank "$1")
    rank_b=$(rank "$2")
    if [ "$rank_a" -ge "$rank_b" ]; then echo "$1"; else echo "$2"; fi
}
