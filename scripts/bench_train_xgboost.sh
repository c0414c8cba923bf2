#!/usr/bin/env bash
# nba-trainer's boosting beside XGBoost `hist` on the same rows, one after the other in the
# same run (trainer/benches/fit_vs_xgboost.rs): the default split of the database's rows,
# 300 trees of depth 6, learning rate 0.05, 2 threads; fit time and scored test MAE of
# each, and the time ratio. Keep the machine otherwise quiet. Not part of CI.
#
#   CLICKHOUSE_URL=... NBA_DATABASE=nba7 bash scripts/bench_train_xgboost.sh
#
# Needs a Python with xgboost and numpy: NBA_XGB_PYTHON, else a venv made once in
# /var/tmp/nba-xgb-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=/var/tmp/nba-xgb-venv
if [ -z "${NBA_XGB_PYTHON:-}" ]; then
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import xgboost, numpy' 2>/dev/null; then
        python3 -m venv "$venv" && "$venv/bin/pip" install -q xgboost numpy
    fi
    export NBA_XGB_PYTHON="$venv/bin/python"
fi
rows=$(mktemp -d /tmp/nba-rows.XXXXXX)
trap 'rm -rf "$rows"' EXIT
cargo build --release --locked -p nba-trainer
target/release/nba-trainer export-rows --out "$rows" >/dev/null
NBA_ROWS_DIR="$rows" cargo bench --locked -p nba-trainer --bench fit_vs_xgboost
