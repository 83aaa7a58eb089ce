"""Operating neobert-exportd: config file, TLS/mTLS, Ctrl-C, replicas, reports.

* --config: a server started from a YAML file alone serves, with the file's
  device policy; a bad key is refused naming the file.
* TLS: with --tls-cert/--tls-key the CLI needs --tls-ca (plaintext and a
  wrong CA cannot connect: exit 3); with --tls-client-ca a client without a
  certificate is refused and one with a certificate signed by the CA works.
  Certificates are made with the openssl CLI for the test.
* Ctrl-C while following a job: --cancel-on-interrupt cancels the job; on a
  terminal the CLI asks, and "n" leaves the job running (exit 130).
* Two replicas sharing an output root, asked for the same export at once:
  one writes, the other reports the published export (the destination lock
  decides, not process memory); neither fails.
* A stderr nobody reads (a full pipe) never stalls jobs: logging is
  asynchronous and drops the oldest lines rather than block.
* Results carry the validation report and the device; `validate --server
  --source` runs source parity on the server.

usage: /usr/bin/python3 test_server_ops.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_export_kill  # noqa: E402  (its ~200 MB checkpoint builder)

BIN = FIXTURES = None
SMALL = "fp32_swiglu_rope_rms"


def start_server(*args):
    proc = subprocess.Popen([os.path.join(BIN, "neobert-exportd"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r} {proc.stderr.read()}")
    return proc, line.split()[-1]


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(*args, timeout=300, **kw):
    return subprocess.run([os.path.join(BIN, "neobert-export"), *args], capture_output=True,
                          text=True, timeout=timeout, **kw)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey",
                f"{d}/ca.key", "-CAcreateserial", "-days", "2", "-out", f"{d}/{name}.pem",
                "-extfile", f"{d}/{name}.ext")
    # A second, unrelated CA: a client trusting it must not accept the server.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other",
            "-keyout", f"{d}/other.key", "-out", f"{d}/other.pem")


class ServerOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="neobert-ops-")
        for d in ("in", "out", "state", "pki"):
            os.makedirs(os.path.join(cls.tmp, d))
        cls.small = os.path.join(cls.tmp, "in", "small")
        shutil.copytree(os.path.join(FIXTURES, SMALL), cls.small)
        test_export_kill.FIXTURES = FIXTURES
        cls.medium = os.path.join(cls.tmp, "in", "medium")
        test_export_kill.make_medium_checkpoint(cls.medium)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def roots(self):
        return ["--input-root", os.path.join(self.tmp, "in"),
                "--output-root", os.path.join(self.tmp, "out")]

    def out(self, name):
        return os.path.join(self.tmp, "out", name)

    def job_states(self, address):
        r = cli("jobs", "--server", address, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        jobs = (json.loads(line) for line in r.stdout.splitlines() if line.strip())
        return {j["job_id"]: j for j in jobs}

    def wait_state(self, address, job_id, states, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job_states(address).get(job_id)
            if job and job["state"] in states:
                return job
            time.sleep(0.1)
        self.fail(f"job {job_id} never reached {states}")

    def test_config_file(self):
        cfg = os.path.join(self.tmp, "exportd.yaml")
        with open(cfg, "w") as f:
            f.write(f"listen: 127.0.0.1:0\ninput-root: [{self.tmp}/in]\n"
                    f"output-root:\n  - {self.tmp}/out\nno-fsync: true\ndevice: cpu\nworkers: 2\n")
        proc, address = start_server("--config", cfg)
        try:
            r = cli("health", "--server", address)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = cli("export", self.small, "-o", self.out("from-config"), "--server", address,
                    "--device", "cuda:0")
            self.assertEqual(r.returncode, 1)
            self.assertIn("--device cpu", r.stderr)
        finally:
            stop(proc)
        self.assertIn("2 worker(s)", proc.stderr.read())
        with open(cfg, "a") as f:
            f.write("workerz: 3\n")
        r = subprocess.run([os.path.join(BIN, "neobert-exportd"), "--config", cfg],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown flag --workerz", r.stderr)
        self.assertIn(cfg, r.stderr)

    def test_tls_and_mtls(self):
        pki = os.path.join(self.tmp, "pki")
        make_pki(pki)
        proc, address = start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                                     "--tls-cert", f"{pki}/server.pem", "--tls-key",
                                     f"{pki}/server.key")
        try:
            r = cli("health", "--server", address, "--tls-ca", f"{pki}/ca.pem")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "SERVING"), r.stderr)
            r = cli("export", self.small, "-o", self.out("over-tls"), "--server", address,
                    "--tls-ca", f"{pki}/ca.pem", "--no-validate")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(self.out("over-tls"), "manifest.json")))
            for extra in ([], ["--tls-ca", f"{pki}/other.pem"]):
                r = cli("health", "--server", address, "--connect-timeout", "2", *extra)
                self.assertEqual(r.returncode, 3, (extra, r.stdout, r.stderr))
        finally:
            stop(proc)

        proc, address = start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                                     "--tls-cert", f"{pki}/server.pem", "--tls-key",
                                     f"{pki}/server.key", "--tls-client-ca", f"{pki}/ca.pem")
        try:
            r = cli("health", "--server", address, "--tls-ca", f"{pki}/ca.pem",
                    "--connect-timeout", "2")
            self.assertEqual(r.returncode, 3, "mTLS server accepted a client without a certificate")
            r = cli("health", "--server", address, "--tls-ca", f"{pki}/ca.pem",
                    "--tls-cert", f"{pki}/client.pem", "--tls-key", f"{pki}/client.key")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "SERVING"), r.stderr)
            r = cli("health", "--server", address, "--tls-cert", f"{pki}/client.pem",
                    "--tls-key", f"{pki}/client.key")
            self.assertEqual(r.returncode, 2, "a client certificate without --tls-ca is a usage error")
        finally:
            stop(proc)
        self.assertIn("mTLS", proc.stderr.read())

    def test_ctrl_c_while_following(self):
        # One worker, held by a job whose post-export hook sleeps: every job
        # submitted after it stays QUEUED for as long as the test needs.
        proc, address = start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                                     "--workers", "1", "--grace-seconds", "1",
                                     "--post-export-hook", "sleep 120")
        try:
            r = cli("submit", self.small, "-o", self.out("busy"), "--server", address)
            self.assertEqual(r.returncode, 0, r.stderr)

            # --cancel-on-interrupt: Ctrl-C cancels the job itself.
            p = subprocess.Popen([os.path.join(BIN, "neobert-export"), "export", self.small, "-o",
                                  self.out("interrupted"), "--server", address, "--json",
                                  "--cancel-on-interrupt"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            first = json.loads(p.stdout.readline())
            self.assertEqual(first["state"], "QUEUED")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 6, err)  # cancelled
            self.assertIn("cancel requested", err)
            self.assertEqual(self.job_states(address)[first["job_id"]]["state"], "CANCELLED")
            self.assertFalse(os.path.exists(self.out("interrupted")))

            # On a terminal the CLI asks; "n" leaves the job running.
            r = cli("submit", self.small, "-o", self.out("kept"), "--server", address)
            kept = r.stdout.strip()
            pid, master = pty.fork()
            if pid == 0:  # child: stdin/stdout/stderr are the pty
                os.execv(os.path.join(BIN, "neobert-export"),
                         ["neobert-export", "watch", kept, "--server", address])
            seen = b""
            deadline = time.monotonic() + 60
            # Interrupt only once it follows the job: its first progress output.
            while not seen and time.monotonic() < deadline:
                if select.select([master], [], [], 1.0)[0]:
                    seen += os.read(master, 4096)
            os.kill(pid, signal.SIGINT)
            try:
                while b"[y/N]" not in seen and time.monotonic() < deadline:
                    seen += os.read(master, 4096)
            except OSError:  # the pty closed: the CLI exited without asking
                self.fail(f"no prompt; the CLI printed {seen!r}")
            self.assertIn(b"Cancel job " + kept.encode(), seen)
            os.write(master, b"n\n")
            _, status = os.waitpid(pid, 0)
            try:
                while True:
                    chunk = os.read(master, 4096)
                    if not chunk:
                        break
                    seen += chunk
            except OSError:
                pass
            os.close(master)
            self.assertEqual(os.waitstatus_to_exitcode(status), 130, seen)
            self.assertIn(b"keeps running", seen)
            self.assertEqual(self.job_states(address)[kept]["state"], "QUEUED")
        finally:
            stop(proc)

    def test_unread_stderr_never_stalls_the_server(self):
        # start_server's stderr is a pipe this test never reads (64 KiB). Each
        # job's hook prints ~400 KB, which the server logs line by line: a
        # logger writing synchronously would block in the first job forever.
        hook = "yes 'hook output line, long enough to fill a pipe quickly' | head -n 6000"
        proc, address = start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                                     "--workers", "1", "--post-export-hook", hook)
        try:
            ids = []
            for i in range(3):
                r = cli("submit", self.small, "-o", self.out(f"chatty{i}"), "--server", address,
                        "--no-validate")
                self.assertEqual(r.returncode, 0, r.stderr)
                ids.append(r.stdout.strip())
            for job_id in ids:
                job = self.wait_state(address, job_id, {"SUCCEEDED", "FAILED"}, timeout=120)
                self.assertEqual(job["state"], "SUCCEEDED", job)
            self.assertEqual(cli("health", "--server", address, timeout=30).returncode, 0)
            # Shutting down does not wait forever for the unread lines either.
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            stop(proc)

    def test_two_replicas_one_destination(self):
        procs = [start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                              "--state-dir", os.path.join(self.tmp, "state", f"replica{i}"))
                 for i in range(2)]
        try:
            out = self.out("replicated")
            runs = [subprocess.Popen([os.path.join(BIN, "neobert-export"), "export", self.medium,
                                      "-o", out, "--server", address, "--json", "--no-validate"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _, address in procs]
            finals = []
            for p in runs:
                stdout, err = p.communicate(timeout=300)
                self.assertEqual(p.returncode, 0, err)
                finals.append(json.loads(stdout.strip().splitlines()[-1]))
            skipped = sorted(bool(f.get("skipped")) for f in finals)
            self.assertEqual(skipped, [False, True], finals)
            test_export_kill.verify_export(self, out)
        finally:
            for proc, _ in procs:
                stop(proc)

    def test_results_carry_validation_report_and_device(self):
        proc, address = start_server(*self.roots(), "--listen", "127.0.0.1:0", "--no-fsync",
                                     "--device", "cpu")
        try:
            r = cli("export", self.small, "-o", self.out("validated"), "--server", address, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            result = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertEqual(result["sanity_device"], "cpu")
            checks = {c["name"]: c for c in result["checks"]}
            for name in ("files", "config", "manifest", "weights", "mlm_forward", "source_parity"):
                self.assertTrue(checks[name]["passed"], checks.get(name))

            r = cli("validate", self.out("validated"), "--server", address,
                    "--source", self.small)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("PASS  source_parity", r.stdout)

            # A broken export: the server's report fails, naming the check
            # (exit 4: validation failed; the job itself succeeded).
            with open(os.path.join(self.out("validated"), "model.safetensors"), "r+b") as f:
                f.truncate(os.path.getsize(f.name) // 2)
            r = cli("validate", self.out("validated"), "--server", address)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("FAIL  manifest", r.stdout)
            self.assertIn("NOT valid", r.stdout)
        finally:
            stop(proc)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main()
