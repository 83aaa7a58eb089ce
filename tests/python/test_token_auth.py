"""Bearer tokens of neobert-exportd (issue 13), against real server processes.

* --token-file on a non-loopback --listen without TLS: the server refuses to
  start (exit 2) and says why, naming --allow-plaintext-token; with that flag
  (or its config key) it starts. Loopback stays allowed.
* TLS + token on 0.0.0.0 works: the right token is accepted over TLS, a
  missing or wrong one is UNAUTHENTICATED.
* The token file holds several tokens (blank lines and # comments ignored),
  every one accepted, and it is re-read when it changes: rotating a
  Kubernetes-style Secret (the `..data` symlink swapped atomically) makes the
  new token work and the old one fail, without a restart; a token file that
  vanishes or empties for a moment keeps the tokens read before.

usage: /usr/bin/python3 test_token_auth.py BIN_DIR FIXTURES_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from confine_util import Client, compile_proto, start_server, stop_server  # noqa: E402
from test_server_ops import make_pki  # noqa: E402

BIN = FIXTURES = None


class TokenAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = os.path.realpath(tempfile.mkdtemp(prefix="neobert-token-"))
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        cls.pb = compile_proto(os.path.join(cls.tmp, "py"))
        cls.token_file = os.path.join(cls.tmp, "token")
        with open(cls.token_file, "w") as f:
            f.write("only-token\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server_args(self, *extra):
        return ["--input-root", self.root, "--output-root", self.root, "--device", "cpu", *extra]

    def list_jobs(self, client, token):
        return client.unary("ListJobs", self.pb.ListJobsRequest(), self.pb.ListJobsResponse,
                            token=token, timeout=30)

    def assert_refused(self, client, token):
        with self.assertRaises(grpc.RpcError) as e:
            self.list_jobs(client, token)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED, token)

    def test_plaintext_token_on_a_network_address_is_refused(self):
        for listen in ("0.0.0.0:0", "[::]:0", "10.1.2.3:0"):
            with self.subTest(listen=listen):
                r = subprocess.run([os.path.join(BIN, "neobert-exportd"), "--listen", listen,
                                    "--token-file", self.token_file, *self.server_args()],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--allow-plaintext-token", r.stderr)
                self.assertIn("in clear", r.stderr)
                self.assertNotIn("listening on", r.stdout)
        # Allowed explicitly, by flag or config key; and on loopback anyway.
        config = os.path.join(self.tmp, "exportd.yaml")
        with open(config, "w") as f:
            f.write("allow-plaintext-token: true\n")
        for args in (["--listen", "0.0.0.0:0", "--allow-plaintext-token"],
                     ["--listen", "0.0.0.0:0", "--config", config],
                     ["--listen", "127.0.0.1:0"]):
            with self.subTest(args=args):
                proc, _ = start_server(BIN, [*args, "--token-file", self.token_file,
                                             *self.server_args()],
                                       os.path.join(self.tmp, "plain.log"))
                stop_server(proc)
                self.assertEqual(proc.returncode, 0)

    def test_tls_and_token_on_a_network_address(self):
        pki = os.path.join(self.tmp, "pki")
        os.makedirs(pki)
        make_pki(pki)
        proc, address = start_server(
            BIN, ["--listen", "0.0.0.0:0", "--tls-cert", f"{pki}/server.pem", "--tls-key",
                  f"{pki}/server.key", "--token-file", self.token_file, *self.server_args()],
            os.path.join(self.tmp, "tls.log"))
        try:
            port = address.rsplit(":", 1)[1]
            with open(f"{pki}/ca.pem", "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            channel = grpc.secure_channel(f"127.0.0.1:{port}", creds)
            client = Client(self.pb, channel)
            self.list_jobs(client, "only-token")
            self.assert_refused(client, None)
            self.assert_refused(client, "only-tokex")
            channel.close()
            # Plaintext cannot talk to it at all.
            plain = grpc.insecure_channel(f"127.0.0.1:{port}")
            with self.assertRaises(grpc.RpcError) as e:
                self.list_jobs(Client(self.pb, plain), "only-token")
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
            plain.close()
        finally:
            stop_server(proc)

    def test_several_tokens_and_rotation_without_restart(self):
        # A Kubernetes Secret volume: token -> ..data/token, ..data -> ..v1.
        secret = os.path.join(self.tmp, "secret")
        os.makedirs(os.path.join(secret, "..v1"))
        with open(os.path.join(secret, "..v1", "token"), "w") as f:
            f.write("# rotated by the operator\n\n  tkA-7f3q9  \ntkB-2m8x4\n")
        os.symlink("..v1", os.path.join(secret, "..data"))
        os.symlink("..data/token", os.path.join(secret, "token"))
        log = os.path.join(self.tmp, "rotate.log")
        proc, address = start_server(
            BIN, ["--listen", "127.0.0.1:0", "--token-file", os.path.join(secret, "token"),
                  *self.server_args()], log)
        channel = grpc.insecure_channel(address)
        client = Client(self.pb, channel)
        try:
            self.list_jobs(client, "tkA-7f3q9")
            self.list_jobs(client, "tkB-2m8x4")
            self.assert_refused(client, "# rotated by the operator")
            self.assert_refused(client, "tkC-5v1z6")

            def publish(version, text):
                os.makedirs(os.path.join(secret, version))
                with open(os.path.join(secret, version, "token"), "w") as f:
                    f.write(text)
                tmp_link = os.path.join(secret, "..data_tmp")
                os.symlink(version, tmp_link)
                os.rename(tmp_link, os.path.join(secret, "..data"))  # atomic, as kubelet does

            publish("..v2", "tkC-5v1z6\n")
            self.list_jobs(client, "tkC-5v1z6")
            self.assert_refused(client, "tkA-7f3q9")
            self.assert_refused(client, "tkB-2m8x4")

            # Mid-rotation glitches keep the last good tokens.
            publish("..v3", "\n# nothing yet\n")
            self.list_jobs(client, "tkC-5v1z6")
            os.unlink(os.path.join(secret, "..data"))
            self.list_jobs(client, "tkC-5v1z6")
            os.symlink("..v1", os.path.join(secret, "..data"))
            self.list_jobs(client, "tkA-7f3q9")
            self.assert_refused(client, "tkC-5v1z6")
            self.assertEqual(proc.poll(), None)  # one process all along
        finally:
            channel.close()
            stop_server(proc)
        with open(log) as f:
            text = f.read()
        self.assertIn("keeping the tokens read before", text)
        self.assertIn("re-read", text)
        self.assertNotIn("tkA-7f3q9", text)  # tokens chosen so no temp path can hold them
        self.assertNotIn("tkC-5v1z6", text)


if __name__ == "__main__":
    BIN, FIXTURES = os.path.abspath(sys.argv.pop(1)), os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
