#!/usr/bin/env bash
# Backfill (CronJob nba-ingest-backfill, suspended: a template started by hand with
# `kubectl create job --from=cronjob/nba-ingest-backfill ...`, see docs/operations.md):
# load, build and validate a date range in checkpointed chunks. Rerunning resumes.
#
# Environment:
#   NBA_BACKFILL_FROM, NBA_BACKFILL_TO  the range, YYYY-MM-DD (required)
#   NBA_BACKFILL_PATHS                  space-separated archives/folders (default: the
#                                       page store, $NBA_PAGE_STORE)
#   NBA_BACKFILL_CHUNK_DAYS             days per chunk (read by nba-ingest itself)
#   NBA_INGEST_BIN, NBA_JOB_NAME        as in ingest-nightly.sh
# shellcheck source=k8s/jobs/lib.sh
. "$(dirname "$0")/lib.sh"
INGEST=${NBA_INGEST_BIN:-nba-ingest}
job_start "${NBA_JOB_NAME:-nba-ingest-backfill}"

if [ -z "${NBA_BACKFILL_FROM:-}" ] || [ -z "${NBA_BACKFILL_TO:-}" ]; then
    log "NBA_BACKFILL_FROM and NBA_BACKFILL_TO are required (YYYY-MM-DD)"
    job_finish 2
fi
read -r -a paths <<<"${NBA_BACKFILL_PATHS:-${NBA_PAGE_STORE:-/var/lib/nba/pages}}"

step backfill "$INGEST" backfill --from "$NBA_BACKFILL_FROM" --to "$NBA_BACKFILL_TO" "${paths[@]}"
code=$?
case $code in
    0) extra_metric "nba_validation_critical_failed 0" ;;
    1) extra_metric "nba_validation_critical_failed 1" ;;
esac
job_finish "$code"
