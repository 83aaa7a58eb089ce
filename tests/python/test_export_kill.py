"""Killing the exporter never leaves a partial destination.

Builds a ~200 MB checkpoint with torch.save (the fixture's config.yaml,
tokenizer/ and tokenizer_info.json with bigger dimensions), measures one
un-killed export, then SIGKILLs exports to one destination after seeded
random delays spread over that duration. After every kill the destination
must not exist (the only legal exception: the kill landed after the atomic
rename, and then the folder must be a complete export whose manifest
verifies). Three concurrent exports to one destination write it once. Most kills must land while the hidden `.<name>.partial-*` staging
directory exists, i.e. in the middle of writing. A SIGTERM is a cooperative
cancel: exit 1 and nothing left at all. A final un-killed export succeeds and
removes the stale staging directories of the killed runs (their pids are
dead).

usage: /usr/bin/python3 test_export_kill.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from export_util import exporter, file_sha256, staging_leftovers, swiglu_width  # noqa: E402

BIN = FIXTURES = None
SOURCE = "fp32_swiglu_rope_rms"
DIMS = {"hidden_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 16, "intermediate_size": 4096}
TRIALS = 8
SEED = 20240607


def make_medium_checkpoint(dst):
    """~205 MB fp32 state_dict.pt; V stays the fixture's (its tokenizer is reused)."""
    src = os.path.join(FIXTURES, SOURCE)
    os.makedirs(dst)
    shutil.copytree(os.path.join(src, "tokenizer"), os.path.join(dst, "tokenizer"))
    shutil.copy(os.path.join(src, "tokenizer_info.json"), dst)
    with open(os.path.join(src, "config.yaml")) as f:
        doc = yaml.safe_load(f)
    doc["model"].update(DIMS)
    with open(os.path.join(dst, "config.yaml"), "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    H, L, V = DIMS["hidden_size"], DIMS["num_hidden_layers"], doc["model"]["vocab_size"]
    W = swiglu_width(DIMS["intermediate_size"])
    gen = torch.Generator().manual_seed(SEED)
    sd = {"model.encoder.weight": torch.randn(V, H, generator=gen)}
    for i in range(L):
        p = f"model.transformer_encoder.{i}."
        sd[p + "qkv.weight"] = torch.randn(3 * H, H, generator=gen)
        sd[p + "wo.weight"] = torch.randn(H, H, generator=gen)
        sd[p + "ffn.w1.weight"] = torch.randn(W, H, generator=gen)
        sd[p + "ffn.w2.weight"] = torch.randn(W, H, generator=gen)
        sd[p + "ffn.w3.weight"] = torch.randn(H, W, generator=gen)
        sd[p + "attention_norm.weight"] = torch.ones(H)
        sd[p + "ffn_norm.weight"] = torch.ones(H)
    sd["model.layer_norm.weight"] = torch.ones(H)
    sd["decoder.weight"] = sd["model.encoder.weight"]  # tied, one storage
    torch.save(sd, os.path.join(dst, "state_dict.pt"))
    return os.path.getsize(os.path.join(dst, "state_dict.pt"))


def verify_export(test, out):
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    test.assertEqual({e["name"] for e in m["files"]}, set(os.listdir(out)) - {"manifest.json"})
    for e in m["files"]:
        path = os.path.join(out, e["name"])
        test.assertEqual(os.path.getsize(path), e["size"], e["name"])
        test.assertEqual(file_sha256(path), e["sha256"], e["name"])


class KillDuringExport(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert_export_kill_")
        self.ckpt = os.path.join(self.tmp, "ckpt")
        size = make_medium_checkpoint(self.ckpt)
        self.assertGreater(size, 190e6)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, out, capture=True):
        return subprocess.Popen([exporter(BIN), "export", self.ckpt, "-o", out],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE if capture else subprocess.DEVNULL, text=True)

    def wait_for_staging(self, proc, out, timeout):
        """Monotonic time at which `proc`'s staging dir for `out` appeared
        (or the process ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f"-{proc.pid}-" in n for n in staging_leftovers(out)) or proc.poll() is not None:
                return time.monotonic()
            time.sleep(0.002)
        return time.monotonic()

    def test_sigkill_never_leaves_a_destination(self):
        # Calibrate: how long one full export takes on this machine right now.
        # The write phase starts when the staging directory appears; kills are
        # timed from there, so a slow or loaded machine still lands them mid-write.
        calib = os.path.join(self.tmp, "calibration")
        t0 = time.monotonic()
        proc = self.start(calib)
        to_staging = self.wait_for_staging(proc, calib, 120) - t0
        _, err = proc.communicate(timeout=120)
        duration = time.monotonic() - t0
        write_phase = max(duration - to_staging, 0.05)
        self.assertEqual(proc.returncode, 0, err)
        verify_export(self, calib)
        shutil.rmtree(calib)
        self.assertGreater(duration, 0.5, "export too fast for kills to land mid-way")

        out = os.path.join(self.tmp, "exports", "medium")

        # SIGTERM is a cooperative cancel: a clean failure, nothing left behind.
        # Sent once this run's staging dir exists (the write phase).
        proc = self.start(out)
        deadline = time.monotonic() + duration * 2
        mine = None
        while time.monotonic() < deadline and mine is None:
            mine = next((n for n in staging_leftovers(out) if f"-{proc.pid}-" in n), None)
            time.sleep(0.005)
        self.assertIsNotNone(mine, "the SIGTERM run never reached the write phase")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 6, err)  # cancelled
        self.assertEqual(err.strip().splitlines()[-1].split(":")[0], "error")
        self.assertIn("cancel", err.lower())
        self.assertFalse(os.path.exists(out))
        self.assertEqual(staging_leftovers(out), [])

        rng = random.Random(SEED)
        kills = mid_write = 0
        for trial in range(TRIALS):
            proc = self.start(out, capture=False)
            if trial < 2:
                # Before the write phase (validation, scan, sanity pass).
                delay = to_staging * rng.uniform(0.2, 0.8)
            else:
                # Stratified over [0.02, 0.6] of the calibrated write phase (its
                # tail is hashing and the rename, which a loaded machine may finish early).
                lo = 0.02 + 0.58 * (trial - 2) / (TRIALS - 2)
                delay = write_phase * rng.uniform(lo, lo + 0.58 / (TRIALS - 2))
                self.wait_for_staging(proc, out, 120)
            time.sleep(delay)
            staging_at_kill = staging_leftovers(out)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            with self.subTest(trial=trial, delay=round(delay, 3)):
                if proc.returncode == 0:  # finished before the kill: not a kill trial
                    shutil.rmtree(out)
                    continue
                self.assertEqual(proc.returncode, -signal.SIGKILL)
                kills += 1
                if os.path.exists(out):
                    # Only possible if the kill landed between the atomic rename
                    # and process exit: then the folder must be whole.
                    verify_export(self, out)
                    shutil.rmtree(out)
                    continue
                if staging_at_kill:
                    mid_write += 1
        sys.stderr.write(f"\nexport {duration:.2f} s (write phase {write_phase:.2f} s); "
                         f"{kills} kills, {mid_write} during the write phase\n")
        self.assertGreaterEqual(kills, TRIALS - 2, "too many exports ended before their kill")
        self.assertGreaterEqual(mid_write, TRIALS // 2,
                                f"only {mid_write} of {TRIALS} kills hit the write phase")
        stale = staging_leftovers(out)
        self.assertTrue(stale, "the last killed export should have left its hidden staging directory")
        self.assertFalse(os.path.exists(out))

        # A final un-killed run publishes a complete export and removes the
        # stale staging dirs of the killed runs.
        proc = self.start(out)
        _, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        verify_export(self, out)
        self.assertEqual(staging_leftovers(out), [])
        # Beside it only the (empty) destination lock file.
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), [".medium.lock", "medium"])

    def test_concurrent_exports_to_one_destination_write_once(self):
        """Three exporters (think: replicas sharing an output root) asked for
        the same destination at once: the destination lock lets one write;
        the others wait and then report the published export as up to date.
        None fails at the final rename, none writes a second copy."""
        out = os.path.join(self.tmp, "shared", "medium")
        procs = [subprocess.Popen([exporter(BIN), "export", self.ckpt, "-o", out, "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        results = []
        for p in procs:
            stdout, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        self.assertEqual(sorted(r["skipped"] for r in results), [False, True, True], results)
        verify_export(self, out)
        self.assertEqual(staging_leftovers(out), [])


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
