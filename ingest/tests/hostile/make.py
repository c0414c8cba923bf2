#!/usr/bin/env python3
"""Writes the hostile inputs of this folder (see README.md) from a small synthetic box
score, so that each file differs from a valid page in exactly one way. Deterministic:
rerunning it rewrites the same bytes. The larger inputs (over 16 MiB, 10 MB of
pathological markup, a 15 MiB page) are made by the test itself, not stored.

    python3 ingest/tests/hostile/make.py
"""
import gzip, io, os, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
STATS = ["fg", "fga", "fg3", "fg3a", "ft", "fta", "orb", "drb", "trb", "ast", "stl", "blk", "tov", "pf", "pts"]


def player(pid, name, mp, ft):
    s = dict(fg=4, fga=8, fg3=1, fg3a=3, ft=ft, fta=ft, orb=1, drb=3, trb=4, ast=2, stl=1, blk=0, tov=1, pf=2)
    s["pts"] = 2 * s["fg"] + s["fg3"] + s["ft"]
    return dict(pid=pid, name=name, mp=mp, stats=s)


def team(code, ft):
    ps = [player(f"{code.lower()}pl0{i}", f"{code} Player {i}", "36:00" if i < 5 else "12:00", ft) for i in range(6)]
    return code, ps


def basic_table(code, ps, dnp):
    def row(p):
        cells = "".join(f'<td data-stat="{k}">{p["stats"][k]}</td>' for k in STATS)
        return (f'<tr><th data-stat="player" data-append-csv="{p["pid"]}"><a href="/players/x/{p["pid"]}.html">{p["name"]}</a></th>'
                f'<td data-stat="mp">{p["mp"]}</td>{cells}<td data-stat="plus_minus">+1</td></tr>\n')
    body = "".join(row(p) for p in ps[:5]) + '<tr class="thead"><th data-stat="player">Reserves</th></tr>\n' + "".join(row(p) for p in ps[5:])
    body += f'<tr><th data-stat="player" data-append-csv="{dnp}"><a href="/players/x/{dnp}.html">{code} Bench</a></th><td data-stat="reason">Did Not Play</td></tr>\n'
    tot = {k: sum(p["stats"][k] for p in ps) for k in STATS}
    foot = '<tr><th data-stat="player">Team Totals</th><td data-stat="mp">240</td>' + "".join(f'<td data-stat="{k}">{tot[k]}</td>' for k in STATS) + "</tr>"
    return f'<table class="stats_table" id="box-{code}-game-basic"><thead><tr><th data-stat="player">Starters</th></tr></thead><tbody>\n{body}</tbody><tfoot>{foot}</tfoot></table>\n', tot["pts"]


def advanced_table(code, ps):
    rows = "".join(f'<tr><th data-stat="player" data-append-csv="{p["pid"]}">{p["name"]}</th><td data-stat="ts_pct">.600</td><td data-stat="usg_pct">20.0</td><td data-stat="off_rtg">110</td><td data-stat="def_rtg">105</td><td data-stat="bpm">1.5</td></tr>\n' for p in ps)
    return f'<table id="box-{code}-game-advanced"><tbody>\n{rows}</tbody><tfoot><tr><th data-stat="player">Team Totals</th><td data-stat="off_rtg">110.0</td><td data-stat="def_rtg">105.0</td></tr></tfoot></table>\n'


def page(gid, away="PHI", tweak=lambda teams: None):
    home = gid[9:]
    teams = [team(away, 2), team(home, 3)]
    tweak(teams)
    tables, totals = "", []
    for code, ps in teams:
        t, pts = basic_table(code, ps, f"{code.lower()}dnp01")
        tables += t + advanced_table(code, ps)
        totals.append((code, pts))
    line = "".join(
        f'<tr><th data-stat="team"><a href="/teams/{c}/2024.html">{c}</a></th>'
        + "".join(f'<td data-stat="{q}">{pts // 4 + (pts % 4 if q == 4 else 0)}</td>' for q in range(1, 5))
        + f'<td data-stat="T">{pts}</td></tr>'
        for c, pts in totals
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{away} at {home}</title></head><body>\n'
        f"<h1>{away} at {home} Box Score, synthetic</h1>\n"
        f'<a href="/leagues/NBA_2024_games.html">2023-24 NBA Schedule</a> <a href="/boxscores/pbp/{gid}.html">Play-By-Play</a>\n'
        f'<div id="all_line_score"><!--\n<table id="line_score"><tbody>{line}</tbody></table>\n--></div>\n'
        f"{tables}"
        f'<div><strong>Inactive:&nbsp;</strong><span><strong>{away}</strong>&nbsp;</span><a href="/players/z/{away.lower()}out01.html">José Out</a>,&nbsp;<span><strong>{home}</strong></span> None </div>\n'
        "</body></html>\n"
    )


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def set_player(teams, t, i, **stats):
    teams[t][1][i]["stats"].update(stats)


