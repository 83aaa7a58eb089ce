"""Confinement of neobert-exportd and the CLI (issue 13), end to end.

A real server runs with --input-root R --output-root R. Outside R lie a
secret file, a FIFO and a copy of a checkpoint, watched with inotify: a
single open or read of anything there is an event, and the tests demand
none (lstat and readlink raise none). A FIFO target also proves it: a
blocking open would hang the job.

* A symlink leaving R as state_dict.pt, model.safetensors, config.yaml,
  tokenizer/tokenizer.json, tokenizer/ itself, a parent folder of the
  checkpoint, or a parent of the output folder: PERMISSION_DENIED naming
  the link, the secret in no message, nothing written anywhere.
* Links that stay inside R work: `latest -> 100`, an absolute link into R,
  a weight file linked from a sibling folder.
* A FIFO, a socket, a /dev/zero link or a folder as each input file: a
  clear error naming the file and its type within 1 s, on the server and in
  the CLI (`inspect`, `export`, `convert`, `forward`, `validate`); the CLI
  follows links unless --confine DIR is given.
* A checkpoint folder swapped for a symlink to outside (renameat2
  RENAME_EXCHANGE, in a loop) while jobs read it: every job reads inside R
  or is refused; nothing outside is ever opened.
* The server cases run twice: with openat2, and with the portable
  O_NOFOLLOW walk (NEOBERT_FS_NO_OPENAT2=1), as on an older kernel.

usage: /usr/bin/python3 test_confinement.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from confine_util import (INVALID_ARGUMENT, PERMISSION_DENIED, Client, OpenWatch,  # noqa: E402
                          compile_proto, exchange, make_special, start_server,
                          stop_server)

BIN = FIXTURES = None
TORCH = "fp32_swiglu_rope_rms"   # state_dict.pt
SAFETENSORS = "safetensors"      # model.safetensors
SECRET = "s3cr3t-TLS-KEY-do-not-print"
KINDS = ("FIFO", "socket", "character device", "directory")
DENIED_EXIT = 5  # the CLI's exit code for a path the door refused (client/cli_args.h)


def tree(path):
    """Every path below `path` with its size and mtime: "nothing written"."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime_ns)
    return out


