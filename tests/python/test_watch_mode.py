"""neobert-exportd --watch against a fake trainer, and --post-export-hook.

The fake trainer writes steps the way the real ones do (reference §1.2):
  old  (a5f0198 … b383cf5): model_checkpoints/<step>.tmp/ filled, then renamed
       to <step>/; an Accelerate-only checkpoints/<step>/ beside it (no
       config.yaml: never an export input);
  new  (34f6a02+): checkpoints/<step>/ written in place, file by file, with a
       long pause before config.yaml and short ones between tokenizer files.
For inotify (auto) and --watch-mode poll: every finished step is exported
exactly once (jobs counted through `neobert-export jobs --json`, i.e. the
ListJobs RPC; export folders and their manifests checked), the steps already
there at start-up go newest first, a half-written step has no job while it is
half-written, and after a SIGTERM + restart on the same --state-dir nothing is
exported again while a newly written step is. A step whose files change
after its export is exported again, replacing the earlier export.

Hook: a script records $1 and its environment; a failing hook (exit 7) leaves
the job SUCCEEDED with hook_exit_code 7 and a warning; an RPC export runs the
hook too; the hook's output reaches the server log.

usage: /usr/bin/python3 test_watch_mode.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BIN = FIXTURES = None
POLL = 1  # --watch-poll-seconds: also the settle time of a step dir


def copy_checkpoint_files(fixture, dest, pause=0.0, before=None):
    """Copies a fixture step the way the trainer writes it: weights, then
    config.yaml and tokenizer_info.json, then tokenizer/ file by file."""
    src = os.path.join(FIXTURES, fixture)
    weights = "model.safetensors" if os.path.exists(os.path.join(src, "model.safetensors")) \
        else "state_dict.pt"
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(src, weights), "rb") as f:
        data = f.read()
    with open(os.path.join(dest, weights), "wb") as f:  # in a few pieces, like a big write
        for i in range(0, len(data), max(1, len(data) // 4)):
            f.write(data[i:i + max(1, len(data) // 4)])
            f.flush()
            time.sleep(pause / 4)
    if before:
        before()
    for name in ("config.yaml", "tokenizer_info.json"):
        shutil.copy2(os.path.join(src, name), os.path.join(dest, name))
        time.sleep(pause)
    os.makedirs(os.path.join(dest, "tokenizer"), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(src, "tokenizer"))):
        shutil.copy2(os.path.join(src, "tokenizer", name), os.path.join(dest, "tokenizer", name))
        last_write = time.time()
        time.sleep(pause)
    return last_write


def old_trainer_save(run, step):
    """e5ad067: write <step>.tmp, then promote it by rename."""
    mc = os.path.join(run, "model_checkpoints")
    tmp = os.path.join(mc, f"{step}.tmp")
    copy_checkpoint_files("fp32_swiglu_rope_rms", tmp)
    # Accelerate resume state in the other tree: no config.yaml.
    acc = os.path.join(run, "checkpoints", str(step))
    os.makedirs(acc, exist_ok=True)
    with open(os.path.join(acc, "optimizer.bin"), "wb") as f:
        f.write(b"\0" * 1024)
    return tmp, os.path.join(mc, str(step))


class Server:
    def __init__(self, tmp, args, tag):
        self.log_path = os.path.join(tmp, f"server-{tag}.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "neobert-exportd"), "--listen", "127.0.0.1:0",
             "--input-root", os.path.join(tmp, "in"), "--output-root", os.path.join(tmp, "out"),
             "--state-dir", os.path.join(tmp, "state"), "--no-fsync", "--grace-seconds", "20",
             "--watch-poll-seconds", str(POLL), *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            with open(self.log_path) as f:
                raise RuntimeError(f"server did not start: {line!r}\n{f.read()}")
        self.address = line.split()[-1]

    def jobs(self):
        r = subprocess.run([os.path.join(BIN, "neobert-export"), "jobs", "--json",
                            "--server", self.address], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"jobs failed: {r.stderr}")
        return [json.loads(l) for l in r.stdout.splitlines()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


def wait_for(predicate, what, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class WatchMode(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="neobert-watch-")
        for d in ("in/runs", "out", "state"):
            os.makedirs(os.path.join(self.tmp, d))
        self.runs = os.path.join(self.tmp, "in", "runs")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def jobs_for(self, jobs, step_dir):
        real = os.path.realpath(step_dir)
        return [j for j in jobs if j["checkpoint_dir"] == real]

    def check_export(self, step_dir, export_dir):
        with open(os.path.join(export_dir, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["source"]["checkpoint"], os.path.realpath(step_dir))
        for entry in manifest["files"]:
            self.assertEqual(os.path.getsize(os.path.join(export_dir, entry["name"])), entry["size"])

    def run_scenario(self, mode_args, watch_args, out_for):
        old = os.path.join(self.runs, "old")
        new = os.path.join(self.runs, "new")
        os.makedirs(os.path.join(new, "checkpoints"))
        # Finished before the server starts: 100 and 200 (old layout).
        for step in (100, 200):
            tmp, final = old_trainer_save(old, step)
            os.rename(tmp, final)
        server = Server(self.tmp, mode_args + watch_args, "a")
        try:
            jobs = wait_for(lambda: (lambda js: js if len([j for j in js if j["state"] == "SUCCEEDED"]) >= 2
                                     else None)(server.jobs()), "the two existing steps")
            self.assertEqual(len(jobs), 2, jobs)
            # Newest step first: 200's job was submitted before 100's (and
            # `jobs` lists newest first, so it comes last).
            self.assertEqual(jobs[-1]["checkpoint_dir"],
                             os.path.realpath(os.path.join(old, "model_checkpoints", "200")))

            # Old trainer: step 300 sits in 300.tmp (complete!) for > 2 settle
            # intervals before the rename; it must not be exported as .tmp.
            tmp300, final300 = old_trainer_save(old, 300)
            # New trainer: 1000 written in place, half-written for a while.
            step1000 = os.path.join(new, "checkpoints", "1000")
            os.makedirs(step1000)
            with open(os.path.join(step1000, "optimizer.bin"), "wb") as f:
                f.write(b"\0" * 4096)

            def no_job_yet():
                js = server.jobs()
                self.assertEqual(self.jobs_for(js, step1000), [], "half-written step exported")
                self.assertFalse([j for j in js if ".tmp" in j["checkpoint_dir"]], js)
            # Before config.yaml (a long pause) nothing may be submitted; after
            # it, files keep arriving faster than the settle time, so the job
            # must not be older than the step's last file.
            done1000 = copy_checkpoint_files("safetensors", step1000, pause=0.25,
                                             before=lambda: (time.sleep(2.5 * POLL), no_job_yet()))
            os.rename(tmp300, final300)
            final_jobs = wait_for(lambda: (lambda js: js if len([j for j in js if j["state"] == "SUCCEEDED"]) >= 4
                                           else None)(server.jobs()), "steps 300 and 1000")
            time.sleep(2.5 * POLL)  # a few more scans: nothing else may appear
            final_jobs = server.jobs()
            steps = {os.path.join(old, "model_checkpoints", s) for s in ("100", "200", "300")}
            steps.add(step1000)
            self.assertEqual(len(final_jobs), 4, final_jobs)
            for step_dir in steps:
                mine = self.jobs_for(final_jobs, step_dir)
                self.assertEqual(len(mine), 1, (step_dir, final_jobs))
                self.assertEqual(mine[0]["state"], "SUCCEEDED", mine[0])
                self.assertEqual(mine[0]["output_dir"], out_for(step_dir))
                self.check_export(step_dir, out_for(step_dir))
            created = int(self.jobs_for(final_jobs, step1000)[0]["created_unix_ms"]) / 1000
            self.assertGreaterEqual(created, done1000, "step 1000 was submitted half-written")
            # Accelerate-only checkpoints/<step> of the old run: never a job.
            self.assertFalse([j for j in final_jobs if "/old/checkpoints/" in j["checkpoint_dir"]])
        finally:
            self.assertEqual(server.stop(), 0)

        # Restart on the same state dir: the journal and the manifests say
        # everything is done; only a new step is exported.
        server = Server(self.tmp, mode_args + watch_args, "b")
        try:
            time.sleep(3 * POLL)
            self.assertEqual(len(server.jobs()), 4)
            step2000 = os.path.join(new, "checkpoints", "2000")
            copy_checkpoint_files("safetensors", step2000, pause=0.1)
            wait_for(lambda: [j for j in self.jobs_for(server.jobs(), step2000)
                              if j["state"] == "SUCCEEDED"], "step 2000")
            time.sleep(2.5 * POLL)
            jobs = server.jobs()
            self.assertEqual(len(jobs), 5, jobs)
            self.assertEqual(len(self.jobs_for(jobs, step2000)), 1)
            self.check_export(step2000, out_for(step2000))
        finally:
            self.assertEqual(server.stop(), 0)
        with open(os.path.join(self.tmp, "server-b.log")) as f:
            log = f.read()
        self.assertIn("already exported", log)

    def test_inotify_run_dir_and_checkpoints_folder(self):
        out = os.path.join(self.tmp, "out")
        self.run_scenario(
            ["--watch-mode", "auto"],
            ["--watch", os.path.join(self.runs, "old"),
             "--watch", os.path.join(self.runs, "new", "checkpoints"), "--watch-output", out],
            lambda step: os.path.join(os.path.realpath(out),
                                      f"{os.path.basename(os.path.dirname(os.path.dirname(step)))}_"
                                      f"{os.path.basename(step)}"))

    def test_poll_folder_of_runs_default_destination(self):
        # Default destination <run>/hf/<run>_<step>: the runs folder must be
        # an output root too.
        self.run_scenario(
            ["--watch-mode", "poll", "--output-root", self.runs],
            ["--watch", self.runs],
            lambda step: os.path.join(os.path.realpath(os.path.dirname(os.path.dirname(step))), "hf",
                                      f"{os.path.basename(os.path.dirname(os.path.dirname(step)))}_"
                                      f"{os.path.basename(step)}"))

    def test_step_rewritten_after_export_is_exported_again(self):
        # A trainer that pauses longer than the settle time mid-step, then
        # writes the rest: the step is exported when it looks finished, and
        # again, replacing that export, once its files change.
        run = os.path.join(self.runs, "paused")
        step = os.path.join(run, "checkpoints", "500")
        copy_checkpoint_files("safetensors", step)
        out = os.path.join(self.tmp, "out")
        server = Server(self.tmp, ["--watch", run, "--watch-output", out], "rewrite")
        dest = os.path.join(os.path.realpath(out), "paused_500")
        try:
            wait_for(lambda: [j for j in self.jobs_for(server.jobs(), step)
                              if j["state"] == "SUCCEEDED"], "the first export of step 500")
            with open(os.path.join(dest, "manifest.json")) as f:
                first = json.load(f)["source"]["fingerprint"]
            time.sleep(0.05)
            shutil.copy(os.path.join(FIXTURES, "safetensors", "model.safetensors"),
                        os.path.join(step, "model.safetensors"))  # rewritten: new mtime
            jobs = wait_for(lambda: (lambda js: js if len(js) == 2 and all(
                j["state"] in ("SUCCEEDED", "FAILED") for j in js) else None)(
                    self.jobs_for(server.jobs(), step)), "the second export of step 500")
            self.assertEqual([j["state"] for j in jobs], ["SUCCEEDED", "SUCCEEDED"], jobs)
            self.check_export(step, dest)
            with open(os.path.join(dest, "manifest.json")) as f:
                self.assertNotEqual(json.load(f)["source"]["fingerprint"], first)
            leftovers = set(os.listdir(out)) - {"paused_500", ".paused_500.lock"}
            self.assertEqual(leftovers, set())  # no staging dir or replaced export left
        finally:
            self.assertEqual(server.stop(), 0)
        with open(server.log_path) as f:
            self.assertIn("the step changed after its export: replacing it", f.read())

    def test_post_export_hook(self):
        hook_dir = os.path.join(self.tmp, "hook")
        os.makedirs(hook_dir)
        script = os.path.join(self.tmp, "hook.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n"
                    f"out={hook_dir}/$NEOBERT_JOB_ID.json\n"
                    'printf \'{"arg": "%s", "dir": "%s", "ckpt": "%s", "job": "%s"}\' '
                    '"$1" "$NEOBERT_EXPORT_DIR" "$NEOBERT_CHECKPOINT_DIR" "$NEOBERT_JOB_ID" > "$out"\n'
                    'echo "hook says hello for $(basename "$1")"\n'
                    'case "$1" in *_20) exit 7;; esac\n'
                    "exit 0\n")
        os.chmod(script, 0o755)
        run = os.path.join(self.runs, "h")
        for step in (10, 20):
            copy_checkpoint_files("safetensors", os.path.join(run, "checkpoints", str(step)))
        out = os.path.join(self.tmp, "out")
        server = Server(self.tmp, ["--watch", run, "--watch-output", out,
                                   "--post-export-hook", f"{script} \"$1\"",
                                   "--post-export-hook-timeout", "30"], "hook")
        try:
            jobs = wait_for(lambda: (lambda js: js if len([j for j in js if j["state"] == "SUCCEEDED"]) >= 2
                                     else None)(server.jobs()), "two hooked exports")
            # An RPC export runs the hook as well.
            rpc_dest = os.path.join(out, "rpc")
            r = subprocess.run([os.path.join(BIN, "neobert-export"), "export",
                                os.path.join(run, "checkpoints", "10"), "-o", rpc_dest,
                                "--server", server.address], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            jobs = server.jobs()
        finally:
            self.assertEqual(server.stop(), 0)
        self.assertEqual(len(jobs), 3, jobs)
        by_dest = {j["output_dir"]: j for j in jobs}
        real_out = os.path.realpath(out)
        for name, code in (("h_10", 0), ("h_20", 7), ("rpc", 0)):
            job = by_dest[os.path.join(real_out, name)]
            self.assertEqual(job["state"], "SUCCEEDED", job)
            self.assertTrue(job["result"].get("hook_ran"), job)
            self.assertEqual(job["result"].get("hook_exit_code", 0), code, job)
            with open(os.path.join(hook_dir, job["job_id"] + ".json")) as f:
                seen = json.load(f)
            self.assertEqual(seen["arg"], os.path.join(real_out, name))
            self.assertEqual(seen["dir"], os.path.join(real_out, name))
            self.assertEqual(seen["ckpt"], job["checkpoint_dir"])
            self.assertEqual(seen["job"], job["job_id"])
            failed_warning = any("post-export hook failed" in w for w in job["result"].get("warnings", []))
            self.assertEqual(failed_warning, code != 0, job)
        with open(os.path.join(self.tmp, "server-hook.log")) as f:
            log = f.read()
        self.assertIn("hook says hello for h_20", log)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
