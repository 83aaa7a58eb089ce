"""deploy/ checked for what the schemas cannot know (manifest_checks.py says
what), and each kind of check shown to bite on a planted error.

Usage: test_manifests.py BIN_DIR   (the build's bin/, holding both binaries)

- the repository's deploy/ has no problem (every problem is printed);
- a copy of deploy/ with one planted mistake gives the problem naming it:
  an unknown server flag in the args, an unknown key in the mounted config
  file, a token on 0.0.0.0 without TLS, a probe without the CA, a default
  destination under the read-only checkpoints, NVIDIA_VISIBLE_DEVICES, the
  CUDA overlay without its GPU, a pod-level runAsUser beside the trainer, an
  overlay that sets the image tag, a secretGenerator, an undocumented
  Secret, two replicas in the base, a scale-out without its PDB, a scale-out
  passing the DSN in an environment variable the server does not read.
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import binary_flags  # noqa: E402
import deploy_files  # noqa: E402
import manifest_checks  # noqa: E402

DEPLOY = os.path.join(deploy_files.REPO, "deploy")
FLAGS = None


class ManifestTest(unittest.TestCase):
    def test_deploy_has_no_problem(self):
        check = manifest_checks.DeployCheck(DEPLOY, FLAGS)
        problems = check.run()
        self.assertEqual(problems, [], f"{len(problems)} problem(s) in deploy/:\n  " + "\n  ".join(problems))
        print(f"deploy/: {sum(len(r.docs) for r in check.roots.values())} objects in {len(check.roots)} "
              f"kustomize builds OK (renderers: {', '.join(label for label, _ in deploy_files.renderers())})")

    def planted(self, edits):
        """Problems of a copy of deploy/ with edits {file: [(old, new)]}; each
        old text must occur exactly once."""
        tmp = tempfile.mkdtemp(prefix="planted-")
        self.addCleanup(shutil.rmtree, tmp, True)
        tree = os.path.join(tmp, "deploy")
        shutil.copytree(DEPLOY, tree)
        for rel, pairs in edits.items():
            path = os.path.join(tree, rel)
            with open(path) as fh:
                text = fh.read()
            for old, new in pairs:
                self.assertEqual(text.count(old), 1, f"{old!r} in {rel}")
                text = text.replace(old, new)
            with open(path, "w") as fh:
                fh.write(text)
        return manifest_checks.DeployCheck(tree, FLAGS).run()

    def assertPlanted(self, edits, *expected):
        problems = self.planted(edits)
        for e in expected:
            self.assertTrue(any(e in p for p in problems), f"{e!r} not among:\n  " + "\n  ".join(problems))

    DEPLOYMENT = "base/exportd-deployment.yaml"
    CONFIG = "base/exportd-config.yaml"

    def test_unknown_server_flag(self):
        self.assertPlanted({self.DEPLOYMENT: [("            - /etc/neobert-export/config.yaml\n",
                                               "            - /etc/neobert-export/config.yaml\n"
                                               "            - --no-such-flag\n")]},
                           "base: Deployment/neobert-exportd container neobert-exportd: "
                           "neobert-exportd: unknown flag --no-such-flag")

    def test_unknown_config_key(self):
        self.assertPlanted({self.CONFIG: [("    workers: 1\n", "    workers: 1\n    worker-count: 2\n")]},
                           "--config /etc/neobert-export/config.yaml: key 'worker-count' is not a "
                           "neobert-exportd flag")

    def test_token_over_plaintext(self):
        self.assertPlanted({self.CONFIG: [("    tls-cert: /var/run/secrets/neobert-export/tls/tls.crt\n", ""),
                                          ("    tls-key: /var/run/secrets/neobert-export/tls/tls.key\n", "")]},
                           "a token on 0.0.0.0:50051 without TLS",
                           "readinessProbe: --tls-ca must be given exactly when the server serves TLS",
                           "base: the service must serve TLS")

    def test_probe_without_ca(self):
        probe = ("              command: [neobert-export, health, --server, 127.0.0.1:50051, --tls-ca,\n"
                 "                        /var/run/secrets/neobert-export/tls/ca.crt, --connect-timeout, \"2\"]\n"
                 "            periodSeconds: 20\n")
        self.assertPlanted({self.DEPLOYMENT: [(probe, probe.replace("--tls-ca,\n                        "
                                                                    "/var/run/secrets/neobert-export/tls/ca.crt, ",
                                                                    "\n                        "))]},
                           "livenessProbe: --tls-ca must be given exactly when the server serves TLS")

    def test_default_destination_under_the_checkpoints(self):
        self.assertPlanted({self.CONFIG: [("default-output-dir: /exports/{run}/{run}_{step}",
                                           "default-output-dir: /checkpoints/{run}/hf/{run}_{step}")]},
                           "default-output-dir /checkpoints/{run}/hf/{run}_{step} is not under an output root",
                           "default-output-dir /checkpoints/{run}/hf/{run}_{step} is not on a writable volume",
                           "examples/training-sidecar: exports to another place than the service's")

    def test_nvidia_visible_devices(self):
        self.assertPlanted({self.DEPLOYMENT: [("          ports:\n", "          env:\n"
                                               "            - name: NVIDIA_VISIBLE_DEVICES\n"
                                               "              value: all\n          ports:\n")]},
                           "container neobert-exportd: sets NVIDIA_VISIBLE_DEVICES")

    def test_cuda_image_without_a_gpu(self):
        resources = ("          resources:\n            requests:\n              nvidia.com/gpu: 1\n"
                     "            limits:\n              nvidia.com/gpu: 1\n")
        self.assertPlanted({"overlays/gpu/deployment-gpu.yaml": [(resources, "          imagePullPolicy: Always\n")]},
                           "overlays/gpu: Deployment/neobert-exportd container neobert-exportd: "
                           "the CUDA image without an nvidia.com/gpu: 1 limit")

    def test_pod_level_user_beside_the_trainer(self):
        self.assertPlanted({"examples/training-sidecar/training-job.yaml": [
            ("        fsGroup: 10001\n", "        fsGroup: 10001\n        runAsUser: 10001\n")]},
            "examples/training-sidecar: Job/neobert-train-my-run: pod-level runAsUser would force it")

    def test_overlay_sets_the_image_tag(self):
        self.assertPlanted({"overlays/gpu/kustomization.yaml": [("    newName: neobert-export-cuda\n",
                                                                 "    newName: neobert-export-cuda\n"
                                                                 "    newTag: latest\n")]},
                           "overlays/gpu: sets the image tag; only deploy/base does",
                           "overlays/gpu: Deployment/neobert-exportd container neobert-exportd: image "
                           "neobert-export-cuda:latest is not the project's version")

    def test_secret_generator_and_undocumented_secret(self):
        problems = self.planted({
            "base/kustomization.yaml": [("images:\n", "secretGenerator:\n  - name: neobert-exportd-token\n"
                                         "    literals: [token=changeme]\nimages:\n")],
            "README.md": [(l, "") for l in self._readme_lines_creating("neobert-exportd-job-store")]})
        for e in ("base: secretGenerator: document a kubectl create secret line instead",
                  "deploy/README.md has no 'kubectl create secret generic neobert-exportd-job-store' command"):
            self.assertTrue(any(e in p for p in problems), f"{e!r} not among:\n  " + "\n  ".join(problems))

    @staticmethod
    def _readme_lines_creating(secret):
        """The README's lines (with newline) that hold `kubectl create secret generic SECRET`."""
        with open(os.path.join(DEPLOY, "README.md")) as fh:
            lines = fh.read().splitlines(keepends=True)
        found = [l for l in lines if f"kubectl create secret generic {secret} " in l + " "]
        assert len(found) == len(set(found)) and found, f"{secret}: {found}"
        return found

    def test_base_with_two_replicas(self):
        self.assertPlanted({self.DEPLOYMENT: [("  replicas: 1\n", "  replicas: 2\n")]},
                           "base: the Deployment must be 1 replica with Recreate")

    def test_scale_out_without_its_pdb(self):
        self.assertPlanted({"overlays/scale-out/kustomization.yaml": [("resources:\n  - pdb.yaml\n", "")]},
                           "overlays/scale-out: no PodDisruptionBudget selects the service's pods")

    def test_scale_out_env_the_server_does_not_read(self):
        self.assertPlanted({"overlays/scale-out/deployment-scale-out.yaml": [
            ("- name: NEOBERT_JOB_STORE\n", "- name: NEOBERT_JOBSTORE\n")]},
            "overlays/scale-out: sets NEOBERT_JOBSTORE, which neobert-exportd --help does not name",
            "overlays/scale-out: NEOBERT_JOB_STORE must come from a documented Secret key")

    def test_pending_flags_are_not_in_help_yet(self):
        # A flag another branch adds is tolerated only while --help lacks it.
        for flag in binary_flags.PENDING_SERVER_FLAGS:
            self.assertNotIn(flag, FLAGS.server(), f"--{flag} landed: take it off PENDING_SERVER_FLAGS")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    FLAGS = binary_flags.Flags(sys.argv[1])
    sys.argv[1:] = []
    unittest.main(verbosity=2)
