"""What deploy/ asks of our binaries and of a cluster, checked without a cluster
on every kustomize build output (deploy_files.py). The schemas are
test_schemas.py's business; these are the checks the schemas cannot know:
- every --flag given to neobert-exportd / neobert-export (args, probes, the
  --config YAML) is one the built binary's --help documents (flags another
  branch is adding: binary_flags.PENDING_SERVER_FLAGS, and a pending flag
  that --help now has is itself a problem, so the list gets emptied);
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
  deploy/base for the overlays, which only rename; no secretGenerator;
- base: 1 replica, Recreate, SQLite state on a ReadWriteOnce claim;
  scale-out: 3 replicas, RollingUpdate with maxUnavailable 0, a PDB, the job
  store DSN from a Secret in an environment variable --help names; the NetworkPolicy admits the labelled export Job;
- the native sidecar: restartPolicy Always, loopback listener, shares the
  trainer's checkpoint mount, writes where the service would.
DeployCheck(deploy_dir, flags).run() returns every problem as a line.
"""
import os
import posixpath
import re

import yaml

import binary_flags
import deploy_files

REPO = deploy_files.REPO
IMAGES = {"neobert-export": "cpu", "neobert-export-cuda": "cuda"}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
# Secrets an operator creates (deploy/README.md says how) -> their keys.
EXTERNAL_SECRETS = {
    "neobert-exportd-token": {"token"},
    "neobert-exportd-tls": {"tls.crt", "tls.key", "ca.crt"},
    "neobert-exportd-job-store": {"dsn"},
    "neobert-postgres": {"password"},
}
# Where a server's settings name files it reads from a Secret.
SECRET_FILE_KEYS = ("token-file", "tls-cert", "tls-key", "tls-client-ca")


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
    """(where, object, pod template) of every workload object."""
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


def volume_of_mount(pod, mount):
    return next((v for v in pod["spec"].get("volumes", []) if mount and v["name"] == mount["name"]), {})


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


