"""Shared by the confinement tests: a watch that proves nothing outside a
root was opened, an atomic directory/symlink swap, special files, and the
gRPC client of neobert-exportd (compiled from the .proto at test time)."""
import ctypes
import ctypes.util
import importlib
import os
import signal
import socket
import struct
import subprocess
import sys

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
SERVICE = "/neobert.exporter.v1.ExportService/"
PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND = 7, 3, 5

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_IN_ACCESS, _IN_OPEN = 0x1, 0x20
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OpenWatch:
    """inotify IN_OPEN | IN_ACCESS on some folders: any open or read of a file
    in them (or of the folder itself) is an event. lstat and readlink of a
    link pointing there raise none, so an empty list proves that nothing
    behind the link was touched."""

    def __init__(self, dirs):
        self.fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for d in dirs:
            if _libc.inotify_add_watch(self.fd, os.fsencode(d), _IN_OPEN | _IN_ACCESS) < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {d}")

    def events(self):
        seen = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return seen
            i = 0
            while i < len(buf):
                _, mask, _, length = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + length].rstrip(b"\0").decode(errors="replace")
                seen.append((hex(mask), name))
                i += 16 + length

    def close(self):
        os.close(self.fd)


def exchange(a, b):
    """renameat2(RENAME_EXCHANGE): swaps two names atomically (a folder and a
    symlink, say)."""
    if _libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
                       _RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), f"renameat2 {a} {b}")


def make_special(path, kind):
    """A FIFO, a bound unix socket (returned: keep it open), a directory, or a
    symlink to /dev/zero at `path`."""
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil
            shutil.rmtree(path)
        else:
            os.unlink(path)
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        return s
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "character device":
        os.symlink("/dev/zero", path)
    else:
        raise ValueError(kind)
    return None


def compile_proto(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(["protoc", f"--proto_path={PROTO_ROOT}", f"--python_out={out_dir}",
                    os.path.join(PROTO_ROOT, "neobert/exporter/v1/export_service.proto")],
                   check=True)
    sys.path.insert(0, out_dir)
    return importlib.import_module("neobert.exporter.v1.export_service_pb2")


class Client:
    """Generic unary/stream calls on one channel, with an optional token."""

    def __init__(self, pb, channel, token=None):
        self.pb, self.channel, self.token = pb, channel, token

    def _md(self, token):
        token = self.token if token is None else token
        return [("authorization", f"Bearer {token}")] if token else []

    def stream(self, method, request, timeout=300, token=None):
        """The job's events. A failed job's stream ends with its error as the
        RPC status after the final event: then the events are returned (the
        last one carries the error); an RPC refused before any event raises."""
        call = self.channel.unary_stream(SERVICE + method,
                                         request_serializer=type(request).SerializeToString,
                                         response_deserializer=self.pb.JobEvent.FromString)
        events = []
        try:
            for event in call(request, metadata=self._md(token), timeout=timeout):
                events.append(event)
        except grpc.RpcError:
            if not events or not events[-1].HasField("error"):
                raise
        return events

    def unary(self, method, request, response_type, timeout=60, token=None):
        call = self.channel.unary_unary(SERVICE + method,
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=response_type.FromString)
        return call(request, metadata=self._md(token), timeout=timeout)


def start_server(bin_dir, args, log_path, env=None):
    """neobert-exportd with `args` (and `env` added to the environment);
    returns (process, address). Its log goes to `log_path` (an undrained pipe
    would block it)."""
    log = open(log_path, "w")
    proc = subprocess.Popen([os.path.join(bin_dir, "neobert-exportd"), *args],
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, **(env or {})})
    log.close()
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        proc.wait()
        with open(log_path) as f:
            raise RuntimeError(f"server did not start: {line!r} {f.read()}")
    return proc, line.split()[-1]


def stop_server(proc):
    """SIGTERM a server from start_server, wait for it (kill after 60 s), and
    close its stdout pipe."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()
