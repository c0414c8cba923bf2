#!/usr/bin/env bash
# End-to-end monitoring test: a real Prometheus (Debian's package) on loopback scrapes a
# running nba-server's admin /metrics and a Pushgateway fed by a job wrapper, with the
# platform's alert rules loaded. Checks that the nba_* metrics arrive, that every rule
# evaluates without error on them, and that an alert fires from a pushed job outcome.
#
#   bash scripts/check_prometheus_scrape.sh
#
# Uses CLICKHOUSE_URL when set (CI exports it), else starts the dev ClickHouse with
# scripts/clickhouse.sh in target/clickhouse-test. Its own database, k8s_prom_e2e, is
# created (nba-ingest migrate) and dropped. Ports (loopback): NBA_E2E_PORT_BASE
# (default 19450) .. +3. NBA_E2E_PROFILE: cargo profile of the binaries (default dev:
# after `cargo test` they are already built; `release` for a production-like run).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[prom_e2e %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { printf 'check_prometheus_scrape: error: %s\n' "$*" >&2; exit 1; }

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v curl >/dev/null 2>&1 || need+=(curl)
py=""
for c in python3 /usr/bin/python3; do
    if "$c" -c 'import yaml' >/dev/null 2>&1; then py=$c; break; fi
done
[ -n "$py" ] || { need+=(python3-yaml); py=/usr/bin/python3; }
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
fi

base=${NBA_E2E_PORT_BASE:-19450}
grpc_port=$base admin_port=$((base + 1)) prom_port=$((base + 2)) pg_port=$((base + 3))
db=k8s_prom_e2e

profile=${NBA_E2E_PROFILE:-dev}
log "building nba-server and nba-ingest (profile $profile)"
cargo build --profile "$profile" --locked -p nba-server -p nba-ingest >/dev/null 2>&1 \
    || cargo build --profile "$profile" --locked -p nba-server -p nba-ingest
bin_dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")
server=$bin_dir/nba-server ingest=$bin_dir/nba-ingest

if [ -z "${CLICKHOUSE_URL:-}" ]; then
    CLICKHOUSE_URL=$(scripts/clickhouse.sh start "$PWD/target/clickhouse-test")
fi
export CLICKHOUSE_URL

tmp=$(mktemp -d /tmp/nba-prom-e2e.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    curl -fsS "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

curl -fsS "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null
"$ingest" --database "$db" --progress never migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log"; die "migrate failed"; }
log "database $db migrated at $CLICKHOUSE_URL"

# nba-server with an empty registry: it serves metrics (and answers UNAVAILABLE) while
# not ready, which is what a fresh deployment looks like before the first training.
mkdir -p "$tmp/registry"
"$server" serve --listen "127.0.0.1:$grpc_port" --admin-listen "127.0.0.1:$admin_port" \
    --registry "$tmp/registry" --database "$db" --clickhouse-url "$CLICKHOUSE_URL" \
    --model-poll-secs 1 --feature-refresh-secs 1 >"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$admin_port/live" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$tmp/server.log"; die "nba-server exited"; }
    sleep 0.1
done
# One real gRPC call, so the request counters and latency histogram have series.
"$server" predict --addr "http://127.0.0.1:$grpc_port" "jamesle01,2024-03-01,BOS,home" >/dev/null 2>&1 || true
log "nba-server up (gRPC $grpc_port, admin $admin_port)"

prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" --persistence.file="$tmp/pushgateway.data" >"$tmp/pushgateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$pg_port/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
# A weekly training whose gate refused the candidate (stub trainer, real wrapper).
# shellcheck disable=SC2016 # $1 is for the stub
printf '#!/bin/sh\n[ "$1" = train ] && exit 3\nexit 0\n' >"$tmp/nba-trainer"
chmod +x "$tmp/nba-trainer"
NBA_TRAINER_BIN=$tmp/nba-trainer NBA_PUSHGATEWAY_URL="http://127.0.0.1:$pg_port" k8s/jobs/trainer-weekly.sh 2>"$tmp/trainer.log" || true

"$py" - k8s/components/monitoring/prometheusrule.yaml "$tmp/rules.yaml" <<'PY'
import sys, yaml
open(sys.argv[2], "w").write(yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], sort_keys=False))
PY
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $tmp/rules.yaml
scrape_configs:
  - job_name: nba-server
    static_configs:
      - targets: ["127.0.0.1:$admin_port"]
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$pg_port"]
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
prom=http://127.0.0.1:$prom_port
for _ in $(seq 1 100); do curl -fsS "$prom/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$prom/-/ready" >/dev/null || { cat "$tmp/prometheus.log"; die "Prometheus did not start"; }
log "Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') scraping on $prom_port"

# Poll until everything expected is there (at most 60 s), then report each check.
"$py" - "$prom" <<'PY'
import json, sys, time, urllib.parse, urllib.request
prom = sys.argv[1]
def get(path, **q):
    url = prom + path + ("?" + urllib.parse.urlencode(q) if q else "")
    return json.load(urllib.request.urlopen(url, timeout=5))["data"]
def series(expr):
    return get("/api/v1/query", query=expr)["result"]
checks = {
    "nba-server target is up": lambda: any(s["value"][1] == "1" for s in series('up{job="nba-server"}')),
    "nba_ready arrives (0: no model yet)": lambda: series('nba_ready{job="nba-server"}') != [],
    "nba_grpc_requests_total has the Predict call": lambda: series('nba_grpc_requests_total{job="nba-server",method="Predict"}') != [],
    "nba_grpc_request_duration_seconds histogram arrives": lambda: series('nba_grpc_request_duration_seconds_bucket{job="nba-server"}') != [],
    "nba_feature_store_healthy is 1 (migrated database)": lambda: any(s["value"][1] == "1" for s in series('nba_feature_store_healthy{job="nba-server"}')),
    "recording rule nba:grpc_requests:rate5m has data": lambda: series('nba:grpc_requests:rate5m') != [],
    "pushed job outcome keeps its job label (honor_labels)": lambda: any(s["value"][1] == "3" for s in series('nba_job_last_exit_code{job="nba-trainer-weekly"}')),
    "alert NBATrainingGateRefused fires": lambda: any(a["labels"]["alertname"] == "NBATrainingGateRefused" and a["state"] == "firing" for a in get("/api/v1/alerts")["alerts"]),
    "every rule evaluates without error": lambda: all(r.get("health") == "ok" for g in get("/api/v1/rules")["groups"] for r in g["rules"]),
}
deadline = time.time() + 60
ok = {}
while time.time() < deadline:
    for name, f in checks.items():
        if not ok.get(name):
            try:
                ok[name] = bool(f())
            except Exception:
                ok[name] = False
    if all(ok.values()):
        break
    time.sleep(1)
names = sorted(n for n in get("/api/v1/label/__name__/values") if n.startswith("nba_"))
print(f"nba_* metric names in Prometheus ({len(names)}): {' '.join(names)}")
bad = [r["name"] + ": " + r.get("lastError", "") for g in get("/api/v1/rules")["groups"] for r in g["rules"] if r.get("health") != "ok"]
for b in bad:
    print(f"  rule not ok: {b}")
for name, v in ok.items():
    print(f"{'ok  ' if v else 'FAIL'} {name}")
passed = sum(ok.values())
print(f"prometheus_scrape: {passed} passed, {len(ok) - passed} failed")
sys.exit(0 if passed == len(ok) else 1)
PY
rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$tmp/server.log" "$tmp/prometheus.log" >&2; exit "$rc"; }
log "done"