def tar(members):
    """A tar written header by header: names the tarfile module would refuse are kept."""
    out = io.BytesIO()
    for name, data, kind, link in members:
        ti = tarfile.TarInfo("x")
        ti.size, ti.mode, ti.mtime, ti.type, ti.linkname = len(data), 0o644, 0, kind, link
        header = bytearray(ti.tobuf(tarfile.GNU_FORMAT))
        header[0:100] = name.encode().ljust(100, b"\0")
        header[148:156] = b"        "
        header[148:156] = b"%06o\0 " % sum(header[:512])
        out.write(bytes(header[:512]) + data + b"\0" * (-len(data) % 512))
    out.write(b"\0" * 1024)
    return out.getvalue()


good = page("202311150BOS")
write("accepted/202311150BOS.html", good)
write("truncated/202311010BOS.html", page("202311010BOS")[: len(good) // 2])
write("truncated-tail/202311020BOS.html", page("202311020BOS").replace("</body></html>\n", ""))
write("encoding/latin1/202311050BOS.html", page("202311050BOS").encode("latin-1"))
write("encoding/utf16/202311060BOS.html", page("202311060BOS").encode("utf-16"))
write("encoding/utf8-bom/202311070BOS.html", "\ufeff" + page("202311070BOS"))
write("encoding/invalid-utf8/202311080BOS.html", page("202311080BOS").encode().replace(b"BOS Player 2", b"BOS Pl\xc3\x28yer 2"))
# Every table twice, the second copy with other numbers: the first copy is read.
p = page("202311090BOS")
start = p.index('<table class="stats_table"')
end = p.index("<div><strong>Inactive")
write("duplicated-tables/202311090BOS.html", p[:end] + p[start:end].replace('data-stat="pts">11<', 'data-stat="pts">99<') + p[end:])
p = page("202311100BOS")
row_start = p.index("<tr><th data-stat=\"player\" data-append-csv=\"phipl01\"")
row_end = p.index("</tr>", row_start) + 5
write("duplicated-player/202311100BOS.html", p[:row_end] + p[row_start:row_end] + p[row_end:])
write("numbers/negative-minutes/202311110BOS.html", page("202311110BOS").replace("<td data-stat=\"mp\">36:00</td>", "<td data-stat=\"mp\">-36:00</td>", 1))
# 900 points that add up everywhere (shots, Team Totals, line score): only the record bound catches them.
write("numbers/900-points/202311120BOS.html", page("202311120BOS", tweak=lambda ts: set_player(ts, 1, 0, fg=450, fga=450, fg3=0, fg3a=0, ft=0, fta=0, pts=900)))
write("numbers/overflow/202311130BOS.html", page("202311130BOS").replace('data-stat="ast">2<', 'data-stat="ast">70000<', 1))
write("numbers/made-over-attempted/202311140BOS.html", page("202311140BOS", tweak=lambda ts: set_player(ts, 0, 2, ft=9, fta=2, pts=8 + 1 + 9)))
write("future/203001150BOS.html", page("203001150BOS"))
write("names/202302300BOS.html", page("202302300BOS"))
write("wrong-game/202311190BOS.html", page("202311200BOS"))
write("not-html/202311210BOS.html", '{"error": "rate limited", "retry_after": 60}\n')
write("empty/202311220BOS.html", "")
# The schedule says NYK 100 at BOS 90 for 202311150BOS; the box score says PHI 66 at BOS 72.
# Its row for 202311170BOS agrees with that box score (in traversal.tar).
row = ('<tr><th data-stat="date_game" csk="{gid}"><a>Wed, Nov 15, 2023</a></th><td data-stat="game_start_time">7:30p</td>'
       '<td data-stat="visitor_team_name" csk="{away}.{gid}"><a href="/teams/{away}/2024.html">{away}</a></td><td data-stat="visitor_pts">{ap}</td>'
       '<td data-stat="home_team_name" csk="BOS.{gid}"><a href="/teams/BOS/2024.html">Boston</a></td><td data-stat="home_pts">{hp}</td>'
       '<td data-stat="box_score_text"><a href="/boxscores/{gid}.html">Box Score</a></td><td data-stat="overtimes"></td>'
       '<td data-stat="attendance">19,156</td><td data-stat="arena_name">TD Garden</td><td data-stat="game_remarks"></td></tr>\n')
rows = row.format(gid="202311150BOS", away="NYK", ap=100, hp=90) + row.format(gid="202311170BOS", away="PHI", ap=66, hp=72)
write("contradiction/standings/NBA_2024_games-november.html", f'<html><body><table id="schedule"><tbody>\n{rows}</tbody></table></body></html>\n')
# Archives: names that climb out or are absolute, a symlink member, and one good member.
write("archives/traversal.tar", tar([
    ("../../etc/202311160BOS.html", page("202311160BOS").encode(), tarfile.REGTYPE, ""),
    ("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", tarfile.REGTYPE, ""),
    ("scores/202311230BOS.html", b"", tarfile.SYMTYPE, "/etc/passwd"),
    ("scores/202311170BOS.html", page("202311170BOS").encode(), tarfile.REGTYPE, ""),
]))
write("archives/empty.tar.gz", b"")
write("archives/gzip-named-zst.tar.zst", gzip.compress(b"not zstd", mtime=0))
