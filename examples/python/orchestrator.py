#!/usr/bin/python3
"""Export one NeoBERT checkpoint through neobert-exportd, the way an
orchestrator should: survive a server restart, retry only what may succeed
on retry, never start the same export twice.

  orchestrator.py --server HOST:PORT [--token-file F] [--tls-ca CA.pem
                  [--tls-cert C.pem --tls-key K.pem]] [--stubs DIR]
                  CKPT_DIR -o OUT_DIR [--idempotency-key K] [--max-attempts N]

What it does:
  * SubmitExport with an idempotency key (default: derived from the request),
    so a resubmission after a crash or a lost reply returns the same job
    instead of starting a second export; a key whose job ended with a
    retryable error (e.g. INTERRUPTED: its servers died under it on every
    attempt) runs that job again.
  * WatchJob until the job ends; a broken stream (server restart or drain,
    network) is reopened with `after_sequence` = the last event seen, on
    whichever replica answers: the job store keeps every event and sequences
    only grow (across runs, restarts and replicas), so nothing is replayed
    and nothing is missed. A server that restarts (or another replica) runs
    an unfinished job again by itself.
  * Errors are classified by the machine-readable reason neobert-exportd puts
    into the standard `grpc-status-details-bin` trailer (google.rpc.Status
    with a google.rpc.ErrorInfo and, for QUEUE_FULL, a google.rpc.RetryInfo)
    and into a job's own error (Job.error.reason / .retryable). Only retryable
    ones (QUEUE_FULL, DRAINING, INTERRUPTED, INTERNAL, or no answer at all)
    are retried, with exponential backoff (or the server's retry delay).

Stubs: generated from proto/ at build time into <build>/python (CMake target
neobert_proto_python: Debian's protoc --python_out plus grpc_python_plugin);
point --stubs (or $NEOBERT_PYTHON_STUBS) there.

Prints progress to stderr and one JSON summary line to stdout; exits 0 when
the export is published, 1 when it failed for a reason retrying cannot fix,
3 when retries ran out.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

import grpc

pb = pb_grpc = status_pb2 = error_details_pb2 = None

RETRYABLE_TRANSPORT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def load_stubs(stubs_dir):
    global pb, pb_grpc, status_pb2, error_details_pb2
    sys.path.insert(0, stubs_dir)
    from neobert.exporter.v1 import export_service_pb2, export_service_pb2_grpc
    from google.rpc import error_details_pb2 as ed, status_pb2 as st
    pb, pb_grpc, status_pb2, error_details_pb2 = (export_service_pb2, export_service_pb2_grpc,
                                                  st, ed)


def log(msg):
    print(f"orchestrator: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """An error with its reason: reason (e.g. 'QUEUE_FULL'), retryable,
    retry_delay in seconds (or None), metadata, message."""

    def __init__(self, reason, retryable, message, retry_delay=None, metadata=None):
        super().__init__(f"{reason}: {message}")
        self.reason, self.retryable, self.message = reason, retryable, message
        self.retry_delay, self.metadata = retry_delay, metadata or {}


def failure_from_rpc_error(err):
    """Reads the reason out of a failed call's status details trailer."""
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        reason, metadata, delay = "REASON_UNSPECIFIED", {}, None
        for detail in status.details:
            info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Unpack(retry):
                delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
        return Failure(reason, metadata.get("retryable") == "true", status.message, delay, metadata)
    # No details: the server never answered (down, restarting, network).
    return Failure(err.code().name, err.code() in RETRYABLE_TRANSPORT, err.details() or "")


def failure_from_job_error(error):
    delay = None
    if error.HasField("retry_delay"):
        delay = error.retry_delay.seconds + error.retry_delay.nanos / 1e9
    return Failure(pb.Status.Reason.Name(error.reason), error.retryable, error.message, delay,
                   dict(error.metadata))


class Backoff:
    def __init__(self, max_attempts, base=0.2, cap=5.0):
        self.max_attempts, self.base, self.cap, self.attempt = max_attempts, base, cap, 0

    def wait(self, failure):
        """Sleeps before the next try; raises the failure when out of tries
        or when it is not retryable."""
        self.attempt += 1
        if not failure.retryable or self.attempt >= self.max_attempts:
            raise failure
        delay = failure.retry_delay
        if delay is None:
            delay = min(self.cap, self.base * 2 ** (self.attempt - 1)) * (0.5 + random.random())
        log(f"{failure.reason} (retryable): retrying in {delay:.2f} s "
            f"[{self.attempt}/{self.max_attempts - 1}]")
        time.sleep(delay)

    def reset(self):
        self.attempt = 0


