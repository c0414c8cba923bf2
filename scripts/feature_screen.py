#!/usr/bin/env python3
"""Screens candidate features on the VALIDATION season only (how feature contract v3 was
chosen; docs/features.md). Not part of CI; never looks at the test season.

usage:
  python3 scripts/feature_screen.py [--database trainer_full] [--seeds 0,1,2]
      [CANDIDATE[,CANDIDATE...] ...]

Reads the played rows of `player_features` (the current contract's vectors) and the
summary tables from ClickHouse (CLICKHOUSE_URL, default http://127.0.0.1:8123), computes
each candidate with pandas from strictly earlier games, and for each argument (a comma
list of candidates; "" = none) fits XGBoost L1 (depth 6, learning rate 0.05, min child
weight 50, L2 10, subsample/colsample 0.8, early stopping on the validation season) on
the current vector + the candidates, printing validation MAE (all played rows and the
scored rows) averaged over the seeds. Train 2018-2022, validate 2023.

Exit 77 (skip) when pandas, numpy or xgboost is missing: pip install xgboost pandas numpy
"""
import argparse
import io
import os
import sys
import urllib.parse
import urllib.request

try:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
except ImportError as e:
    print(f"feature_screen: {e}: pip install xgboost pandas numpy", file=sys.stderr)
    sys.exit(77)


def query(url, sql):
    u = url.rstrip("/") + "/?" + urllib.parse.urlencode({"query": sql + " FORMAT TSVWithNames"})
    return pd.read_csv(io.BytesIO(urllib.request.urlopen(u).read()), sep="\t", na_values=["\\N"])


def load(url, db):
    pf = query(url, f"SELECT game_id, game_date, season, team, opponent, player_id, target_pts, "
                    f"arrayStringConcat(arrayMap(x -> toString(x), features), ',') AS f "
                    f"FROM `{db}`.player_features FINAL WHERE status = 'Played' "
                    f"ORDER BY game_date, game_id, player_id")
    x = np.array([np.array(s.split(","), dtype=np.float32) for s in pf.f])
    pf = pf.drop(columns="f")
    pg = query(url, f"SELECT game_id, game_date, team, player_id, status, minutes, pts, ast, reb, pf, plus_minus "
                    f"FROM `{db}`.player_game_summary FINAL")
    tg = query(url, f"SELECT game_id, game_date, season, team, opponent, won, fta, starters_pts, bench_pts "
                    f"FROM `{db}`.team_game_summary FINAL")
    for d in (pf, pg, tg):
        d["game_date"] = pd.to_datetime(d["game_date"])
    return pf, x, pg, tg


