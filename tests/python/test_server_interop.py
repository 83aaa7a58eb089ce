"""neobert-exportd against an independent client.

Compiles export_service.proto with `protoc --python_out` and talks to a real
neobert-exportd subprocess (loopback, port 0, bearer token) with
python3-grpcio's generic unary/stream calls: an export streamed to the end
(files re-hashed here), a validation of the result, the standard health
service, PERMISSION_DENIED for paths outside the roots, UNAUTHENTICATED
without the token, then SIGTERM: exit 0 and health gone.

usage: /usr/bin/python3 test_server_interop.py BIN_DIR FIXTURES_DIR
"""
import hashlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
SERVICE = "/neobert.exporter.v1.ExportService/"
BIN = FIXTURES = None
TOKEN = "interop-token-123"


def compile_proto(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(["protoc", f"--proto_path={PROTO_ROOT}", f"--python_out={out_dir}",
                    os.path.join(PROTO_ROOT, "neobert/exporter/v1/export_service.proto")], check=True)
    sys.path.insert(0, out_dir)
    return importlib.import_module("neobert.exporter.v1.export_service_pb2")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ServerInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert-interop-")
        cls.pb = compile_proto(os.path.join(cls.tmp, "py"))
        for d in ("in", "out", "state"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.ckpt = os.path.join(cls.tmp, "in", "ckpt")
        shutil.copytree(os.path.join(FIXTURES, "fp32_swiglu_rope_rms"), cls.ckpt)
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        # The log goes to a file: an undrained pipe would fill up with the
        # per-job log lines and block the server.
        cls.log_path = os.path.join(cls.tmp, "server.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen(
            [os.path.join(BIN, "neobert-exportd"), "--listen", "127.0.0.1:0",
             "--input-root", os.path.join(cls.tmp, "in"), "--output-root", os.path.join(cls.tmp, "out"),
             "--state-dir", os.path.join(cls.tmp, "state"), "--token-file", token_file,
             "--no-fsync", "--log-format", "json", "--grace-seconds", "5"],
            stdout=subprocess.PIPE, stderr=cls.log, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("listening on "):
            cls.proc.kill()
            cls.proc.wait()
            with open(cls.log_path) as f:
                raise RuntimeError(f"server did not start: {line!r} {f.read()}")
        cls.address = line.split()[-1]
        cls.channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(cls.channel).result(timeout=60)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        cls.channel.close()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def stream(self, method, request, token=TOKEN):
        call = self.channel.unary_stream(SERVICE + method,
                                         request_serializer=type(request).SerializeToString,
                                         response_deserializer=self.pb.JobEvent.FromString)
        md = [("authorization", f"Bearer {token}")] if token else []
        return list(call(request, metadata=md, timeout=120))

    def unary(self, method, request, response_type, token=TOKEN):
        call = self.channel.unary_unary(SERVICE + method,
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=response_type.FromString)
        md = [("authorization", f"Bearer {token}")] if token else []
        return call(request, metadata=md, timeout=30)

    def health(self):
        # grpc.health.v1.HealthCheckRequest{} is empty on the wire; the
        # response is field 1 (varint enum): b"\x08\x01" = SERVING.
        call = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda _: b"",
                                        response_deserializer=lambda b: b)
        raw = call(None, timeout=30)
        return raw[1] if len(raw) == 2 and raw[0] == 0x08 else 0

    def test_1_health_serving(self):
        self.assertEqual(self.health(), 1)

    def test_2_export_then_validate(self):
        out = os.path.join(self.tmp, "out", "exported")
        events = self.stream("ExportCheckpoint",
                             self.pb.ExportRequest(checkpoint_dir=self.ckpt, output_dir=out))
        self.assertGreaterEqual(len(events), 3)
        last = events[-1]
        self.assertEqual(last.state, self.pb.SUCCEEDED, last.error.message)
        self.assertTrue(last.HasField("result"))
        self.assertEqual(len({e.job_id for e in events}), 1)
        stages = [e.stage for e in events]
        self.assertIn("write", stages)
        self.assertIn("commit", stages)
        names = set()
        for f in last.result.files:
            path = os.path.join(out, f.name)
            self.assertEqual(os.path.getsize(path), f.size, f.name)
            self.assertEqual(sha256(path), f.sha256, f.name)
            names.add(f.name)
        self.assertIn("model.safetensors", names)
        self.assertIn("config.json", names)

        v = self.stream("ValidateExport", self.pb.ValidateRequest(export_dir=out))
        self.assertEqual(v[-1].state, self.pb.SUCCEEDED, v[-1].error.message)

        job = self.unary("GetJob", self.pb.GetJobRequest(job_id=last.job_id), self.pb.Job)
        self.assertEqual(job.state, self.pb.SUCCEEDED)
        self.assertEqual(job.kind, self.pb.EXPORT)
        jobs = self.unary("ListJobs", self.pb.ListJobsRequest(state=self.pb.SUCCEEDED),
                          self.pb.ListJobsResponse)
        self.assertIn(last.job_id, [j.job_id for j in jobs.jobs])
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("CancelJob", self.pb.CancelJobRequest(job_id=last.job_id), self.pb.Job)
        self.assertEqual(e.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    def test_3_permission_denied(self):
        outside = os.path.join(self.tmp, "state", "stolen")
        with self.assertRaises(grpc.RpcError) as e:
            self.stream("ExportCheckpoint",
                        self.pb.ExportRequest(checkpoint_dir=self.ckpt, output_dir=outside))
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertFalse(os.path.exists(outside))
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("SubmitExport",
                       self.pb.ExportRequest(checkpoint_dir=FIXTURES,
                                             output_dir=os.path.join(self.tmp, "out", "x")),
                       self.pb.Job)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_4_unauthenticated(self):
        for token in (None, "wrong"):
            with self.assertRaises(grpc.RpcError) as e:
                self.unary("ListJobs", self.pb.ListJobsRequest(), self.pb.ListJobsResponse, token=token)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(grpc.RpcError) as e:
                self.stream("ExportCheckpoint",
                            self.pb.ExportRequest(checkpoint_dir=self.ckpt,
                                                  output_dir=os.path.join(self.tmp, "out", "y")),
                            token=token)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out", "y")))

    def test_5_not_found(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.unary("GetJob", self.pb.GetJobRequest(job_id="job-nope"), self.pb.Job)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_6_bounded_load(self):
        """200 submits from 20 concurrent clients into a queue of 16 (one
        worker): every refusal is RESOURCE_EXHAUSTED and comes at once;
        retried, every job is accepted exactly once and succeeds."""
        import concurrent.futures
        import threading
        refused = []
        lock = threading.Lock()

        def client(c):
            ids = []
            for i in range(10):
                req = self.pb.ExportRequest(checkpoint_dir=self.ckpt,
                                            output_dir=os.path.join(self.tmp, "out", f"load-{c}-{i}"),
                                            write_pytorch_bin=False)
                while True:
                    start = time.monotonic()
                    try:
                        ids.append(self.unary("SubmitExport", req, self.pb.Job).job_id)
                        break
                    except grpc.RpcError as e:
                        with lock:
                            refused.append((e.code(), time.monotonic() - start))
                        if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                            raise
                        time.sleep(0.05)
            return ids

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            ids = [j for f in [pool.submit(client, c) for c in range(20)] for j in f.result()]
        submitted = time.monotonic() - t0
        self.assertEqual(len(ids), 200)
        self.assertEqual(len(set(ids)), 200)
        # 20 clients against one ~50 ms export at a time overflow 16 slots.
        self.assertGreater(len(refused), 0)
        self.assertTrue(all(code == grpc.StatusCode.RESOURCE_EXHAUSTED for code, _ in refused))
        self.assertLess(max(t for _, t in refused), 2.0)  # refused at once, not after queueing
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            jobs = self.unary("ListJobs", self.pb.ListJobsRequest(checkpoint_contains="/in/ckpt"),
                              self.pb.ListJobsResponse).jobs
            states = {j.job_id: j.state for j in jobs if j.job_id in set(ids)}
            if all(st == self.pb.SUCCEEDED for st in states.values()) and len(states) == 200:
                break
            self.assertFalse(any(st in (self.pb.FAILED, self.pb.CANCELLED) for st in states.values()))
            time.sleep(0.5)
        self.assertEqual(sum(st == self.pb.SUCCEEDED for st in states.values()), 200)
        sys.stderr.write(f"\nload: 200 accepted in {submitted:.2f} s after {len(refused)} "
                         f"RESOURCE_EXHAUSTED refusals (slowest {max(t for _, t in refused) * 1000:.1f} ms); "
                         f"all 200 SUCCEEDED {time.monotonic() - t0:.2f} s after the first submit\n")

    def test_9_sigterm_drains_and_exits(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0)
        with open(self.log_path) as f:
            err = f.read()
        self.assertIn("draining", err)
        # The jobs outlive the server in its SQLite store.
        import sqlite3
        db = sqlite3.connect(os.path.join(self.tmp, "state", "jobs.db"))
        try:
            self.assertGreaterEqual(db.execute("SELECT count(*) FROM jobs").fetchone()[0], 2)
        finally:
            db.close()


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
