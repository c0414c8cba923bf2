"""Checks on the Altinity operator's objects in a rendered overlay (ClickHouseInstallation,
ClickHouseKeeperInstallation): the Kubernetes schemas do not know these kinds, so
kubernetes-validate skips them. Checked here instead, as far as it goes without the
operator's CRDs:

- the fields used, against a schema of this project's subset of the CRDs (unknown keys
  are errors, as --strict does for the built-in kinds);
- every pod template as a real Pod and every volume claim template as a real
  PersistentVolumeClaim, against the Kubernetes schemas (every version from 1.29 that
  kubernetes-validate ships, strict), and the project's hardening rules on the pods;
- the references between objects: templates named in `defaults` exist; the
  installation's Keeper host is the Keeper installation's Service (keeper-<name>) on
  its client port; the store is replicated (at least 2 replicas, an odd Keeper quorum
  of 3 or more); the platform's config lists every replica's Service in CLICKHOUSE_URL
  and names the cluster in NBA_CLICKHOUSE_CLUSTER; network policies select the pods by
  the labels the operator sets.

Used by policy.py (`check(docs)` returns one message per violation)."""
import os
import re

import jsonschema
import kubernetes_validate

CHI = ("clickhouse.altinity.com/v1", "ClickHouseInstallation")
CHK = ("clickhouse-keeper.altinity.com/v1", "ClickHouseKeeperInstallation")


def _obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


_STR = {"type": "string"}
_META = {"type": "object"}  # checked as the Pod's metadata below
_TEMPLATES = _obj(
    {
        "podTemplates": {"type": "array", "minItems": 1, "items": _obj({"name": _STR, "metadata": _META, "spec": {"type": "object"}}, ["name", "spec"])},
        "volumeClaimTemplates": {"type": "array", "items": _obj({"name": _STR, "spec": {"type": "object"}}, ["name", "spec"])},
    },
    ["podTemplates"],
)
_DEFAULTS = _obj({"templates": _obj({"podTemplate": _STR, "dataVolumeClaimTemplate": _STR, "logVolumeClaimTemplate": _STR})})
_LAYOUT = _obj({"shardsCount": {"type": "integer", "minimum": 1}, "replicasCount": {"type": "integer", "minimum": 1}}, ["replicasCount"])
_CLUSTERS = {"type": "array", "minItems": 1, "maxItems": 1, "items": _obj({"name": {"type": "string", "pattern": "^[a-z0-9-]+$"}, "layout": _LAYOUT}, ["name", "layout"])}
_SETTING = {"type": ["string", "integer", "boolean"]}
SCHEMAS = {
    CHI: _obj(
        {
            "configuration": _obj(
                {
                    "zookeeper": _obj({"nodes": {"type": "array", "minItems": 1, "items": _obj({"host": _STR, "port": {"type": "integer"}}, ["host", "port"])}}, ["nodes"]),
                    "users": {"type": "object", "additionalProperties": {"type": ["string", "array"]}},
                    "settings": {"type": "object", "additionalProperties": _SETTING},
                    "clusters": _CLUSTERS,
                },
                ["zookeeper", "clusters"],
            ),
            "defaults": _DEFAULTS,
            "templates": _TEMPLATES,
        },
        ["configuration", "defaults", "templates"],
    ),
    CHK: _obj(
        {
            "configuration": _obj({"clusters": _CLUSTERS, "settings": {"type": "object", "additionalProperties": _SETTING}}, ["clusters", "settings"]),
            "defaults": _DEFAULTS,
            "templates": _TEMPLATES,
        },
        ["configuration", "defaults", "templates"],
    ),
}


def _versions():
    root = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    found = [m[1] for d in os.listdir(root) if (m := re.fullmatch(r"v(1\.(\d+)\.\d+)-local-strict", d)) and int(m[2]) >= 29]
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def _kube_errors(doc, versions):
    out = []
    for v in versions:
        try:
            kubernetes_validate.validate(doc, v, strict=True)
        except kubernetes_validate.ValidationError as e:
            out.append(f"Kubernetes {v}: {e.message} at {'/'.join(map(str, e.path))}")
            break  # one version's message is enough
    return out


