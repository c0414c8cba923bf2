#!/usr/bin/env python3
"""Python XGBoost (`hist`) on exactly the trainer's rows, for the time and accuracy
comparison in docs/trainer.md. Not part of CI.

usage:
  nba-trainer export-rows --out /tmp/rows [--train ... --valid ... --test ...]
  python3 scripts/xgb_compare.py /tmp/rows [--objective absolute_error|squared_error]
      [--trees 300] [--depth 6] [--learning-rate 0.05] [--min-child-weight 50]
      [--subsample 0.8] [--colsample 0.8] [--early-stopping 0] [--threads 2]

Reads the raw arrays `nba-trainer export-rows` writes (features NaN = missing), fits on
the train part, optionally early-stops on the valid part, and prints the fit time and the
test MAE on the scored rows (the same rows the trainer's manifest reports).
Exit 77 (skip) when numpy or xgboost is missing: pip install xgboost numpy
"""
import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # pragma: no cover
    print(f"skip: {e} (pip install xgboost numpy)", file=sys.stderr)
    sys.exit(77)

ap = argparse.ArgumentParser()
ap.add_argument("rows")
ap.add_argument("--objective", default="absolute_error", choices=["absolute_error", "squared_error"])
ap.add_argument("--trees", type=int, default=300)
ap.add_argument("--depth", type=int, default=6)
ap.add_argument("--learning-rate", type=float, default=0.05)
ap.add_argument("--min-child-weight", type=float, default=50)
ap.add_argument("--subsample", type=float, default=0.8)
ap.add_argument("--colsample", type=float, default=0.8)
ap.add_argument("--l2", type=float, default=1.0)
ap.add_argument("--bins", type=int, default=255)
ap.add_argument("--early-stopping", type=int, default=0, help="rounds; 0 = grow all trees")
ap.add_argument("--threads", type=int, default=os.cpu_count())
a = ap.parse_args()

meta = json.load(open(os.path.join(a.rows, "meta.json")))
nf = meta["n_features"]


def part(name):
    x = np.fromfile(os.path.join(a.rows, f"{name}_x.f32"), dtype="<f4").reshape(-1, nf)
    y = np.fromfile(os.path.join(a.rows, f"{name}_y.f32"), dtype="<f4")
    s = np.fromfile(os.path.join(a.rows, f"{name}_scored.u8"), dtype=np.uint8).astype(bool)
    assert len(x) == len(y) == len(s) == meta["parts"][name]["rows"], name
    return x, y, s


(x, y, _), (vx, vy, _), (tx, ty, ts) = part("train"), part("valid"), part("test")
params = {
    "tree_method": "hist",
    "objective": "reg:absoluteerror" if a.objective == "absolute_error" else "reg:squarederror",
    "eval_metric": "mae" if a.objective == "absolute_error" else "rmse",
    "max_depth": a.depth,
    "eta": a.learning_rate,
    "min_child_weight": a.min_child_weight,
    "subsample": a.subsample,
    "colsample_bytree": a.colsample,
    "lambda": a.l2,
    "max_bin": a.bins,
    "nthread": a.threads,
    "seed": 0,
}
t0 = time.perf_counter()
dtrain = xgb.DMatrix(x, label=y, missing=np.nan, nthread=a.threads)
dvalid = xgb.DMatrix(vx, label=vy, missing=np.nan, nthread=a.threads)
kw = {"early_stopping_rounds": a.early_stopping} if a.early_stopping > 0 else {}
booster = xgb.train(params, dtrain, a.trees, evals=[(dvalid, "valid")], verbose_eval=False, **kw)
fit_s = time.perf_counter() - t0
it = (0, booster.best_iteration + 1) if a.early_stopping > 0 else (0, a.trees)
pred = booster.predict(xgb.DMatrix(tx, missing=np.nan), iteration_range=it)
mae = float(np.mean(np.abs(pred[ts] - ty[ts])))
vpred = booster.predict(dvalid, iteration_range=it)
print(json.dumps({
    "xgboost": xgb.__version__,
    "objective": a.objective,
    "train_rows": int(len(y)),
    "features": nf,
    "trees": it[1],
    "depth": a.depth,
    "learning_rate": a.learning_rate,
    "threads": a.threads,
    "fit_seconds": round(fit_s, 2),
    "valid_mae": round(float(np.mean(np.abs(vpred - vy))), 4),
    "test_scored_rows": int(ts.sum()),
    "test_scored_mae": round(mae, 4),
}, indent=1))
