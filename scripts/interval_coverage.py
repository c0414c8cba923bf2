#!/usr/bin/env python3
"""p10-p90 interval coverage by prior-10-game minutes band on the played 2024 rows with
min_avg_10 >= 15, through a running nba-server's Flight ["requests"] exchange, with the
stored game-day information (state A, "official") and with it ignored (state C,
ignore_stored). For docs/trainer.md; not part of CI. Needs pyarrow.

usage: interval_coverage.py CLICKHOUSE_URL DATABASE grpc://HOST:PORT
"""
import sys, urllib.request, pyarrow as pa, pyarrow.flight as fl
CH, DB, ADDR = sys.argv[1], sys.argv[2], sys.argv[3]
q = ("SELECT player_id, toString(game_date), opponent, is_home, team, target_pts, min_avg_10 "
     f"FROM {DB}.player_features_wide WHERE season = 2024 AND status = 'Played' AND min_avg_10 >= 15 FORMAT TSV")
rows = [l.split('\t') for l in urllib.request.urlopen(CH, q.encode()).read().decode().splitlines()]
client = fl.connect(ADDR)
def run(ignore):
    t = pa.table({"player_id": [r[0] for r in rows], "game_date": [r[1] for r in rows], "opponent": [r[2] for r in rows],
                  "is_home": [r[3] == '1' for r in rows], "team": [r[4] for r in rows], "ignore_stored": [ignore] * len(rows)})
    w, rd = client.do_exchange(fl.FlightDescriptor.for_path("requests"))
    w.begin(t.schema); out = []
    for b in t.to_batches(max_chunksize=5000):
        w.write_batch(b); out.append(rd.read_chunk().data)
    w.done_writing(); w.close()
    return pa.Table.from_batches(out)
bands = [(15, 20), (20, 28), (28, 34), (34, 99)]
for ignore in (False, True):
    a = run(ignore)
    p10, p90, err, src = a["p10"].to_pylist(), a["p90"].to_pylist(), a["error"].to_pylist(), a["availability_source"].to_pylist()
    print(f"state {'C (ignore_stored)' if ignore else 'A (official)'}: sources {sorted(set(src))}, errors {sum(e is not None for e in err)}")
    for lo, hi in [(15, 99)] + bands:
        k = [i for i, r in enumerate(rows) if lo <= float(r[6]) < hi and err[i] is None]
        cov = sum(p10[i] <= float(rows[i][5]) <= p90[i] for i in k) / len(k)
        print(f"  min_avg_10 {lo}-{hi if hi < 99 else '+'}: rows {len(k)}, p10-p90 coverage {cov:.3f}")
