#!/usr/bin/env bash
# Schema migrations (Job nba-migrate): `nba-ingest migrate` (idempotent), outcome pushed.
# shellcheck source=k8s/jobs/lib.sh
. "$(dirname "$0")/lib.sh"
INGEST=${NBA_INGEST_BIN:-nba-ingest}
job_start "${NBA_JOB_NAME:-nba-migrate}"
step migrate "$INGEST" migrate
job_finish "$?"
