"""Runs what deploy/ describes, outside a cluster: the service as deploy/base
configures it, its probe, and the export Job's command.

From the kustomize builds of deploy/base and deploy/examples/export-job it
takes the server container's command and args, the ConfigMap file it reads,
its readiness probe and the Job's command. It lays out, under FS, the files
the pods would see at the manifests' mount paths: the ConfigMap's
config.yaml, the token Secret, a TLS Secret (a CA and a server certificate
for neobert-exportd and 127.0.0.1, made with openssl), the checkpoint the Job
names (a fixture), and empty exports and state folders.

The image test (scripts/image-test.sh via image_checks.py) mounts FS/<path>
at <path> and runs the commands verbatim; test_deploy_config.py runs the
built binaries on the host with every mounted path P turned into FS/P.
"""
import os
import posixpath
import shutil
import subprocess

import deploy_files

DEPLOY = os.path.join(deploy_files.REPO, "deploy")


def _one(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _argv(c):
    return [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]


class Plan:
    """What the manifests run, and the files they mount (container paths)."""

    def __init__(self):
        renderer = deploy_files.renderers()[0][1]
        base = deploy_files.render(DEPLOY, "base", renderer)
        job = deploy_files.render(DEPLOY, "examples/export-job", renderer)
        dep = _one(base, "Deployment")["spec"]["template"]["spec"]
        self.server = next(c for c in dep["containers"] if c["name"] == "neobert-exportd")
        self.server_argv = _argv(self.server)
        self.probe_argv = [str(x) for x in self.server["readinessProbe"]["exec"]["command"]]
        self.job = _one(job, "Job")["spec"]["template"]["spec"]["containers"][0]
        self.job_argv = _argv(self.job)
        self.volumes = {v["name"]: v for v in dep["volumes"]}
        self.config_maps = {d["metadata"]["name"]: d for d in base if d["kind"] == "ConfigMap"}
        # The checkpoint the Job exports, and where the service's pattern puts it.
        self.checkpoint = self.job_argv[2]
        self.mounts = [m["mountPath"] for m in self.server["volumeMounts"]]

    def config_text(self):
        mount = next(m for m in self.server["volumeMounts"] if self.volumes[m["name"]].get("configMap"))
        cm = self.config_maps[self.volumes[mount["name"]]["configMap"]["name"]]
        return mount["mountPath"], cm["data"]

    def secret_mount(self, secret):
        for m in self.server["volumeMounts"]:
            if (self.volumes[m["name"]].get("secret") or {}).get("secretName") == secret:
                return m["mountPath"]
        raise AssertionError(f"the server mounts no Secret {secret}")

    def settings(self):
        import yaml
        _, data = self.config_text()
        return yaml.safe_load(next(iter(data.values())))

    def expected_output(self):
        """The Job's checkpoint through the config's default-output-dir."""
        pattern = self.settings()["default-output-dir"]
        step = posixpath.basename(self.checkpoint)
        run = posixpath.basename(posixpath.dirname(posixpath.dirname(self.checkpoint)))
        return pattern.replace("{run}", run).replace("{step}", step)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_tls(dir_):
    """ca.crt, tls.crt (neobert-exportd, 127.0.0.1), tls.key in dir_."""
    os.makedirs(dir_, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=deploy-test CA",
             "-days", "2", cwd=dir_)
    _openssl("req", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=neobert-exportd", cwd=dir_)
    with open(os.path.join(dir_, "san.ext"), "w") as fh:
        fh.write("subjectAltName=DNS:neobert-exportd,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tls.crt", "-days", "2", "-extfile", "san.ext", cwd=dir_)
    for f in ("ca.key", "ca.srl", "tls.csr", "san.ext"):
        if os.path.exists(os.path.join(dir_, f)):
            os.remove(os.path.join(dir_, f))


def lay_out(plan, fs, fixtures, token="deploy-test-token-0123456789"):
    """Creates under fs every file and folder the server and the Job mount."""
    def host(p):
        return os.path.join(fs, p.lstrip("/"))

    config_dir, data = plan.config_text()
    os.makedirs(host(config_dir), exist_ok=True)
    for key, text in data.items():
        with open(os.path.join(host(config_dir), key), "w") as fh:
            fh.write(text)
    token_dir = host(plan.secret_mount("neobert-exportd-token"))
    os.makedirs(token_dir, exist_ok=True)
    with open(os.path.join(token_dir, "token"), "w") as fh:
        fh.write(token + "\n")
    make_tls(host(plan.secret_mount("neobert-exportd-tls")))
    for m in plan.mounts:
        os.makedirs(host(m), exist_ok=True)
    ckpt = host(plan.checkpoint)
    os.makedirs(os.path.dirname(ckpt), exist_ok=True)
    shutil.copytree(os.path.join(fixtures, "fp32_swiglu_rope_rms"), ckpt)
    # The Job's own mounts are the same Secrets at the same paths (checked below).
    for m in plan.job["volumeMounts"]:
        if not os.path.isdir(host(m["mountPath"])):
            raise AssertionError(f"the Job mounts {m['mountPath']}, which the server does not")
    return host