class Orchestrator:
    def __init__(self, channel, token=None, max_attempts=30, rpc_timeout=30.0):
        self.stub = pb_grpc.ExportServiceStub(channel)
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        self.max_attempts, self.rpc_timeout = max_attempts, rpc_timeout
        self.reconnects = 0
        self.submissions = 0

    def submit(self, request):
        backoff = Backoff(self.max_attempts)
        while True:
            try:
                job = self.stub.SubmitExport(request, metadata=self.metadata, timeout=self.rpc_timeout)
                self.submissions += 1
                log(f"job {job.job_id} {pb.JobState.Name(job.state)} (key {request.idempotency_key})")
                return job
            except grpc.RpcError as err:
                backoff.wait(failure_from_rpc_error(err))

    def follow(self, job_id):
        """Streams the job's events until its final one, reconnecting (and
        resuming after the last sequence seen) whenever the stream breaks."""
        last_sequence, backoff = 0, Backoff(self.max_attempts)
        while True:
            request = pb.WatchJobRequest(job_id=job_id, after_sequence=last_sequence)
            try:
                for event in self.stub.WatchJob(request, metadata=self.metadata):
                    backoff.reset()
                    last_sequence = event.sequence
                    if event.stage:
                        log(f"job {job_id} #{event.sequence} {pb.JobState.Name(event.state)} "
                            f"{event.stage} {event.percent:.0f}%")
                    if event.HasField("result") or event.HasField("error"):
                        return event
                failure = Failure("STREAM_ENDED", True, "the stream ended before the job did")
            except grpc.RpcError as err:
                failure = failure_from_rpc_error(err)
            self.reconnects += 1
            log(f"watch of {job_id} broke after #{last_sequence}: {failure.reason} "
                f"({failure.message}); reconnecting")
            backoff.wait(failure)

    def export(self, request):
        """Submits and follows until published; resubmits (same key) when a
        job ends with a retryable error. Returns the final JobEvent."""
        backoff = Backoff(self.max_attempts)
        while True:
            job = self.submit(request)
            final = self.follow(job.job_id)
            if final.state == pb.SUCCEEDED:
                return final
            failure = failure_from_job_error(final.error)
            log(f"job {job.job_id} {pb.JobState.Name(final.state)}: {failure}")
            backoff.wait(failure)  # raises unless retryable


def default_key(request):
    """Same request, same key: the export is deduplicated across retries and
    orchestrator restarts."""
    text = request.SerializeToString(deterministic=True)
    return "orch-" + hashlib.sha256(text).hexdigest()[:32]


# After a server restart, gRPC keeps failing calls fast with the old
# "connection refused" until it resolves the target again, and by default it
# re-resolves at most every 30 s (measured here: ~7 s after the server was
# back); with these options a restarted server is reached within ~0.1 s.
# (Not grpc.min_reconnect_backoff_ms: it is also the connect timeout, and a
# TLS handshake on a busy machine needs more than a fraction of a second.)
CHANNEL_OPTIONS = [("grpc.dns_min_time_between_resolutions_ms", 500),
                   ("grpc.initial_reconnect_backoff_ms", 250),
                   ("grpc.max_reconnect_backoff_ms", 2000)]


def channel_for(args):
    if not args.tls_ca:
        return grpc.insecure_channel(args.server, options=CHANNEL_OPTIONS)
    read = lambda p: open(p, "rb").read() if p else None
    creds = grpc.ssl_channel_credentials(read(args.tls_ca), read(args.tls_key), read(args.tls_cert))
    return grpc.secure_channel(args.server, creds, options=CHANNEL_OPTIONS)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--server", default=os.environ.get("NEOBERT_EXPORT_SERVER"))
    ap.add_argument("--token-file", default=os.environ.get("NEOBERT_EXPORT_TOKEN_FILE"))
    ap.add_argument("--tls-ca", default=os.environ.get("NEOBERT_EXPORT_TLS_CA"))
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--stubs", default=os.environ.get("NEOBERT_PYTHON_STUBS", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "python")))
    ap.add_argument("--idempotency-key")
    ap.add_argument("--max-attempts", type=int, default=30)
    args = ap.parse_args(argv)
    if not args.server:
        ap.error("--server (or $NEOBERT_EXPORT_SERVER) is required")
    load_stubs(args.stubs)
    token = open(args.token_file).read().strip() if args.token_file else None

    request = pb.ExportRequest(checkpoint_dir=os.path.abspath(args.checkpoint),
                               output_dir=os.path.abspath(args.output))
    request.idempotency_key = args.idempotency_key or default_key(request)
    orch = Orchestrator(channel_for(args), token, args.max_attempts)
    summary = {"ok": False, "idempotency_key": request.idempotency_key}
    code = 0
    try:
        final = orch.export(request)
        summary.update(ok=True, job_id=final.job_id, state="SUCCEEDED",
                       output_dir=final.result.output_dir, files=len(final.result.files))
    except Failure as f:
        summary.update(reason=f.reason, retryable=f.retryable, error=f.message, metadata=f.metadata)
        code = 3 if f.retryable else 1
    summary.update(submissions=orch.submissions, reconnects=orch.reconnects)
    print(json.dumps(summary), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