class ServerConfinement(unittest.TestCase):
    ENV = {}  # the server's extra environment

    @classmethod
    def setUpClass(cls):
        cls.tmp = os.path.realpath(tempfile.mkdtemp(prefix="neobert-confine-"))
        cls.root = os.path.join(cls.tmp, "root")
        cls.outside = os.path.join(cls.tmp, "outside")
        os.makedirs(cls.root)
        # Outside the root: a secret, a FIFO, a whole checkpoint (for folder
        # links) and an empty folder (for output links).
        os.makedirs(cls.outside)
        with open(os.path.join(cls.outside, "secret"), "w") as f:
            f.write(SECRET + "\nline two: " + SECRET + "\n")
        os.mkfifo(os.path.join(cls.outside, "fifo"))
        cls.outside_ckpt = os.path.join(cls.outside, "runs", "x", "ckpt", "100")
        shutil.copytree(os.path.join(FIXTURES, TORCH), cls.outside_ckpt)
        os.makedirs(os.path.join(cls.outside, "exports"))
        cls.pb = compile_proto(os.path.join(cls.tmp, "py"))
        cls.proc, address = start_server(
            BIN, ["--listen", "127.0.0.1:0", "--input-root", cls.root, "--output-root", cls.root,
                  "--no-fsync", "--log-format", "json", "--device", "cpu"],
            os.path.join(cls.tmp, "server.log"), env=cls.ENV)
        cls.channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(cls.channel).result(timeout=60)
        cls.client = Client(cls.pb, cls.channel)
        cls.counter = 0
        # Everything outside is in place: from now on nothing may open it.
        cls.outside_before = tree(cls.outside)
        cls.watch = OpenWatch([d for d, _, _ in os.walk(cls.outside)])

    @classmethod
    def tearDownClass(cls):
        cls.watch.close()
        stop_server(cls.proc)
        cls.channel.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        self.assertEqual(self.watch.events(), [], "something outside the root was opened")
        self.assertEqual(tree(self.outside), self.outside_before, "something outside changed")
        self.watch.events()  # what tree() itself just opened
        with open(os.path.join(self.tmp, "server.log")) as f:
            self.assertNotIn(SECRET, f.read())

    # -- helpers -----------------------------------------------------------
    def checkpoint(self, fixture=TORCH):
        """A fresh copy of a fixture at R/runs/run<N>/ckpt/100."""
        type(self).counter += 1
        path = os.path.join(self.root, "runs", f"run{self.counter}", "ckpt", "100")
        shutil.copytree(os.path.join(FIXTURES, fixture), path)
        return path

    def export(self, ckpt, out=None, **kw):
        """Streams an export; (final event, seconds). RPC errors raise."""
        out = out or os.path.join(self.root, "exports", f"e{self.counter}")
        req = self.pb.ExportRequest(checkpoint_dir=ckpt, output_dir=out, validate=False,
                                    write_pytorch_bin=False, **kw)
        t0 = time.monotonic()
        events = self.client.stream("ExportCheckpoint", req)
        return events[-1], time.monotonic() - t0, out

    def assert_denied(self, event, link):
        self.assertEqual(event.state, self.pb.FAILED)
        self.assertEqual(event.error.code, PERMISSION_DENIED, event.error.message)
        self.assertIn(link, event.error.message)
        self.assertIn("outside", event.error.message)
        self.assertNotIn(SECRET, event.error.message)

    def assert_nothing_written(self, out):
        self.assertFalse(os.path.lexists(out), out)
        parent = os.path.dirname(out)
        if os.path.isdir(parent):
            self.assertEqual([n for n in os.listdir(parent) if ".partial-" in n], [])

    # -- links leaving the root ---------------------------------------------
    def test_file_links_leaving_the_root_are_denied(self):
        cases = [  # (fixture, file in the checkpoint, target outside)
            (TORCH, "state_dict.pt", "fifo"),
            (TORCH, "state_dict.pt", "secret"),
            (SAFETENSORS, "model.safetensors", "fifo"),
            (TORCH, "config.yaml", "secret"),
            (TORCH, "config.yaml", "fifo"),
            (TORCH, "tokenizer_info.json", "secret"),
            (TORCH, "tokenizer/tokenizer.json", "secret"),
            (TORCH, "tokenizer/tokenizer.json", "fifo"),
            (TORCH, "tokenizer/vocab.txt", "secret"),
        ]
        for fixture, name, target in cases:
            with self.subTest(file=name, target=target):
                ckpt = self.checkpoint(fixture)
                link = os.path.join(ckpt, name)
                os.unlink(link)
                os.symlink(os.path.join(self.outside, target), link)
                event, seconds, out = self.export(ckpt)
                self.assert_denied(event, link)
                self.assertLess(seconds, 60)  # a FIFO opened for reading would hang
                self.assert_nothing_written(out)

    def test_folder_links_leaving_the_root_are_denied(self):
        # tokenizer/ itself.
        ckpt = self.checkpoint()
        shutil.rmtree(os.path.join(ckpt, "tokenizer"))
        os.symlink(os.path.join(self.outside_ckpt, "tokenizer"), os.path.join(ckpt, "tokenizer"))
        event, _, out = self.export(ckpt)
        self.assert_denied(event, os.path.join(ckpt, "tokenizer"))
        self.assert_nothing_written(out)

        # A parent folder of the checkpoint (relative link): refused when the
        # request is resolved, before a job exists.
        run = os.path.join(self.root, "runs", "linked_run")
        os.symlink(os.path.relpath(os.path.join(self.outside, "runs", "x"), os.path.dirname(run)),
                   run)
        with self.assertRaises(grpc.RpcError) as e:
            self.export(os.path.join(run, "ckpt", "100"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(run, e.exception.details())

        # A parent of the output folder, given explicitly or reached by the
        # default destination (<run>/hf/<run>_<step>).
        ckpt = self.checkpoint()
        exports = os.path.join(self.root, "linked_exports")
        os.symlink(os.path.join(self.outside, "exports"), exports)
        with self.assertRaises(grpc.RpcError) as e:
            self.export(ckpt, out=os.path.join(exports, "new", "x"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(exports, e.exception.details())
        hf = os.path.join(os.path.dirname(os.path.dirname(ckpt)), "hf")
        os.symlink(os.path.join(self.outside, "exports"), hf)
        req = self.pb.ExportRequest(checkpoint_dir=ckpt, validate=False)
        with self.assertRaises(grpc.RpcError) as e:
            self.client.stream("ExportCheckpoint", req)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(hf, e.exception.details())

        # A validation of a folder whose config.json leaves the root.
        export_dir = os.path.join(self.root, "exports", "fake")
        os.makedirs(export_dir)
        os.symlink(os.path.join(self.outside, "secret"), os.path.join(export_dir, "config.json"))
        # A failed validation is a report with passed: false (the job itself
        # SUCCEEDED); the failing check names the link, quotes nothing of it.
        events = self.client.stream("ValidateExport", self.pb.ValidateRequest(export_dir=export_dir))
        result = events[-1].result
        self.assertEqual(events[-1].state, self.pb.SUCCEEDED, events[-1].error.message)
        self.assertFalse(result.passed)
        failed = [c.detail for c in result.checks if not c.passed]
        self.assertTrue(any(os.path.join(export_dir, "config.json") in d and "outside" in d
                            for d in failed), failed)
        for check in result.checks:
            self.assertNotIn(SECRET, check.detail)

    def test_links_that_stay_inside_work(self):
        ckpt = self.checkpoint()
        folder = os.path.dirname(ckpt)
        os.symlink("100", os.path.join(folder, "latest"))               # relative
        os.symlink(ckpt, os.path.join(folder, "absolute"))              # absolute, inside
        shared = os.path.join(self.root, "shared")
        os.makedirs(shared, exist_ok=True)
        os.rename(os.path.join(ckpt, "state_dict.pt"), os.path.join(shared, "state_dict.pt"))
        os.symlink("../../../../shared/state_dict.pt", os.path.join(ckpt, "state_dict.pt"))
        for name in ("latest", "absolute"):
            with self.subTest(link=name):
                event, _, out = self.export(os.path.join(folder, name), dry_run=False,
                                            overwrite=True)
                self.assertEqual(event.state, self.pb.SUCCEEDED, event.error.message)
                self.assertTrue(os.path.isfile(os.path.join(out, "model.safetensors")))

    # -- special files -------------------------------------------------------
    def test_special_files_are_refused_by_type_within_a_second(self):
        files = [(TORCH, "state_dict.pt"), (SAFETENSORS, "model.safetensors"),
                 (TORCH, "config.yaml"), (TORCH, "tokenizer_info.json"),
                 (TORCH, "tokenizer/tokenizer.json"), (TORCH, "tokenizer/special_tokens_map.json"),
                 (TORCH, "tokenizer/vocab.txt")]
        for fixture, name in files:
            for kind in KINDS:
                if kind == "directory" and name == "tokenizer/vocab.txt":
                    continue  # sub-folders of tokenizer/ are skipped by design (a note)
                with self.subTest(file=name, kind=kind):
                    ckpt = self.checkpoint(fixture)
                    sock = make_special(os.path.join(ckpt, name), kind)
                    try:
                        event, seconds, out = self.export(ckpt)
                    finally:
                        if sock:
                            sock.close()
                    self.assertEqual(event.state, self.pb.FAILED)
                    self.assertIn(os.path.join(ckpt, name), event.error.message)
                    if kind == "character device":  # /dev/zero is outside the root
                        self.assertEqual(event.error.code, PERMISSION_DENIED, event.error.message)
                    else:
                        self.assertEqual(event.error.code, INVALID_ARGUMENT, event.error.message)
                        self.assertIn(f"is a {kind}", event.error.message)
                    self.assertLess(seconds, 1.0, event.error.message)
                    self.assert_nothing_written(out)

    # -- the rename race ---------------------------------------------------
    def test_swapping_a_folder_for_a_link_never_reads_outside(self):
        """R/race/ckpt/100 is exchanged with a symlink to the outside copy
        while dry-run exports (every read, no write) of it run one after
        another: first as fast as a thread can swap, then holding each state
        a random 0-0.5 s, so that some jobs read the folder from start to end
        and others meet the link half-way."""
        folder = os.path.join(self.root, "race", "ckpt")
        os.makedirs(folder)
        real = os.path.join(folder, "100")
        shutil.copytree(os.path.join(FIXTURES, TORCH), real)
        link = os.path.join(folder, "swap")
        os.symlink(self.outside_ckpt, link)
        stop = threading.Event()
        swaps = [0]
        hold = [0.0]  # the longest a state is kept; 0: swap continuously
        rng = random.Random(13)

        def racer():
            while not stop.is_set():
                exchange(real, link)
                swaps[0] += 1
                if hold[0]:
                    stop.wait(rng.uniform(0, hold[0]))  # the race's rhythm, not a wait

        thread = threading.Thread(target=racer)
        thread.start()
        outcomes = {"read inside": 0, "refused at submission": 0, "refused by the job": 0}
        try:
            for i in range(16):
                if i == 8:
                    hold[0] = 0.5
                try:
                    event, _, _ = self.export(real, dry_run=True)
                except grpc.RpcError as e:  # the link was in place at submission
                    self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED, e.details())
                    self.assertNotIn(SECRET, e.details())
                    outcomes["refused at submission"] += 1
                    continue
                if event.state == self.pb.SUCCEEDED:
                    outcomes["read inside"] += 1
                else:
                    self.assertNotIn(SECRET, event.error.message)
                    self.assertNotIn("FIFO", event.error.message)
                    self.assertIn(event.error.code, (PERMISSION_DENIED, 5), event.error.message)
                    outcomes["refused by the job"] += 1
        finally:
            stop.set()
            thread.join()
        self.assertGreater(swaps[0], 16)
        sys.stderr.write(f"\nrace: {swaps[0]} swaps, {outcomes}\n")
        if os.path.islink(real):
            exchange(real, link)


class ServerConfinementPortableWalk(ServerConfinement):
    """The same, on the resolver for kernels without openat2."""
    ENV = {"NEOBERT_FS_NO_OPENAT2": "1"}


class CliSpecialFiles(unittest.TestCase):
    """The CLI: one door for every command. Special files are refused by type
    within a second; links are followed unless --confine DIR."""

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="neobert-confine-cli-"))
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args, timeout=60):
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(BIN, "neobert-export"), *args], capture_output=True,
                           text=True, timeout=timeout)
        return r, time.monotonic() - t0

    def special(self, path, kind):
        s = make_special(path, kind)
        if s:
            self.socks.append(s)

    def assert_refused(self, r, seconds, path, kind):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(path, r.stderr)
        self.assertIn(f"is a {kind}", r.stderr)
        self.assertLess(seconds, 1.0, r.stderr)

    def test_inspect_convert_forward(self):
        for kind in ("FIFO", "socket", "character device"):
            with self.subTest(kind=kind):
                path = os.path.join(self.tmp, f"weights-{kind.replace(' ', '_')}")
                self.special(path, kind)
                r, s = self.cli("inspect", path)
                self.assert_refused(r, s, path, kind)
                r, s = self.cli("convert", path, os.path.join(self.tmp, "out.safetensors"))
                self.assert_refused(r, s, path, kind)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "out.safetensors")))
        # A folder whose weight file is a folder.
        d = os.path.join(self.tmp, "dir")
        os.makedirs(os.path.join(d, "state_dict.pt"))
        r, s = self.cli("inspect", d)
        self.assert_refused(r, s, os.path.join(d, "state_dict.pt"), "directory")
        # forward: the request file is a FIFO (checked before the weights).
        export = os.path.join(self.tmp, "export")
        os.makedirs(export)
        fifo = os.path.join(self.tmp, "ids.json")
        os.mkfifo(fifo)
        r, s = self.cli("forward", export, "--input-ids", fifo, "--out",
                        os.path.join(self.tmp, "o.safetensors"))
        self.assert_refused(r, s, fifo, "FIFO")

    def test_export_and_validate(self):
        for name in ("state_dict.pt", "config.yaml", "tokenizer_info.json",
                     "tokenizer/tokenizer.json"):
            for kind in KINDS:
                with self.subTest(file=name, kind=kind):
                    ckpt = os.path.join(self.tmp, "c", f"{name}-{kind}".replace("/", "_"))
                    shutil.copytree(os.path.join(FIXTURES, TORCH), ckpt)
                    self.special(os.path.join(ckpt, name), kind)
                    out = os.path.join(self.tmp, "exports", os.path.basename(ckpt))
                    r, s = self.cli("export", ckpt, "-o", out, "--no-sanity", "--local")
                    self.assert_refused(r, s, os.path.join(ckpt, name), kind)
                    self.assertFalse(os.path.exists(out))
        # validate: config.json of the export folder is a FIFO.
        export = os.path.join(self.tmp, "fifo-export")
        os.makedirs(export)
        os.mkfifo(os.path.join(export, "config.json"))
        r, s = self.cli("validate", export, "--local", "--json", timeout=120)
        self.assertNotEqual(r.returncode, 0)
        report = json.loads(r.stdout.strip().splitlines()[-1])
        config = next(c for c in report["checks"] if c["name"] == "config")
        self.assertIn("is a FIFO", config["detail"])

    def test_confine_flag(self):
        """Without --confine the CLI follows the user's links; with it, a link
        leaving DIR is PERMISSION_DENIED naming the link, and nothing is
        written."""
        root = os.path.join(self.tmp, "root")
        elsewhere = os.path.join(self.tmp, "elsewhere")
        ckpt = os.path.join(root, "ckpt")
        shutil.copytree(os.path.join(FIXTURES, TORCH), ckpt)
        os.makedirs(elsewhere)
        os.rename(os.path.join(ckpt, "state_dict.pt"), os.path.join(elsewhere, "state_dict.pt"))
        os.symlink(os.path.join(elsewhere, "state_dict.pt"), os.path.join(ckpt, "state_dict.pt"))
        out = os.path.join(root, "out")
        r, _ = self.cli("export", ckpt, "-o", out, "--no-sanity", "--local", "--confine", root)
        self.assertEqual(r.returncode, DENIED_EXIT, r.stderr)
        self.assertIn(os.path.join(ckpt, "state_dict.pt"), r.stderr)
        self.assertIn("leads outside", r.stderr)
        self.assertFalse(os.path.exists(out))
        r, _ = self.cli("inspect", os.path.join(ckpt, "state_dict.pt"), "--confine", root)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("leads outside", r.stderr)
        # An output outside DIR is refused too.
        r, _ = self.cli("export", ckpt, "-o", os.path.join(elsewhere, "out"), "--no-sanity",
                        "--local", "--confine", self.tmp + "/root")
        self.assertEqual(r.returncode, DENIED_EXIT, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(elsewhere, "out")))
        # The default follows links; --confine on the common parent allows it.
        r, _ = self.cli("export", ckpt, "-o", out, "--no-sanity", "--local")
        self.assertEqual(r.returncode, 0, r.stderr)
        r, _ = self.cli("export", ckpt, "-o", out + "2", "--no-sanity", "--local",
                        "--confine", self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, _ = self.cli("inspect", out, "--confine", "/nonexistent-confine-dir")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--confine", r.stderr)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
