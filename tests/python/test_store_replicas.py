"""Several neobert-exportd replicas on one real PostgreSQL, and the SQLite
store's single-server rules. Real server processes, a real database (the
test PostgreSQL of scripts/pg_test_cluster.sh, a fresh database per test).

Replicas (3, --lease-seconds 3, --workers 2, one of them given its DSN
through NEOBERT_JOB_STORE):
* 300 small exports (the tiny fixture, --no-validate) submitted by 30
  concurrent clients spread over the replicas, each idempotency key sent
  twice to different replicas (a client whose replica is down goes to the
  next one); meanwhile the replica running a held job is SIGKILLed and
  restarted. Then: 300 jobs, each SUCCEEDED, one job per key, the
  post-export hook ran at least once per destination, only by that key's
  job, and at most once as a first attempt (hooks run at least once: a
  later attempt that finds its export already published runs the hook
  again, NEOBERT_JOB_ATTEMPT > 1), every manifest valid (sizes and SHA-256
  re-checked here).
* Takeover: the killed replica's held job is re-run by another replica; the
  time from the kill to SUCCEEDED is printed and must stay under lease +
  poll + a margin for a loaded machine.
* A WatchJob on another replica than the runner streams to the final event;
  a CancelJob sent to another replica stops a running ~200 MB export within
  2 s; a replica that drains (SIGTERM, --grace-seconds 1) while it runs
  such an export releases it to the store, exits 0, and another replica
  runs it to a valid export.
* No replica's log contains the DSN's password.
Holding a job: the post-export hook waits, for destinations named *hold*,
until a release file appears, after writing the server's pid ($PPID) next
to the export (that tells which replica runs it).

SQLite: a second server on the same --state-dir exits 2 naming the holder; a
job whose every run kills its server (hook: rm -rf the export so the next run
makes it again, then kill -9 $PPID) ends FAILED after --max-attempts 3
restarts.

usage: /usr/bin/python3 test_store_replicas.py BIN_DIR FIXTURES_DIR PG_DSN_FILE
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

from test_server_interop import compile_proto, sha256  # noqa: E402 (sys.path: this folder)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SERVICE = "/neobert.exporter.v1.ExportService/"
BIN = FIXTURES = DSN = None
SMALL = "fp32_swiglu_rope_rms"
LEASE = 3
JOBS, CLIENTS = 300, 30

HOOK = ('echo "$NEOBERT_JOB_ID $1 $NEOBERT_JOB_ATTEMPT" >> "$HOOK_LOG"; '
        'case "$1" in *hold*) echo $PPID > "$1.runner"; '
        'while [ ! -e "$1.release" ]; do sleep 0.05; done;; esac')


def fresh_database(tag):
    name = f"r_{tag}_{os.getpid()}"
    base = DSN.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", DSN, "-qc", sql], check=True, capture_output=True)
    return f"{base}/{name}"


def wait_for(cond, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    """One neobert-exportd; restartable with the same flags."""

    def __init__(self, tmp, name, args, env=None):
        self.tmp, self.name, self.args, self.env = tmp, name, args, env
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen([os.path.join(BIN, "neobert-exportd"), *self.args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            self.proc.wait()
            with open(self.log_path) as f:
                raise RuntimeError(f"{self.name} did not start: {line!r} {f.read()}")
        self.address = line.split()[-1]
        self.channel = grpc.insecure_channel(self.address)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.channel.close()
        self.log.close()

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.channel.close()
        self.log.close()
        return self.proc.returncode


class Replicas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert-replicas-")
        cls.pb = compile_proto(os.path.join(cls.tmp, "py"))
        for d in ("in", "out"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.small = os.path.join(cls.tmp, "in", "small")
        shutil.copytree(os.path.join(FIXTURES, SMALL), cls.small)
        cls.hook_log = os.path.join(cls.tmp, "hook.log")
        cls.dsn = fresh_database("replicas")
        common = ["--listen", "127.0.0.1:0", "--input-root", os.path.join(cls.tmp, "in"),
                  "--output-root", os.path.join(cls.tmp, "out"), "--no-fsync", "--workers", "2",
                  "--device", "cpu", "--queue-capacity", "1000", "--lease-seconds", str(LEASE),
                  "--max-attempts", "3", "--grace-seconds", "1", "--post-export-hook", HOOK]
        env = {"HOOK_LOG": cls.hook_log}
        cls.servers = [Server(cls.tmp, "r0", common + ["--job-store", cls.dsn], env),
                       Server(cls.tmp, "r1", common + ["--job-store", cls.dsn], env),
                       # The DSN from the environment, as a Kubernetes Secret gives it.
                       Server(cls.tmp, "r2", common, dict(env, NEOBERT_JOB_STORE=cls.dsn))]

    @classmethod
    def tearDownClass(cls):
        # Held hooks outlive a killed server (their own process group): let them go.
        for name in os.listdir(os.path.join(cls.tmp, "out")):
            if name.endswith(".runner"):
                open(os.path.join(cls.tmp, "out", name[:-len(".runner")] + ".release"), "w").close()
        for s in cls.servers:
            if s.proc.poll() is None:
                s.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def call(self, server, method, request, response, timeout=30):
        fn = server.channel.unary_unary(SERVICE + method, request_serializer=type(request).SerializeToString,
                                        response_deserializer=response.FromString)
        return fn(request, timeout=timeout)

    def get(self, server, job_id):
        return self.call(server, "GetJob", self.pb.GetJobRequest(job_id=job_id), self.pb.Job)

    def out(self, name):
        return os.path.join(self.tmp, "out", name)

    def runner_of(self, dest):
        """The server whose hook holds `dest` (after it has started)."""
        pid = int(wait_for(lambda: os.path.exists(dest + ".runner") and open(dest + ".runner").read().strip(),
                           what=f"the hook of {dest}"))
        return next(s for s in self.servers if s.proc.pid == pid)

    def all_jobs(self, server):
        jobs, token = [], ""
        while True:
            page = self.call(server, "ListJobs", self.pb.ListJobsRequest(page_size=100, page_token=token),
                             self.pb.ListJobsResponse)
            jobs.extend(page.jobs)
            token = page.next_page_token
            if not token:
                return jobs

    def submit(self, i, replica, key, out, avoid=None, **kw):
        """Submits to servers[replica], or the next live one (not `avoid`) if it is down."""
        req = self.pb.ExportRequest(checkpoint_dir=self.small, output_dir=out, idempotency_key=key,
                                    validate=False, **kw)
        for k in range(3):
            s = self.servers[(replica + k) % 3]
            if s is avoid:
                continue
            try:
                return self.call(s, "SubmitExport", req, self.pb.Job).job_id, s
            except ValueError:
                continue  # the test killed that replica: its channel is closed
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    raise
        raise AssertionError(f"no replica took {key}")

    def test_1_many_jobs_kill_takeover_watch(self):
        hold = self.out("takeover-hold")
        hold_id, _ = self.submit(0, 0, "hold-1", hold)
        victim = self.runner_of(hold)
        ids, lock, errors = {}, threading.Lock(), []
        submitted = threading.Semaphore(0)

        def client(c):
            try:
                for i in range(c, JOBS, CLIENTS):
                    key, first = f"k-{i}", i % 3
                    a, sa = self.submit(i, first, key, self.out(f"j{i}"))
                    b, sb = self.submit(i, first + 1, key, self.out(f"j{i}"), avoid=sa)
                    with lock:
                        ids[key] = (a, b, sa.name, sb.name)
                    submitted.release()
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))
                submitted.release()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for _ in range(JOBS // 3):
            submitted.acquire()
        # Mid-run: the replica holding a job dies.
        killed_at = time.monotonic()
        victim.kill()
        # The dead server's hook may go; so may the one the re-run starts (it
        # finds the export published, and its first attempt's hook may not
        # have run: hooks run at least once).
        open(hold + ".release", "w").close()
        others = [s for s in self.servers if s is not victim]
        job = wait_for(lambda: (j := self.get(others[0], hold_id)).state == self.pb.SUCCEEDED and j,
                       timeout=LEASE + 60, what="the takeover")
        takeover = time.monotonic() - killed_at
        victim.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        sys.stderr.write(f"\ntakeover: the killed replica's job SUCCEEDED elsewhere {takeover:.2f} s after "
                         f"the kill (lease {LEASE} s)\n")
        self.assertLess(takeover, LEASE + 10)
        self.assertTrue(job.result.skipped, "the re-run found the export the first run published")

        # A watch on another replica than the runner streams to the end.
        watched = self.out("watch-hold")
        watch_id, _ = self.submit(0, 1, "hold-2", watched)
        runner = self.runner_of(watched)
        other = next(s for s in self.servers if s is not runner)
        stream = other.channel.unary_stream(SERVICE + "WatchJob",
                                            request_serializer=self.pb.WatchJobRequest.SerializeToString,
                                            response_deserializer=self.pb.JobEvent.FromString)
        events = stream(self.pb.WatchJobRequest(job_id=watch_id), timeout=120)
        first = next(events)
        self.assertEqual(first.state, self.pb.RUNNING)
        open(watched + ".release", "w").close()
        rest = list(events)
        self.assertEqual(rest[-1].state, self.pb.SUCCEEDED)
        self.assertTrue(rest[-1].HasField("result"))
        seqs = [first.sequence] + [e.sequence for e in rest]
        self.assertEqual(seqs, sorted(seqs))

        # Every job done; one job per key; every export made once and valid.
        def done():
            jobs = [j for j in self.all_jobs(self.servers[0]) if j.idempotency_key.startswith("k-")]
            return len(jobs) == JOBS and all(j.state == self.pb.SUCCEEDED for j in jobs) and jobs
        jobs = wait_for(done, timeout=300, what="300 jobs SUCCEEDED")
        elapsed = time.monotonic() - t0
        self.assertEqual(len({j.idempotency_key for j in jobs}), JOBS, "a key with two jobs")
        by_key = {j.idempotency_key: j.job_id for j in jobs}
        for key, (a, b, sa, sb) in ids.items():
            self.assertEqual(a, b, f"{key}: {sa} and {sb} answered different jobs")
            self.assertNotEqual(sa, sb)
            self.assertEqual(by_key[key], a)
        with open(self.hook_log) as f:
            runs = [line.split() for line in f if line.strip()]
        for i in range(JOBS):
            # At least once, by the key's one job; a second run only by a
            # later attempt (its first attempt's server was killed after
            # publishing the export).
            hooks = [(job_id, int(attempt)) for job_id, dest, attempt in runs
                     if dest == self.out(f"j{i}")]
            self.assertGreaterEqual(len(hooks), 1, f"j{i}: the hook never ran")
            self.assertEqual({job_id for job_id, _ in hooks}, {by_key[f"k-{i}"]}, f"j{i}: {hooks}")
            self.assertLessEqual(sum(attempt == 1 for _, attempt in hooks), 1, f"j{i}: {hooks}")
            dest = self.out(f"j{i}")
            with open(os.path.join(dest, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual({e["name"] for e in manifest["files"]}, set(os.listdir(dest)) - {"manifest.json"})
            for e in manifest["files"]:
                path = os.path.join(dest, e["name"])
                self.assertEqual((os.path.getsize(path), sha256(path)), (e["size"], e["sha256"]), path)
        sys.stderr.write(f"replicas: {JOBS} jobs (each key twice) done {elapsed:.1f} s after the first submit\n")

    @classmethod
    def medium(cls):
        import test_export_kill  # torch + the ~200 MB checkpoint recipe
        test_export_kill.FIXTURES = FIXTURES
        path = os.path.join(cls.tmp, "in", "medium")
        if not os.path.isdir(path):
            test_export_kill.make_medium_checkpoint(path)
        return path

    def runner_from_logs(self, job_id):
        def runner():
            for s in self.servers:
                with open(s.log_path) as f:
                    if any(job_id in line and line.rstrip().endswith("started") for line in f):
                        return s
            return None
        return wait_for(runner, what=f"{job_id} to start")

    def test_2_cancel_on_another_replica(self):
        job = self.call(self.servers[0], "SubmitExport",
                        self.pb.ExportRequest(checkpoint_dir=self.medium(), output_dir=self.out("cancelled")),
                        self.pb.Job)
        r = self.runner_from_logs(job.job_id)
        other = self.servers[(self.servers.index(r) + 1) % 3]
        asked = time.monotonic()
        c = self.call(other, "CancelJob", self.pb.CancelJobRequest(job_id=job.job_id), self.pb.Job)
        self.assertEqual(c.state, self.pb.RUNNING, "the export ended before the cancel")
        wait_for(lambda: self.get(other, job.job_id).state == self.pb.CANCELLED, timeout=30, what="CANCELLED")
        stopped = time.monotonic() - asked
        sys.stderr.write(f"\ncancel: sent to {other.name}, the job on {r.name} CANCELLED after {stopped:.2f} s\n")
        self.assertLess(stopped, 2.0)
        self.assertFalse(os.path.exists(self.out("cancelled")))

    def test_3_drain_hands_over(self):
        import test_export_kill
        dest = self.out("drained")
        job = self.call(self.servers[1], "SubmitExport",
                        self.pb.ExportRequest(checkpoint_dir=self.medium(), output_dir=dest), self.pb.Job)
        leaving = self.runner_from_logs(job.job_id)
        staying = next(s for s in self.servers if s is not leaving)
        # SIGTERM with --grace-seconds 1: the export is still running then.
        self.assertEqual(leaving.stop(), 0)
        with open(leaving.log_path) as f:
            self.assertIn(f"job {job.job_id} released to the store", f.read())
        wait_for(lambda: self.get(staying, job.job_id).state in (self.pb.SUCCEEDED, self.pb.FAILED),
                 timeout=300, what="the handed-over job")
        self.assertEqual(self.get(staying, job.job_id).state, self.pb.SUCCEEDED)
        test_export_kill.verify_export(self, dest)
        leaving.start()

    def test_4_no_password_in_logs(self):
        password = self.dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        for s in self.servers:
            with open(s.log_path) as f:
                text = f.read()
            self.assertIn("PostgreSQL", text)
            self.assertNotIn(password, text, s.name)
        bad = self.dsn.replace(password, "wrong-" + password)
        r = subprocess.run([os.path.join(BIN, "neobert-exportd"), "--job-store", bad, "--listen", "127.0.0.1:0",
                            "--input-root", self.tmp, "--output-root", self.tmp],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("PostgreSQL", r.stderr)
        self.assertNotIn(password, r.stderr + r.stdout)


class SqliteSingleServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert-sqlite-")
        for d in ("in", "out", "state"):
            os.makedirs(os.path.join(self.tmp, d))
        self.small = os.path.join(self.tmp, "in", "small")
        shutil.copytree(os.path.join(FIXTURES, SMALL), self.small)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def args(self, *extra):
        return ["--listen", "127.0.0.1:0", "--input-root", os.path.join(self.tmp, "in"),
                "--output-root", os.path.join(self.tmp, "out"), "--state-dir", os.path.join(self.tmp, "state"),
                "--no-fsync", "--device", "cpu", *extra]

    def test_second_server_on_the_state_dir_exits_2(self):
        first = Server(self.tmp, "first", self.args())
        try:
            r = subprocess.run([os.path.join(BIN, "neobert-exportd"), *self.args()],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"pid {first.proc.pid}", r.stderr)
            self.assertIn("in use by another neobert-exportd", r.stderr)
            self.assertIn("postgresql://", r.stderr)
        finally:
            self.assertEqual(first.stop(), 0)

    def test_job_killing_its_server_fails_after_max_attempts(self):
        # The export is published when the hook runs: removing it makes the
        # next run export (and so hook, and kill) again.
        hook = 'case "$1" in *poison*) rm -rf "$1"; kill -9 $PPID;; esac'
        args = self.args("--post-export-hook", hook, "--max-attempts", "3")
        server = Server(self.tmp, "s", args)
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "submit", self.small, "-o",
                            os.path.join(self.tmp, "out", "poison"), "--no-validate",
                            "--server", server.address], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        job_id = r.stdout.strip()
        for attempt in range(1, 4):
            self.assertEqual(server.proc.wait(timeout=120), -signal.SIGKILL, f"attempt {attempt}")
            server.log.close()
            server.start()  # re-runs the job (attempt 2, 3), or fails it after the third loss
        r = wait_for(lambda: (r := subprocess.run(
            [os.path.join(BIN, "neobert-export"), "jobs", "--json", "--server", server.address],
            capture_output=True, text=True, timeout=60)) and '"FAILED"' in r.stdout and r, what="FAILED")
        job = next(j for j in map(json.loads, r.stdout.splitlines()) if j["job_id"] == job_id)
        self.assertEqual(job["state"], "FAILED")
        self.assertIn("--max-attempts 3", job["error"]["message"])
        self.assertEqual(server.stop(), 0)

    def test_export_published_by_a_dead_server_still_gets_its_hook(self):
        # Attempt 1 publishes the export, then its server dies before the
        # hook does anything (the hook kills it first). Attempt 2, after the
        # restart, finds the export complete: it is not made again, and the
        # hook runs for it, told it is attempt 2.
        log = os.path.join(self.tmp, "hook.log")
        hook = ('if [ "$NEOBERT_JOB_ATTEMPT" = 1 ]; then kill -9 $PPID; exit 0; fi; '
                f'echo "$NEOBERT_JOB_ID $NEOBERT_JOB_ATTEMPT $1" >> {log}')
        server = Server(self.tmp, "s", self.args("--post-export-hook", hook))
        dest = os.path.join(self.tmp, "out", "published")
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "submit", self.small, "-o", dest,
                            "--no-validate", "--server", server.address],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        job_id = r.stdout.strip()
        self.assertEqual(server.proc.wait(timeout=120), -signal.SIGKILL)
        self.assertTrue(os.path.exists(os.path.join(dest, "manifest.json")), "attempt 1 published")
        server.log.close()
        server.start()
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "watch", job_id, "--json",
                            "--server", server.address], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual(result["state"], "SUCCEEDED")
        self.assertTrue(result["skipped"], "attempt 2 found the export and did not make it again")
        self.assertTrue(result["hook_ran"])
        self.assertEqual(result["hook_exit_code"], 0)
        with open(log) as f:
            self.assertEqual(f.read().split(), [job_id, "2", dest])
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(sys.argv[3]) as f:
        DSN = f.read().strip()
    unittest.main(argv=sys.argv[:1], verbosity=2)
