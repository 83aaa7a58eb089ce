"""Checks the Kubernetes manifests in deploy/ without a cluster.

Usage: test_manifests.py BIN_DIR   (the build's bin/, holding both binaries)

Parses every YAML document under deploy/ and checks: kinds, that each
kustomization lists exactly the manifests beside it, pod-level hygiene
(resources, securityContext, volumes), probes on the servers (the gRPC probe
port is the container port the server listens on), the token Secret and the
config ConfigMap wiring, the native sidecar, and that every --flag given to
neobert-exportd / neobert-export (args, probes, the --config YAML) is one the
built binary's --help documents. Prints every problem, then fails.
"""
import os
import posixpath
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import binary_flags  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
OUR_IMAGE = "neobert-export"

problems = []


def problem(msg):
    problems.append(msg)


def load_all():
    """{relative path: [documents]} for every YAML file under deploy/."""
    docs = {}
    for root, _, files in os.walk(DEPLOY):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                path = os.path.join(root, f)
                with open(path) as fh:
                    docs[os.path.relpath(path, DEPLOY)] = [d for d in yaml.safe_load_all(fh) if d is not None]
    return docs


def arg_value(args, flag):
    """Value(s) of --flag VALUE / --flag=VALUE in an argv list."""
    out = []
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            out.append(str(args[i + 1]))
        elif a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
    return out


def dockerfile_uid():
    with open(os.path.join(REPO, "Dockerfile")) as fh:
        users = re.findall(r"^USER\s+(\S+)", fh.read(), re.M)
    return int(users[-1].split(":")[0]) if users else None


def check_kustomizations(docs):
    kdirs = {os.path.dirname(p) for p in docs if os.path.basename(p) == "kustomization.yaml"}
    if "" not in kdirs:
        problem("deploy/kustomization.yaml is missing (kubectl apply -k deploy/)")
    generated = {}  # Secret/ConfigMap name -> set of keys, from generators
    images = set()
    for path, ds in docs.items():
        d = os.path.dirname(path)
        if os.path.basename(path) == "kustomization.yaml":
            k = ds[0]
            if k.get("kind") != "Kustomization":
                problem(f"{path}: kind {k.get('kind')!r}, expected Kustomization")
            listed = set()
            for r in k.get("resources", []):
                target = os.path.normpath(os.path.join(DEPLOY, d, r))
                if not os.path.exists(target):
                    problem(f"{path}: resource {r} does not exist")
                elif os.path.isdir(target) and not os.path.exists(os.path.join(target, "kustomization.yaml")):
                    problem(f"{path}: resource directory {r} has no kustomization.yaml")
                listed.add(os.path.relpath(target, DEPLOY))
            for p in docs:
                if os.path.dirname(p) == d and os.path.basename(p) != "kustomization.yaml" and p not in listed:
                    problem(f"{p} is not listed in {path}'s resources")
            for g in k.get("secretGenerator", []) + k.get("configMapGenerator", []):
                keys = set()
                for f in g.get("files", []):
                    key, _, src = f.partition("=")
                    keys.add(key if src else os.path.basename(f))
                for lit in g.get("literals", []):
                    keys.add(lit.split("=", 1)[0])
                generated[g["name"]] = keys
            if k.get("secretGenerator") and not (k.get("generatorOptions") or {}).get("disableNameSuffixHash"):
                # The Jobs in the other kustomizations refer to the Secret by name.
                problem(f"{path}: secretGenerator needs generatorOptions.disableNameSuffixHash")
            for im in k.get("images", []):
                images.add(im["name"])
        elif d not in kdirs:
            problem(f"{path}: directory deploy/{d} has no kustomization.yaml listing it")
    return generated, images


def secret_source_files_ignored(docs):
    """Generator source files (the token) must be git-ignored, never committed."""
    for path, ds in docs.items():
        if os.path.basename(path) != "kustomization.yaml":
            continue
        d = os.path.join(DEPLOY, os.path.dirname(path))
        ignore_path = os.path.join(d, ".gitignore")
        ignored = open(ignore_path).read().split() if os.path.exists(ignore_path) else []
        for g in ds[0].get("secretGenerator", []):
            for f in g.get("files", []):
                src = f.split("=", 1)[-1]
                if src not in ignored:
                    problem(f"{path}: secret source {src} is not in {os.path.relpath(ignore_path, REPO)}")


