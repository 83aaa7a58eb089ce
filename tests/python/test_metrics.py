"""neobert-exportd's Prometheus metrics and structured job logs, end to end.

Starts the server with --metrics-listen 127.0.0.1:0 --log-format json and one
worker, then: scrapes /metrics before; submits a ~200 MB export and two small
ones behind it and scrapes while the big one runs (one running, the others
queued, nothing finished yet); follows the jobs, streams one more export,
validates an export and lists the jobs through the CLI; scrapes after. The
exposition text is parsed here (a small parser of the text format) and the
counters and histograms must have moved by exactly what was done: jobs_total
+1 per job, duration _count +1 per job, bytes_written = the sum of the
exports' manifest file sizes, RPCs by method and code, queue back to 0.
Finally the server is stopped and its JSON log read: every line about a job
carries job_id and checkpoint, and each job has exactly one summary line.

usage: /usr/bin/python3 test_metrics.py BIN_DIR FIXTURES_DIR
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_server_interop as interop  # noqa: E402  (its proto compiler)

BIN = FIXTURES = None
SERVICE = "neobert.exporter.v1.ExportService/"


# --- a small parser of the Prometheus text format (0.0.4) ---------------------

def _parse_labels(text, i):
    """Parses `{a="x",b="y"}` starting at text[i] == '{'; returns (dict, next i)."""
    labels = {}
    i += 1
    while True:
        while text[i] in " ,":
            i += 1
        if text[i] == "}":
            return labels, i + 1
        eq = text.index("=", i)
        name = text[i:eq].strip()
        if text[eq + 1] != '"':
            raise ValueError(f"label value not quoted: {text!r}")
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                nxt = text[j + 1]
                value.append({"n": "\n", "\\": "\\", '"': '"'}[nxt])
                j += 2
            else:
                value.append(text[j])
                j += 1
        labels[name] = "".join(value)
        i = j + 1


def parse_exposition(text):
    """Returns (samples, types, helps): samples maps (name, frozenset(labels))
    to a float; every sample's family must have been declared by # TYPE."""
    samples, types, helps = {}, {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        brace, space = line.find("{"), line.find(" ")
        if brace != -1 and brace < space:
            name = line[:brace]
            labels, i = _parse_labels(line, brace)
            rest = line[i:].strip()
        else:
            name, rest, labels = line[:space], line[space + 1:].strip(), {}
        value = float(rest.split()[0].replace("+Inf", "inf").replace("-Inf", "-inf"))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                family = name[: -len(suffix)]
        if family not in types:
            raise ValueError(f"sample {name} before its # TYPE line")
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ValueError(f"duplicate sample {line!r}")
        samples[key] = value
    return samples, types, helps


class Scrape:
    def __init__(self, text):
        self.text = text
        self.samples, self.types, self.helps = parse_exposition(text)

    def get(self, name, **labels):
        """The sample's value; 0 when the series does not exist yet."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def sum(self, name, **fixed):
        """Sum over every series of `name` whose labels include `fixed`."""
        return sum(v for (n, ls), v in self.samples.items()
                   if n == name and set(fixed.items()) <= set(ls))


# --- the test ----------------------------------------------------------------

def manifest_bytes(export_dir):
    with open(os.path.join(export_dir, "manifest.json")) as f:
        return sum(int(e["size"]) for e in json.load(f)["files"])


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import test_export_kill as kill_test  # torch + the ~200 MB checkpoint recipe
        kill_test.FIXTURES = FIXTURES
        cls.tmp = tempfile.mkdtemp(prefix="neobert-metrics-")
        for d in ("in", "out"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.ckpt = os.path.join(cls.tmp, "in", "ckpt")
        shutil.copytree(os.path.join(FIXTURES, "fp32_swiglu_rope_rms"), cls.ckpt)
        cls.big = os.path.join(cls.tmp, "in", "big")
        kill_test.make_medium_checkpoint(cls.big)
        cls.log_path = os.path.join(cls.tmp, "server.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen(
            [os.path.join(BIN, "neobert-exportd"), "--listen", "127.0.0.1:0",
             "--metrics-listen", "127.0.0.1:0", "--log-format", "json", "--workers", "1",
             "--input-root", os.path.join(cls.tmp, "in"),
             "--output-root", os.path.join(cls.tmp, "out"), "--no-fsync", "--grace-seconds", "5"],
            stdout=subprocess.PIPE, stderr=cls.log, text=True)
        first, second = cls.proc.stdout.readline(), cls.proc.stdout.readline()
        if not first.startswith("listening on ") or not second.startswith("metrics on "):
            cls.proc.kill()
            raise RuntimeError(f"server did not start: {first!r} {second!r}")
        cls.address = first.split()[-1]
        cls.metrics_url = f"http://{second.split()[-1]}/metrics"
        cls.pb = interop.compile_proto(os.path.join(cls.tmp, "py"))
        cls.channel = grpc.insecure_channel(cls.address)
        grpc.channel_ready_future(cls.channel).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        cls.proc.stdout.close()
        cls.channel.close()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, timeout=300):
        r = subprocess.run([os.path.join(BIN, "neobert-export"), *args, "--server", self.address],
                           capture_output=True, text=True, timeout=timeout)
        return r

    def submit(self, request):
        call = self.channel.unary_unary("/" + SERVICE + "SubmitExport",
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=self.pb.Job.FromString)
        return call(request, timeout=60)

    def scrape(self):
        with urllib.request.urlopen(self.metrics_url, timeout=10) as resp:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                            resp.headers["Content-Type"])
            return Scrape(resp.read().decode("utf-8"))

    def check_histograms(self, s):
        """Buckets cumulative and non-decreasing, +Inf bucket == _count."""
        for name, kind in s.types.items():
            if kind != "histogram":
                continue
            series = {}
            for (n, labels), v in s.samples.items():
                if n == name + "_bucket":
                    rest = frozenset((k, x) for k, x in labels if k != "le")
                    le = float(dict(labels)["le"].replace("+Inf", "inf"))
                    series.setdefault(rest, []).append((le, v))
            for rest, buckets in series.items():
                buckets.sort()
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts), f"{name} {dict(rest)} not cumulative")
                self.assertTrue(math.isinf(buckets[-1][0]), f"{name} has no +Inf bucket")
                self.assertEqual(buckets[-1][1], s.get(name + "_count", **dict(rest)))

    def test_1_endpoint(self):
        s = self.scrape()
        for name in s.types:
            self.assertTrue(name.startswith("neobert_export_"), name)
            self.assertIn(name, s.helps)
        for name in ("neobert_export_queue_depth", "neobert_export_jobs",
                     "neobert_export_jobs_total", "neobert_export_export_duration_seconds",
                     "neobert_export_validation_duration_seconds",
                     "neobert_export_bytes_written_total",
                     "neobert_export_export_throughput_mb_per_second",
                     "neobert_export_sanity_seconds", "neobert_export_rpcs_total"):
            self.assertIn(name, s.types)
        self.assertEqual(s.types["neobert_export_jobs_total"], "counter")
        self.assertEqual(s.types["neobert_export_export_duration_seconds"], "histogram")
        self.assertEqual(s.types["neobert_export_queue_depth"], "gauge")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.metrics_url.replace("/metrics", "/other"), timeout=10)
        self.assertEqual(e.exception.code, 404)

    def test_2_jobs_move_the_metrics_and_are_logged(self):
        before = self.scrape()
        self.check_histograms(before)
        out = lambda name: os.path.join(self.tmp, "out", name)  # noqa: E731

        # One worker: the big export runs while the two small ones queue.
        # Submitted from here over gRPC, milliseconds apart (three CLI runs
        # can take seconds each on a loaded machine).
        ids = {}
        for name, ckpt in (("big", self.big), ("s1", self.ckpt), ("s2", self.ckpt)):
            job = self.submit(self.pb.ExportRequest(checkpoint_dir=ckpt, output_dir=out(name)))
            ids[name] = job.job_id
        during, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline:
            s = self.scrape()
            if s.get("neobert_export_jobs", state="running") == 1 and \
                    s.get("neobert_export_queue_depth") >= 1:
                during = s
                break
            time.sleep(0.05)
        self.assertIsNotNone(during, "never saw a job running with others queued; last scrape:\n" +
                             "\n".join(l for l in s.text.splitlines() if l.startswith(
                                 ("neobert_export_jobs", "neobert_export_queue"))))
        self.check_histograms(during)
        finished = (during.get("neobert_export_jobs_total", kind="export", state="succeeded") -
                    before.get("neobert_export_jobs_total", kind="export", state="succeeded"))
        queued = during.get("neobert_export_queue_depth")
        self.assertEqual(queued, during.get("neobert_export_jobs", state="queued"))
        # Every submitted job is accounted for exactly once: finished, running or queued.
        self.assertEqual(finished + 1 + queued, 3)
        self.assertLess(finished, 2)

        for name in ("big", "s1", "s2"):
            r = self.cli("watch", ids[name])
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("export", self.ckpt, "-o", out("streamed"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ids["streamed"] = json.loads(r.stdout.splitlines()[-1])["job_id"]
        r = self.cli("validate", out("s1"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ids["validate"] = json.loads(r.stdout.splitlines()[-1])["job_id"]
        # Two refusals, counted by their codes.
        r = self.cli("watch", "job-nope")
        self.assertEqual(r.returncode, 1)
        r = self.cli("submit", self.ckpt, "-o", os.path.join(self.tmp, "outside"))
        self.assertEqual(r.returncode, 5)  # PATH_DENIED
        r = self.cli("jobs", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        jobs = {j["job_id"]: j for j in map(json.loads, r.stdout.splitlines())}
        self.assertEqual(set(jobs), set(ids.values()))

        after = self.scrape()
        self.check_histograms(after)
        d = lambda name, **l: after.get(name, **l) - before.get(name, **l)  # noqa: E731
        self.assertEqual(d("neobert_export_jobs_total", kind="export", state="succeeded"), 4)
        self.assertEqual(d("neobert_export_jobs_total", kind="validate", state="succeeded"), 1)
        self.assertEqual(d("neobert_export_jobs_total", kind="export", state="failed"), 0)
        self.assertEqual(d("neobert_export_export_duration_seconds_count", state="succeeded"), 4)
        self.assertEqual(d("neobert_export_validation_duration_seconds_count", state="succeeded"), 1)
        self.assertGreater(d("neobert_export_export_duration_seconds_sum", state="succeeded"), 0)
        self.assertEqual(after.get("neobert_export_queue_depth"), 0)
        self.assertEqual(after.get("neobert_export_jobs", state="queued"), 0)
        self.assertEqual(after.get("neobert_export_jobs", state="running"), 0)

        exported = {n: manifest_bytes(out(n)) for n in ("big", "s1", "s2", "streamed")}
        self.assertGreater(exported["big"], 190e6)
        self.assertEqual(d("neobert_export_bytes_written_total"), sum(exported.values()))
        self.assertEqual(d("neobert_export_export_throughput_mb_per_second_count"), 4)
        self.assertGreater(after.get("neobert_export_last_export_throughput_mb_per_second"), 0)
        # The sanity pass ran once per export, on whatever device "auto" chose.
        sanity = after.sum("neobert_export_sanity_seconds_count") - \
            before.sum("neobert_export_sanity_seconds_count")
        self.assertEqual(sanity, 4)

        rpc = lambda method, code: d("neobert_export_rpcs_total",  # noqa: E731
                                     method=SERVICE + method, code=code)
        self.assertEqual(rpc("SubmitExport", "OK"), 3)
        self.assertEqual(rpc("SubmitExport", "PERMISSION_DENIED"), 1)
        self.assertEqual(rpc("WatchJob", "OK"), 3)
        self.assertEqual(rpc("WatchJob", "NOT_FOUND"), 1)
        self.assertEqual(rpc("ExportCheckpoint", "OK"), 1)
        self.assertEqual(rpc("ValidateExport", "OK"), 1)
        self.assertEqual(rpc("ListJobs", "OK"), 1)
        self.assertEqual(rpc("CancelJob", "OK"), 0)

        # Stop the server, then read its whole log.
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0)
        self.log.flush()
        with open(self.log_path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        job_lines = {}
        for line in lines:
            entry = line["log"]
            mentioned = [i for i in ids.values() if i in entry.get("msg", "")]
            if "job_id" not in entry:
                self.assertEqual(mentioned, [], f"a line about a job without job_id: {entry}")
                continue
            self.assertIn("checkpoint", entry, entry)
            job_id = entry["job_id"]
            self.assertEqual(entry["checkpoint"], jobs[job_id]["checkpoint_dir"], entry)
            job_lines.setdefault(job_id, []).append(entry)
        self.assertEqual(set(job_lines), set(ids.values()))
        for name, job_id in ids.items():
            summaries = [e for e in job_lines[job_id] if e.get("summary")]
            self.assertEqual(len(summaries), 1, f"{name}: {summaries}")
            s = summaries[0]
            self.assertEqual(s["state"], "succeeded")
            self.assertGreater(s["seconds"], 0)
            msgs = [e["msg"] for e in job_lines[job_id]]
            self.assertEqual(msgs[0], "queued")
            self.assertIn("started", msgs)
            if name == "validate":
                self.assertEqual(s["kind"], "validate")
                self.assertEqual(s["bytes"], 0)
            else:
                self.assertEqual(s["kind"], "export")
                self.assertEqual(s["bytes"], exported[name])
                self.assertGreater(s["mb_per_s"], 0)
                self.assertNotEqual(s["device"], "")
                self.assertTrue(any(m.startswith("stage write") for m in msgs), msgs)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
