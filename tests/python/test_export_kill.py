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

No timing assumption decides a verdict: every kill is preceded by SIGSTOP
(waited for with waitpid), so what is on disk when the process dies is what
the test records; a trial whose export finished before its kill is retried
with half the delay (a machine faster now than at calibration); and the
stale staging directory the final run must clean up is made on purpose (an
export stopped and killed as soon as its staging directory exists), not hoped
for from the last random trial.

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

    def wait_for_staging(self, proc, out, timeout=300):
        """Monotonic time at which `proc`'s staging dir for `out` appeared
        (or the process ended). The deadline only guards against a hang."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f"-{proc.pid}-" in n for n in staging_leftovers(out)) or proc.poll() is not None:
                return time.monotonic()
            time.sleep(0.002)
        self.fail(f"export {proc.pid} neither wrote nor ended within {timeout} s")

    def stop_and_kill(self, proc, out):
        """SIGSTOP, wait until stopped, record the staging dirs, SIGKILL.
        Returns (exit status, staging dirs at the kill); a process that ended
        before it could be stopped returns its own status and []."""
        if proc.poll() is not None:
            return proc.returncode, []
        proc.send_signal(signal.SIGSTOP)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):  # it ended first (and is reaped now)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, []
        staging = staging_leftovers(out)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return proc.returncode, staging

    def kill_trial(self, out, delay, after_staging):
        """One export killed `delay` s after its start (or after its staging
        dir appeared); (exit status, staging dirs at the kill)."""
        proc = self.start(out, capture=False)
        if after_staging:
            self.wait_for_staging(proc, out)
        time.sleep(delay)  # the random kill time, not a wait for anything
        return self.stop_and_kill(proc, out)

    def test_sigkill_never_leaves_a_destination(self):
        # Calibrate: how long one full export takes on this machine right now.
        # The write phase starts when the staging directory appears; kills are
        # timed from there, so a slow or loaded machine still lands them mid-write.
        calib = os.path.join(self.tmp, "calibration")
        t0 = time.monotonic()
        proc = self.start(calib)
        to_staging = self.wait_for_staging(proc, calib) - t0
        _, err = proc.communicate(timeout=300)
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
        self.wait_for_staging(proc, out)
        self.assertIsNone(proc.poll(), "the SIGTERM run ended before its write phase was seen")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 6, err)  # cancelled
        self.assertEqual(err.strip().splitlines()[-1].split(":")[0], "error")
        self.assertIn("cancel", err.lower())
        self.assertFalse(os.path.exists(out))
        self.assertEqual(staging_leftovers(out), [])

        rng = random.Random(SEED)
        kills = mid_write = retries = 0
        for trial in range(TRIALS):
            if trial < 2:
                # Before the write phase (validation, scan, sanity pass).
                delay = to_staging * rng.uniform(0.2, 0.8)
            else:
                # Stratified over [0.02, 0.6] of the calibrated write phase (its
                # tail is hashing and the rename, which a loaded machine may finish early).
                lo = 0.02 + 0.58 * (trial - 2) / (TRIALS - 2)
                delay = write_phase * rng.uniform(lo, lo + 0.58 / (TRIALS - 2))
            for _ in range(6):  # finished before its kill: again, sooner
                code, staging_at_kill = self.kill_trial(out, delay, after_staging=trial >= 2)
                if code != 0:
                    break
                shutil.rmtree(out)
                delay /= 2
                retries += 1
            with self.subTest(trial=trial, delay=round(delay, 3)):
                self.assertEqual(code, -signal.SIGKILL, "the export never ran long enough to be killed")
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
                         f"{kills} kills ({retries} retried sooner), {mid_write} during the "
                         f"write phase\n")
        self.assertEqual(kills, TRIALS)
        self.assertGreaterEqual(mid_write, TRIALS // 2,
                                f"only {mid_write} of {TRIALS} kills hit the write phase")

        # A staging dir left on purpose: stopped as soon as it exists, killed.
        for _ in range(6):
            code, staging_at_kill = self.kill_trial(out, 0, after_staging=True)
            if code == -signal.SIGKILL and staging_at_kill:
                break
            if os.path.exists(out):
                shutil.rmtree(out)
        self.assertTrue(staging_at_kill, "no export could be stopped in its write phase")
        self.assertEqual(staging_leftovers(out), staging_at_kill)
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
