"""Every error reason through the RPC, read the way any gRPC client reads it,
and every CLI exit code.

A real neobert-exportd (bearer token, --device cpu, one worker, a queue of
one, pause gates from core/export/test_hooks.h for deterministic timing) and
a python3-grpcio client with the build-time stubs: for each reason the call
fails with the expected gRPC code, and the `grpc-status-details-bin` trailer
holds a google.rpc.Status whose ErrorInfo names the reason (domain
neobert.exporter.v1, metadata naming what failed, "retryable") plus a
RetryInfo where there is a retry hint. Job-level reasons also end the
streaming call (its status is the job's) and sit in Job.error.

Reasons: UNAUTHENTICATED, PATH_DENIED, INVALID_REQUEST, CHECKPOINT_NOT_FOUND
(at submission, and a step deleted while its job waited), JOB_NOT_FOUND,
DEVICE_UNAVAILABLE, IDEMPOTENCY_KEY_REUSED, CHECKPOINT_INVALID,
CHECKPOINT_UNSUPPORTED (DeepSpeed ZeRO only), OUTPUT_EXISTS,
VALIDATION_FAILED (keeping the failing checks), QUEUE_FULL (with its retry
delay), CANCELLED, JOB_FINISHED, INTERNAL and DRAINING (new work at
shutdown, and the stream of a job the drain gave back to the job store: the
next start runs it and a watch resuming after the last sequence seen follows
it to SUCCEEDED). A validation whose checks fail is a SUCCEEDED job with
passed: false and an OK stream, strict included; SubmitValidate and
GetServerInfo answer (the SQLite job store, the replica id). INTERRUPTED
(lost leases, in-memory shutdown) is tested in tests/server/job_outcome_test.cc
and by the orchestrator example.

CLI exit codes 0..6: ok, invalid input, usage, unreachable, validation
failed, denied/unauthenticated, cancelled; with --json the result line says
the same (exit_code, reason) in-process and against the server.

usage: /usr/bin/python3 test_error_reasons.py BIN_DIR FIXTURES_DIR STUBS_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orch_util as u  # noqa: E402

BIN = FIXTURES = STUBS = None
pb = pb_grpc = status_pb2 = error_details_pb2 = None
TOKEN = "reasons-token-42"


class ErrorReasons(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert-reasons-")
        for d in ("in/run/checkpoints", "out", "state", "elsewhere"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.ckpt = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms",
                               os.path.join(cls.tmp, "in", "run", "checkpoints", "100"))
        cls.token_file = os.path.join(cls.tmp, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.gates = u.Gates(cls.tmp)
        cls.server = cls.start()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = pb_grpc.ExportServiceStub(cls.channel)

    @classmethod
    def start(cls, tag="server"):
        return u.Server(BIN, cls.tmp, [
            "--input-root", os.path.join(cls.tmp, "in"), "--output-root", os.path.join(cls.tmp, "out"),
            "--state-dir", os.path.join(cls.tmp, "state"), "--token-file", cls.token_file,
            "--no-fsync", "--device", "cpu", "--workers", "1", "--queue-capacity", "1",
            "--grace-seconds", "3"], tag=tag, env=cls.gates.env())

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        if cls.server.proc.poll() is None:
            cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers -------------------------------------------------------

    md = [("authorization", f"Bearer {TOKEN}")]

    def out(self, name):
        return os.path.join(self.tmp, "out", name)

    def fails(self, call, request, code, reason, retryable=False, **kwargs):
        with self.assertRaises(grpc.RpcError) as cm:
            result = call(request, metadata=kwargs.pop("metadata", self.md), timeout=60, **kwargs)
            if isinstance(result, grpc.Call):
                for _ in result:
                    pass
        d = u.Details(cm.exception, status_pb2, error_details_pb2)
        self.assertEqual((d.code, d.reason, d.retryable), (code, reason, retryable), d)
        self.assertEqual(d.domain, "neobert.exporter.v1", d)
        return d

    def stream_to_end(self, call, request):
        """Reads a job stream to its end: (events, Details or None)."""
        events = []
        try:
            for e in call(request, metadata=self.md):
                events.append(e)
            return events, None
        except grpc.RpcError as err:
            return events, u.Details(err, status_pb2, error_details_pb2)

    def export_request(self, ckpt, out, **kw):
        return pb.ExportRequest(checkpoint_dir=ckpt, output_dir=out, **kw)

    def cli(self, *args, server=True, timeout=300):
        argv = [os.path.join(BIN, "neobert-export"), *args]
        if server:
            argv += ["--server", self.server.address, "--token-file", self.token_file]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def result_line(self, stdout):
        lines = [json.loads(l) for l in stdout.splitlines() if l.strip()]
        results = [l for l in lines if l.get("event") == "result"]
        self.assertEqual(len(results), 1, stdout)
        self.assertIs(lines[-1], results[0])
        return results[0]

    def step(self, n, variant="fp32_swiglu_rope_rms"):
        return u.copy_step(FIXTURES, variant, os.path.join(self.tmp, "in", "run", "checkpoints", str(n)))

    # --- reasons at submission -----------------------------------------

    def test_a_refused_at_submission(self):
        s = self.stub
        self.fails(s.GetJob, pb.GetJobRequest(job_id="x"), "UNAUTHENTICATED", "UNAUTHENTICATED",
                   metadata=[])
        self.fails(s.GetJob, pb.GetJobRequest(job_id="x"), "UNAUTHENTICATED", "UNAUTHENTICATED",
                   metadata=[("authorization", "Bearer wrong")])
        outside = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(self.tmp, "elsewhere", "1"))
        self.fails(s.SubmitExport, self.export_request(outside, self.out("x")), "PERMISSION_DENIED",
                   "PATH_DENIED")
        self.fails(s.SubmitExport, self.export_request(self.ckpt, os.path.join(self.tmp, "elsewhere", "o")),
                   "PERMISSION_DENIED", "PATH_DENIED")
        self.fails(s.SubmitExport, self.export_request(self.ckpt, self.out("x"), dtype="int8"),
                   "INVALID_ARGUMENT", "INVALID_REQUEST")
        self.fails(s.SubmitExport, self.export_request("relative/ckpt", self.out("x")),
                   "INVALID_ARGUMENT", "INVALID_REQUEST")
        self.fails(s.SubmitExport, self.export_request(os.path.join(self.tmp, "in", "run", "checkpoints", "999"),
                                                       self.out("x")),
                   "NOT_FOUND", "CHECKPOINT_NOT_FOUND")
        d = self.fails(s.GetJob, pb.GetJobRequest(job_id="job-nope"), "NOT_FOUND", "JOB_NOT_FOUND")
        self.assertEqual(d.metadata.get("job_id"), "job-nope")
        self.fails(s.WatchJob, pb.WatchJobRequest(job_id="job-nope"), "NOT_FOUND", "JOB_NOT_FOUND")
        self.fails(s.SubmitExport, self.export_request(self.ckpt, self.out("x"), device="cuda:0"),
                   "FAILED_PRECONDITION", "DEVICE_UNAVAILABLE")
        # A malformed device name is the request's fault, not a missing device.
        self.fails(s.SubmitExport, self.export_request(self.ckpt, self.out("x"), device="gpu7"),
                   "INVALID_ARGUMENT", "INVALID_REQUEST")
        self.fails(s.SubmitValidate, pb.ValidateRequest(export_dir=self.out("x"), device="cuda:x"),
                   "INVALID_ARGUMENT", "INVALID_REQUEST")
        self.fails(s.SubmitValidate, pb.ValidateRequest(export_dir=outside), "PERMISSION_DENIED",
                   "PATH_DENIED")
        info = s.GetServerInfo(pb.GetServerInfoRequest(), metadata=self.md, timeout=30)
        self.assertEqual(list(info.input_roots), [os.path.realpath(os.path.join(self.tmp, "in"))])
        self.assertEqual((info.workers, info.queue_capacity, info.grace_seconds), (1, 1, 3))
        self.assertTrue(info.auth_required and info.accepting)
        self.assertEqual(info.store, "SQLite " + os.path.join(self.tmp, "state", "jobs.db"), info)
        self.assertTrue(info.replica_id, info)
        self.assertEqual(info.max_attempts, 3)
        self.assertTrue(info.version and info.device_policy.startswith("cpu"), info)
        self.assertEqual(list(info.gpus), [])

    # --- job-level reasons ----------------------------------------------

    def test_b_job_failures_end_the_stream_with_their_reason(self):
        s = self.stub
        # CHECKPOINT_INVALID: a truncated state_dict.pt.
        bad = self.step(201)
        path = os.path.join(bad, "state_dict.pt")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        events, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(bad, self.out("bad")))
        self.assertEqual((d.code, d.reason, d.retryable), ("INVALID_ARGUMENT", "CHECKPOINT_INVALID", False), d)
        final = events[-1]
        self.assertEqual(final.state, pb.FAILED)
        self.assertEqual(final.error.reason, pb.Status.CHECKPOINT_INVALID)
        self.assertEqual(final.error.message, d.message)
        self.assertTrue(final.HasField("result"), final)  # a failed job keeps what it found
        self.assertEqual(final.result.weights_file, os.path.realpath(path))
        job = s.GetJob(pb.GetJobRequest(job_id=final.job_id), metadata=self.md, timeout=30)
        self.assertEqual(job.error.reason, pb.Status.CHECKPOINT_INVALID)
        self.assertFalse(job.error.retryable)

        # CHECKPOINT_UNSUPPORTED: DeepSpeed ZeRO files only.
        zero = u.make_zero_only_step(FIXTURES, os.path.join(self.tmp, "in", "run", "checkpoints", "202"))
        events, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(zero, self.out("zero")))
        self.assertEqual((d.code, d.reason), ("FAILED_PRECONDITION", "CHECKPOINT_UNSUPPORTED"), d)
        self.assertEqual(d.metadata.get("conversion"), "zero_to_fp32", d)
        self.assertIn("zero_to_fp32", d.message)

        # OUTPUT_EXISTS: the destination holds something else.
        os.makedirs(self.out("taken"))
        open(os.path.join(self.out("taken"), "mine.txt"), "w").close()
        _, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(self.ckpt, self.out("taken")))
        self.assertEqual((d.code, d.reason, d.retryable), ("ALREADY_EXISTS", "OUTPUT_EXISTS", False), d)

        # INTERNAL: the file system refuses the staging folder's name, too
        # long by the suffix it adds (the lock file's name, 255 bytes, fits).
        long_out = self.out("x" * 249)
        _, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(self.ckpt, long_out))
        self.assertEqual((d.reason, d.retryable), ("INTERNAL", True), d)
        self.assertFalse(os.path.exists(long_out))

        # IDEMPOTENCY_KEY_REUSED: one key, two different requests.
        first = s.SubmitExport(self.export_request(self.ckpt, self.out("k1"), idempotency_key="k"),
                               metadata=self.md, timeout=30)
        again = s.SubmitExport(self.export_request(self.ckpt, self.out("k1"), idempotency_key="k"),
                               metadata=self.md, timeout=30)
        self.assertEqual(first.job_id, again.job_id)
        d = self.fails(s.SubmitExport, self.export_request(self.ckpt, self.out("k2"), idempotency_key="k"),
                       "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual((d.metadata.get("field"), d.metadata.get("job_id")), ("output_dir", first.job_id), d)
        events, d = self.stream_to_end(s.WatchJob, pb.WatchJobRequest(job_id=first.job_id))
        self.assertIsNone(d, d)
        self.assertEqual(events[-1].state, pb.SUCCEEDED)
        # Resuming after the final event's sequence still gets the final event.
        events2, _ = self.stream_to_end(
            s.WatchJob, pb.WatchJobRequest(job_id=first.job_id, after_sequence=events[-1].sequence))
        self.assertEqual([e.sequence for e in events2], [events[-1].sequence])

    def test_c_validation_reports(self):
        s = self.stub
        # VALIDATION_FAILED: the staged export is altered before it is
        # validated; nothing is published and the failing check is kept.
        self.gates.close("validate")
        it = s.ExportCheckpoint(self.export_request(self.ckpt, self.out("tampered")), metadata=self.md)
        self.gates.wait_reached("validate")
        staged = [n for n in os.listdir(os.path.join(self.tmp, "out")) if n.startswith(".tampered.partial")]
        self.assertEqual(len(staged), 1, staged)
        with open(os.path.join(self.tmp, "out", staged[0], "config.json"), "a") as f:
            f.write(" ")
        self.gates.open("validate")
        events = []
        with self.assertRaises(grpc.RpcError) as cm:
            for e in it:
                events.append(e)
        d = u.Details(cm.exception, status_pb2, error_details_pb2)
        self.assertEqual((d.code, d.reason, d.retryable), ("FAILED_PRECONDITION", "VALIDATION_FAILED", False), d)
        final = events[-1]
        checks = {c.name: c for c in final.result.checks}
        self.assertFalse(checks["manifest"].passed, checks)
        self.assertTrue(final.result.HasField("passed") and not final.result.passed)
        self.assertFalse(os.path.exists(self.out("tampered")))
        self.assertEqual(u.staging_leftovers(self.out("tampered")), [])

        # A validation whose checks fail is a report, not an error.
        good = self.out("good")
        events, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(self.ckpt, good))
        self.assertIsNone(d, d)
        broken = self.out("broken")
        shutil.copytree(good, broken)
        with open(os.path.join(broken, "config.json"), "a") as f:
            f.write(" ")
        events, d = self.stream_to_end(s.ValidateExport, pb.ValidateRequest(export_dir=broken))
        self.assertIsNone(d, d)
        self.assertEqual(events[-1].state, pb.SUCCEEDED)
        self.assertFalse(events[-1].result.passed)
        self.assertFalse(events[-1].HasField("error"))
        # SubmitValidate, and strict: the gelu fixture's random weights miss
        # the cosine thresholds, an advisory miss without strict, a failure
        # with it.
        gelu = self.step(250, "gelu")
        gelu_out = self.out("gelu")
        _, d = self.stream_to_end(s.ExportCheckpoint, self.export_request(gelu, gelu_out))
        self.assertIsNone(d, d)
        for strict, passed in ((False, True), (True, False)):
            job = s.SubmitValidate(pb.ValidateRequest(export_dir=gelu_out, source_dir=gelu, strict=strict),
                                   metadata=self.md, timeout=30)
            self.assertEqual(job.kind, pb.VALIDATE)
            events, d = self.stream_to_end(s.WatchJob, pb.WatchJobRequest(job_id=job.job_id))
            self.assertIsNone(d, d)
            self.assertEqual(events[-1].state, pb.SUCCEEDED)
            self.assertEqual(events[-1].result.passed, passed, events[-1].result)
            cosine = [c for c in events[-1].result.checks if c.name == "cosine_sanity"][0]
            self.assertFalse(cosine.passed)
            self.assertEqual(cosine.advisory, not strict)

        # CLI: 4 for a failed validation, in-process and on the server, and
        # the same result line.
        for server in (False, True):
            r = self.cli("validate", broken, "--json", *(() if server else ("--local",)), server=server)
            self.assertEqual(r.returncode, 4, r.stderr)
            res = self.result_line(r.stdout)
            self.assertEqual((res["ok"], res["exit_code"], res["state"], res["passed"]),
                             (False, 4, "SUCCEEDED", False), res)
            self.assertEqual(res["kind"], "validate")
            self.assertFalse({c["name"]: c for c in res["checks"]}["manifest"]["passed"])

    def test_d_queue_full_cancelled_finished_pruned(self):
        s = self.stub
        self.gates.close("inspect")
        pruned = self.step(301)
        a = s.SubmitExport(self.export_request(pruned, self.out("a")), metadata=self.md, timeout=30)
        self.gates.wait_reached("inspect")  # a runs (paused); the one worker is busy
        b = s.SubmitExport(self.export_request(self.ckpt, self.out("b")), metadata=self.md, timeout=30)
        self.assertEqual(b.state, pb.QUEUED)
        d = self.fails(s.SubmitExport, self.export_request(self.ckpt, self.out("c")), "RESOURCE_EXHAUSTED",
                       "QUEUE_FULL", retryable=True)
        self.assertEqual(d.retry_delay, 2.0, d)
        # CANCELLED: b, still queued; then JOB_FINISHED for a second cancel.
        s.CancelJob(pb.CancelJobRequest(job_id=b.job_id), metadata=self.md, timeout=30)
        _, d = self.stream_to_end(s.WatchJob, pb.WatchJobRequest(job_id=b.job_id))
        self.assertEqual((d.code, d.reason, d.retryable), ("CANCELLED", "CANCELLED", False), d)
        self.fails(s.CancelJob, pb.CancelJobRequest(job_id=b.job_id), "FAILED_PRECONDITION", "JOB_FINISHED")
        # CHECKPOINT_NOT_FOUND: a's step is pruned while it waits.
        shutil.rmtree(pruned)
        self.gates.open("inspect")
        events, d = self.stream_to_end(s.WatchJob, pb.WatchJobRequest(job_id=a.job_id))
        self.assertEqual((d.code, d.reason, d.retryable), ("NOT_FOUND", "CHECKPOINT_NOT_FOUND", False), d)
        self.assertIn(pruned, d.message)
        self.assertEqual(d.metadata.get("checkpoint_dir"), pruned)
        self.assertFalse(os.path.exists(self.out("a")))

    def test_e_cli_exit_codes(self):
        good = self.out("cli-ok")
        r = self.cli("export", self.ckpt, "-o", good, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        res = self.result_line(r.stdout)
        self.assertEqual((res["ok"], res["exit_code"], res["state"]), (True, 0, "SUCCEEDED"))
        self.assertTrue(res["job_id"].startswith("job-"))
        # 1: invalid input, the same result line in-process and remotely.
        missing = os.path.join(self.tmp, "in", "run", "checkpoints", "404")
        zero = u.make_zero_only_step(FIXTURES, os.path.join(self.tmp, "in", "run", "checkpoints", "405"))
        local = self.cli("export", zero, "-o", self.out("z1"), "--json", server=False)
        remote = self.cli("export", zero, "-o", self.out("z2"), "--json")
        for r in (local, remote):
            self.assertEqual(r.returncode, 1, r.stderr)
            res = self.result_line(r.stdout)
            self.assertEqual((res["exit_code"], res["reason"], res["code"], res["retryable"]),
                             (1, "CHECKPOINT_UNSUPPORTED", "FAILED_PRECONDITION", False), res)
            self.assertEqual(res["metadata"]["conversion"], "zero_to_fp32")
            self.assertIn("zero_to_fp32", r.stderr)
        self.assertEqual(set(self.result_line(local.stdout)) - {"job_id"},
                         set(self.result_line(remote.stdout)) - {"job_id"})
        r = self.cli("export", missing, "-o", self.out("m"), "--json")
        self.assertEqual((r.returncode, self.result_line(r.stdout)["reason"]), (1, "CHECKPOINT_NOT_FOUND"))
        r = self.cli("get", "job-nope")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("JOB_NOT_FOUND", r.stderr)
        # 2: usage.
        self.assertEqual(self.cli("export", self.ckpt, "--no-such-flag").returncode, 2)
        self.assertEqual(self.cli("jobs", "-o", "yaml").returncode, 2)
        # 3: nobody listens there.
        r = self.cli("jobs", "--server", "127.0.0.1:1", "--connect-timeout", "1", server=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        # 5: denied, unauthenticated.
        outside = u.copy_step(FIXTURES, "fp32_swiglu_rope_rms", os.path.join(self.tmp, "elsewhere", "2"))
        r = self.cli("export", outside, "-o", self.out("denied"), "--json")
        self.assertEqual(r.returncode, 5, r.stderr)
        res = self.result_line(r.stdout)
        self.assertEqual((res["reason"], res["state"]), ("PATH_DENIED", ""))
        bad_token = os.path.join(self.tmp, "bad-token")
        with open(bad_token, "w") as f:
            f.write("nope\n")
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "jobs", "--server", self.server.address,
                            "--token-file", bad_token], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("UNAUTHENTICATED", r.stderr)
        # 6: the job is cancelled while the CLI follows it.
        self.gates.close("inspect")
        p = subprocess.Popen([os.path.join(BIN, "neobert-export"), "export", self.ckpt, "-o",
                              self.out("cancelled"), "--json", "--server", self.server.address,
                              "--token-file", self.token_file],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = json.loads(p.stdout.readline())
        self.gates.wait_reached("inspect")
        r = self.cli("cancel", first["job_id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out, err = p.communicate(timeout=120)
        self.gates.open("inspect")
        self.assertEqual(p.returncode, 6, err)
        res = self.result_line(out)
        self.assertEqual((res["state"], res["reason"], res["exit_code"]), ("CANCELLED", "CANCELLED", 6))
        # get / jobs -o.
        r = self.cli("get", first["job_id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("state      CANCELLED", r.stdout)
        self.assertIn("reason     CANCELLED", r.stdout)
        r = self.cli("get", first["job_id"], "-o", "json")
        self.assertEqual(json.loads(r.stdout)["error"]["reason"], "CANCELLED")
        wide = self.cli("jobs", "-o", "wide")
        self.assertEqual(wide.returncode, 0, wide.stderr)
        self.assertIn("CHECKPOINT_UNSUPPORTED", wide.stdout)
        table = self.cli("jobs")
        self.assertEqual(len(table.stdout.splitlines()), len(wide.stdout.splitlines()))
        jobs = [json.loads(l) for l in self.cli("jobs", "-o", "json").stdout.splitlines()]
        self.assertEqual(len(jobs), len(table.stdout.splitlines()))

    def test_z_draining_gives_the_job_back(self):
        s = self.stub
        self.gates.close("write")
        job = s.SubmitExport(self.export_request(self.ckpt, self.out("stopped")), metadata=self.md, timeout=30)
        watch = s.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=self.md)
        self.gates.wait_reached("write")
        self.server.proc.send_signal(signal.SIGTERM)
        # While it drains (the paused job holds the grace period), new work
        # is refused as DRAINING with a retry hint.
        def draining():
            try:
                s.SubmitExport(self.export_request(self.ckpt, self.out("late")), metadata=self.md, timeout=30)
            except grpc.RpcError as err:
                d = u.Details(err, status_pb2, error_details_pb2)
                return d if d.reason == "DRAINING" else None
            return None
        d = u.wait_for(draining, "DRAINING", timeout=30)
        self.assertEqual((d.code, d.retryable, d.retry_delay), ("UNAVAILABLE", True, 2.0), d)
        # The grace period ends first: the job goes back to the job store and
        # its stream ends with DRAINING (watch it again), not with a final event.
        seen = []
        with self.assertRaises(grpc.RpcError) as cm:
            for e in watch:
                seen.append(e)
        d = u.Details(cm.exception, status_pb2, error_details_pb2)
        self.assertEqual((d.code, d.reason, d.retryable), ("UNAVAILABLE", "DRAINING", True), d)
        self.assertEqual(d.metadata.get("job_id"), job.job_id, d)
        self.assertTrue(seen and not any(e.HasField("result") or e.HasField("error") for e in seen), seen)
        self.assertEqual(self.server.stop(), 0)
        self.gates.open("write")
        self.assertFalse(os.path.exists(self.out("stopped")))
        self.assertEqual(u.staging_leftovers(self.out("stopped")), [])
        # The next start on the same state dir runs it; a watch resuming
        # after the last sequence seen follows it to the end.
        server = self.start("server-restarted")
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = pb_grpc.ExportServiceStub(channel)
                last = seen[-1].sequence
                events = []
                for e in stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id, after_sequence=last),
                                       metadata=self.md, timeout=300):
                    events.append(e)
                self.assertEqual(events[-1].state, pb.SUCCEEDED, events[-1])
                self.assertGreater(events[0].sequence, last)
                # Both streams together: every event once, in order; the job
                # ran, was given back (QUEUED: the first stream may have
                # delivered that event before it closed), and ran again.
                both = seen + events
                sequences = [e.sequence for e in both]
                self.assertEqual(sequences, sorted(set(sequences)))
                states = [e.state for e in both]
                ran = states.index(pb.RUNNING)
                requeued = states.index(pb.QUEUED, ran)
                self.assertIn(pb.RUNNING, states[requeued:])
                self.assertTrue(os.path.isfile(os.path.join(self.out("stopped"), "manifest.json")))
        finally:
            self.assertEqual(server.stop(), 0)

if __name__ == "__main__":
    BIN, FIXTURES, STUBS = (os.path.abspath(a) for a in sys.argv[1:4])
    pb, pb_grpc, status_pb2, error_details_pb2 = u.load_stubs(STUBS)
    unittest.main(argv=sys.argv[:1], verbosity=2)
