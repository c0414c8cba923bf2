#!/usr/bin/env bash
# Deployment checks (CI): the Kubernetes manifests, the alert rules and routing, the
# dashboard, the job wrappers and the Dockerfile, all offline once the tools are there.
#
#   bash scripts/check_k8s.sh
#
# 1. render every overlay with `kubectl kustomize` (kustomize v5 built into kubectl);
# 2. validate the output against the Kubernetes JSON schemas of every version from 1.29
#    that kubernetes-validate ships (--strict: unknown fields are errors);
# 3. project policy on the rendered output (k8s/tests/policy.py): grpc probes, drain
#    timing, hardening, pinned images, no rendered Secrets;
# 4. `promtool check rules` and `promtool test rules` (k8s/monitoring/tests);
# 5. metrics used by alerts/dashboard exist, runbook anchors resolve
#    (k8s/tests/monitoring_refs.py);
# 6. `amtool check-config` and routing tests of k8s/monitoring/alertmanager.yaml;
# 7. checkov on the rendered overlays (every failed check fails the run; accepted
#    findings carry a checkov.io/skip annotation with the reason);
# 8. shellcheck and a run of the job wrappers against a real Pushgateway on loopback
#    (k8s/tests/wrappers_test.sh).
#
# Tools: kubectl (on this project's machine image; Debian has no kubectl package),
# Debian's prometheus (promtool), prometheus-alertmanager (amtool),
# prometheus-pushgateway and shellcheck, installed when missing; kubernetes-validate and
# checkov (PyPI, pinned) in a venv under NBA_K8S_TOOLS_DIR (default
# /var/tmp/nba-k8s-tools), created once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[check_k8s %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { printf 'check_k8s: error: %s\n' "$*" >&2; exit 1; }

KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30
tools=${NBA_K8S_TOOLS_DIR:-/var/tmp/nba-k8s-tools}

# --- tools ---------------------------------------------------------------------------
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v curl >/dev/null 2>&1 || need+=(curl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -o DPkg::Lock::Timeout=300 >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
fi
command -v kubectl >/dev/null 2>&1 || die "kubectl is needed for 'kubectl kustomize' (this project's machine image ships it)"
venv=$tools/venv
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"), m.version("checkov"))' 2>/dev/null || true)
if [ "$have" != "$KUBERNETES_VALIDATE_VERSION $CHECKOV_VERSION" ]; then
    log "creating $venv (kubernetes-validate $KUBERNETES_VALIDATE_VERSION, checkov $CHECKOV_VERSION)"
    mkdir -p "$tools"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
fi
py=$venv/bin/python

tmp=$(mktemp -d /tmp/nba-check-k8s.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- 1. render -----------------------------------------------------------------------
mkdir -p "$tmp/rendered"
for overlay in k8s/overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" >"$tmp/rendered/$name.yaml" || die "kustomize failed on $overlay"
    log "rendered $overlay: $(grep -c '^kind:' "$tmp/rendered/$name.yaml") objects"
done
rendered=("$tmp"/rendered/*.yaml)

# --- 2. schemas ----------------------------------------------------------------------
schemas=$("$py" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')
versions=$(find "$schemas" -maxdepth 1 -name 'v*-local-strict' -printf '%f\n' | sed 's/^v//; s/-local-strict$//' \
           | awk -F. '$1 > 1 || $2 >= 29' | sort -V)
[ -n "$versions" ] || die "no Kubernetes >= 1.29 schemas in kubernetes-validate"
for v in $versions; do
    # --no-warn: the operator's kinds (ServiceMonitor, PrometheusRule) have no schema
    # here; their content is checked by promtool (rules) and policy.py (references).
    "$venv/bin/kubernetes-validate" -k "$v" --strict --quiet --no-warn "${rendered[@]}" \
        || die "schema validation failed for Kubernetes $v"
done
log "schemas: valid for Kubernetes $(echo "$versions" | head -1) to $(echo "$versions" | tail -1) ($(echo "$versions" | wc -l) versions, strict)"

# --- 3. policy -----------------------------------------------------------------------
"$py" k8s/tests/policy.py "${rendered[@]}"

# --- 4. rules ------------------------------------------------------------------------
mkdir -p "$tmp/rules"
"$py" - k8s/components/monitoring/prometheusrule.yaml "$tmp/rules/nba-alerts.rules.yaml" <<'PY'
import sys, yaml
rule = yaml.safe_load(open(sys.argv[1]))
assert rule["kind"] == "PrometheusRule"
open(sys.argv[2], "w").write(yaml.safe_dump(rule["spec"], sort_keys=False))
PY
cp k8s/monitoring/tests/*.yaml "$tmp/rules/"
promtool check rules "$tmp/rules/nba-alerts.rules.yaml"
(cd "$tmp/rules" && promtool test rules ./*_test.yaml)
log "promtool: rules valid, unit tests pass"

# --- 5. references -------------------------------------------------------------------
"$py" k8s/tests/monitoring_refs.py
"$py" -c 'import json, sys; json.load(open(sys.argv[1]))' k8s/components/monitoring/dashboards/nba-platform.json

# --- 6. alertmanager -----------------------------------------------------------------
amtool check-config k8s/monitoring/alertmanager.yaml
route() { # route EXPECTED LABELS...
    local want=$1
    shift
    amtool config routes test --config.file=k8s/monitoring/alertmanager.yaml --verify.receivers="$want" "$@" >/dev/null 2>&1 \
        || die "alertmanager: labels '$*' do not route to $want"
}
route nba-pager,nba-warnings severity=critical alertname=NBAServerDown
route nba-warnings severity=warning alertname=NBAIngestStale
route nba-digest severity=info alertname=NBAScrapePartial
log "amtool: config valid; critical pages and posts, warning posts, info goes to the digest"

# --- 7. security scan ----------------------------------------------------------------
# --skip-download: no policy or guideline download (offline, deterministic).
"$venv/bin/checkov" --directory "$tmp/rendered" --framework kubernetes --compact --quiet --skip-download \
    >"$tmp/checkov.txt" 2>&1 || { cat "$tmp/checkov.txt"; die "checkov found failing checks"; }
grep -E 'Passed checks|Failed checks' "$tmp/checkov.txt" | sed 's/^/checkov: /'

# --- 8. wrappers and Dockerfile ------------------------------------------------------
shellcheck -x k8s/jobs/*.sh k8s/tests/*.sh scripts/check_k8s.sh scripts/check_prometheus_scrape.sh scripts/gen_config_docs.sh
bash k8s/tests/wrappers_test.sh
# Docker builds are too slow for CI; check that every target the manifests use exists.
for target in nba-server nba-ingest nba-trainer; do
    grep -qE "^FROM .* AS $target\$" Dockerfile || die "Dockerfile has no target $target"
done

log "all deployment checks passed"
