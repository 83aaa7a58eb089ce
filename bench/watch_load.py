#!/usr/bin/python3
"""Many watchers and slow clients against one neobert-exportd (issue 13).

  /usr/bin/python3 bench/watch_load.py --bin build/bin --fixtures build/fixtures \
      [--work /tmp/watch-load] [--watchers 1000] [--submits 200] [--stalled 100]

Starts a server (SQLite job store in a state dir, one worker), submits
--submits exports of a small fixture at once and opens --watchers WatchJob
streams spread over the jobs (over 10 channels); --stalled of those read their
first event and then stop reading until every job has ended (a client that
stops reading its stream). Meanwhile, from their own threads:
  - grpc.health.v1.Health/Check every 50 ms on a separate channel: latency;
  - the server's VmRSS and thread count from /proc every 100 ms.

Exits 1 when a job does not succeed, a reading watcher misses its job's final
event, or a health check takes >= 100 ms (--health-ms) or fails. Prints RSS at
idle, peak and after the streams closed, and the health latencies, as JSON.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from server_bench import load_proto  # noqa: E402

SERVICE = "/neobert.exporter.v1.ExportService/"
SMALL = "fp32_swiglu_rope_rms"
HEALTH = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["Threads"])


class Sampler(threading.Thread):
    """Health latency and server RSS/threads until stopped."""

    def __init__(self, grpc, address, pid):
        super().__init__(daemon=True)
        self.grpc, self.address, self.pid = grpc, address, pid
        self.stop = threading.Event()
        self.latencies_ms, self.failures, self.rss_mb, self.threads = [], [], [], []

    def run(self):
        channel = self.grpc.insecure_channel(self.address)
        check = channel.unary_unary(HEALTH, request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        next_rss = 0.0
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                reply = check(b"", timeout=5)
                if reply != SERVING:
                    self.failures.append(f"status {reply!r}")
            except self.grpc.RpcError as e:
                self.failures.append(str(e.code()))
            self.latencies_ms.append((time.monotonic() - t0) * 1000)
            if t0 >= next_rss:
                rss, threads = proc_status(self.pid)
                self.rss_mb.append(rss)
                self.threads.append(threads)
                next_rss = t0 + 0.1
            self.stop.wait(0.05)
        channel.close()


async def drive(grpc, pb, address, args, src, outs):
    channels = [grpc.aio.insecure_channel(address) for _ in range(10)]
    submit = channels[0].unary_unary(SERVICE + "SubmitExport",
                                     request_serializer=pb.ExportRequest.SerializeToString,
                                     response_deserializer=pb.Job.FromString)
    jobs = await asyncio.gather(*[
        submit(pb.ExportRequest(checkpoint_dir=src, output_dir=os.path.join(outs, str(i)),
                                validate=False, write_pytorch_bin=False), timeout=60)
        for i in range(args.submits)])
    all_ended = asyncio.Event()
    stalled_open = []

    async def watch(n):
        job = jobs[n % len(jobs)]
        ch = channels[n % len(channels)]
        call = ch.unary_stream(SERVICE + "WatchJob",
                               request_serializer=pb.WatchJobRequest.SerializeToString,
                               response_deserializer=pb.JobEvent.FromString)(
            pb.WatchJobRequest(job_id=job.job_id), timeout=600)
        if n < args.stalled:
            await call.read()  # the first event, then nothing until the end
            stalled_open.append(call)
            await all_ended.wait()
            call.cancel()
            return None
        last = None
        async for event in call:
            last = event
        return job.job_id, last

    tasks = [asyncio.ensure_future(watch(n)) for n in range(args.watchers)]
    readers = [t for n, t in enumerate(tasks) if n >= args.stalled]
    results = await asyncio.gather(*readers)
    get = channels[0].unary_unary(SERVICE + "GetJob",
                                  request_serializer=pb.GetJobRequest.SerializeToString,
                                  response_deserializer=pb.Job.FromString)
    finals = await asyncio.gather(*[get(pb.GetJobRequest(job_id=j.job_id), timeout=60)
                                    for j in jobs])
    stalled_at_end = len(stalled_open)
    all_ended.set()
    await asyncio.gather(*tasks)
    for ch in channels:
        await ch.close()
    return results, finals, stalled_at_end


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work")
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--submits", type=int, default=200)
    ap.add_argument("--stalled", type=int, default=100)
    ap.add_argument("--health-ms", type=float, default=100.0)
    args = ap.parse_args()
    import grpc
    import grpc.aio  # noqa: F401

    work = args.work or tempfile.mkdtemp(prefix="neobert-watch-load-")
    shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
    os.makedirs(os.path.join(work, "out"))
    pb = load_proto(work)
    src = os.path.join(work, "in", "ckpt")
    if not os.path.isdir(src):
        shutil.copytree(os.path.join(args.fixtures, SMALL), src)
    state = os.path.join(work, "state")
    shutil.rmtree(state, ignore_errors=True)
    server = subprocess.Popen(
        [os.path.join(args.bin, "neobert-exportd"), "--listen", "127.0.0.1:0",
         "--input-root", os.path.join(work, "in"), "--output-root", os.path.join(work, "out"),
         "--state-dir", state, "--no-fsync", "--workers", "1",
         "--queue-capacity", str(args.submits)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    if not line.startswith("listening on "):
        server.kill()
        sys.exit(f"server did not start: {line!r}")
    address = line.split()[-1]
    idle_rss, idle_threads = proc_status(server.pid)
    sampler = Sampler(grpc, address, server.pid)
    sampler.start()
    start = time.monotonic()
    try:
        results, finals, stalled = asyncio.run(drive(grpc, pb, address, args, src,
                                                     os.path.join(work, "out")))
        seconds = time.monotonic() - start
        after_rss, after_threads = proc_status(server.pid)
    finally:
        sampler.stop.set()
        sampler.join()
        server.terminate()
        server.wait(timeout=120)
    problems = []
    bad = [j.job_id for j in finals if j.state != pb.SUCCEEDED]
    if bad:
        problems.append(f"{len(bad)} jobs did not succeed: {bad[:5]}")
    unfinished = [r[0] for r in results if r[1] is None or r[1].state != pb.SUCCEEDED]
    if unfinished:
        problems.append(f"{len(unfinished)} reading watchers did not see their job SUCCEEDED last")
    if stalled != args.stalled:
        problems.append(f"{args.stalled - stalled} stalled streams were closed by the server")
    lat = sorted(sampler.latencies_ms)
    slow = [x for x in lat if x >= args.health_ms]
    if slow:
        problems.append(f"{len(slow)} of {len(lat)} health checks took >= {args.health_ms} ms")
    if sampler.failures:
        problems.append(f"health failures: {sampler.failures[:5]}")
    figures = {
        "watchers": args.watchers, "stalled_watchers": args.stalled, "submits": args.submits,
        "seconds": round(seconds, 1), "nproc": os.cpu_count(),
        "rss_mb": {"idle": idle_rss, "peak": max(sampler.rss_mb), "after": after_rss},
        "threads": {"idle": idle_threads, "peak": max(sampler.threads), "after": after_threads},
        "health_ms": {"checks": len(lat), "p50": round(statistics.median(lat), 2),
                      "p99": round(lat[int(len(lat) * 0.99) - 1], 2), "max": round(lat[-1], 2)},
    }
    print(json.dumps(figures, indent=1))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
