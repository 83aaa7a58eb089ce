"""Helpers shared by the orchestrator-facing tests (error reasons, exit codes,
pruned steps, watch-mode shutdown, the Python example): a real
neobert-exportd subprocess, the status-details reader, pause gates, and
checkpoint layouts built from the fixtures (real torch.save files).
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import grpc

POINTS = ("inspect", "scan", "write", "validate", "commit")  # core/export/test_hooks.h


def load_stubs(stubs_dir):
    """The build-time stubs (CMake target neobert_proto_python)."""
    sys.path.insert(0, stubs_dir)
    from neobert.exporter.v1 import export_service_pb2 as pb, export_service_pb2_grpc as pb_grpc
    from google.rpc import error_details_pb2, status_pb2
    return pb, pb_grpc, status_pb2, error_details_pb2


def wait_for(predicate, what, timeout=120, interval=0.05):
    """Polls `predicate` until it returns something true (a condition, not a
    fixed sleep standing in for one)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Details:
    """What a failed call says about itself in grpc-status-details-bin."""

    def __init__(self, err, status_pb2, error_details_pb2):
        self.code = err.code().name
        self.message = err.details()
        self.reason, self.domain, self.metadata, self.retry_delay = None, None, {}, None
        self.retryable = None
        for key, value in err.trailing_metadata() or ():
            if key != "grpc-status-details-bin":
                continue
            status = status_pb2.Status.FromString(value)
            assert status.message == err.details(), (status.message, err.details())
            assert status.code == err.code().value[0], (status.code, err.code())
            for any_ in status.details:
                info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
                if any_.Unpack(info):
                    self.reason, self.domain = info.reason, info.domain
                    self.metadata = dict(info.metadata)
                    self.retryable = self.metadata.get("retryable") == "true"
                elif any_.Unpack(retry):
                    self.retry_delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9

    def __repr__(self):
        return (f"Details({self.code} {self.reason} retryable={self.retryable} "
                f"delay={self.retry_delay} md={self.metadata} msg={self.message!r})")


class Server:
    """neobert-exportd on 127.0.0.1 (port 0 unless given), log in a file."""

    def __init__(self, bin_dir, tmp, args, tag="server", env=None, port=0):
        self.log_path = os.path.join(tmp, f"{tag}.log")
        self.log = open(self.log_path, "a")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "neobert-exportd"), "--listen", f"127.0.0.1:{port}", *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=full_env)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"server did not start: {line!r}\n{self.read_log()}")
        self.address = line.split()[-1]
        self.port = int(self.address.rsplit(":", 1)[1])

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=120):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rest = self.proc.stdout.read()
        self.proc.stdout.close()
        self.log.close()
        self.stdout_tail = rest
        return self.proc.returncode


class Gates:
    """Pause points of an export (core/export/test_hooks.h): the server runs
    with NEOBERT_EXPORT_TEST_PAUSE_DIR = self.dir."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "gates")
        os.makedirs(self.dir, exist_ok=True)

    def env(self):
        return {"NEOBERT_EXPORT_TEST_PAUSE_DIR": self.dir}

    def close(self, point):
        for name in (point, point + ".reached"):
            if os.path.exists(os.path.join(self.dir, name)):
                os.remove(os.path.join(self.dir, name))
        open(os.path.join(self.dir, point), "w").close()

    def wait_reached(self, point, timeout=120):
        wait_for(lambda: os.path.exists(os.path.join(self.dir, point + ".reached")),
                 f"an export to reach pause point '{point}'", timeout)

    def open(self, point):
        if os.path.exists(os.path.join(self.dir, point)):
            os.remove(os.path.join(self.dir, point))


def copy_step(fixtures, variant, dest, weights_as=None):
    """A step dir from a fixture: weights, config.yaml, tokenizer_info.json,
    tokenizer/ (expected.json, the fixture's ground truth, is left out)."""
    src = os.path.join(fixtures, variant)
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(src):
        if name == "expected.json":
            continue
        s = os.path.join(src, name)
        if os.path.isdir(s):
            shutil.copytree(s, os.path.join(dest, name))
        else:
            shutil.copy2(s, os.path.join(dest, weights_as if weights_as and name in (
                "state_dict.pt", "model.safetensors") else name))
    return dest


def mix_safetensors_prefixes(path):
    """Rewrites a model.safetensors whose keys carry one wrapper prefix so
    that consecutive keys carry the wrappers in different orders
    (`_orig_mod.module.`, `module._orig_mod.module.`, none, ...): what
    interleaved torch.compile / DDP wrapping leaves in a state dict. Data
    bytes are unchanged; only the JSON header is rewritten."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    orders = ["_orig_mod.module.", "module._orig_mod.module.", "", "module.", "_orig_mod."]
    out = {"__metadata__": header.pop("__metadata__", {"format": "pt"})}
    for i, (key, info) in enumerate(header.items()):
        bare = key
        while bare.startswith(("_orig_mod.", "module.")):
            bare = bare.split(".", 1)[1]
        out[orders[i % len(orders)] + bare] = info
    raw = json.dumps(out, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.write(data)
    return [k for k in out if k != "__metadata__"]


def make_zero_only_step(fixtures, dest):
    """A DeepSpeed ZeRO step as Accelerate + DeepSpeed leave it when the
    16-bit gather is off: config.yaml, tokenizer/, `latest`, and the ZeRO
    shards under pytorch_model/ (real torch.save files), no
    model.safetensors / state_dict.pt."""
    import torch
    src = os.path.join(fixtures, "fp32_swiglu_rope_rms")
    os.makedirs(os.path.join(dest, "pytorch_model"), exist_ok=True)
    for name in ("config.yaml", "tokenizer_info.json"):
        shutil.copy2(os.path.join(src, name), os.path.join(dest, name))
    shutil.copytree(os.path.join(src, "tokenizer"), os.path.join(dest, "tokenizer"))
    sd = torch.load(os.path.join(src, "state_dict.pt"), weights_only=True)
    torch.save({"module": sd, "buffer_names": []},
               os.path.join(dest, "pytorch_model", "mp_rank_00_model_states.pt"))
    torch.save({"optimizer_state_dict": {"zero_stage": 2}},
               os.path.join(dest, "pytorch_model", "zero_pp_rank_0_mp_rank_00_optim_states.pt"))
    with open(os.path.join(dest, "latest"), "w") as f:
        f.write("pytorch_model\n")
    return dest


def staging_leftovers(dest):
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        return []
    base = os.path.basename(dest)
    return [n for n in os.listdir(parent) if n.startswith(f".{base}.partial")]
