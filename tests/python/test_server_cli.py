"""The neobert-export client mode against a real neobert-exportd, and a crash.

CLI: health (0 serving, 3 unreachable), export --server streaming to a
verified folder, the same via NEOBERT_EXPORT_SERVER, --local staying
in-process, submit + watch, jobs filters, cancel of a finished job (exit 1),
a missing/wrong token (exit 1, nothing written).

Crash: SIGKILL the server while a ~200 MB export is in its write (or
staged-validation) stage;
nothing may appear at the destination; after a restart on the same state dir
(the SQLite job store) the server runs the job again by itself (attempt 2)
and it succeeds; submitting it again returns that same job.

usage: /usr/bin/python3 test_server_cli.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

BIN = FIXTURES = None
TOKEN = "cli-token-456"


class Server:
    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "neobert-exportd"), "--listen", "127.0.0.1:0",
             "--input-root", os.path.join(tmp, "in"), "--output-root", os.path.join(tmp, "out"),
             "--state-dir", os.path.join(tmp, "state"), "--token-file", os.path.join(tmp, "token"),
             "--no-fsync"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.split()[-1]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc.stdout.close()


class ServerCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert-cli-")
        for d in ("in", "out", "state"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.ckpt = os.path.join(cls.tmp, "in", "ckpt")
        shutil.copytree(os.path.join(FIXTURES, "fp32_swiglu_rope_rms"), cls.ckpt)
        cls.token_file = os.path.join(cls.tmp, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN)
        cls.server = Server(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(signal.SIGKILL)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, env=None, server=True, token=True, timeout=300):
        cmd = [os.path.join(BIN, "neobert-export"), *args]
        if server:
            cmd += ["--server", self.server.address]
        if token:
            cmd += ["--token-file", self.token_file]
        e = dict(os.environ)
        e.pop("NEOBERT_EXPORT_SERVER", None)
        e.update(env or {})
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)

    def out(self, name):
        return os.path.join(self.tmp, "out", name)

    def test_health(self):
        r = self.cli("health", token=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "SERVING")
        r = self.cli("health", "--server", "127.0.0.1:1", "--connect-timeout", "1",
                     server=False, token=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        r = self.cli("jobs", "--server", "127.0.0.1:1", "--connect-timeout", "1", server=False)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_export_remote_env_and_local(self):
        r = self.cli("export", self.ckpt, "-o", self.out("a"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("succeeded", r.stdout)
        self.assertTrue(os.path.isfile(os.path.join(self.out("a"), "manifest.json")))

        env = {"NEOBERT_EXPORT_SERVER": self.server.address}
        r = self.cli("export", self.ckpt, "-o", self.out("b"), "--json", env=env, server=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(events[-1]["event"], "result")
        self.assertEqual(events[-1]["state"], "SUCCEEDED")
        self.assertTrue(events[-1]["ok"])

        # --local ignores the environment: an in-process export, which can
        # write where the server may not.
        r = self.cli("export", self.ckpt, "-o", os.path.join(self.tmp, "local"), "--local",
                     "--no-fsync", env=env, server=False, token=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, "local", "manifest.json")))

        # Outside the output roots through the server: refused, exit 5.
        r = self.cli("export", self.ckpt, "-o", os.path.join(self.tmp, "nope"))
        self.assertEqual(r.returncode, 5)
        self.assertIn("output root", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nope")))

    def test_token(self):
        r = self.cli("export", self.ckpt, "-o", self.out("t"), token=False)
        self.assertEqual(r.returncode, 5)
        self.assertIn("authorization", r.stderr)
        bad = os.path.join(self.tmp, "bad-token")
        with open(bad, "w") as f:
            f.write("nope")
        r = self.cli("jobs", "--token-file", bad, token=False)
        self.assertEqual(r.returncode, 5)
        self.assertFalse(os.path.exists(self.out("t")))

    def test_submit_watch_jobs_cancel(self):
        r = self.cli("submit", self.ckpt, "-o", self.out("s"), "--idempotency-key", "cli-s")
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.strip()
        self.assertTrue(job.startswith("job-"), job)
        r = self.cli("submit", self.ckpt, "-o", self.out("s"), "--idempotency-key", "cli-s")
        self.assertEqual(r.stdout.strip(), job)
        r = self.cli("watch", job)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(self.out("s"), "config.json")))
        r = self.cli("jobs", "--state", "succeeded", "--checkpoint", "in/ckpt", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [json.loads(l)["job_id"] for l in r.stdout.splitlines()]
        self.assertIn(job, ids)
        r = self.cli("cancel", job)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already finished", r.stderr)
        r = self.cli("watch", "job-nope")
        self.assertEqual(r.returncode, 1)
        r = self.cli("validate", self.out("s"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_z_sigkill_mid_export_then_restart(self):
        import test_export_kill as kill_test  # torch + the ~200 MB checkpoint recipe
        kill_test.FIXTURES = FIXTURES
        big = os.path.join(self.tmp, "in", "big")
        kill_test.make_medium_checkpoint(big)
        dest = self.out("big")
        r = self.cli("submit", big, "-o", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.strip()
        watch = subprocess.Popen([os.path.join(BIN, "neobert-export"), "watch", job, "--json",
                                  "--server", self.server.address, "--token-file", self.token_file],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        killed_in_write = False
        for line in watch.stdout:
            e = json.loads(line)
            # Both stages run in the staging folder, before anything is
            # published (the server validates the staged export by default).
            if e.get("stage") in ("write", "validate") and e.get("state") == "RUNNING":
                self.server.stop(signal.SIGKILL)
                killed_in_write = True
                break
        watch.stdout.close()
        watch.wait(timeout=60)
        self.assertTrue(killed_in_write, "the export finished before it could be killed")
        self.assertNotEqual(watch.returncode, 0)
        self.assertFalse(os.path.exists(dest), "a killed export left its destination behind")

        type(self).server = Server(self.tmp)
        # The restarted server re-runs the job its predecessor died in.
        r = self.cli("watch", job, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        final = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(final["state"], "SUCCEEDED", final)
        kill_test.verify_export(self, dest)
        r = self.cli("jobs", "--json")
        jobs = {j["job_id"]: j for j in map(json.loads, r.stdout.splitlines())}
        self.assertEqual(jobs[job]["state"], "SUCCEEDED")
        r = self.cli("export", big, "-o", dest, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