def candidates(pf, pg, tg):
    """Every candidate, aligned with pf's rows; each uses games before the row's date."""
    c = {}
    keys = ["game_id", "player_id"]
    pl = pg[pg.status == "Played"].sort_values(["player_id", "game_date"]).copy()
    pl["plus_minus"] = pd.to_numeric(pl.plus_minus, errors="coerce")
    pl["pfpm"] = pl.pf / np.maximum(pl.minutes, 1)
    g = pl.groupby("player_id")

    def roll(col, w, fn="mean"):
        # shift(1): the row's own game never counts, only earlier played games.
        return g[col].transform(lambda s: getattr(s.shift(1).rolling(w, min_periods=1), fn)())

    pl["min_last"], pl["pts_last"] = g.minutes.shift(1), g.pts.shift(1)
    pl["min_std_10"], pl["pts_max_10"], pl["pts_min_10"] = roll("minutes", 10, "std"), roll("pts", 10, "max"), roll("pts", 10, "min")
    pl["ast_avg_10"], pl["reb_avg_10"] = roll("ast", 10), roll("reb", 10)
    pl["pfpm_10"], pl["pm_avg_10"] = roll("pfpm", 10), roll("plus_minus", 10)
    cols = ["min_last", "pts_last", "min_std_10", "pts_max_10", "pts_min_10", "ast_avg_10", "reb_avg_10", "pfpm_10", "pm_avg_10"]
    m = pf[keys].merge(pl[keys + cols], on=keys, how="left")
    for col in cols:
        c[col] = m[col].values
    # Of tonight's team's last 10 games, how many he played for it.
    tg = tg.sort_values(["team", "game_date"]).copy()
    tg["k"] = tg.groupby("team").cumcount()
    tk = tg.set_index(["game_id", "team"]).k
    played = pg[pg.status == "Played"].copy()
    played["k"] = tk.reindex(list(zip(played.game_id, played.team))).values
    idx = {key: np.sort(s.values) for key, s in played.groupby(["player_id", "team"]).k}
    rowk = tk.reindex(list(zip(pf.game_id, pf.team))).values
    out = np.zeros(len(pf))
    for i, (p, t, k) in enumerate(zip(pf.player_id, pf.team, rowk)):
        a = idx.get((p, t))
        out[i] = 0 if a is None else np.searchsorted(a, k) - np.searchsorted(a, k - 10)
    c["team_games_played_10"] = out
    # Opponent: points allowed to starters / bench, free throws allowed; win percentages.
    opp = tg[["game_id", "team", "starters_pts", "bench_pts", "fta"]].rename(
        columns={"team": "opponent", "starters_pts": "st_allowed", "bench_pts": "bn_allowed", "fta": "fta_allowed"})
    t2 = tg.merge(opp, on=["game_id", "opponent"]).sort_values(["team", "game_date"])
    gt = t2.groupby("team")
    for col in ["st_allowed", "bn_allowed", "fta_allowed"]:
        t2[col + "_10"] = gt[col].transform(lambda s: s.shift(1).rolling(10, min_periods=1).mean())
    t2["winpct"] = t2.groupby(["team", "season"]).won.transform(lambda s: s.shift(1).expanding().mean())
    t2["gameno"] = t2.groupby(["team", "season"]).cumcount()
    ti = t2.set_index(["game_id", "team"])
    by_team, by_opp = list(zip(pf.game_id, pf.team)), list(zip(pf.game_id, pf.opponent))
    for col in ["st_allowed_10", "bn_allowed_10", "fta_allowed_10"]:
        c["opp_" + col] = ti[col].reindex(by_opp).values
    c["team_winpct"], c["opp_winpct"] = ti.winpct.reindex(by_team).values, ti.winpct.reindex(by_opp).values
    c["team_gameno"] = ti.gameno.reindex(by_team).values
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default=os.environ.get("NBA_DATABASE", "trainer_full"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("sets", nargs="*", default=[""])
    a = ap.parse_args()
    url = os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:8123")
    pf, x, pg, tg = load(url, a.database)
    cand = candidates(pf, pg, tg)
    # min_avg_10 is feature 8 of every contract (7 stats x 5 windows, minutes second).
    scored_col = 5 + 2
    y, season = pf.target_pts.values.astype(np.float32), pf.season.values
    train, valid = (season >= 2018) & (season <= 2022), season == 2023
    scored = x[:, scored_col] >= 15
    for spec in a.sets:
        which = [w for w in spec.split(",") if w]
        unknown = [w for w in which if w not in cand]
        if unknown:
            sys.exit(f"feature_screen: unknown candidates {unknown}; known: {sorted(cand)}")
        xe = np.hstack([x] + [cand[w].reshape(-1, 1).astype(np.float32) for w in which])
        dtr, dva = xgb.DMatrix(xe[train], label=y[train]), xgb.DMatrix(xe[valid], label=y[valid])
        res = []
        for seed in [int(s) for s in a.seeds.split(",")]:
            prm = dict(objective="reg:absoluteerror", tree_method="hist", max_depth=6, eta=0.05, min_child_weight=50,
                       reg_lambda=10, subsample=0.8, colsample_bytree=0.8, nthread=2, seed=seed, eval_metric="mae")
            b = xgb.train(prm, dtr, 2000, evals=[(dva, "v")], early_stopping_rounds=100, verbose_eval=False)
            e = np.abs(b.predict(dva, iteration_range=(0, b.best_iteration + 1)) - y[valid])
            res.append((e.mean(), e[scored[valid]].mean()))
        r = np.array(res)
        print(f"{spec or 'current contract':50s} validation MAE played {r[:, 0].mean():.4f} scored {r[:, 1].mean():.4f}"
              f"  (seeds: {' '.join(f'{v:.4f}' for v in r[:, 0])})", flush=True)


if __name__ == "__main__":
    main()
