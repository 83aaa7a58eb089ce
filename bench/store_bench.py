#!/usr/bin/python3
"""Job store benchmark: small-export throughput per store, and takeover time.

  /usr/bin/python3 bench/store_bench.py --bin build/bin --fixtures build/fixtures \\
      --work /tmp/store-bench [--jobs 200] [--baseline c6d05ef | --baseline-bin DIR]

Rows (each: --jobs exports of the tiny fixture to distinct folders, all
submitted at once over gRPC, --no-validate, servers with --workers 2
--no-fsync; jobs per minute from the first submit until none is queued or
running):
  journal (baseline)    the old jobs.jsonl journal: neobert-exportd built from
                        --baseline (a commit, built once into WORK/baseline) or
                        taken from --baseline-bin, with --state-dir
  sqlite, 1 replica     this build, --state-dir (the default store)
  postgresql, 1 / 3     this build on a throwaway PostgreSQL
                        (scripts/pg_test_cluster.sh), submits spread over the
                        replicas
Takeover: 3 replicas on PostgreSQL with --lease-seconds 3; a job held in its
post-export hook; its replica SIGKILLed; seconds until another replica has
it SUCCEEDED (median of 3).
Target: sqlite >= 0.9 x journal (exit 1 when missed, unless --report-only).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from server_bench import load_proto  # noqa: E402
SERVICE = "/neobert.exporter.v1.ExportService/"
SMALL = "fp32_swiglu_rope_rms"
TARGET = 0.9


class Server:
    def __init__(self, exe, work, *extra, env=None):
        self.proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--input-root", work, "--output-root", work,
                                      "--no-fsync", "--workers", "2", "--queue-capacity", "10000",
                                      "--device", "cpu", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = line.split()[-1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=120)


def throughput(pb, servers, src, outs, jobs):
    import grpc
    channels = [grpc.insecure_channel(s.address) for s in servers]
    try:
        submit = [c.unary_unary(SERVICE + "SubmitExport", request_serializer=pb.ExportRequest.SerializeToString,
                                response_deserializer=pb.Job.FromString) for c in channels]
        list_jobs = channels[0].unary_unary(SERVICE + "ListJobs",
                                            request_serializer=pb.ListJobsRequest.SerializeToString,
                                            response_deserializer=pb.ListJobsResponse.FromString)
        start = time.monotonic()
        for i in range(jobs):
            submit[i % len(submit)](pb.ExportRequest(checkpoint_dir=src, output_dir=os.path.join(outs, str(i)),
                                                     validate=False), timeout=60)
        while True:
            busy = sum(len(list_jobs(pb.ListJobsRequest(state=st, page_size=1), timeout=60).jobs)
                       for st in (pb.QUEUED, pb.RUNNING))
            if busy == 0:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        done = list_jobs(pb.ListJobsRequest(state=pb.SUCCEEDED), timeout=60).jobs
        if len(done) != jobs:
            raise RuntimeError(f"{len(done)} of {jobs} jobs succeeded")
        return jobs / elapsed * 60
    finally:
        for c in channels:
            c.close()


def pg_database(dsn, name):
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", dsn, "-qc", sql], check=True, capture_output=True)
    return dsn.rsplit("/", 1)[0] + "/" + name


def build_baseline(rev, work):
    src = os.path.join(work, "baseline")
    exe = os.path.join(src, "build", "bin", "neobert-exportd")
    if not os.path.exists(exe):
        if not os.path.isdir(src):
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", src, rev], check=True)
        env = dict(os.environ, BUILD_DIR="build", CMAKE_CXX_COMPILER_LAUNCHER="ccache",
                   CMAKE_C_COMPILER_LAUNCHER="ccache")
        subprocess.run(["bash", "scripts/build.sh", "neobert-exportd"], cwd=src, env=env, check=True)
    return os.path.dirname(exe)


def takeover(pb, exe, work, src, dsn, rounds=3):
    import grpc
    hook = 'case "$1" in *hold*) echo $PPID > "$1.runner"; while [ ! -e "$1.release" ]; do sleep 0.05; done;; esac'
    times = []
    for r in range(rounds):
        db = pg_database(dsn, f"bench_takeover_{r}")
        servers = [Server(exe, work, "--job-store", db, "--lease-seconds", "3", "--post-export-hook", hook)
                   for _ in range(3)]
        try:
            dest = os.path.join(work, f"takeover-{r}-hold")
            ch = grpc.insecure_channel(servers[0].address)
            job = ch.unary_unary(SERVICE + "SubmitExport", request_serializer=pb.ExportRequest.SerializeToString,
                                 response_deserializer=pb.Job.FromString)(
                pb.ExportRequest(checkpoint_dir=src, output_dir=dest, validate=False), timeout=60)
            while not (os.path.exists(dest + ".runner") and open(dest + ".runner").read().strip()):
                time.sleep(0.01)
            pid = int(open(dest + ".runner").read())
            victim = next(s for s in servers if s.proc.pid == pid)
            other = next(s for s in servers if s is not victim)
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            killed = time.monotonic()
            get = grpc.insecure_channel(other.address).unary_unary(
                SERVICE + "GetJob", request_serializer=pb.GetJobRequest.SerializeToString,
                response_deserializer=pb.Job.FromString)
            while get(pb.GetJobRequest(job_id=job.job_id), timeout=60).state != pb.SUCCEEDED:
                time.sleep(0.01)
            times.append(time.monotonic() - killed)
            open(dest + ".release", "w").close()
            ch.close()
        finally:
            for s in servers:
                s.close()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--baseline", default="c6d05ef", help="commit with the old journal, built into WORK/baseline")
    ap.add_argument("--baseline-bin", help="an already built baseline bin dir")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    pb = load_proto(work)
    src = os.path.join(work, "small")
    if not os.path.isdir(src):
        shutil.copytree(os.path.join(a.fixtures, SMALL), src)
    exe = os.path.join(os.path.abspath(a.bin), "neobert-exportd")
    base_exe = os.path.join(a.baseline_bin or build_baseline(a.baseline, work), "neobert-exportd")
    pg_state = os.path.join(work, "pg")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg_test_cluster.sh"), "start", pg_state], check=True)
    dsn = open(os.path.join(pg_state, "dsn")).read().strip()
    rows = {}
    try:
        def run(label, make):
            outs = os.path.join(work, "out")
            shutil.rmtree(outs, ignore_errors=True)
            servers = make()
            try:
                rows[label] = throughput(pb, servers, src, outs, a.jobs)
            finally:
                for s in servers:
                    s.close()
            print(f"  {label:<24} {rows[label]:8.0f} jobs/min", flush=True)

        print(f"{a.jobs} small exports, --workers 2 per server, {os.cpu_count()} CPU(s)")
        for rnd in range(2):  # alternated, so drift hits both
            for label, make in (
                    (f"journal (baseline) #{rnd + 1}",
                     lambda: [Server(base_exe, work, "--state-dir", fresh(work, "state-journal"))]),
                    (f"sqlite, 1 replica #{rnd + 1}",
                     lambda: [Server(exe, work, "--state-dir", fresh(work, "state-sqlite"))])):
                run(label, make)
        run("postgresql, 1 replica", lambda: [Server(exe, work, "--job-store", pg_database(dsn, "bench_1"))])
        db3 = pg_database(dsn, "bench_3")
        run("postgresql, 3 replicas", lambda: [Server(exe, work, "--job-store", db3) for _ in range(3)])
        t = takeover(pb, exe, work, src, dsn)
        print(f"  takeover (lease 3 s)     {t:8.2f} s from SIGKILL to SUCCEEDED on another replica (median of 3)")
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg_test_cluster.sh"), "stop", pg_state])
    journal = statistics.median(v for k, v in rows.items() if k.startswith("journal"))
    sqlite = statistics.median(v for k, v in rows.items() if k.startswith("sqlite"))
    ratio = sqlite / journal
    print(f"sqlite / journal: {ratio:.2f} (target >= {TARGET})")
    if ratio < TARGET and not a.report_only:
        sys.exit(1)


def fresh(work, name):
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


if __name__ == "__main__":
    main()
