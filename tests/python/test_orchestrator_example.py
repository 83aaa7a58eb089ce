"""examples/python/orchestrator.py against a real neobert-exportd (TLS and a
bearer token), including a server crash and restart in the middle.

1. Restart: the export pauses mid-write (pause gate, core/export/test_hooks.h);
   the server is SIGKILLed, the gate removed, and a new server started on the
   same port and state dir (SQLite job store). The example's WatchJob stream
   breaks, it reconnects once the server is back, resuming after the last
   sequence it saw; the restarted server runs the job again by itself, and
   the example follows it to SUCCEEDED with one submission: every sequence
   it saw is larger than the one before (they persist across the restart).
   The export is complete; the server lists one job under the key.
   With --max-attempts 1 the restarted server FAILs the job instead
   (INTERRUPTED, retryable: its server died under it on its only attempt);
   the example resubmits the same key, which runs the same job again.
2. Queue full: with one worker busy (gate) and a queue of one, the example's
   submission gets QUEUE_FULL with a retry delay; it waits and retries, and
   succeeds once the gate opens.
3. Not retryable: a checkpoint outside the roots (PATH_DENIED at submission)
   and a DeepSpeed-ZeRO-only step (CHECKPOINT_UNSUPPORTED after the job ran)
   end at once with exit 1 and the reason.

usage: /usr/bin/python3 test_orchestrator_example.py BIN_DIR FIXTURES_DIR STUBS_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orch_util as u  # noqa: E402
from test_server_ops import make_pki  # noqa: E402  (a CA, server and client certificates)

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "python", "orchestrator.py"))
BIN = FIXTURES = STUBS = None


class OrchestratorExample(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert-orch-")
        for d in ("in/run/checkpoints", "out", "state", "pki", "elsewhere"):
            os.makedirs(os.path.join(self.tmp, d))
        make_pki(os.path.join(self.tmp, "pki"))
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write("orchestrator-secret\n")
        self.gates = u.Gates(self.tmp)
        self.ckpt = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms",
                                os.path.join(self.tmp, "in", "run", "checkpoints", "100"))
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, port=0, extra=()):
        pki = os.path.join(self.tmp, "pki")
        s = u.Server(BIN, self.tmp, [
            "--input-root", os.path.join(self.tmp, "in"), "--output-root", os.path.join(self.tmp, "out"),
            "--state-dir", os.path.join(self.tmp, "state"), "--token-file", self.token_file,
            "--tls-cert", f"{pki}/server.pem", "--tls-key", f"{pki}/server.key",
            "--no-fsync", "--workers", "1", *extra], tag=f"server{len(self.servers)}",
            env=self.gates.env(), port=port)
        self.servers.append(s)
        return s

    def example(self, address, ckpt, out, *extra):
        return subprocess.Popen(
            ["/usr/bin/python3", EXAMPLE, ckpt, "-o", out, "--server", address,
             "--token-file", self.token_file, "--tls-ca", os.path.join(self.tmp, "pki", "ca.pem"),
             "--stubs", STUBS, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, p, timeout=300):
        out, err = p.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 1, out + err)
        return json.loads(lines[0]), err

    def restart_in_the_middle(self, *restart_flags):
        """Kills the server while the example's job writes, restarts it on the
        same port and state dir; returns (summary, stderr, server, jobs)."""
        out = os.path.join(self.tmp, "out", "run_100")
        self.gates.close("write")
        first = self.start()
        p = self.example(first.address, self.ckpt, out, "--idempotency-key", "run-100")
        self.gates.wait_reached("write")
        first.stop(signal.SIGKILL)
        self.gates.open("write")
        self.assertFalse(os.path.exists(out))
        second = self.start(port=first.port, extra=restart_flags)
        summary, err = self.finish(p)
        self.assertTrue(summary["ok"], err)
        self.assertEqual(p.returncode, 0, err)
        self.assertGreaterEqual(summary["reconnects"], 1, err)
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
        for entry in manifest["files"]:
            self.assertEqual(os.path.getsize(os.path.join(out, entry["name"])), entry["size"])
        # The events the example saw (it logs "job ID #SEQ ..."): sequences
        # only grow, also across the restart (the run number is their high half).
        seqs = [int(m) for m in re.findall(r"^orchestrator: job \S+ #(\d+) ", err, re.M)]
        self.assertEqual(seqs, sorted(set(seqs)), err)
        self.assertGreater(seqs[-1] >> 32, seqs[0] >> 32, err)
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "jobs", "-o", "json", "--server",
                            second.address, "--token-file", self.token_file, "--tls-ca",
                            os.path.join(self.tmp, "pki", "ca.pem")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        jobs = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([(j["state"], j["idempotency_key"]) for j in jobs], [("SUCCEEDED", "run-100")], jobs)
        self.assertEqual(summary["job_id"], jobs[0]["job_id"])
        self.assertEqual(second.stop(), 0)
        return summary, err

    def test_restart_in_the_middle(self):
        summary, err = self.restart_in_the_middle()
        self.assertEqual(summary["submissions"], 1, err)  # the store ran it again
        self.assertNotIn("INTERRUPTED", err)

    def test_restart_in_the_middle_out_of_attempts(self):
        summary, err = self.restart_in_the_middle("--max-attempts", "1")
        self.assertEqual(summary["submissions"], 2, err)  # the job FAILED retryably once
        self.assertIn("FAILED: INTERRUPTED", err)
        self.assertIn("INTERRUPTED (retryable)", err)

    def test_queue_full_then_success_and_non_retryable(self):
        server = self.start(extra=("--queue-capacity", "1"))
        self.gates.close("inspect")
        busy = self.example(server.address, self.ckpt, os.path.join(self.tmp, "out", "busy"))
        self.gates.wait_reached("inspect")  # the worker is taken
        queued = self.example(server.address, self.ckpt, os.path.join(self.tmp, "out", "queued"))
        u.wait_for(lambda: '"QUEUED"' in subprocess.run(
            [os.path.join(BIN, "neobert-export"), "jobs", "-o", "json", "--server", server.address,
             "--token-file", self.token_file, "--tls-ca", os.path.join(self.tmp, "pki", "ca.pem")],
            capture_output=True, text=True, timeout=60).stdout, "the second job to be queued")
        third = self.example(server.address, self.ckpt, os.path.join(self.tmp, "out", "third"))
        # Its stderr says it met QUEUE_FULL; only then is the worker freed.
        seen = []

        def saw_queue_full():
            line = third.stderr.readline()
            seen.append(line)
            return "QUEUE_FULL (retryable)" in line
        u.wait_for(saw_queue_full, "the example to meet QUEUE_FULL", interval=0)
        self.gates.open("inspect")
        for p in (busy, queued, third):
            summary, err = self.finish(p)
            self.assertTrue(summary["ok"], "".join(seen) + err)
        outside = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(self.tmp, "elsewhere", "1"))
        summary, err = self.finish(self.example(server.address, outside, os.path.join(self.tmp, "out", "x")))
        self.assertEqual((summary["ok"], summary["reason"], summary["retryable"], summary["submissions"]),
                         (False, "PATH_DENIED", False, 0), err)
        zero = u.make_zero_only_step(FIXTURES, os.path.join(self.tmp, "in", "run", "checkpoints", "7"))
        p = self.example(server.address, zero, os.path.join(self.tmp, "out", "z"))
        summary, err = self.finish(p)
        self.assertEqual(p.returncode, 1)
        self.assertEqual((summary["reason"], summary["submissions"]), ("CHECKPOINT_UNSUPPORTED", 1), err)
        self.assertEqual(summary["metadata"]["conversion"], "zero_to_fp32")
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    BIN, FIXTURES, STUBS = (os.path.abspath(a) for a in sys.argv[1:4])
    unittest.main(argv=sys.argv[:1], verbosity=2)
