#!/usr/bin/python3
"""neobert-exportd benchmarks: RPC overhead and job throughput.

  /usr/bin/python3 bench/server_bench.py --bin build/bin --work /tmp/bench \
      --fixtures build/fixtures [--repeat 3] [--jobs 24]

1. Overhead: the large_250m checkpoint (~887 MB, made and cached under
   WORK/ckpt exactly as bench/run_benchmarks.py does) exported
   in-process (`neobert-export export CKPT -o OUT --no-fsync`) and through a
   local server (`neobert-export export CKPT -o OUT --server ADDR
   --no-validate` against `neobert-exportd --no-fsync`): same work, so the
   ratio is what the queue, the job thread, the event stream and the client
   cost. Median of --repeat runs each, alternating. A second server row adds
   the server's default validation (the staged export checked against the
   checkpoint before it is published) to show what that costs.
2. Throughput: --jobs exports of a small fixture (fp32_swiglu_rope_rms) to
   distinct folders, all submitted at once over gRPC (python3-grpcio, so no
   CLI start-up is measured), with 1, 2 and 4 workers; jobs per minute from
   the first submit until the last job finished.

Prints a table and the overhead ratio; target: server/in-process <= 1.10
(exit 1 when missed). Throughput has no target: it is bounded by the cores
(`nproc` is printed with it).
"""
import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run_benchmarks import ensure_checkpoint, machine_description, warm  # noqa: E402

OVERHEAD_TARGET = 1.10
SMALL = "fp32_swiglu_rope_rms"
SERVICE = "/neobert.exporter.v1.ExportService/"


class Server:
    def __init__(self, bin_dir, work, workers):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "neobert-exportd"), "--listen", "127.0.0.1:0",
             "--input-root", work, "--output-root", work, "--no-fsync",
             "--workers", str(workers), "--queue-capacity", "1000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.split()[-1]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def timed(argv):
    start = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr}")
    return time.monotonic() - start


def overhead(cli, bin_dir, work, ckpt, repeat):
    out = os.path.join(work, "server-bench-out")
    server = Server(bin_dir, work, 1)
    times = {"in-process": [], "server": [], "server + validation": []}
    try:
        for _ in range(repeat):
            for label, extra in (("in-process", ["--no-fsync"]),
                                 ("server", ["--server", server.address, "--no-validate"]),
                                 ("server + validation", ["--server", server.address])):
                shutil.rmtree(out, ignore_errors=True)
                os.sync()
                times[label].append(timed([cli, "export", ckpt, "-o", out, *extra]))
    finally:
        server.close()
        shutil.rmtree(out, ignore_errors=True)
    return {k: statistics.median(v) for k, v in times.items()}


def load_proto(work):
    """Python messages for our .proto (protoc + Debian's python3-grpcio, no
    generated stubs needed: calls go through the generic channel API)."""
    out = os.path.join(work, "py")
    proto_root = os.path.join(os.path.dirname(HERE), "proto")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", f"--proto_path={proto_root}", f"--python_out={out}",
                    os.path.join(proto_root, "neobert/exporter/v1/export_service.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("neobert.exporter.v1.export_service_pb2")


def throughput(bin_dir, work, fixtures, jobs):
    """Jobs/min with 1, 2, 4 workers: every job submitted at once over gRPC
    (no CLI start-up in the measurement), then ListJobs polled every 20 ms."""
    import grpc
    pb = load_proto(work)
    src = os.path.join(work, "small")
    if not os.path.isdir(src):
        shutil.copytree(os.path.join(fixtures, SMALL), src)
    rates = {}
    for workers in (1, 2, 4):
        outs = os.path.join(work, f"jobs-{workers}")
        shutil.rmtree(outs, ignore_errors=True)
        server = Server(bin_dir, work, workers)
        channel = grpc.insecure_channel(server.address)
        try:
            submit = channel.unary_unary(SERVICE + "SubmitExport",
                                         request_serializer=pb.ExportRequest.SerializeToString,
                                         response_deserializer=pb.Job.FromString)
            list_jobs = channel.unary_unary(SERVICE + "ListJobs",
                                            request_serializer=pb.ListJobsRequest.SerializeToString,
                                            response_deserializer=pb.ListJobsResponse.FromString)
            start = time.monotonic()
            for i in range(jobs):
                submit(pb.ExportRequest(checkpoint_dir=src, output_dir=os.path.join(outs, str(i)),
                                        validate=False), timeout=30)
            while True:
                states = [j.state for j in list_jobs(pb.ListJobsRequest(), timeout=30).jobs]
                if any(st in (pb.FAILED, pb.CANCELLED) for st in states):
                    raise RuntimeError("a benchmark job failed")
                if len(states) == jobs and all(st == pb.SUCCEEDED for st in states):
                    break
                time.sleep(0.02)
            rates[workers] = jobs / (time.monotonic() - start) * 60
        finally:
            channel.close()
            server.close()
            shutil.rmtree(outs, ignore_errors=True)
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fixtures", required=True, help="generated test fixtures (build/fixtures)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--node", default="node")
    ap.add_argument("--report-only", action="store_true", help="exit 0 even if a target is missed")
    a = ap.parse_args()
    bin_dir, work = os.path.abspath(a.bin), os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    cli = os.path.join(bin_dir, "neobert-export")
    ckpt = ensure_checkpoint(work, a.cache, a.node)
    warm(os.path.join(ckpt, "state_dict.pt"))
    print(machine_description(work))

    t = overhead(cli, bin_dir, work, ckpt, a.repeat)
    print(f"\nlarge_250m export, median of {a.repeat} (no fsync):")
    for label, secs in t.items():
        print(f"  {label:<22} {secs:7.2f} s   x{secs / t['in-process']:.3f}")
    ratio = t["server"] / t["in-process"]

    rates = throughput(bin_dir, work, os.path.abspath(a.fixtures), a.jobs)
    print(f"\n{a.jobs} small exports submitted at once ({os.cpu_count()} cores):")
    for workers, rate in rates.items():
        print(f"  {workers} worker(s): {rate:7.1f} jobs/min")

    ok = ratio <= OVERHEAD_TARGET
    print(f"\nserver overhead x{ratio:.3f} (target <= {OVERHEAD_TARGET}): {'met' if ok else 'MISSED'}")
    print(json.dumps({"overhead_ratio": ratio, "seconds": t, "jobs_per_minute": rates}))
    return 0 if ok or a.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