class DeployCheck:
    """Checks one deploy/ tree (the repository's, or a planted copy) against
    the built binaries' flags (binary_flags.Flags). Not thread-safe."""

    def __init__(self, deploy, flags):
        self.deploy, self.flags = deploy, flags
        self.uid, self.version = dockerfile_uid(), project_version()
        self.problems = []
        self.roots = {}
        # root name -> (server infos, client infos) of its containers.
        self.found = {}

    def problem(self, msg):
        self.problems.append(msg)

    def run(self):
        for f, why in binary_flags.PENDING_SERVER_FLAGS.items():
            if f in self.flags.server():
                self.problem(f"--{f} is in neobert-exportd --help now: take it off "
                             f"binary_flags.PENDING_SERVER_FLAGS ({why})")
        outputs, render_problems = deploy_files.render_all(self.deploy)
        for p in render_problems:
            self.problem(p)
        self.roots = {name: Root(name, docs) for name, docs in outputs.items()}
        for name, root in self.roots.items():
            self.found[name] = self.check_root(root)
        self.check_kustomizations()
        self.check_documented_secrets()
        base = self.check_base()
        gpu = self.one_server("overlays/gpu")
        if gpu and gpu["variant"] != "cuda":
            self.problem("overlays/gpu: the service should run the CUDA image")
        self.check_scale_out()
        self.check_sidecar(base)
        return self.problems

    # --- files, settings, containers

    def secret_keys(self, root, name):
        if name in root.secrets:
            return root.secrets[name]
        if name in EXTERNAL_SECRETS:
            return EXTERNAL_SECRETS[name]
        for r in self.roots.values():
            for cert in r.by_kind.get("Certificate", []):
                if cert["spec"]["secretName"] == name:
                    return {"tls.crt", "tls.key", "ca.crt"}
        return None

    def mounted_file(self, where, pod, c, path, root, kind):
        """The (volume kind, source name, key or ConfigMap text) that serves
        `path` in container c, after checking the key exists; None if not."""
        m = mount_for(c, path)
        vol = volume_of_mount(pod, m)
        src = vol.get("secret") or vol.get("configMap")
        if not src or ("secret" in vol) != (kind == "secret"):
            self.problem(f"{where}: {path} is not on a mounted {kind} volume")
            return None
        rel = posixpath.relpath(path, m["mountPath"])
        items = src.get("items")
        key = next((i["key"] for i in items if i["path"] == rel), None) if items else rel
        if kind == "secret":
            sname = src["secretName"]
            keys = self.secret_keys(root, sname)
            if keys is None:
                self.problem(f"{where}: Secret {sname} is neither a manifest, nor made by a Certificate, "
                             "nor documented")
            elif key not in keys:
                self.problem(f"{where}: {path} maps to no key of Secret {sname} (keys {sorted(keys)})")
            return ("secret", sname, key)
        cm = root.config_maps.get(src["name"])
        if cm is None or key not in (cm.get("data") or {}):
            self.problem(f"{where}: {path}: ConfigMap {src['name']} has no key {key}")
            return None
        return ("configMap", src["name"], cm["data"][key])

    def server_settings(self, where, pod, c, argv, root):
        """Effective neobert-exportd settings: --config file, then args (args win)."""
        settings = {}
        for cf in arg_value(argv, "--config"):
            found = self.mounted_file(where, pod, c, cf, root, "configMap")
            if not found:
                continue
            cfg = yaml.safe_load(found[2])
            if not isinstance(cfg, dict):
                self.problem(f"{where}: --config {cf} is not a YAML mapping")
                continue
            for k in cfg:
                if k not in self.flags.server() and k not in binary_flags.PENDING_SERVER_FLAGS:
                    self.problem(f"{where}: --config {cf}: key '{k}' is not a neobert-exportd flag")
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

    def check_container(self, where, pod, c, root, pod_level_user_ok):
        """Checks one container; returns an info dict for ours (server or client)."""
        name = f"{root.name}: {where} container {c['name']}"
        res = c.get("resources") or {}
        if not res.get("requests") or not (res.get("limits") or {}).get("memory"):
            self.problem(f"{name}: needs resources.requests and a memory limit")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            self.problem(f"{name}: securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            self.problem(f"{name}: securityContext.capabilities.drop must contain ALL")
        for e in c.get("env", []):
            if e["name"] == "NVIDIA_VISIBLE_DEVICES":
                self.problem(f"{name}: sets NVIDIA_VISIBLE_DEVICES (GPUs are the device plugin's to hand out)")
        gpus = str(((res.get("limits") or {}).get("nvidia.com/gpu")) or "")

        ours = our_image(c.get("image"))
        command = [str(x) for x in c.get("command") or []]
        runs_ours = bool(command) and posixpath.basename(command[0]) in binary_flags.BINARIES
        if ours and not runs_ours:
            self.problem(f"{name}: runs our image without an explicit command naming {binary_flags.BINARIES}")
        if runs_ours and not ours:
            self.problem(f"{name}: runs {command[0]} from image {c.get('image')!r}, not ours")
        if not ours:
            return None
        variant, tag = ours
        if tag != self.version:
            self.problem(f"{name}: image {c['image']} is not the project's version {self.version}")
        if variant == "cuda" and gpus != "1":
            self.problem(f"{name}: the CUDA image without an nvidia.com/gpu: 1 limit")
        if variant == "cpu" and gpus:
            self.problem(f"{name}: the CPU image requests nvidia.com/gpu")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.problem(f"{name}: securityContext.readOnlyRootFilesystem must be true")
        if sc.get("runAsUser") != self.uid or sc.get("runAsNonRoot") is not True:
            self.problem(f"{name}: needs runAsUser {self.uid} (the image's USER) and runAsNonRoot in its own "
                         "securityContext")
        if "runAsUser" in (pod["spec"].get("securityContext") or {}) and not pod_level_user_ok:
            self.problem(f"{root.name}: {where}: pod-level runAsUser would force it onto every container")

        argv = command + [str(x) for x in c.get("args") or []]
        env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
        for p in binary_flags.unknown_flags(self.flags, argv, env):
            self.problem(f"{name}: {p}")
        for flag in ("--token-file", "--tls-ca", "--tls-cert", "--tls-key"):
            for path in arg_value(argv, flag):
                self.mounted_file(name, pod, c, path, root, "secret")
        if posixpath.basename(command[0]) != binary_flags.SERVER:
            return {"kind": "client", "argv": argv, "container": c, "name": name}
        return self.check_server(name, pod, c, argv, root, variant, gpus)

    def check_server(self, name, pod, c, argv, root, variant, gpus):
        s = self.server_settings(name, pod, c, argv, root)
        for key in SECRET_FILE_KEYS:
            for path in s.get(key, []):
                self.mounted_file(name, pod, c, path, root, "secret")
        for key in ("input-root", "output-root", "state-dir", "watch", "watch-output"):
            for d in s.get(key, []):
                m = mount_for(c, d)
                if m is None:
                    self.problem(f"{name}: --{key} {d} is on no volume (the root filesystem is read-only)")
                elif key in ("output-root", "state-dir", "watch-output") and m.get("readOnly"):
                    self.problem(f"{name}: --{key} {d} is on a read-only mount")
        for key in ("input-root", "output-root"):
            if not s.get(key):
                self.problem(f"{name}: neobert-exportd needs --{key}")
        pattern = (s.get("default-output-dir") or [""])[-1]
        if pattern:
            fixed = pattern[:pattern.find("{")] if "{" in pattern else pattern
            if not any(fixed.startswith(r.rstrip("/") + "/") for r in s.get("output-root", [])):
                self.problem(f"{name}: default-output-dir {pattern} is not under an output root "
                             f"{s.get('output-root')}")
            m = mount_for(c, fixed.rstrip("/") or "/")
            if m is None or m.get("readOnly"):
                self.problem(f"{name}: default-output-dir {pattern} is not on a writable volume")
            if "{step}" not in pattern:
                self.problem(f"{name}: default-output-dir {pattern} lacks {{step}}")
        listen = (s.get("listen") or ["127.0.0.1:50051"])[-1]
        host = listen.rpartition(":")[0]
        tls = bool(s.get("tls-cert"))
        if s.get("token-file") and host not in LOOPBACK and not tls:
            self.problem(f"{name}: a token on {listen} without TLS (the server refuses to start so)")
        device = (s.get("device") or ["auto"])[-1]
        if variant == "cuda" and device != "auto":
            self.problem(f"{name}: the CUDA image runs with --device {device}, expected auto")
        if variant == "cpu" and gpus == "" and device not in ("cpu", "auto"):
            self.problem(f"{name}: the CPU image runs with --device {device}")
        self.check_probes(name, pod, c, root, listen, tls)
        grace = int((s.get("grace-seconds") or [30])[-1])
        if pod["spec"].get("terminationGracePeriodSeconds", 30) <= grace:
            self.problem(f"{name}: terminationGracePeriodSeconds must exceed the server's grace-seconds {grace}")
        return {"kind": "server", "settings": s, "listen": listen, "tls": tls, "container": c, "name": name,
                "variant": variant}

    def check_probes(self, name, pod, c, root, listen, tls):
        host, _, port = listen.rpartition(":")
        for probe_name in ("livenessProbe", "readinessProbe"):
            probe = c.get(probe_name)
            if not probe:
                self.problem(f"{name}: neobert-exportd needs a {probe_name}")
            elif "grpc" in probe:
                if tls:
                    self.problem(f"{name}: {probe_name} is the kubelet's gRPC probe, which cannot do TLS")
                if probe["grpc"]["port"] != int(port) or host in LOOPBACK:
                    self.problem(f"{name}: {probe_name} gRPC port {probe['grpc']['port']} does not reach {listen}")
            elif "exec" in probe:
                cmd = [str(x) for x in probe["exec"]["command"]]
                if posixpath.basename(cmd[0]) != binary_flags.CLIENT or cmd[1:2] != ["health"]:
                    self.problem(f"{name}: {probe_name} exec should run '{binary_flags.CLIENT} health'")
                    continue
                for p in binary_flags.unknown_flags(self.flags, cmd):
                    self.problem(f"{name}: {probe_name}: {p}")
                servers = arg_value(cmd, "--server")
                if not servers or not servers[0].endswith(f":{port}"):
                    self.problem(f"{name}: {probe_name} checks {servers} but the server listens on {listen}")
                if tls != bool(arg_value(cmd, "--tls-ca")):
                    self.problem(f"{name}: {probe_name}: --tls-ca must be given exactly when the server serves TLS")
                for ca in arg_value(cmd, "--tls-ca"):
                    self.mounted_file(name, pod, c, ca, root, "secret")
            else:
                self.problem(f"{name}: {probe_name} should be exec '{binary_flags.CLIENT} health'")

    def check_root(self, root):
        servers, clients = [], []
        for where, doc, pod in pod_specs(root.docs):
            containers = pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])
            volumes = {v["name"] for v in pod["spec"].get("volumes", [])} | \
                {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
            for c in containers:
                for m in c.get("volumeMounts", []):
                    if m["name"] not in volumes:
                        self.problem(f"{root.name}: {where}: volumeMount {m['name']} names no declared volume")
            foreign = [c for c in containers if not our_image(c.get("image"))]
            for c in containers:
                info = self.check_container(where, pod, c, root, not foreign)
                if info:
                    info.update(where=where, doc=doc, pod=pod)
                    (servers if info["kind"] == "server" else clients).append(info)
        return servers, clients

    # --- deploy/ as a whole

    def check_kustomizations(self):
        """The image version: the base sets it, overlays only rename, examples repeat it."""
        for name in deploy_files.kustomization_roots(self.deploy):
            k = deploy_files.load_yaml(os.path.join(self.deploy, name, "kustomization.yaml"))[0]
            if k.get("secretGenerator"):
                self.problem(f"{name}: secretGenerator: document a kubectl create secret line instead "
                             "(deploy/README.md)")
            for im in k.get("images", []):
                if im["name"] != "neobert-export":
                    continue
                if name.startswith("overlays/") and "newTag" in im:
                    self.problem(f"{name}: sets the image tag; only deploy/base does (overlays inherit it)")
                if not name.startswith("overlays/") and im.get("newTag") != self.version:
                    self.problem(f"{name}: image tag {im.get('newTag')!r} is not the project's version "
                                 f"{self.version}")

    def check_documented_secrets(self):
        with open(os.path.join(self.deploy, "README.md")) as fh:
            lines = fh.read().splitlines()
        for sname, keys in EXTERNAL_SECRETS.items():
            commands = []
            for i, line in enumerate(lines):
                if f"kubectl create secret generic {sname} " in line + " ":
                    cmd = line
                    while cmd.endswith("\\") and i + 1 < len(lines):
                        i += 1
                        cmd = cmd[:-1] + lines[i]
                    commands.append(cmd)
            if not commands:
                self.problem(f"deploy/README.md has no 'kubectl create secret generic {sname}' command")
            for key in keys:
                if commands and not any(re.search(rf"--from-(literal|file)={re.escape(key)}=", c)
                                        for c in commands):
                    self.problem(f"deploy/README.md: no 'kubectl create secret generic {sname}' command "
                                 f"creates key {key}")

    def one_server(self, root_name, kind="Deployment"):
        s = [i for i in self.found.get(root_name, ([], []))[0] if i["doc"]["kind"] == kind]
        if len(s) != 1:
            self.problem(f"{root_name}: expected one neobert-exportd in a {kind}, found {len(s)}")
            return None
        return s[0]

    def check_base(self):
        base = self.one_server("base")
        if not base:
            return None
        dep = base["doc"]
        if dep["spec"].get("replicas") != 1 or dep["spec"].get("strategy", {}).get("type") != "Recreate":
            self.problem("base: the Deployment must be 1 replica with Recreate (SQLite belongs to one process)")
        state = base["settings"].get("state-dir", [""])[-1]
        vol = volume_of_mount(base["pod"], mount_for(base["container"], state))
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        pvc = next((p for p in self.roots["base"].by_kind.get("PersistentVolumeClaim", [])
                    if p["metadata"]["name"] == claim), None)
        if not pvc or pvc["spec"]["accessModes"] != ["ReadWriteOnce"]:
            self.problem(f"base: state-dir {state} must be on a ReadWriteOnce claim of its own (SQLite), "
                         f"not {claim}")
        if not base["settings"].get("default-output-dir"):
            self.problem("base: the service has no default-output-dir (a request without output_dir would land "
                         "beside the read-only checkpoints)")
        if not base["tls"]:
            self.problem("base: the service must serve TLS")
        if base["variant"] != "cpu":
            self.problem("base: the service should run the CPU image")
        self.check_export_job(base)
        return base

    def check_export_job(self, base):
        """The example Job: admitted by the NetworkPolicy, relying on the default destination."""
        pod_labels = base["pod"]["metadata"]["labels"]
        pols = [p for p in self.roots["base"].by_kind.get("NetworkPolicy", [])
                if p["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()]
        if not pols:
            self.problem("base: no NetworkPolicy selects the service's pods")
        client_labels = [peer["podSelector"]["matchLabels"] for p in pols for rule in p["spec"].get("ingress", [])
                         for peer in rule.get("from", []) if "podSelector" in peer and "namespaceSelector" not in peer]
        job = next(iter(self.found.get("examples/export-job", ([], []))[1]), None)
        if not job:
            self.problem("examples/export-job: no neobert-export client container")
            return
        labels = job["pod"]["metadata"].get("labels", {})
        if not any(sel.items() <= labels.items() for sel in client_labels):
            self.problem(f"examples/export-job: its pod labels {labels} are admitted by no NetworkPolicy rule "
                         f"{client_labels}")
        if arg_value(job["argv"], "--output") or arg_value(job["argv"], "-o"):
            self.problem("examples/export-job: names --output; it should show the service's default destination")
        svc = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
               for d in self.roots["base"].by_kind.get("Service", [])}
        for s in arg_value(job["argv"], "--server"):
            host, _, port = s.rpartition(":")
            if int(port) not in svc.get(host, set()):
                self.problem(f"examples/export-job: --server {s} is no port of a base Service {svc}")
        if base["tls"] and not arg_value(job["argv"], "--tls-ca"):
            self.problem("examples/export-job: the service serves TLS but the Job passes no --tls-ca")

    def check_scale_out(self):
        scale = self.one_server("overlays/scale-out")
        if scale:
            spec = scale["doc"]["spec"]
            ru = spec.get("strategy", {})
            if spec.get("replicas") != 3 or ru.get("type") != "RollingUpdate" or \
                    ru.get("rollingUpdate", {}).get("maxUnavailable") != 0:
                self.problem("overlays/scale-out: expected 3 replicas, RollingUpdate with maxUnavailable 0")
            labels = scale["pod"]["metadata"]["labels"]
            if not any(p["spec"]["selector"]["matchLabels"].items() <= labels.items()
                       for p in self.roots["overlays/scale-out"].by_kind.get("PodDisruptionBudget", [])):
                self.problem("overlays/scale-out: no PodDisruptionBudget selects the service's pods")
            env = {e["name"]: e for e in scale["container"].get("env", [])}
            for var in env:
                if var.startswith("NEOBERT_") and f"${var}" not in self.flags.server_help():
                    self.problem(f"overlays/scale-out: sets {var}, which neobert-exportd --help does not name")
            ref = (env.get("NEOBERT_JOB_STORE", {}).get("valueFrom") or {}).get("secretKeyRef")
            if not ref or ref.get("key") not in (EXTERNAL_SECRETS.get(ref.get("name")) or set()):
                self.problem("overlays/scale-out: NEOBERT_JOB_STORE must come from a documented Secret key")
            state = scale["settings"].get("state-dir", [""])[-1]
            if "persistentVolumeClaim" in volume_of_mount(scale["pod"], mount_for(scale["container"], state)):
                self.problem("overlays/scale-out: three replicas cannot share the base's ReadWriteOnce state claim")
        pg = self.roots.get("overlays/scale-out/postgres")
        if not pg or not pg.by_kind.get("StatefulSet"):
            self.problem("overlays/scale-out/postgres: no in-cluster PostgreSQL example (StatefulSet)")

    def check_sidecar(self, base):
        sidecars = self.found.get("examples/training-sidecar", ([], []))[0]
        if len(sidecars) != 1:
            self.problem(f"examples/training-sidecar: expected one exporter sidecar, found {len(sidecars)}")
        for sc in sidecars:
            c, pod = sc["container"], sc["pod"]
            if c not in pod["spec"].get("initContainers", []) or c.get("restartPolicy") != "Always":
                self.problem("examples/training-sidecar: the exporter must be an initContainer with "
                             "restartPolicy: Always")
            if not sc["settings"].get("watch"):
                self.problem("examples/training-sidecar: the sidecar runs without --watch")
            if sc["listen"].rpartition(":")[0] not in LOOPBACK:
                self.problem(f"examples/training-sidecar: the sidecar's API listens on {sc['listen']}, not loopback")
            if sc["variant"] != "cpu":
                self.problem("examples/training-sidecar: the sidecar should run the CPU image (no GPU of its own)")
            if base and sc["settings"].get("default-output-dir") != base["settings"].get("default-output-dir"):
                self.problem("examples/training-sidecar: exports to another place than the service's "
                             "default-output-dir")
            for watched in sc["settings"].get("watch", []):
                m = mount_for(c, watched)
                shared = [t for t in pod["spec"]["containers"]
                          if m and any(tm["name"] == m["name"] and tm["mountPath"] == m["mountPath"]
                                       and tm.get("subPath") == m.get("subPath") for tm in t.get("volumeMounts", []))]
                if not shared:
                    self.problem(f"examples/training-sidecar: no main container mounts {watched} as the sidecar does")
            if pod["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
                self.problem("examples/training-sidecar: a Job pod needs restartPolicy Never or OnFailure")
