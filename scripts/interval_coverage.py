#!/usr/bin/env python3
"""Calibration through a running nba-server, as a client sees it: p10-p90 coverage by
prior-10-game minutes bucket (<20, 20-28, 28-34, 34+), and P(over) against a synthetic
line (floor of the prior-10 points mean + 0.5): Brier score and ECE over 10 equal-width
bins. Rows: the played rows of SEASON (default 2024) with min_avg_10 >= 15 and the
baselines' inputs defined (the trainer's scored rows). Asked through the Flight
["requests"] exchange twice: with the stored game-day information (state A,
"official") and with it ignored (state C, `ignore_stored`). For docs/trainer.md; not
part of CI. Needs pyarrow.

usage: interval_coverage.py CLICKHOUSE_URL DATABASE grpc://HOST:PORT [SEASON]
"""
import math, sys, urllib.request, pyarrow as pa, pyarrow.flight as fl

CH, DB, ADDR = sys.argv[1], sys.argv[2], sys.argv[3]
SEASON = int(sys.argv[4]) if len(sys.argv) > 4 else 2024
q = ("SELECT player_id, toString(game_date), opponent, is_home, team, target_pts, min_avg_10, pts_avg_10 "
     f"FROM {DB}.player_features_wide WHERE season = {SEASON} AND status = 'Played' AND min_avg_10 >= 15 "
     "AND isFinite(pts_avg_10) AND isFinite(pts_avg_season) FORMAT TSV")
rows = [l.split('\t') for l in urllib.request.urlopen(CH, q.encode()).read().decode().splitlines()]
lines = [math.floor(float(r[7])) + 0.5 for r in rows]
client = fl.connect(ADDR)


def ask(ignore):
    t = pa.table({"player_id": [r[0] for r in rows], "game_date": [r[1] for r in rows], "opponent": [r[2] for r in rows],
                  "is_home": [r[3] == '1' for r in rows], "team": [r[4] for r in rows], "line": lines,
                  "ignore_stored": [ignore] * len(rows)})
    w, rd = client.do_exchange(fl.FlightDescriptor.for_path("requests"))
    w.begin(t.schema)
    out = []
    for b in t.to_batches(max_chunksize=5000):
        w.write_batch(b)
        out.append(rd.read_chunk().data)
    w.done_writing()
    w.close()
    return pa.Table.from_batches(out)


def ece(p, y, bins=10):
    total, n = 0.0, len(p)
    for b in range(bins):
        k = [i for i in range(n) if min(int(p[i] * bins), bins - 1) == b]
        if k:
            total += len(k) / n * abs(sum(p[i] for i in k) / len(k) - sum(y[i] for i in k) / len(k))
    return total


buckets = [("<20", 0, 20), ("20-28", 20, 28), ("28-34", 28, 34), ("34+", 34, 999)]
for ignore in (False, True):
    a = ask(ignore)
    p10, p90, p_over, err, src = (a[c].to_pylist() for c in ("p10", "p90", "p_over", "error", "availability_source"))
    ok = [i for i in range(len(rows)) if err[i] is None]
    print(f"state {'C (ignore_stored)' if ignore else 'A (official)'}: {len(ok)} rows, sources {sorted(set(src[i] for i in ok))}, "
          f"errors {len(rows) - len(ok)}")
    for name, lo, hi in [("all", 0, 999)] + buckets:
        k = [i for i in ok if lo <= float(rows[i][6]) < hi]
        cov = sum(p10[i] <= float(rows[i][5]) <= p90[i] for i in k) / len(k)
        print(f"  min_avg_10 {name:>5}: rows {len(k):>6}, p10-p90 coverage {cov:.3f}")
    k = [i for i in ok if p_over[i] is not None]
    p = [p_over[i] for i in k]
    y = [1.0 if float(rows[i][5]) > lines[i] else 0.0 for i in k]
    brier = sum((p[j] - y[j]) ** 2 for j in range(len(k))) / len(k)
    print(f"  P(over) vs floor(pts_avg_10) + 0.5: rows {len(k)}, Brier {brier:.4f}, ECE(10 bins) {ece(p, y):.4f}, "
          f"mean P {sum(p) / len(p):.3f}, observed {sum(y) / len(y):.3f}")
