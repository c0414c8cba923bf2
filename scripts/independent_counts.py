#!/usr/bin/env python3
"""Independent figures for the loader's tests, computed with Python's standard library
only (regular expressions over the raw pages; no code shared with the Rust parser).

    python3 scripts/independent_counts.py ../shared/data/nba/sample_bbref_html.tar.gz
    python3 scripts/independent_counts.py ../shared/data/nba/raw/bbref_2024.tar.zst

Prints: box-score pages, schedule pages, schedule rows, player rows (all / played / per
did-not-play reason), starters, inactive entries, total points of played rows, and the
number of played rows whose points differ from 2*FG + 3P + FT.
"""
import io
import re
import subprocess
import sys
import tarfile
from collections import Counter


def members(path):
    if path.endswith(".tar.zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    else:
        tf = tarfile.open(path, mode="r:*")
    for m in tf:
        if m.isfile():
            yield m.name, tf.extractfile(m).read().decode("utf-8")


def table(page, table_id):
    i = page.find('id="%s"' % table_id)
    if i < 0:
        return None
    start = page.rfind("<table", 0, i)
    return page[start:page.find("</table>", i)]


c = Counter()
for name, page in members(sys.argv[1]):
    if name.startswith("standings/"):
        c["schedule_pages"] += 1
        sched = table(page, "schedule")
        c["schedule_rows"] += len(re.findall(r'<th[^>]*data-stat="date_game"[^>]*csk="\d{9}[A-Z]{3}"', sched))
        c["schedule_box_score_links"] += len(set(re.findall(r'href="/boxscores/\d{9}[A-Z]{3}\.html"', sched)))
        continue
    c["box_scores"] += 1
    teams = []
    for t in re.findall(r'id="box-([A-Z]{3})-game-basic"', page):
        if t not in teams:
            teams.append(t)
    for team in teams:
        t = table(page, "box-%s-game-basic" % team)
        body = t[t.find("<tbody>"):t.find("</tbody>")]
        starters_part = body.split("Reserves")[0]
        c["starters"] += starters_part.count("data-append-csv=")
        for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S):
            if "data-append-csv=" not in row:
                continue
            c["player_rows"] += 1
            reason = re.search(r'data-stat="reason"[^>]*>([^<]*)<', row)
            if reason:
                c["status:" + reason.group(1)] += 1
                continue
            c["played_rows"] += 1
            stat = lambda s: int(re.search(r'data-stat="%s"[^>]*>(-?\d*)<' % s, row).group(1) or 0)
            c["points"] += stat("pts")
            if stat("pts") != 2 * stat("fg") + stat("fg3") + stat("ft"):
                c["points_formula_mismatch"] += 1
    line = page[page.find("<strong>Inactive:"):]
    line = line[:line.find("</div>")]
    c["inactives"] += len(re.findall(r'href="/players/./[a-z0-9]+\.html"', line))
for k in sorted(c):
    print(f"{k}\t{c[k]}")
