"""Keeps the alerts and the dashboard honest:
- every nba_* metric they use is one that nba-server registers (server/src) or a job
  wrapper pushes (k8s/jobs/*.sh), so a renamed metric breaks CI, not a 3 a.m. page;
- every runbook_url points at a heading that exists in docs/operations.md;
- every alert has a severity of critical, warning or info, and a summary.

    python3 k8s/tests/monitoring_refs.py   (from the repository root)"""
import glob
import json
import re
import sys

import yaml

errors = []
known = set()
for f in glob.glob("server/src/**/*.rs", recursive=True):
    known |= set(re.findall(r'"(nba_[a-z0-9_]+)"', open(f).read()))
for f in glob.glob("k8s/jobs/*.sh"):
    known |= set(re.findall(r"\b(nba_[a-z0-9_]+)", open(f).read()))


def base(name):
    return re.sub(r"_(bucket|count|sum)$", "", name)


rule = yaml.safe_load(open("k8s/components/monitoring/prometheusrule.yaml"))
used = {}
for g in rule["spec"]["groups"]:
    for r in g["rules"]:
        for m in re.findall(r"\b(nba_[a-z0-9_]+)", r["expr"]):
            used.setdefault(base(m), set()).add(r.get("alert") or r.get("record"))
        if "alert" in r:
            sev = r.get("labels", {}).get("severity")
            if sev not in ("critical", "warning", "info"):
                errors.append(f"alert {r['alert']}: severity {sev!r}")
            if not r.get("annotations", {}).get("summary"):
                errors.append(f"alert {r['alert']}: no summary")
            url = r.get("annotations", {}).get("runbook_url", "")
            if "#" not in url:
                errors.append(f"alert {r['alert']}: no runbook_url anchor")

dash = json.load(open("k8s/components/monitoring/dashboards/nba-platform.json"))
for p in dash["panels"]:
    for t in p.get("targets", []):
        for m in re.findall(r"\b(nba_[a-z0-9_]+)", t["expr"]):
            used.setdefault(base(m), set()).add(f"panel {p['title']!r}")

for m, where in sorted(used.items()):
    if m not in known:
        errors.append(f"metric {m} (used by {', '.join(sorted(where))}) is neither registered by nba-server nor pushed by k8s/jobs")

# GitHub-style anchors of docs/operations.md's headings.
anchors = set()
for line in open("docs/operations.md"):
    m = re.match(r"#+\s+(.*)", line)
    if m:
        a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        anchors.add(a)
for g in rule["spec"]["groups"]:
    for r in g["rules"]:
        url = r.get("annotations", {}).get("runbook_url", "")
        if "#" in url and url.split("#", 1)[1] not in anchors:
            errors.append(f"alert {r['alert']}: runbook anchor #{url.split('#', 1)[1]} is not a heading of docs/operations.md")

for e in errors:
    print(f"monitoring: {e}")
if errors:
    sys.exit(1)
print(f"monitoring: {len(used)} metrics used by rules and dashboard all exist; runbook anchors resolve")
