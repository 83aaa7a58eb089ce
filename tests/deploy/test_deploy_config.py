"""The server with deploy/base's configuration: a request without output_dir
succeeds and lands at the default destination.

Usage: test_deploy_config.py BIN_DIR FIXTURES_DIR

deploy_run.py lays out the files the Deployment and the export Job mount
(the ConfigMap's config.yaml as it is, the token, a TLS Secret, the Job's
checkpoint) under a temporary FS; here every mounted path P becomes FS/P in
the config and the commands, and the listeners move to loopback port 0
(flags after --config win). Then, with the built binaries:
- the Deployment's readiness probe command passes (TLS with the Secret's CA);
- the export Job's command (TLS, token, no --output) exits 0 and the export
  is at the config's default-output-dir, FS/exports/<run>/<run>_<step>, valid;
- without the token the same command is refused (missing bearer token, exit 1);
- watch mode with the same config and no --watch-output exports a new step
  of the run to the same pattern (the sidecar's and the service's places agree);
- a pattern outside the output roots stops the server at start (exit 2).
scripts/image-test.sh runs the same commands verbatim inside the image.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_run  # noqa: E402

BIN = FIXTURES = None


class Server:
    def __init__(self, argv, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()  # blocks until the server has bound (or exited)
        m = re.match(r"listening on (\S+)", line)
        if not m:
            self.proc.wait(timeout=30)
            raise AssertionError(f"server did not start (exit {self.proc.returncode}): {open(log).read()}")
        self.address = m.group(1)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=120)
        self.proc.stdout.close()
        self.log.close()
        return rc


class DeployConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="deploy-config-")
        self.fs = os.path.join(self.tmp, "fs")
        self.plan = deploy_run.Plan()
        self.host = deploy_run.lay_out(self.plan, self.fs, FIXTURES)
        self.mounts = sorted(set(self.plan.mounts) | {"/checkpoints"}, key=len, reverse=True)
        # The ConfigMap's file with its paths mapped into FS.
        config_dir, data = self.plan.config_text()
        self.config = os.path.join(self.host(config_dir), "config.yaml")
        cfg = self.mapped(yaml.safe_load(data["config.yaml"]))
        with open(self.config, "w") as fh:
            yaml.safe_dump(cfg, fh)
        self.settings = cfg

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def mapped(self, value):
        """Container paths (under a mount) -> FS paths, in strings, lists and maps."""
        if isinstance(value, dict):
            return {k: self.mapped(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mapped(v) for v in value]
        if isinstance(value, str):
            for m in self.mounts:
                if value == m or value.startswith(m + "/"):
                    return self.host(m) + value[len(m):]
        return value

    def command(self, argv):
        return [os.path.join(BIN, argv[0])] + [self.mapped(a) for a in argv[1:]]

    def start(self, *extra, log="server.log"):
        argv = self.command(self.plan.server_argv) + ["--listen", "127.0.0.1:0",
                                                      "--metrics-listen", "127.0.0.1:0", *extra]
        return Server(argv, os.path.join(self.tmp, log))

    def at(self, argv, address):
        """A client command aimed at the server under test instead of the Service."""
        out = []
        for a in argv:
            out.append(address if re.fullmatch(r"(neobert-exportd|127\.0\.0\.1):\d+", a) else a)
        return out

    def run_cmd(self, argv, timeout=600):
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def test_export_without_output_dir_lands_at_the_default_destination(self):
        server = self.start()
        try:
            probe = self.run_cmd(self.at(self.command(self.plan.probe_argv), server.address))
            self.assertEqual(probe.returncode, 0, probe.stdout + probe.stderr)
            job = self.at(self.command(self.plan.job_argv), server.address)
            self.assertNotIn("--output", job)
            r = self.run_cmd(job)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            expected = self.host(self.plan.expected_output())
            self.assertEqual(expected, os.path.join(self.fs, "exports", "my-run", "my-run_100000"))
            self.assertTrue(os.path.isfile(os.path.join(expected, "manifest.json")), r.stdout)
            v = self.run_cmd([os.path.join(BIN, "neobert-export"), "validate", expected, "--source",
                              self.host(self.plan.checkpoint)])
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            # The token is required: the same command without it is refused.
            i = job.index("--token-file")
            r = self.run_cmd(job[:i] + job[i + 2:])
            self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
            self.assertIn("missing 'authorization: Bearer <token>'", r.stdout + r.stderr)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_watch_mode_uses_the_same_destination(self):
        run_dir = os.path.dirname(os.path.dirname(self.host(self.plan.checkpoint)))
        step = os.path.join(run_dir, "model_checkpoints", "200")
        shutil.copytree(self.host(self.plan.checkpoint), step)
        shutil.rmtree(self.host(self.plan.checkpoint))
        server = self.start("--watch", run_dir, "--watch-poll-seconds", "1", "--watch-mode", "poll",
                            log="watch.log")
        expected = os.path.join(self.fs, "exports", "my-run", "my-run_200", "manifest.json")
        try:
            deadline = time.monotonic() + 300
            while not os.path.isfile(expected) and time.monotonic() < deadline and server.proc.poll() is None:
                time.sleep(0.2)
            with open(os.path.join(self.tmp, "watch.log")) as fh:
                self.assertTrue(os.path.isfile(expected), fh.read())
        finally:
            self.assertEqual(server.stop(), 0)

    def test_a_pattern_outside_the_output_roots_stops_the_server(self):
        argv = self.command(self.plan.server_argv) + [
            "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
            "--default-output-dir", self.host("/checkpoints") + "/{run}/hf/{run}_{step}"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--default-output-dir", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    BIN, FIXTURES = sys.argv[1:3]
    sys.argv[1:] = []
    unittest.main(verbosity=2)