def _pod_rules(name, spec):
    out = []
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot"):
        out.append(f"pod template {name}: securityContext.runAsNonRoot must be true")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        out.append(f"pod template {name}: seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"pod template {name}: automountServiceAccountToken must be false")
    for c in spec.get("containers", []):
        image = c.get("image", "")
        if not re.search(r":\d+(\.\d+)+$", image):
            out.append(f"pod template {name}: container {c.get('name')} image {image!r} must be pinned to a release tag")
        if not c.get("resources", {}).get("limits", {}).get("memory"):
            out.append(f"pod template {name}: container {c.get('name')} needs a memory limit")
        csc = c.get("securityContext", {})
        if csc.get("allowPrivilegeEscalation") is not False or "ALL" not in csc.get("capabilities", {}).get("drop", []):
            out.append(f"pod template {name}: container {c.get('name')} must drop ALL capabilities and privilege escalation")
    return out


def _check_templates(d, versions):
    out = []
    spec = d["spec"]
    templates = spec["templates"]
    pods = {t["name"]: t for t in templates.get("podTemplates", [])}
    claims = {t["name"]: t for t in templates.get("volumeClaimTemplates", [])}
    for name, t in pods.items():
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **t.get("metadata", {})}, "spec": t["spec"]}
        out += [f"pod template {name}: {e}" for e in _kube_errors(pod, versions)]
        out += _pod_rules(name, t["spec"])
    for name, t in claims.items():
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": t["spec"]}
        out += [f"volume claim template {name}: {e}" for e in _kube_errors(pvc, versions)]
    chosen = spec["defaults"].get("templates", {})
    if chosen.get("podTemplate") not in pods:
        out.append(f"defaults.templates.podTemplate {chosen.get('podTemplate')!r} is not a pod template")
    for key in ("dataVolumeClaimTemplate", "logVolumeClaimTemplate"):
        if key in chosen and chosen[key] not in claims:
            out.append(f"defaults.templates.{key} {chosen[key]!r} is not a volume claim template")
    return out


def _selected(policies, label, value):
    """The network policies whose podSelector matches the label."""
    return [p for p in policies if p["spec"].get("podSelector", {}).get("matchLabels", {}).get(label) == value]


def _check_references(chi, chks, config, policies):
    out = []
    name = chi["metadata"]["name"]
    cluster = chi["spec"]["configuration"]["clusters"][0]
    layout = cluster["layout"]
    shards, replicas = layout.get("shardsCount", 1), layout["replicasCount"]
    if replicas < 2:
        out.append(f"cluster {cluster['name']}: {replicas} replica(s); the store must survive a replica (2 at least)")
    keepers = {f"keeper-{k['metadata']['name']}": k for k in chks}
    for node in chi["spec"]["configuration"]["zookeeper"]["nodes"]:
        k = keepers.get(node["host"])
        if k is None:
            out.append(f"zookeeper host {node['host']!r} is none of the Keeper installations' Services {sorted(keepers)}")
            continue
        port = str(k["spec"]["configuration"]["settings"].get("keeper_server/tcp_port", "2181"))
        if str(node["port"]) != port:
            out.append(f"zookeeper port {node['port']} is not {node['host']}'s client port {port}")
        quorum = k["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"]
        if quorum < 3 or quorum % 2 == 0:
            out.append(f"Keeper {k['metadata']['name']}: {quorum} node(s); a quorum that survives a node needs an odd 3 or more")
    hosts = {f"chi-{name}-{cluster['name']}-{s}-{r}" for s in range(shards) for r in range(replicas)}
    urls = [u.strip() for u in config.get("CLICKHOUSE_URL", "").split(",") if u.strip()]
    listed = {re.sub(r"^https?://([^:/]+).*$", r"\1", u).split(".")[0] for u in urls}
    if listed != hosts:
        out.append(f"CLICKHOUSE_URL lists {sorted(listed)}, the installation's replica Services are {sorted(hosts)}")
    if config.get("NBA_CLICKHOUSE_CLUSTER") != cluster["name"]:
        out.append(f"NBA_CLICKHOUSE_CLUSTER is {config.get('NBA_CLICKHOUSE_CLUSTER')!r}, the installation's cluster is {cluster['name']!r}")
    if not _selected(policies, "clickhouse.altinity.com/chi", name):
        out.append(f"no NetworkPolicy selects the installation's pods (clickhouse.altinity.com/chi={name})")
    for k in chks:
        if not _selected(policies, "clickhouse-keeper.altinity.com/chk", k["metadata"]["name"]):
            out.append(f"no NetworkPolicy selects Keeper {k['metadata']['name']}'s pods (clickhouse-keeper.altinity.com/chk)")
    return out


def check(docs):
    """One message per violation in the operator's objects of one rendered overlay."""
    errors = []
    versions = _versions()
    ours = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in SCHEMAS]
    for d in ours:
        where = f"{d['kind']}/{d['metadata']['name']}"
        problems = [f"{'/'.join(map(str, e.path)) or 'spec'}: {e.message}" for e in jsonschema.Draft7Validator(SCHEMAS[(d["apiVersion"], d["kind"])]).iter_errors(d.get("spec", {}))]
        if not problems:
            problems = _check_templates(d, versions)
        errors += [f"{where}: {p}" for p in problems]
    if errors:
        return errors
    chis = [d for d in ours if d["kind"] == CHI[1]]
    chks = [d for d in ours if d["kind"] == CHK[1]]
    config = next((d.get("data", {}) for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("nba-config")), {})
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for chi in chis:
        errors += [f"{chi['kind']}/{chi['metadata']['name']}: {e}" for e in _check_references(chi, chks, config, policies)]
    if chks and not chis:
        errors.append(f"{CHK[1]} without a {CHI[1]} using it")
    return errors
