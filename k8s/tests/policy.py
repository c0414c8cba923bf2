"""Checks on the rendered manifests that schemas cannot express: the rules this project
set for its deployment (probes, drain timing, hardening, pinned images, no inline
secrets, a Dockerfile target behind every image of ours, the job wrappers the pods run,
the model registry written by the trainer only, one run name per slate CronJob). Run
by scripts/check_k8s.sh on each rendered overlay (from the repository root: it reads
the Dockerfile and k8s/jobs/):

    python3 k8s/tests/policy.py RENDERED.yaml [...]

Exit 1 with one line per violation."""
import os
import re
import sys

import yaml

import clickhouse_operator  # the Altinity operator's kinds (no schema in kubernetes-validate)

errors = []
# The Dockerfile's build targets: every image of ours (nba-*) must be one of them.
TARGETS = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", open("Dockerfile").read(), re.M | re.I))
# Workloads that may write the model registry (every other one mounts it read-only).
REGISTRY_WRITERS = {"nba-trainer"}


def err(doc, msg):
    errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {msg}")


def pod_spec(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    if doc["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        return spec["template"]["spec"]
    return None


def check_file(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    config = {}
    for d in docs:
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("nba-config"):
            config = d.get("data", {})
        if d["kind"] == "Secret":
            err(d, "Secrets are referenced, never rendered from the repository")
    if not config:
        errors.append(f"{path}: no nba-config ConfigMap")

    for d in docs:
        ps = pod_spec(d)
        if ps is None:
            continue
        sc = ps.get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            err(d, "pod securityContext.runAsNonRoot must be true")
        if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            err(d, "pod seccompProfile must be RuntimeDefault")
        if ps.get("automountServiceAccountToken") is not False:
            err(d, "automountServiceAccountToken must be false")
        for c in ps.get("containers", []) + ps.get("initContainers", []):
            image = c.get("image", "")
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            if not tag or tag == "latest":
                err(d, f"container {c['name']}: image {image!r} must be pinned by tag")
            csc = c.get("securityContext", {})
            if csc.get("allowPrivilegeEscalation") is not False:
                err(d, f"container {c['name']}: allowPrivilegeEscalation must be false")
            if csc.get("readOnlyRootFilesystem") is not True:
                err(d, f"container {c['name']}: readOnlyRootFilesystem must be true")
            if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                err(d, f"container {c['name']}: capabilities must drop ALL")
            res = c.get("resources", {})
            if not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
                err(d, f"container {c['name']}: memory request and limit required")
            for e in c.get("env", []):
                if "value" in e and re.search(r"PASSWORD$|TOKEN$|SECRET", e["name"]):
                    err(d, f"container {c['name']}: {e['name']} inline; use a Secret file")
        check_images_and_commands(d, ps)
        check_registry_mounts(d, ps)
        if d["kind"] == "CronJob":
            if d["spec"].get("concurrencyPolicy") != "Forbid":
                err(d, "concurrencyPolicy must be Forbid")
            if ps.get("restartPolicy") != "Never":
                err(d, "restartPolicy must be Never (podFailurePolicy needs it)")
            if d["spec"].get("timeZone") != "Etc/UTC":
                err(d, "timeZone must be Etc/UTC (schedules are written in UTC, no DST shifts)")
            check_pod_failure_policy(d, ps)

    for k, v in config.items():
        if re.search(r"PASSWORD$|TOKEN$", k):
            errors.append(f"{path}: nba-config holds {k}: secrets go in Secrets")

    dep = by.get(("Deployment", "nba-server"))
    if not dep:
        errors.append(f"{path}: no Deployment nba-server")
        return
    spec = dep["spec"]
    if spec.get("replicas", 1) < 2:
        err(dep, "at least 2 replicas")
    ps = spec["template"]["spec"]
    c = ps["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    # Arrow Flight shares the gRPC listener (the Service's "flight" port targets it).
    if ports != {"grpc": 50051, "admin": 9090}:
        err(dep, f"container ports must be grpc 50051, admin 9090, got {ports}")
    for probe in ("readinessProbe", "startupProbe"):
        if c.get(probe, {}).get("grpc", {}).get("port") != 50051:
            err(dep, f"{probe} must be a grpc probe on 50051 (grpc.health.v1)")
    live = c.get("livenessProbe", {}).get("httpGet", {})
    if live.get("path") != "/live" or live.get("port") not in ("admin", 9090):
        err(dep, "livenessProbe must be GET /live on the admin port")
    if config.get("NBA_LISTEN", "").split(":")[0] != "0.0.0.0" or config.get("NBA_ADMIN_LISTEN", "").split(":")[0] != "0.0.0.0":
        errors.append(f"{path}: NBA_LISTEN and NBA_ADMIN_LISTEN must be 0.0.0.0:PORT in a pod")
    if config.get("NBA_LISTEN", "").endswith(":50051") is False or config.get("NBA_ADMIN_LISTEN", "").endswith(":9090") is False:
        errors.append(f"{path}: NBA_LISTEN must use 50051 and NBA_ADMIN_LISTEN 9090 (the probes' ports)")
    # Drain: preStop + NOT_SERVING delay + drain grace + log flush (5) + admin stop (2)
    # must fit in terminationGracePeriodSeconds.
    pre = c.get("lifecycle", {}).get("preStop", {})
    pre_s = 0
    if "exec" in pre and pre["exec"]["command"][0] == "sleep":
        pre_s = int(pre["exec"]["command"][1])
    elif "sleep" in pre:
        pre_s = int(pre["sleep"]["seconds"])
    delay = int(config.get("NBA_SHUTDOWN_DELAY_SECS", 0))
    grace = int(config.get("NBA_SHUTDOWN_GRACE_SECS", 20))
    tgps = ps.get("terminationGracePeriodSeconds", 30)
    need = pre_s + delay + grace + 5 + 2
    if delay < 1:
        err(dep, "NBA_SHUTDOWN_DELAY_SECS must be > 0 so endpoints drop the pod before the listener closes")
    if tgps <= need:
        err(dep, f"terminationGracePeriodSeconds {tgps} must exceed preStop {pre_s} + delay {delay} + grace {grace} + 7 = {need}")

    for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if (kind, "nba-server") not in by:
            errors.append(f"{path}: no {kind} nba-server")
    svc = by.get(("Service", "nba-server"))
    if svc:
        sp = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        if sp != {"grpc": 50051, "flight": 50052, "admin": 9090}:
            err(svc, f"ports must be grpc 50051, flight 50052, admin 9090, got {sp}")
    hpa = by.get(("HorizontalPodAutoscaler", "nba-server"))
    if hpa and hpa["spec"]["minReplicas"] < 2:
        err(hpa, "minReplicas must be at least 2")
    for name in ("nba-ingest-nightly", "nba-ingest-backfill", "nba-trainer-weekly", "nba-slate-morning", "nba-slate-pretip"):
        if ("CronJob", name) not in by:
            errors.append(f"{path}: no CronJob {name}")
    check_slate_runs(docs)
    if ("Job", "nba-migrate") not in by:
        errors.append(f"{path}: no Job nba-migrate")
    reg = by.get(("PersistentVolumeClaim", "nba-registry"))
    if not reg or reg["spec"]["accessModes"] != ["ReadWriteMany"]:
        errors.append(f"{path}: the registry PVC must be ReadWriteMany")


def check_images_and_commands(d, ps):
    """Our images are Dockerfile targets; a wrapper the pod runs is in k8s/jobs/ (the
    images copy that folder to /opt/nba/jobs/)."""
    for c in ps.get("containers", []) + ps.get("initContainers", []):
        name = c.get("image", "").rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        if name.startswith("nba-") and name not in TARGETS:
            err(d, f"container {c['name']}: image {name} is not a target of the Dockerfile")
        for arg in c.get("command", []) + c.get("args", []):
            if arg.startswith("/opt/nba/jobs/") and not os.path.isfile(os.path.join("k8s/jobs", arg[len("/opt/nba/jobs/"):])):
                err(d, f"container {c['name']}: {arg} is not a wrapper in k8s/jobs/")


def check_registry_mounts(d, ps):
    """Only the trainer writes the registry; everyone else reads the current model."""
    writer = d["metadata"].get("labels", {}).get("app.kubernetes.io/name") in REGISTRY_WRITERS
    vols = {v["name"] for v in ps.get("volumes", []) if v.get("persistentVolumeClaim", {}).get("claimName") == "nba-registry"}
    for v in ps.get("volumes", []):
        if v["name"] in vols and not writer and v["persistentVolumeClaim"].get("readOnly") is not True:
            err(d, f"volume {v['name']}: the registry PVC must be readOnly outside the trainer")
    for c in ps.get("containers", []) + ps.get("initContainers", []):
        for m in c.get("volumeMounts", []):
            if m["name"] in vols and not writer and m.get("readOnly") is not True:
                err(d, f"container {c['name']}: the registry must be mounted readOnly outside the trainer")


def check_pod_failure_policy(d, ps):
    """A podFailurePolicy rule naming a container that does not exist never matches: its
    exit code would be retried instead of failing the Job."""
    names = {c["name"] for c in ps.get("containers", [])}
    for rule in d["spec"]["jobTemplate"]["spec"].get("podFailurePolicy", {}).get("rules", []):
        on = rule.get("onExitCodes")
        if on and on.get("containerName") not in names:
            err(d, f"podFailurePolicy names container {on.get('containerName')!r}, the pod has {sorted(names)}")


def check_slate_runs(docs):
    """Each slate CronJob names its run, and no two share a name: a date's run stores each
    player once, so a second CronJob with the same name would store nothing."""
    seen = {}
    for d in docs:
        ps = pod_spec(d)
        if d["kind"] != "CronJob" or ps is None:
            continue
        for c in ps.get("containers", []):
            if "/opt/nba/jobs/slate-run.sh" not in c.get("command", []) + c.get("args", []):
                continue
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            run = env.get("NBA_SLATE_RUN")
            if not run:
                err(d, f"container {c['name']}: NBA_SLATE_RUN must name the run")
            elif run in seen:
                err(d, f"NBA_SLATE_RUN {run!r} is also the run of {seen[run]}")
            else:
                seen[run] = d["metadata"]["name"]


for p in sys.argv[1:]:
    check_file(p)
    errors.extend(f"{p}: {e}" for e in clickhouse_operator.check([d for d in yaml.safe_load_all(open(p)) if d]))
for e in errors:
    print(f"policy: {e}")
if errors:
    sys.exit(1)
print(f"policy: {len(sys.argv) - 1} rendered overlay(s) pass")
