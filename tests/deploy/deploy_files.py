"""deploy/ as the tests see it: its kustomization roots, the role of every
YAML file in them, and their kustomize build outputs.

Outputs are rendered with Debian 12's kubectl (kubernetes-client 1.20, whose
kustomize is v2.0.3), unpacked by scripts/setup.sh into .deps/, so every
Debian 12 machine renders the same way; and also with any other `kubectl` on
PATH (e.g. a current one with kustomize v5), whose output must then be the
same objects. The manifests are written for both (deploy/README.md).
"""
import json
import os
import shutil
import subprocess

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEBIAN_KUBECTL = os.path.join(REPO, ".deps", "kubernetes-client", "usr", "bin", "kubectl")


def kustomization_roots(deploy):
    """Every folder under `deploy` holding a kustomization.yaml, relative, sorted."""
    roots = []
    for root, _, files in os.walk(deploy):
        if "kustomization.yaml" in files:
            roots.append(os.path.relpath(root, deploy))
    return sorted(roots)


def load_yaml(path):
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def file_roles(deploy):
    """{relative file: role} for every file a kustomization names: 'kustomization',
    'resource' (complete objects), 'smp' (strategic-merge patch: partial objects),
    'json6902' (a JSON patch: a list of operations)."""
    roles = {}
    for root in kustomization_roots(deploy):
        kpath = os.path.join(root, "kustomization.yaml")
        roles[os.path.normpath(kpath)] = "kustomization"
        k = load_yaml(os.path.join(deploy, kpath))[0]
        for f in k.get("resources", []):
            roles[os.path.normpath(os.path.join(root, f))] = "resource"
        for f in k.get("patchesStrategicMerge", []):
            roles[os.path.normpath(os.path.join(root, f))] = "smp"
        for p in k.get("patchesJson6902", []):
            roles[os.path.normpath(os.path.join(root, p["path"]))] = "json6902"
    return roles


def yaml_files(deploy):
    out = []
    for root, _, files in os.walk(deploy):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                out.append(os.path.relpath(os.path.join(root, f), deploy))
    return sorted(out)


def renderers():
    """[(label, kubectl path)]: Debian's first, then a different kubectl on PATH."""
    if not os.access(DEBIAN_KUBECTL, os.X_OK):
        raise AssertionError(f"{DEBIAN_KUBECTL} is missing: run scripts/setup.sh (it unpacks Debian's "
                             "kubernetes-client there)")
    out = [("debian-kubectl-1.20", DEBIAN_KUBECTL)]
    other = shutil.which("kubectl")
    if other and os.path.realpath(other) != os.path.realpath(DEBIAN_KUBECTL):
        r = subprocess.run([other, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            v = json.loads(r.stdout).get("clientVersion", {}).get("gitVersion", "?")
            out.append((f"kubectl-{v}", other))
    return out


def render(deploy, root, kubectl):
    """The objects `kubectl kustomize` builds from deploy/root; AssertionError with
    kustomize's message on failure."""
    r = subprocess.run([kubectl, "kustomize", os.path.join(deploy, root)], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {root} ({kubectl}) failed: {r.stderr.strip()}")
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def _normal(value):
    """Order-insensitive form: renderers differ in object order and in where a
    strategic merge puts a new list entry that has a name."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        if items and all(isinstance(v, dict) and "name" in v for v in items):
            items.sort(key=lambda v: str(v["name"]))
        return items
    return value


def render_all(deploy):
    """({root: objects}, [problems]): every root rendered by every renderer; the
    first renderer's objects, and a problem wherever another renderer disagrees."""
    outputs, problems = {}, []
    rs = renderers()
    for root in kustomization_roots(deploy):
        first = None
        for label, kubectl in rs:
            try:
                docs = render(deploy, root, kubectl)
            except AssertionError as e:
                problems.append(str(e))
                continue
            key = sorted(json.dumps(_normal(d), sort_keys=True) for d in docs)
            if first is None:
                first = (label, key)
                outputs[root] = docs
            elif key != first[1]:
                problems.append(f"kustomize {root}: {label} builds other objects than {first[0]}")
    return outputs, problems
