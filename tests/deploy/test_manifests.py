"""Checks what deploy/ asks of our binaries and of a cluster, without a cluster.

Usage: test_manifests.py BIN_DIR   (the build's bin/, holding both binaries)

The schemas are test_schemas.py's business; this test reads every kustomize
build output (deploy_files.py) and checks what the schemas cannot know:
- every --flag given to neobert-exportd / neobert-export (args, probes, the
  --config YAML) is one the built binary's --help documents (flags another
  branch is adding: binary_flags.PENDING_SERVER_FLAGS);
- files the server is told to read (--config, --token-file, --tls-*) are on
  mounted ConfigMap/Secret volumes whose keys exist; the Secrets deploy/ does
  not create itself are documented in deploy/README.md with a
  `kubectl create secret` line (or made by deploy/cert-manager/);
- a server with a token on a non-loopback listener serves TLS; the probes
  dial the listen port with the CA when TLS is on;
- roots, state dir and default-output-dir are on writable volumes; the
  default destination lies under an output root (not under the read-only
  checkpoints); the export Job names no --output, so it relies on it;
- hygiene: resources, no privilege escalation, capabilities dropped,
  read-only root for our containers, which run as the image's USER set per
  container; a pod with someone else's container (the trainer) sets no
  pod-level runAsUser;
- GPUs: nothing sets NVIDIA_VISIBLE_DEVICES; the CUDA image runs only with an
  nvidia.com/gpu limit and --device auto, the CPU image never requests one;
- the image tag is the project's version (CMakeLists.txt) everywhere, set by
  deploy/base for the overlays, which only rename;
- base: 1 replica, Recreate, SQLite state on a ReadWriteOnce claim;
  scale-out: 3 replicas, RollingUpdate with maxUnavailable 0, a PDB, the job
  store DSN from a Secret; the NetworkPolicy admits the labelled export Job;
- the native sidecar: restartPolicy Always, loopback listener, shares the
  trainer's checkpoint mount, writes where the service would.
Prints every problem, then fails.
"""
import os
import posixpath
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import binary_flags  # noqa: E402
import deploy_files  # noqa: E402

REPO = deploy_files.REPO
DEPLOY = os.path.join(REPO, "deploy")
IMAGES = {"neobert-export": "cpu", "neobert-export-cuda": "cuda"}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
# Secrets an operator creates (deploy/README.md says how) -> their keys.
EXTERNAL_SECRETS = {
    "neobert-exportd-token": {"token"},
    "neobert-exportd-tls": {"tls.crt", "tls.key", "ca.crt"},
    "neobert-exportd-job-store": {"dsn"},
    "neobert-postgres": {"password"},
}

problems = []


def problem(msg):
    problems.append(msg)


def arg_value(args, flag):
    """Value(s) of --flag VALUE / --flag=VALUE in an argv list."""
    out = []
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            out.append(str(args[i + 1]))
        elif a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
    return out


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as fh:
        return re.search(r"^project\(\S+ VERSION (\d+\.\d+\.\d+)", fh.read(), re.M).group(1)


def dockerfile_uid():
    with open(os.path.join(REPO, "Dockerfile")) as fh:
        users = re.findall(r"^USER\s+(\S+)", fh.read(), re.M)
    return int(users[-1].split(":")[0]) if users else None


def pod_specs(docs):
    for doc in docs:
        kind = doc.get("kind")
        where = f"{kind}/{doc['metadata']['name']}"
        if kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield where, doc, doc["spec"]["template"]
        elif kind == "CronJob":
            yield where, doc, doc["spec"]["jobTemplate"]["spec"]["template"]


