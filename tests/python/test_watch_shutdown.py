"""Watch mode when the trainer stops: the last checkpoint is never lost.

A Kubernetes native sidecar gets SIGTERM right after the trainer exits, so
the final step has not settled (--watch-poll-seconds 10 here, as by
default). neobert-exportd must export it anyway.

* A step written 1 s before SIGTERM is exported before the process exits
  (exit 0, destination complete, the log shows the final scan).
* Five steps written within the last settle window are all exported within
  the grace period, newest first.
* ... and when the grace period cannot cover them (the first export is held
  at a pause gate, core/export/test_hooks.h, --grace-seconds 2), each one is
  reported in the log and counted (neobert_export_watch_steps_unexported_total
  is printed into the summary line), and nothing half-done is left; their
  jobs stay queued in the job store, and the next start (--once) exports
  them all.
* --once exports every complete step under the watched folders (both
  trainer layouts: model_checkpoints/<step>/state_dict.pt and
  checkpoints/<step>/model.safetensors whose keys carry interleaved
  `_orig_mod.`/`module.` prefixes in varying orders), skips the already
  exported one, then exits 0; with a DeepSpeed-ZeRO-only step among them it
  exits 1, the job's error naming zero_to_fp32, the others exported.
* The same layouts in the running watcher and in `neobert-export export`.

usage: /usr/bin/python3 test_watch_shutdown.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orch_util as u  # noqa: E402

BIN = FIXTURES = None


class WatchShutdown(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert-watch-stop-")
        for d in ("in/runs", "out", "state"):
            os.makedirs(os.path.join(self.tmp, d))
        self.runs = os.path.join(self.tmp, "in", "runs")
        self.out = os.path.join(self.tmp, "out")
        self.gates = u.Gates(self.tmp)
        self.server = None

    def tearDown(self):
        if self.server and self.server.proc.poll() is None:
            self.server.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra, grace=60, poll=10):
        self.server = u.Server(BIN, self.tmp, [
            "--input-root", os.path.join(self.tmp, "in"), "--output-root", self.out,
            "--state-dir", os.path.join(self.tmp, "state"), "--no-fsync",
            "--grace-seconds", str(grace), "--watch-poll-seconds", str(poll),
            "--watch", self.runs, "--watch-output", self.out, *extra], env=self.gates.env())
        return self.server

    def exported(self, run, step):
        dest = os.path.join(self.out, f"{run}_{step}")
        manifest = os.path.join(dest, "manifest.json")
        if not os.path.isfile(manifest):
            return False
        with open(manifest) as f:
            m = json.load(f)
        for entry in m["files"]:
            self.assertEqual(os.path.getsize(os.path.join(dest, entry["name"])), entry["size"])
        return m

    def wait_log(self, text, timeout=60):
        return u.wait_for(lambda: text in self.server.read_log(), f"log line {text!r}", timeout)

    def test_step_written_just_before_sigterm_is_exported(self):
        self.start()
        self.wait_log("watch: following")
        step = u.copy_step(FIXTURES, "safetensors", os.path.join(self.runs, "r", "checkpoints", "700"))
        time.sleep(1)  # the scenario: SIGTERM one second after the step is written
        t0 = time.time()
        self.assertEqual(self.server.stop(), 0)
        elapsed = time.time() - t0
        m = self.exported("r", 700)
        self.assertTrue(m, self.server.read_log())
        self.assertEqual(m["source"]["checkpoint"], os.path.realpath(step))
        log = self.server.read_log()
        self.assertIn("watch: final scan: 1 complete step(s): 1 with a job", log)
        self.assertIn("0 did not finish in the grace period", log)
        self.assertLess(elapsed, 60)
        self.assertEqual(u.staging_leftovers(os.path.join(self.out, "r_700")), [])

    def test_five_steps_in_the_last_settle_window(self):
        self.start()
        self.wait_log("watch: following")
        steps = [100, 200, 300, 400, 500]
        for s in steps:
            u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(self.runs, "r", "model_checkpoints", str(s)))
        self.assertEqual(self.server.stop(), 0)
        for s in steps:
            self.assertTrue(self.exported("r", s), f"step {s} not exported\n{self.server.read_log()}")
        log = self.server.read_log()
        self.assertIn("5 step(s) had an export to finish, 0 did not finish", log)
        submitted = [int(m) for m in re.findall(r"watch: step (\d+) of r .* submitted", log)]
        self.assertEqual(submitted, sorted(steps, reverse=True))  # newest first

    def test_steps_the_grace_period_cannot_cover_are_reported(self):
        self.gates.close("write")
        self.start(grace=2)
        self.wait_log("watch: following")
        steps = [10, 20, 30, 40, 50]
        for s in steps:
            u.copy_step(FIXTURES, "safetensors", os.path.join(self.runs, "r", "checkpoints", str(s)))
        # SIGTERM; the gate holds every export before it could publish, so
        # none can finish within the 2 s of grace, however fast the machine.
        self.assertEqual(self.server.stop(), 0)
        self.gates.open("write")
        log = self.server.read_log()
        for s in steps:
            self.assertFalse(self.exported("r", s))
            self.assertEqual(u.staging_leftovers(os.path.join(self.out, f"r_{s}")), [])
            self.assertRegex(log, rf"watch: step {s} of r \(.*\): not exported: job job-\w+ QUEUED "
                                  r"\(it stays in the job store")
        self.assertIn("5 step(s) had an export to finish, 5 did not finish in the grace period", log)
        # They stayed queued in the job store: the next start (--once here)
        # exports every one of them, each by its queued job.
        self.start("--once")
        self.assertEqual(self.server.proc.wait(timeout=600), 0, self.server.read_log())
        self.server.stop()
        for s in steps:
            self.assertTrue(self.exported("r", s), f"step {s} not exported\n{self.server.read_log()}")
        self.assertIn("once: 5 step(s) exported, 0 already exported, 0 not exported", self.server.read_log())

    def layouts(self):
        """run a: model_checkpoints/ + state_dict.pt (100, 200; 100 exported
        already); run b: checkpoints/ + model.safetensors with mixed
        interleaved prefixes (300)."""
        a = os.path.join(self.runs, "a", "model_checkpoints")
        u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(a, "100"))
        u.copy_step(FIXTURES, "prefix_mixed", os.path.join(a, "200"))
        b = u.copy_step(FIXTURES, "safetensors_prefixed", os.path.join(self.runs, "b", "checkpoints", "300"))
        keys = u.mix_safetensors_prefixes(os.path.join(b, "model.safetensors"))
        self.assertTrue(any(k.startswith("module._orig_mod.") for k in keys))
        self.assertTrue(any(k.startswith("_orig_mod.module.") for k in keys))
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "export", os.path.join(a, "100"), "-o",
                            os.path.join(self.out, "a_100"), "--no-fsync"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return b

    def test_once_exports_every_complete_step_then_exits(self):
        b = self.layouts()
        self.start("--once")
        rc = self.server.proc.wait(timeout=600)
        self.server.stop()
        self.assertEqual(rc, 0, self.server.read_log())
        self.assertIn("once: 2 step(s) exported, 1 already exported, 0 not exported",
                      self.server.stdout_tail)
        for run, step in (("a", 100), ("a", 200), ("b", 300)):
            self.assertTrue(self.exported(run, step), (run, step))
        with open(os.path.join(self.out, "b_300", "config.json")) as f:
            self.assertEqual(json.load(f)["model_type"], "neobert")
        # A ZeRO-only step: exit 1, named conversion, the rest exported.
        u.make_zero_only_step(FIXTURES, os.path.join(self.runs, "b", "checkpoints", "400"))
        u.copy_step(FIXTURES, "safetensors", os.path.join(self.runs, "b", "checkpoints", "500"))
        self.start("--once")
        rc = self.server.proc.wait(timeout=600)
        self.server.stop()
        self.assertEqual(rc, 1)
        log = self.server.read_log()
        self.assertRegex(log, r"watch: step 400 of b .*not exported: job job-\w+ FAILED: .*zero_to_fp32")
        self.assertIn("once: 1 step(s) exported, 3 already exported, 1 not exported", self.server.stdout_tail)
        self.assertTrue(self.exported("b", 500))
        self.assertFalse(os.path.exists(os.path.join(self.out, "b_400")))

    def test_layouts_in_the_running_watcher_and_the_cli(self):
        b = self.layouts()
        zero = u.make_zero_only_step(FIXTURES, os.path.join(self.runs, "b", "checkpoints", "400"))
        self.start(poll=1)
        jobs = u.wait_for(lambda: (lambda js: js if len(js) == 3 and all(
            j["state"] in ("SUCCEEDED", "FAILED") for j in js) else None)(self.jobs()), "three watch jobs")
        by_step = {os.path.basename(j["checkpoint_dir"]): j for j in jobs}
        self.assertEqual(by_step["200"]["state"], "SUCCEEDED", by_step["200"])
        self.assertEqual(by_step["300"]["state"], "SUCCEEDED", by_step["300"])
        self.assertEqual(by_step["400"]["state"], "FAILED")
        err = by_step["400"]["error"]
        self.assertEqual(err["reason"], "CHECKPOINT_UNSUPPORTED", err)
        self.assertIn("zero_to_fp32", err["message"])
        self.assertEqual(err["metadata"]["conversion"], "zero_to_fp32")
        # Further scans (a new step gets exported) do not retry the ZeRO step.
        u.copy_step(FIXTURES, "safetensors", os.path.join(self.runs, "b", "checkpoints", "600"))
        u.wait_for(lambda: self.exported("b", 600), "step 600")
        self.assertEqual(len(self.jobs()), 4)
        self.assertEqual(self.server.stop(), 0)
        # The same checkpoints through the CLI, in-process.
        for ckpt, rc, needle in ((b, 0, ""), (zero, 1, "zero_to_fp32")):
            r = subprocess.run([os.path.join(BIN, "neobert-export"), "export", ckpt, "-o",
                                os.path.join(self.out, "cli_" + os.path.basename(ckpt)), "--json",
                                "--no-fsync"], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, rc, r.stderr)
            self.assertIn(needle, r.stderr)

    def jobs(self):
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "jobs", "-o", "json", "--server",
                            self.server.address], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines()]


if __name__ == "__main__":
    BIN, FIXTURES = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=sys.argv[:1], verbosity=2)
