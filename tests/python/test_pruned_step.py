"""A step dir deleted (pruned by the trainer's save_total_limit) while its
export is queued or running.

For each pause point of an export (core/export/test_hooks.h) — "inspect"
(queued: nothing read yet), "scan" (weights described, before the NaN scan),
"write" (weight files staged, mid-write), "validate" (staged, before the
staged export is validated), "commit" (validated, just before publishing) —
the step dir is removed while the export waits there. Each time: the job
FAILS with NOT_FOUND / CHECKPOINT_NOT_FOUND naming the step dir, there is no
destination and no staging folder, the server stays healthy and the next
export succeeds. Same for an export without staged validation ("commit" is
then the only check that notices).

In watch mode the watcher's job for a pruned step fails the same way and is
not retried: after further scans there is still exactly one job for it.

usage: /usr/bin/python3 test_pruned_step.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orch_util as u  # noqa: E402

BIN = FIXTURES = None


class PrunedStep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert-pruned-")
        self.run_dir = os.path.join(self.tmp, "in", "run")
        for d in ("in/run/checkpoints", "out", "state"):
            os.makedirs(os.path.join(self.tmp, d))
        self.gates = u.Gates(self.tmp)
        self.server = None

    def tearDown(self):
        if self.server and self.server.proc.poll() is None:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra):
        self.server = u.Server(BIN, self.tmp, [
            "--input-root", os.path.join(self.tmp, "in"), "--output-root", os.path.join(self.tmp, "out"),
            "--state-dir", os.path.join(self.tmp, "state"), "--no-fsync", *extra],
            env=self.gates.env())

    def cli(self, *args):
        r = subprocess.run([os.path.join(BIN, "neobert-export"), *args, "--server", self.server.address],
                           capture_output=True, text=True, timeout=300)
        return r

    def job(self, job_id):
        r = self.cli("get", job_id, "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def finished(self, job_id):
        return u.wait_for(lambda: (lambda j: j if j["state"] not in ("QUEUED", "RUNNING") else None)(
            self.job(job_id)), f"job {job_id} to finish")

    def assert_pruned_cleanly(self, job, step, dest):
        self.assertEqual(job["state"], "FAILED", job)
        self.assertEqual(job["error"]["reason"], "CHECKPOINT_NOT_FOUND", job)
        self.assertEqual(job["error"]["code"], 5, job)  # NOT_FOUND
        self.assertIn(step, job["error"]["message"])
        self.assertFalse(job["error"].get("retryable", False))
        self.assertFalse(os.path.exists(dest), f"{dest} was published from a pruned step")
        self.assertEqual(u.staging_leftovers(dest), [])
        self.assertEqual(self.cli("health").stdout.strip(), "SERVING")

    def test_pruned_at_every_point_of_an_export(self):
        self.start()
        cases = [(p, True) for p in u.POINTS] + [("commit", False)]
        for n, (point, validate) in enumerate(cases, start=1):
            with self.subTest(point=point, validate=validate):
                step = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms",
                                   os.path.join(self.run_dir, "checkpoints", str(n * 100)))
                dest = os.path.join(self.tmp, "out", f"e{n}")
                self.gates.close(point)
                r = self.cli("submit", step, "-o", dest, *(() if validate else ("--no-validate",)))
                self.assertEqual(r.returncode, 0, r.stderr)
                job_id = r.stdout.strip()
                self.gates.wait_reached(point)
                shutil.rmtree(step)
                self.gates.open(point)
                job = self.finished(job_id)
                self.assert_pruned_cleanly(job, os.path.realpath(os.path.dirname(step)) + "/" + str(n * 100),
                                           dest)
        # Still healthy: the next export works.
        step = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(self.run_dir, "checkpoints", "9"))
        r = self.cli("export", step, "-o", os.path.join(self.tmp, "out", "after"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.server.stop(), 0)

    def test_watch_mode_does_not_retry_a_pruned_step(self):
        step = u.copy_step(FIXTURES, "safetensors", os.path.join(self.run_dir, "checkpoints", "500"))
        self.gates.close("write")
        self.start("--watch", self.run_dir, "--watch-output", os.path.join(self.tmp, "out"),
                   "--watch-poll-seconds", "1")
        self.gates.wait_reached("write")
        shutil.rmtree(step)
        self.gates.open("write")
        jobs = u.wait_for(lambda: (lambda js: js if js and js[0]["state"] == "FAILED" else None)(
            [json.loads(l) for l in self.cli("jobs", "-o", "json").stdout.splitlines()]),
            "the watch job to fail")
        self.assert_pruned_cleanly(jobs[0], os.path.realpath(os.path.join(self.run_dir, "checkpoints")) + "/500",
                                   os.path.join(self.tmp, "out", "run_500"))
        # Later scans (each proven by a new step being exported) do not
        # retry it: one job for the pruned step, one per new step.
        for n in (601, 602, 603):
            u.copy_step(FIXTURES, "safetensors", os.path.join(self.run_dir, "checkpoints", str(n)))
            u.wait_for(lambda: os.path.isdir(os.path.join(self.tmp, "out", f"run_{n}")),
                       f"step {n} to be exported")
        jobs = [json.loads(l) for l in self.cli("jobs", "-o", "json").stdout.splitlines()]
        self.assertEqual([j["state"] for j in jobs], ["SUCCEEDED"] * 3 + ["FAILED"], jobs)  # newest first
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    BIN, FIXTURES = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=sys.argv[:1], verbosity=2)