def mount_for(container, path):
    """The volumeMount whose mountPath contains path (longest match)."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"]):
                best = m
    return best


def our_image(image):
    """(variant, tag) of one of our images, or None."""
    name, _, tag = (image or "").rpartition(":") if ":" in (image or "") else (image, "", "")
    variant = IMAGES.get(posixpath.basename(name or ""))
    return (variant, tag) if variant else None


class Root:
    """One kustomize build output and what its objects define."""

    def __init__(self, name, docs):
        self.name, self.docs = name, docs
        self.by_kind = {}
        for d in docs:
            self.by_kind.setdefault(d["kind"], []).append(d)
        self.config_maps = {d["metadata"]["name"]: d for d in self.by_kind.get("ConfigMap", [])}
        self.secrets = {d["metadata"]["name"]: set(d.get("data", {})) | set(d.get("stringData", {}))
                        for d in self.by_kind.get("Secret", [])}


def secret_keys(root, all_roots, name):
    if name in root.secrets:
        return root.secrets[name]
    if name in EXTERNAL_SECRETS:
        return EXTERNAL_SECRETS[name]
    for r in all_roots.values():
        for cert in r.by_kind.get("Certificate", []):
            if cert["spec"]["secretName"] == name:
                return {"tls.crt", "tls.key", "ca.crt"}
    return None


def file_on_secret_or_config(where, pod, c, path, root, all_roots, kind):
    """The (volume kind, source name, key) that serves `path`, after checking it exists."""
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    m = mount_for(c, path)
    vol = volumes.get(m["name"]) if m else None
    src = (vol or {}).get("secret") or (vol or {}).get("configMap")
    if not vol or not src or ("secret" in vol) != (kind == "secret"):
        problem(f"{where}: {path} is not on a mounted {kind} volume")
        return None
    rel = posixpath.relpath(path, m["mountPath"])
    items = src.get("items")
    key = next((i["key"] for i in items if i["path"] == rel), None) if items else rel
    if kind == "secret":
        sname = src["secretName"]
        keys = secret_keys(root, all_roots, sname)
        if keys is None:
            problem(f"{where}: Secret {sname} is neither a manifest, nor made by a Certificate, nor documented")
        elif key not in keys:
            problem(f"{where}: {path} maps to no key of Secret {sname} (keys {sorted(keys)})")
        return ("secret", sname, key)
    cm = root.config_maps.get(src["name"])
    if cm is None or key not in (cm.get("data") or {}):
        problem(f"{where}: {path}: ConfigMap {src['name']} has no key {key}")
        return None
    return ("configMap", src["name"], cm["data"][key])


def server_settings(where, pod, c, argv, flags, root, all_roots):
    """Effective neobert-exportd settings: --config file, then args (args win)."""
    settings = {}
    for cf in arg_value(argv, "--config"):
        found = file_on_secret_or_config(where, pod, c, cf, root, all_roots, "configMap")
        if not found:
            continue
        cfg = yaml.safe_load(found[2])
        if not isinstance(cfg, dict):
            problem(f"{where}: --config {cf} is not a YAML mapping")
            continue
        for k in cfg:
            if k not in flags.server() and k not in binary_flags.PENDING_SERVER_FLAGS:
                problem(f"{where}: --config {cf}: key '{k}' is not a neobert-exportd flag")
        settings.update({k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in cfg.items()})
    i = 1
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and a != "--config":
            name, eq, value = a[2:].partition("=")
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            settings[name] = [value]
        elif a == "--config":
            i += 1
        i += 1
    return settings


def check_container(where, pod, c, flags, root, all_roots, uid, version, pod_level_user_ok):
    """Checks one container; returns server info for neobert-exportd containers."""
    name = f"{root.name}: {where} container {c['name']}"
    res = c.get("resources") or {}
    if not res.get("requests") or not (res.get("limits") or {}).get("memory"):
        problem(f"{name}: needs resources.requests and a memory limit")
    sc = c.get("securityContext") or {}
    psc = pod["spec"].get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(f"{name}: securityContext.allowPrivilegeEscalation must be false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problem(f"{name}: securityContext.capabilities.drop must contain ALL")
    for e in c.get("env", []):
        if e["name"] == "NVIDIA_VISIBLE_DEVICES":
            problem(f"{name}: sets NVIDIA_VISIBLE_DEVICES (GPUs are the device plugin's to hand out)")
    gpus = str(((res.get("limits") or {}).get("nvidia.com/gpu")) or "")

    ours = our_image(c.get("image"))
    command = [str(x) for x in c.get("command") or []]
    runs_ours = bool(command) and posixpath.basename(command[0]) in binary_flags.BINARIES
    if ours and not runs_ours:
        problem(f"{name}: runs our image without an explicit command naming {binary_flags.BINARIES}")
    if runs_ours and not ours:
        problem(f"{name}: runs {command[0]} from image {c.get('image')!r}, not ours")
    if not ours:
        return None
    variant, tag = ours
    if tag != version:
        problem(f"{name}: image {c['image']} is not the project's version {version}")
    if variant == "cuda" and gpus != "1":
        problem(f"{name}: the CUDA image without an nvidia.com/gpu: 1 limit")
    if variant == "cpu" and gpus:
        problem(f"{name}: the CPU image requests nvidia.com/gpu")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(f"{name}: securityContext.readOnlyRootFilesystem must be true")
    if sc.get("runAsUser") != uid or sc.get("runAsNonRoot") is not True:
        problem(f"{name}: needs runAsUser {uid} (the image's USER) and runAsNonRoot in its own securityContext")
    if "runAsUser" in psc and not pod_level_user_ok:
        problem(f"{root.name}: {where}: pod-level runAsUser would force it onto every container")

    argv = command + [str(x) for x in c.get("args") or []]
    env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
    for p in binary_flags.unknown_flags(flags, argv, env):
        problem(f"{name}: {p}")
    for flag in ("--token-file", "--tls-ca", "--tls-cert", "--tls-key"):
        for path in arg_value(argv, flag):
            file_on_secret_or_config(name, pod, c, path, root, all_roots, "secret")
    if posixpath.basename(command[0]) != binary_flags.SERVER:
        return {"kind": "client", "argv": argv, "container": c, "name": name}

    s = server_settings(name, pod, c, argv, flags, root, all_roots)
    for key in ("token-file", "tls-cert", "tls-key", "tls-client-ca"):
        for path in s.get(key, []):
            file_on_secret_or_config(name, pod, c, path, root, all_roots, "secret")
    for key in ("input-root", "output-root", "state-dir", "watch", "watch-output"):
        for d in s.get(key, []):
            m = mount_for(c, d)
            if m is None:
                problem(f"{name}: --{key} {d} is on no volume (the root filesystem is read-only)")
            elif key in ("output-root", "state-dir", "watch-output") and m.get("readOnly"):
                problem(f"{name}: --{key} {d} is on a read-only mount")
    for key in ("input-root", "output-root"):
        if not s.get(key):
            problem(f"{name}: neobert-exportd needs --{key}")
    pattern = (s.get("default-output-dir") or [""])[-1]
    if pattern:
        fixed = pattern[:pattern.find("{")] if "{" in pattern else pattern
        if not any(fixed.startswith(r.rstrip("/") + "/") for r in s.get("output-root", [])):
            problem(f"{name}: default-output-dir {pattern} is not under an output root {s.get('output-root')}")
        m = mount_for(c, fixed.rstrip("/") or "/")
        if m is None or m.get("readOnly"):
            problem(f"{name}: default-output-dir {pattern} is not on a writable volume")
        if "{step}" not in pattern:
            problem(f"{name}: default-output-dir {pattern} lacks {{step}}")
    listen = (s.get("listen") or ["127.0.0.1:50051"])[-1]
    host, _, port = listen.rpartition(":")
    tls = bool(s.get("tls-cert"))
    if s.get("token-file") and host not in LOOPBACK and not tls:
        problem(f"{name}: a token on {listen} without TLS (the server refuses to start so)")
    if variant == "cuda" and (s.get("device") or ["auto"])[-1] != "auto":
        problem(f"{name}: the CUDA image runs with --device {s.get('device')}, expected auto")
    if variant == "cpu" and gpus == "" and (s.get("device") or ["auto"])[-1] not in ("cpu", "auto"):
        problem(f"{name}: the CPU image runs with --device {s.get('device')}")
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = c.get(probe_name)
        if not probe:
            problem(f"{name}: neobert-exportd needs a {probe_name}")
            continue
        if "grpc" in probe:
            if tls:
                problem(f"{name}: {probe_name} is the kubelet's gRPC probe, which cannot do TLS")
            if probe["grpc"]["port"] != int(port) or host in LOOPBACK:
                problem(f"{name}: {probe_name} gRPC port {probe['grpc']['port']} does not reach {listen}")
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
            if tls != bool(arg_value(cmd, "--tls-ca")):
                problem(f"{name}: {probe_name}: --tls-ca must be given exactly when the server serves TLS")
            for ca in arg_value(cmd, "--tls-ca"):
                file_on_secret_or_config(name, pod, c, ca, root, all_roots, "secret")
        else:
            problem(f"{name}: {probe_name} should be exec '{binary_flags.CLIENT} health'")
    grace = int((s.get("grace-seconds") or [30])[-1])
    if pod["spec"].get("terminationGracePeriodSeconds", 30) <= grace:
        problem(f"{name}: terminationGracePeriodSeconds must exceed the server's grace-seconds {grace}")
    return {"kind": "server", "settings": s, "listen": listen, "tls": tls, "container": c, "name": name,
            "variant": variant}


def check_root(root, all_roots, flags, uid, version):
    servers, clients = [], []
    for where, doc, template in pod_specs(root.docs):
        pod = template
        containers = pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])
        volumes = {v["name"] for v in pod["spec"].get("volumes", [])} | \
            {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for c in containers:
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problem(f"{root.name}: {where}: volumeMount {m['name']} names no declared volume")
        foreign = [c for c in containers if not our_image(c.get("image"))]
        for c in containers:
            info = check_container(where, pod, c, flags, root, all_roots, uid, version, not foreign)
            if info:
                info.update(where=where, doc=doc, pod=pod)
                (servers if info["kind"] == "server" else clients).append(info)
    return servers, clients


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    flags = binary_flags.Flags(sys.argv[1])
    for f, why in binary_flags.PENDING_SERVER_FLAGS.items():
        if f in flags.server():
            problem(f"--{f} is in neobert-exportd --help now: take it off binary_flags.PENDING_SERVER_FLAGS ({why})")
    uid, version = dockerfile_uid(), project_version()
    outputs, render_problems = deploy_files.render_all(DEPLOY)
    for p in render_problems:
        problem(p)
    roots = {name: Root(name, docs) for name, docs in outputs.items()}
    found = {}
    for name, root in roots.items():
        found[name] = check_root(root, roots, flags, uid, version)

    # The image version: the base sets it, overlays only rename, examples repeat it.
    for name in deploy_files.kustomization_roots(DEPLOY):
        k = deploy_files.load_yaml(os.path.join(DEPLOY, name, "kustomization.yaml"))[0]
        if k.get("secretGenerator"):
            problem(f"{name}: secretGenerator: document a kubectl create secret line instead (deploy/README.md)")
        for im in k.get("images", []):
            if im["name"] != "neobert-export":
                continue
            if name.startswith("overlays/") and "newTag" in im:
                problem(f"{name}: sets the image tag; only deploy/base does (overlays inherit it)")
            if not name.startswith("overlays/") and im.get("newTag") != version:
                problem(f"{name}: image tag {im.get('newTag')!r} is not the project's version {version}")
    with open(os.path.join(DEPLOY, "README.md")) as fh:
        readme_lines = fh.read().splitlines()
    for sname, keys in EXTERNAL_SECRETS.items():
        commands = []
        for i, line in enumerate(readme_lines):
            if f"kubectl create secret generic {sname} " in line + " ":
                cmd = line
                while cmd.endswith("\\") and i + 1 < len(readme_lines):
                    i += 1
                    cmd = cmd[:-1] + readme_lines[i]
                commands.append(cmd)
        if not commands:
            problem(f"deploy/README.md has no 'kubectl create secret generic {sname}' command")
        for key in keys:
            if commands and not any(re.search(rf"--from-(literal|file)={re.escape(key)}=", c) for c in commands):
                problem(f"deploy/README.md: no 'kubectl create secret generic {sname}' command creates key {key}")

    def one_server(root_name, kind="Deployment"):
        s = [i for i in found.get(root_name, ([], []))[0] if i["doc"]["kind"] == kind]
        if len(s) != 1:
            problem(f"{root_name}: expected one neobert-exportd in a {kind}, found {len(s)}")
            return None
        return s[0]

    base = one_server("base")
    if base:
        dep = base["doc"]
        if dep["spec"].get("replicas") != 1 or dep["spec"].get("strategy", {}).get("type") != "Recreate":
            problem("base: the Deployment must be 1 replica with Recreate (SQLite belongs to one process)")
        state = base["settings"].get("state-dir", [""])[-1]
        m = mount_for(base["container"], state)
        vol = next((v for v in base["pod"]["spec"]["volumes"] if m and v["name"] == m["name"]), {})
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        pvc = next((p for p in roots["base"].by_kind.get("PersistentVolumeClaim", [])
                    if p["metadata"]["name"] == claim), None)
        if not pvc or pvc["spec"]["accessModes"] != ["ReadWriteOnce"]:
            problem(f"base: state-dir {state} must be on a ReadWriteOnce claim of its own (SQLite), not {claim}")
        if not base["settings"].get("default-output-dir"):
            problem("base: the service has no default-output-dir (a request without output_dir would land "
                    "beside the read-only checkpoints)")
        if not base["tls"]:
            problem("base: the service must serve TLS")
        if base["variant"] != "cpu":
            problem("base: the service should run the CPU image")
        pols = [p for p in roots["base"].by_kind.get("NetworkPolicy", [])
                if p["spec"]["podSelector"]["matchLabels"].items() <= base["pod"]["metadata"]["labels"].items()]
        if not pols:
            problem("base: no NetworkPolicy selects the service's pods")
        client_labels = [peer["podSelector"]["matchLabels"] for p in pols for rule in p["spec"].get("ingress", [])
                         for peer in rule.get("from", []) if "podSelector" in peer and "namespaceSelector" not in peer]
        job = next((i for i in found.get("examples/export-job", ([], []))[1]), None)
        if not job:
            problem("examples/export-job: no neobert-export client container")
        else:
            labels = job["pod"]["metadata"].get("labels", {})
            if not any(sel.items() <= labels.items() for sel in client_labels):
                problem(f"examples/export-job: its pod labels {labels} are admitted by no NetworkPolicy rule "
                        f"{client_labels}")
            if arg_value(job["argv"], "--output") or arg_value(job["argv"], "-o"):
                problem("examples/export-job: names --output; it should show the service's default destination")
            svc = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
                   for d in roots["base"].by_kind.get("Service", [])}
            for s in arg_value(job["argv"], "--server"):
                host, _, port = s.rpartition(":")
                if int(port) not in svc.get(host, set()):
                    problem(f"examples/export-job: --server {s} is no port of a base Service {svc}")
            if base["tls"] and not arg_value(job["argv"], "--tls-ca"):
                problem("examples/export-job: the service serves TLS but the Job passes no --tls-ca")

    gpu = one_server("overlays/gpu")
    if gpu and gpu["variant"] != "cuda":
        problem("overlays/gpu: the service should run the CUDA image")

    scale = one_server("overlays/scale-out")
    if scale:
        spec = scale["doc"]["spec"]
        ru = spec.get("strategy", {})
        if spec.get("replicas") != 3 or ru.get("type") != "RollingUpdate" or \
                ru.get("rollingUpdate", {}).get("maxUnavailable") != 0:
            problem("overlays/scale-out: expected 3 replicas, RollingUpdate with maxUnavailable 0")
        labels = scale["pod"]["metadata"]["labels"]
        if not any(p["spec"]["selector"]["matchLabels"].items() <= labels.items()
                   for p in roots["overlays/scale-out"].by_kind.get("PodDisruptionBudget", [])):
            problem("overlays/scale-out: no PodDisruptionBudget selects the service's pods")
        env = {e["name"]: e for e in scale["container"].get("env", [])}
        ref = (env.get("NEOBERT_JOB_STORE", {}).get("valueFrom") or {}).get("secretKeyRef")
        if not ref or ref.get("key") not in (EXTERNAL_SECRETS.get(ref.get("name")) or set()):
            problem("overlays/scale-out: NEOBERT_JOB_STORE must come from a documented Secret key")
        state = scale["settings"].get("state-dir", [""])[-1]
        m = mount_for(scale["container"], state)
        vol = next((v for v in scale["pod"]["spec"]["volumes"] if m and v["name"] == m["name"]), {})
        if "persistentVolumeClaim" in vol:
            problem("overlays/scale-out: three replicas cannot share the base's ReadWriteOnce state claim")
    if "overlays/scale-out/postgres" not in roots or not roots["overlays/scale-out/postgres"].by_kind.get("StatefulSet"):
        problem("overlays/scale-out/postgres: no in-cluster PostgreSQL example (StatefulSet)")

    # The native sidecar.
    sidecars = [i for i in found.get("examples/training-sidecar", ([], []))[0]]
    if len(sidecars) != 1:
        problem(f"examples/training-sidecar: expected one exporter sidecar, found {len(sidecars)}")
    for sc in sidecars:
        c, pod = sc["container"], sc["pod"]
        if c not in pod["spec"].get("initContainers", []) or c.get("restartPolicy") != "Always":
            problem("examples/training-sidecar: the exporter must be an initContainer with restartPolicy: Always")
        if not sc["settings"].get("watch"):
            problem("examples/training-sidecar: the sidecar runs without --watch")
        if sc["listen"].rpartition(":")[0] not in LOOPBACK:
            problem(f"examples/training-sidecar: the sidecar's API listens on {sc['listen']}, not loopback")
        if sc["variant"] != "cpu":
            problem("examples/training-sidecar: the sidecar should run the CPU image (no GPU of its own)")
        if base and sc["settings"].get("default-output-dir") != base["settings"].get("default-output-dir"):
            problem("examples/training-sidecar: exports to another place than the service's default-output-dir")
        for watched in sc["settings"].get("watch", []):
            m = mount_for(c, watched)
            shared = [t for t in pod["spec"]["containers"]
                      if m and any(tm["name"] == m["name"] and tm["mountPath"] == m["mountPath"]
                                   and tm.get("subPath") == m.get("subPath") for tm in t.get("volumeMounts", []))]
            if not shared:
                problem(f"examples/training-sidecar: no main container mounts {watched} as the sidecar does")
        if pod["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
            problem("examples/training-sidecar: a Job pod needs restartPolicy Never or OnFailure")

    if problems:
        print(f"{len(problems)} problem(s) in deploy/:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"deploy/: {sum(len(r.docs) for r in roots.values())} objects in {len(roots)} kustomize builds OK "
          f"(renderers: {', '.join(label for label, _ in deploy_files.renderers())})")


if __name__ == "__main__":
    main()
