#!/usr/bin/env python3
"""Cuts a small parser fixture out of a real box-score page: the <h1>, the season and
self links, both teams' game-basic and game-advanced tables, the line score exactly as
the page wraps it (inside an HTML comment) and the "Inactive:" line. Everything else
(quarter tables, scripts, styles, ads) is dropped, so the fixture is a fraction of the page.

    python3 scripts/cut_fixture.py PAGE.html > tests/fixtures/pages/scores/ID.html
"""
import re
import sys

page = open(sys.argv[1], encoding="utf-8").read()
game_id = re.search(r"(\d{9}[A-Z]{3})\.html$", sys.argv[1]).group(1)


def table(table_id):
    i = page.find('id="%s"' % table_id)
    start = page.rfind("<table", 0, i)
    return page[start:page.find("</table>", i) + len("</table>")]


out = ["<!DOCTYPE html>", "<html data-version=\"fixture\"><head><meta charset=\"utf-8\">",
       "<title>fixture cut from %s</title></head><body>" % game_id]
out.append(re.search(r"<h1>.*?</h1>", page, re.S).group(0))
out.append('<a href="%s">season</a>' % re.search(r'/leagues/NBA_\d{4}_games\.html', page).group(0))
out.append('<a href="/boxscores/pbp/%s.html">pbp</a>' % game_id)
# The line score as the site ships it: commented out, to be uncommented by the parser.
ls = page.find('id="all_line_score"')
comment_start = page.find("<!--", ls)
comment_end = page.find("-->", comment_start) + 3
out.append('<div id="all_line_score">' + page[comment_start:comment_end] + "</div>")
teams = []
for t in re.findall(r'id="box-([A-Z]{3})-game-basic"', page):
    if t not in teams:
        teams.append(t)
for team in teams:
    for kind in ("basic", "advanced"):
        out.append(table("box-%s-game-%s" % (team, kind)))
inactive = page.find("<strong>Inactive:")
out.append("<div>" + page[inactive:page.find("</div>", inactive) + 6])
out.append("</body></html>")
print("\n".join(out))