def pod_specs(docs):
    """(where, kind, pod spec) for every workload."""
    for path, ds in docs.items():
        for doc in ds:
            kind = doc.get("kind")
            where = f"{path}:{kind}/{doc.get('metadata', {}).get('name')}"
            if kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
                yield where, kind, doc["spec"]["template"]["spec"]
            elif kind == "CronJob":
                yield where, kind, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def mount_for(container, path):
    """The volumeMount whose mountPath contains path (longest match)."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"]):
                best = m
    return best


def check_container(where, pod, c, flags, config_maps, secrets, generated, images, uid):
    name = f"{where} container {c['name']}"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            problem(f"{name}: volumeMount {m['name']} names no declared volume")
    res = c.get("resources") or {}
    if not res.get("requests") or not (res.get("limits") or {}).get("memory"):
        problem(f"{name}: needs resources.requests and a memory limit")
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(f"{name}: securityContext.allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problem(f"{name}: securityContext.capabilities.drop must contain ALL")
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        problem(f"{name}: runAsNonRoot is not set")

    command = [str(x) for x in c.get("command") or []]
    ours = bool(command) and posixpath.basename(command[0]) in binary_flags.BINARIES
    if c.get("image", "").split(":")[0] in images | {OUR_IMAGE} and not ours:
        problem(f"{name}: runs our image without an explicit command naming {binary_flags.BINARIES}")
    if not ours:
        return None
    if c.get("image") not in images:
        problem(f"{name}: image {c.get('image')!r} is not the kustomization's image {sorted(images)}")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(f"{name}: securityContext.readOnlyRootFilesystem must be true")
    if uid is not None and psc.get("runAsUser", sc.get("runAsUser")) != uid:
        problem(f"{name}: runAsUser should be the image's USER uid {uid}")
    argv = command + [str(x) for x in c.get("args") or []]
    env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
    for p in binary_flags.unknown_flags(flags, argv, env):
        problem(f"{name}: {p}")

    # --token-file: a file of a mounted Secret whose key exists.
    for tf in arg_value(argv, "--token-file"):
        m = mount_for(c, tf)
        vol = volumes.get(m["name"]) if m else None
        if not vol or "secret" not in vol:
            problem(f"{name}: --token-file {tf} is not on a mounted Secret volume")
            continue
        rel = posixpath.relpath(tf, m["mountPath"])
        items = vol["secret"].get("items")
        key = next((i["key"] for i in items if i["path"] == rel), None) if items else rel
        sname = vol["secret"]["secretName"]
        keys = secrets.get(sname, generated.get(sname))
        if keys is None:
            problem(f"{name}: Secret {sname} is neither a manifest nor generated by a kustomization")
        elif key is None or key not in keys:
            problem(f"{name}: --token-file {tf} maps to no key of Secret {sname} (keys {sorted(keys)})")

    if posixpath.basename(command[0]) != binary_flags.SERVER:
        return None
    # neobert-exportd: effective settings from --config and args (args win).
    settings = {}
    for cf in arg_value(argv, "--config"):
        m = mount_for(c, cf)
        vol = volumes.get(m["name"]) if m else None
        if not vol or "configMap" not in vol:
            problem(f"{name}: --config {cf} is not on a mounted ConfigMap volume")
            continue
        cm = config_maps.get(vol["configMap"]["name"])
        key = posixpath.relpath(cf, m["mountPath"])
        if cm is None or key not in (cm.get("data") or {}):
            problem(f"{name}: --config {cf}: ConfigMap {vol['configMap']['name']} has no key {key}")
            continue
        cfg = yaml.safe_load(cm["data"][key])
        if not isinstance(cfg, dict):
            problem(f"{name}: --config {cf} is not a YAML mapping")
            continue
        for k in cfg:
            if k not in flags.server():
                problem(f"{name}: --config {cf}: key '{k}' is not a neobert-exportd flag (unknown flag --{k})")
        settings.update({k: v if isinstance(v, list) else [v] for k, v in cfg.items()})
    for flag in ("listen", "input-root", "output-root", "state-dir", "grace-seconds", "watch", "watch-output"):
        if arg_value(argv, "--" + flag):
            settings[flag] = arg_value(argv, "--" + flag)
    for flag in ("input-root", "output-root", "state-dir", "watch", "watch-output"):
        for d in settings.get(flag, []):
            m = mount_for(c, str(d))
            if m is None:
                problem(f"{name}: --{flag} {d} is on no volume (the root filesystem is read-only)")
            elif flag in ("output-root", "state-dir", "watch-output") and m.get("readOnly"):
                problem(f"{name}: --{flag} {d} is on a read-only mount")
    for flag in ("input-root", "output-root"):
        if not settings.get(flag):
            problem(f"{name}: neobert-exportd needs --{flag}")
    listen = str((settings.get("listen") or ["127.0.0.1:50051"])[-1])
    host, _, port = listen.rpartition(":")
    port = int(port)
    ports = {p["containerPort"]: p for p in c.get("ports", [])}
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = c.get(probe_name)
        if not probe:
            problem(f"{name}: neobert-exportd needs a {probe_name}")
            continue
        if "grpc" in probe:
            if probe["grpc"]["port"] != port or port not in ports:
                problem(f"{name}: {probe_name} gRPC port {probe['grpc']['port']} is not the listen port "
                        f"{port} declared in ports {sorted(ports)}")
            if host in ("127.0.0.1", "localhost", "[::1]"):
                problem(f"{name}: {probe_name} is a kubelet gRPC probe but the server listens on {listen}")
        elif "exec" in probe:
            cmd = [str(x) for x in probe["exec"]["command"]]
            if posixpath.basename(cmd[0]) != binary_flags.CLIENT or cmd[1:2] != ["health"]:
                problem(f"{name}: {probe_name} exec should run '{binary_flags.CLIENT} health'")
                continue
            for p in binary_flags.unknown_flags(flags, cmd):
                problem(f"{name}: {probe_name}: {p}")
            servers = arg_value(cmd, "--server")
            if not servers or not servers[0].endswith(f":{port}"):
                problem(f"{name}: {probe_name} checks {servers} but the server listens on {listen}")
        else:
            problem(f"{name}: {probe_name} should be grpc or exec '{binary_flags.CLIENT} health'")
    grace = int((settings.get("grace-seconds") or [30])[-1])
    if pod.get("terminationGracePeriodSeconds", 30) <= grace:
        problem(f"{where}: terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds', 30)} "
                f"must exceed the server's grace-seconds {grace}")
    return {"listen": listen, "ports": ports, "settings": settings}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    flags = binary_flags.Flags(sys.argv[1])
    docs = load_all()
    for path, ds in docs.items():
        for doc in ds:
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                problem(f"{path}: a document without apiVersion/kind")
    generated, images = check_kustomizations(docs)
    secret_source_files_ignored(docs)

    by_kind = {}
    for path, ds in docs.items():
        for doc in ds:
            by_kind.setdefault(doc.get("kind"), []).append((path, doc))
    allowed = {"Kustomization", "Deployment", "Service", "PersistentVolumeClaim", "ConfigMap", "Secret", "Job"}
    for kind, items in by_kind.items():
        if kind not in allowed:
            problem(f"unexpected kind {kind} in {[p for p, _ in items]}")
    counts = {k: len(v) for k, v in by_kind.items()}
    for kind, n in {"Deployment": 1, "Service": 1, "ConfigMap": 1, "Job": 2}.items():
        if counts.get(kind, 0) != n:
            problem(f"expected {n} {kind}, found {counts.get(kind, 0)}")
    if counts.get("PersistentVolumeClaim", 0) < 2:
        problem("expected PVCs for checkpoints and for exports/state")
    config_maps = {d["metadata"]["name"]: d for _, d in by_kind.get("ConfigMap", [])}
    secrets = {d["metadata"]["name"]: set(d.get("data", {})) | set(d.get("stringData", {}))
               for _, d in by_kind.get("Secret", [])}
    pvcs = {d["metadata"]["name"] for _, d in by_kind.get("PersistentVolumeClaim", [])}
    uid = dockerfile_uid()
    if not uid:
        problem("Dockerfile: USER is missing or root")

    servers = {}  # where -> info about the neobert-exportd container
    sidecars = []
    for where, kind, pod in pod_specs(docs):
        for v in pod.get("volumes", []):
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in pvcs:
                problem(f"{where}: volume {v['name']} claims unknown PVC {claim}")
            used = any(m["name"] == v["name"] for c in pod.get("containers", []) + pod.get("initContainers", [])
                       for m in c.get("volumeMounts", []))
            if not used:
                problem(f"{where}: volume {v['name']} is mounted by no container")
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            info = check_container(where, pod, c, flags, config_maps, secrets, generated, images, uid)
            if info:
                servers[(where, c["name"])] = (kind, pod, c, info)
        for c in pod.get("initContainers", []):
            argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
            if argv and posixpath.basename(argv[0]) == binary_flags.SERVER and arg_value(argv, "--watch"):
                sidecars.append((where, pod, c, argv))
            elif argv and posixpath.basename(argv[0]) == binary_flags.SERVER:
                problem(f"{where}: initContainer {c['name']} runs the server without --watch")

    # The shared service: the Deployment's server behind the Service.
    deployments = [(w, k, p, c, i) for (w, _), (k, p, c, i) in servers.items() if k == "Deployment"]
    if len(deployments) != 1:
        problem(f"expected one neobert-exportd container in a Deployment, found {len(deployments)}")
    for _, svc in by_kind.get("Service", []):
        for where, _, pod, c, info in deployments:
            dep = next(d for _, d in by_kind["Deployment"])
            labels = dep["spec"]["template"]["metadata"].get("labels", {})
            sel = svc["spec"].get("selector", {})
            if not sel or any(labels.get(k) != v for k, v in sel.items()):
                problem(f"Service {svc['metadata']['name']}: selector {sel} does not match {where} pods {labels}")
            names = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for sp in svc["spec"]["ports"]:
                tp = sp.get("targetPort", sp["port"])
                if (tp not in names) if isinstance(tp, str) else (tp not in names.values()):
                    problem(f"Service port {sp['port']}: targetPort {tp} is no port of {where}")
            listen_port = int(info["listen"].rpartition(":")[2])
            if not any(names.get(sp.get("targetPort")) == listen_port or sp.get("targetPort") == listen_port
                       for sp in svc["spec"]["ports"]):
                problem(f"Service {svc['metadata']['name']} exposes no port reaching the gRPC listener {listen_port}")
    service_names = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for _, d in by_kind.get("Service", [])}

    # Client containers with --server must point at the Service.
    for where, kind, pod in pod_specs(docs):
        for c in pod.get("containers", []):
            argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
            if argv and posixpath.basename(argv[0]) == binary_flags.CLIENT:
                for s in arg_value(argv, "--server"):
                    host, _, port = s.rpartition(":")
                    if host not in service_names or int(port) not in service_names[host]:
                        problem(f"{where}: --server {s} is not a port of a Service here {service_names}")

    # The native sidecar.
    if len(sidecars) != 1:
        problem(f"expected one exporter sidecar (initContainer running neobert-exportd --watch), found {len(sidecars)}")
    for where, pod, c, argv in sidecars:
        if c.get("restartPolicy") != "Always":
            problem(f"{where}: sidecar {c['name']} needs restartPolicy: Always (a native sidecar)")
        if not pod.get("containers"):
            problem(f"{where}: the sidecar has no main container beside it")
        for watched in arg_value(argv, "--watch"):
            m = mount_for(c, watched)
            if m is None:
                problem(f"{where}: --watch {watched} is on no volume of the sidecar")
                continue
            shared = [t for t in pod.get("containers", [])
                      if any(tm["name"] == m["name"] for tm in t.get("volumeMounts", []))]
            if not shared:
                problem(f"{where}: no main container shares the watched volume {m['name']}")
            for t in shared:
                tm = next(x for x in t["volumeMounts"] if x["name"] == m["name"])
                if tm.get("subPath") != m.get("subPath") or tm["mountPath"] != m["mountPath"]:
                    problem(f"{where}: {t['name']} mounts {m['name']} differently from the sidecar "
                            "(checkpoint paths would differ)")
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            problem(f"{where}: a Job pod needs restartPolicy Never or OnFailure")

    if problems:
        print(f"{len(problems)} problem(s) in deploy/:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"deploy/: {sum(len(d) for d in docs.values())} documents in {len(docs)} files OK")


if __name__ == "__main__":
    main()
