"""Every manifest under deploy/ and every kustomize build output, validated
against Kubernetes' OpenAPI schemas with unknown fields rejected.

Usage: test_schemas.py NODE

- every YAML file under deploy/ has a role in some kustomization (resource,
  strategic-merge patch, JSON patch, kustomization); resources are validated
  whole, strategic-merge patches with required fields allowed to be missing;
  kustomization.yaml files are checked by kustomize itself when it builds
  (every renderer rejects an unknown kustomization field: tested), JSON
  patches here (RFC 6902 members only; kustomize ignores extra ones) and by
  kustomize (bad ops and paths);
- every kustomization root is built (deploy_files.py: Debian's kubectl, and a
  current one when present, which must agree) and each output validated;
- planted errors fail: a copy of deploy/ with `replicas: "one"` in the base
  Deployment, and one with an unknown container field in the gpu overlay's
  patch, each fail with the path of the error, in the raw file and in every
  build output that carries it; so do an unknown top-level field, a YAML
  file no kustomization names, an unknown kustomization field and an
  unknown JSON patch member.
The validator is tests/deploy/validate_schemas.mjs (npm kubernetes-models).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_files  # noqa: E402

NODE = None
VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate_schemas.mjs")
DEPLOY = os.path.join(deploy_files.REPO, "deploy")


def validate(items):
    """Problems the schema validator reports for [{where, doc, partial}]."""
    r = subprocess.run([NODE, VALIDATOR], input=json.dumps(items), capture_output=True, text=True,
                       timeout=300, cwd=deploy_files.REPO)
    if r.returncode not in (0, 1) or (r.returncode == 1 and not r.stdout.strip()):
        raise AssertionError(f"validator failed to run (exit {r.returncode}): {r.stderr}")
    return r.stdout.splitlines()


def strip_patch_directives(value):
    """A strategic-merge patch without its $patch / $setElementOrder... keys."""
    if isinstance(value, dict):
        return {k: strip_patch_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [strip_patch_directives(v) for v in value]
    return value


# RFC 6902: the members each operation has (kustomize ignores others).
JSON_PATCH_MEMBERS = {"add": {"path", "value"}, "replace": {"path", "value"}, "test": {"path", "value"},
                      "remove": {"path"}, "move": {"from", "path"}, "copy": {"from", "path"}}


def json_patch_problems(where, docs):
    """Problems of a JSON patch file: one list of operations, each with its
    members and no others."""
    if len(docs) != 1 or not isinstance(docs[0], list):
        return [f"{where}: a JSON patch is one YAML list of operations"]
    problems = []
    for i, op in enumerate(docs[0]):
        members = JSON_PATCH_MEMBERS.get(op.get("op")) if isinstance(op, dict) else None
        if members is None:
            problems.append(f"{where}/{i}: not a JSON patch operation ({op!r})")
            continue
        for k in sorted(set(op) - members - {"op"}):
            problems.append(f'{where}/{i}/{k}: unknown field "{k}" (a {op["op"]} operation has {sorted(members)})')
        for k in sorted(members - set(op)):
            problems.append(f"{where}/{i}: {op['op']} without {k}")
    return problems


def check_tree(deploy):
    """(problems, number of objects validated) for a deploy/ tree."""
    problems, items = [], []
    roles = deploy_files.file_roles(deploy)
    for f in deploy_files.yaml_files(deploy):
        role = roles.get(f)
        if role is None:
            problems.append(f"{f}: named by no kustomization.yaml (resources or patches)")
        elif role in ("resource", "smp"):
            for i, d in enumerate(deploy_files.load_yaml(os.path.join(deploy, f))):
                if role == "smp":
                    d = strip_patch_directives(d)
                items.append({"where": f"{f}#{i}", "doc": d, "partial": role == "smp"})
        elif role == "json6902":
            problems += json_patch_problems(f, deploy_files.load_yaml(os.path.join(deploy, f)))
    outputs, render_problems = deploy_files.render_all(deploy)
    problems += render_problems
    for root, docs in outputs.items():
        for d in docs:
            items.append({"where": f"kustomize {root}: {d.get('kind')}/{d.get('metadata', {}).get('name')}",
                          "doc": d, "partial": False})
    return problems + validate(items), len(items)


class SchemaTest(unittest.TestCase):
    def test_deploy_is_valid(self):
        problems, n = check_tree(DEPLOY)
        self.assertEqual(problems, [])
        roots = deploy_files.kustomization_roots(DEPLOY)
        print(f"{n} objects valid ({len(roots)} kustomize roots: {', '.join(roots)}; renderers: "
              f"{', '.join(label for label, _ in deploy_files.renderers())})")
        for expected in ("base", "overlays/gpu", "overlays/scale-out", "examples/export-job",
                         "examples/training-sidecar", "cert-manager"):
            self.assertIn(expected, roots)

    def planted(self, rel, old, new):
        tmp = tempfile.mkdtemp(prefix="planted-")
        self.addCleanup(shutil.rmtree, tmp, True)
        tree = os.path.join(tmp, "deploy")
        shutil.copytree(DEPLOY, tree)
        path = os.path.join(tree, rel)
        with open(path) as fh:
            text = fh.read()
        self.assertEqual(text.count(old), 1, f"{old!r} in {rel}")
        with open(path, "w") as fh:
            fh.write(text.replace(old, new))
        return check_tree(tree)[0]

    def test_planted_wrong_type_fails(self):
        problems = self.planted("base/exportd-deployment.yaml", "  replicas: 1\n", '  replicas: "one"\n')
        hits = [p for p in problems if "/spec/replicas: type: must be integer" in p]
        wheres = {p.split(":")[0] for p in hits}
        # The raw file and every build that includes the base Deployment unchanged in that field.
        self.assertIn("base/exportd-deployment.yaml#0", wheres, problems)
        for root in ("base", "overlays/gpu"):
            self.assertIn(f"kustomize {root}", wheres, problems)

    def test_planted_unknown_field_fails(self):
        problems = self.planted("overlays/gpu/deployment-gpu.yaml", "          resources:\n",
                                "          imagePullPolicyy: Always\n          resources:\n")
        hits = [p for p in problems if 'unknown field "imagePullPolicyy"' in p]
        self.assertTrue(any(p.startswith("overlays/gpu/deployment-gpu.yaml#0: /spec/template/spec/containers/0/")
                            for p in hits), problems)
        self.assertTrue(any(p.startswith("kustomize overlays/gpu: Deployment/neobert-exportd: "
                                         "/spec/template/spec/containers/0/imagePullPolicyy") for p in hits), problems)
        # The base is untouched.
        self.assertFalse([p for p in problems if p.startswith("kustomize base:")], problems)

    def test_planted_unknown_top_level_and_unnamed_file_fail(self):
        problems = self.planted("base/networkpolicy.yaml", "spec:\n", "specs: {}\nspec:\n")
        self.assertTrue(any('/specs: unknown field "specs"' in p for p in problems), problems)
        tmp = tempfile.mkdtemp(prefix="planted-")
        self.addCleanup(shutil.rmtree, tmp, True)
        tree = os.path.join(tmp, "deploy")
        shutil.copytree(DEPLOY, tree)
        with open(os.path.join(tree, "base", "stray.yaml"), "w") as fh:
            fh.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        self.assertIn("base/stray.yaml: named by no kustomization.yaml (resources or patches)", check_tree(tree)[0])

    def test_planted_unknown_fields_in_kustomizations_and_json_patches_fail(self):
        # kustomize itself (every renderer) refuses an unknown kustomization field.
        problems = self.planted("base/kustomization.yaml", "resources:\n", "resourcez: []\nresources:\n")
        for _, kubectl in deploy_files.renderers():
            self.assertTrue(any(p.startswith(f"kubectl kustomize base ({kubectl}) failed")
                                and "unknown field" in p and "resourcez" in p for p in problems), problems)
        # An operation member kustomize would ignore.
        problems = self.planted("overlays/gpu/device-auto.yaml", "  value: auto\n",
                                "  value: auto\n  valeu: cpu\n")
        self.assertIn('overlays/gpu/device-auto.yaml/1/valeu: unknown field "valeu" (a add operation has '
                      "['path', 'value'])", problems)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    NODE = sys.argv[1]
    sys.argv[1:] = []
    unittest.main(verbosity=2)
