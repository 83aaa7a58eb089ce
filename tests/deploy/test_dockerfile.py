"""Checks the Dockerfile without building it (scripts/image-test.sh builds it).

Usage: test_dockerfile.py BIN_DIR   (the build's bin/, holding both binaries)

- every apt package it names exists (apt-cache show; the lists are there
  because scripts/setup.sh ran apt-get update on a CI machine);
- stages: the variant is a --target (runtime-cpu, runtime-cuda), never a
  stage named by a build argument (buildah cannot build that); the CPU
  stages come first and the last stage is the CPU image;
- build stages: Debian 12, `scripts/setup.sh --build-only` (whose list holds
  no test packages), scripts/build.sh (the script scripts/test.sh, i.e. CI,
  builds with) for the two binaries only, then `cmake --install` into
  /out/usr/local; no cmake build of its own;
- runtime stages: COPY that install tree to /usr/local (the engine library
  in lib/neobert-export/, where the loader looks), the package of every
  shared library the built binaries and the engine library link directly
  (readelf NEEDED -> ldconfig -> dpkg -S), a numeric non-root USER, EXPOSE
  50051, a HEALTHCHECK running `neobert-export health` at the listen port,
  ENTRYPOINT/CMD and HEALTHCHECK flags that are real flags (--help); no
  NVIDIA_VISIBLE_DEVICES;
- .ci/run runs scripts/image-test.sh; .dockerignore keeps build trees,
  node_modules and .git out of the context.
"""
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import binary_flags  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
problems = []


def problem(msg):
    problems.append(msg)


def read(rel):
    with open(os.path.join(REPO, rel)) as fh:
        return fh.read()


def instructions(text):
    """[(INSTRUCTION, argument text)] with continuations joined, comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue  # a comment inside a continued instruction
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def parse_arg(rest):
    """ARG NAME[=default] -> (NAME, default or None); quotes removed."""
    name, eq, value = rest.partition("=")
    if not eq:
        return name.strip(), None
    value = value.strip()
    return name.strip(), " ".join(shlex.split(value)) if value else ""


def exec_form(rest):
    """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or None."""
    rest = rest.strip()
    if rest.startswith("["):
        return json.loads(rest)
    return None


def stages(instrs):
    """[{'name', 'base', 'instrs', 'args'}]; global ARGs resolved into FROM."""
    global_args, result = {}, []
    for word, rest in instrs:
        if word == "FROM":
            parts = rest.split()
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append({"name": name, "base": base, "instrs": [], "args": {}})
        elif not result:
            if word == "ARG":
                k, v = parse_arg(rest)
                global_args[k] = v
        else:
            result[-1]["instrs"].append((word, rest))
            if word == "ARG":
                k, v = parse_arg(rest)
                result[-1]["args"][k] = v if v is not None else global_args.get(k)
    for s in result:
        s["resolved"] = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1)) or m.group(0), s["base"])
    return global_args, result


def apt_packages(all_stages):
    """Every package named: ARGs called *PACKAGES and `apt-get install` words."""
    pkgs = {}
    for s in all_stages:
        for k, v in s["args"].items():
            if k.endswith("PACKAGES") and v:
                for p in v.split():
                    pkgs[p] = f"stage {s['name']}: ARG {k}"
        for word, rest in s["instrs"]:
            if word != "RUN":
                continue
            for cmd in re.split(r";|&&|\|\|", rest):
                toks = cmd.split()
                if "apt-get" in toks and "install" in toks:
                    for t in toks[toks.index("install") + 1:]:
                        if not t.startswith(("-", "$")) and re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", t):
                            pkgs[t] = f"stage {s['name']}: RUN apt-get install"
    return pkgs


ENGINE_LIBRARY = "libneobert_engine_torch.so"


def needed_packages(bin_dir):
    """Debian packages owning the direct shared-library dependencies of the binaries and the
    LibTorch engine library they load."""
    ldcache = {}
    for line in subprocess.run(["ldconfig", "-p"], stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s+(\S+) \(([^)]*)\) => (\S+)", line)
        if m and ("x86-64" in m.group(2) or "64bit" in m.group(2) or "AArch64" in m.group(2)):
            ldcache.setdefault(m.group(1), m.group(3))
    out = {}
    for b in binary_flags.BINARIES + (ENGINE_LIBRARY,):
        dyn = subprocess.run(["readelf", "-d", os.path.join(bin_dir, b)], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
            path = ldcache.get(soname)
            if not path:
                problem(f"{b}: NEEDED {soname} is not in the ld cache")
                continue
            owner = None
            for p in (os.path.realpath(path), path):
                r = subprocess.run(["dpkg", "-S", p], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0].strip()
                    break
            if owner is None:
                problem(f"{b}: {soname} ({path}) belongs to no Debian package")
            else:
                out.setdefault(owner, set()).add(soname)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    bin_dir = sys.argv[1]
    flags = binary_flags.Flags(bin_dir)
    global_args, all_stages = stages(instructions(read("Dockerfile")))
    named = {s["name"]: s for s in all_stages if s["name"]}

    # --- packages exist
    pkgs = apt_packages(all_stages)
    if not pkgs:
        problem("found no apt packages in the Dockerfile (parser out of date?)")
    # One apt-cache call for all of them (each call reloads apt's cache: seconds on a busy machine).
    r = subprocess.run(["apt-cache", "show", *sorted(pkgs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    for p, where in sorted(pkgs.items()):
        if p not in known:
            problem(f"apt package {p} ({where}) does not exist (apt-cache show knows no such package)")

    # --- stages: the variant is a --target (buildah cannot pick a stage by an ARG)
    order = [s["name"] for s in all_stages]
    # runtime-cpu-host: runtime-cpu's layers fed with binaries the host built
    # (CI's image check, scripts/image-test.sh --host-binaries).
    expected = ["build-base", "build-cpu", "runtime-base", "runtime-cpu-libs", "runtime-cpu",
                "runtime-cpu-host", "torch-cuda", "build-cuda", "runtime-cuda", "default"]
    if order != expected:
        problem(f"stages {order}, expected {expected} (the CPU stages before the CUDA ones; "
                "the last one is `docker build .`'s)")
    for st in all_stages:
        if "${" in st["base"] and st["base"] != "${TORCH_IMAGE}":
            problem(f"stage {st['name']} is FROM {st['base']}: a stage named by a build argument "
                    "does not build with buildah")
    if all_stages and all_stages[-1]["base"] != "runtime-cpu":
        problem(f"the last stage is FROM {all_stages[-1]['base']}, expected runtime-cpu (the default image)")

    def chain(name):
        """Instructions of a stage and the stages it is FROM, base first."""
        st = named.get(name)
        if st is None:
            return []
        return (chain(st["base"]) if st["base"] in named else []) + st["instrs"]

    def resolved_base(name):
        st = named[name]
        return resolved_base(st["base"]) if st["base"] in named else st["resolved"]

    # --- build stages: Debian 12, setup.sh --build-only, build.sh, cmake --install
    if "build-base" in named:
        if resolved_base("build-base") != "debian:12":
            problem(f"build-base is FROM {resolved_base('build-base')}, expected debian:12")
        runs = [r for w, r in named["build-base"]["instrs"] if w == "RUN"]
        if not any(re.search(r"scripts/setup\.sh --build-only", r) for r in runs):
            problem("build-base does not run scripts/setup.sh --build-only (the compile's packages only)")
    for name in ("build-cpu", "build-cuda"):
        if name not in named:
            continue
        runs = [r for w, r in named[name]["instrs"] if w == "RUN"]
        build = next((r for r in runs if re.search(r"scripts/build\.sh\b", r)), None)
        if build is None:
            problem(f"{name} does not run scripts/build.sh")
            continue
        for tgt in binary_flags.BINARIES:
            if not re.search(rf"build\.sh[^;&|]*\b{re.escape(tgt)}(\s|$|;)", build):
                problem(f"{name}'s build.sh call does not build {tgt}")
        if "-DNEOBERT_BUILD_TESTS=OFF" not in build or "-DNEOBERT_BUILD_BENCH=OFF" not in build:
            problem(f"{name} compiles tests or benchmarks (CMAKE_ARGS -DNEOBERT_BUILD_TESTS=OFF "
                    "-DNEOBERT_BUILD_BENCH=OFF)")
        if not re.search(r"cmake --install build --prefix /out/usr/local", build):
            problem(f"{name} does not install with `cmake --install build --prefix /out/usr/local`")
    dockerfile = read("Dockerfile")
    if re.search(r"^\s*[^#\n]*\bcmake\s+(-S|--build|-B)", dockerfile, re.M):
        problem("the Dockerfile runs cmake itself; it must build only through scripts/build.sh")
    if re.search(r"^\s*ENV\b.*NVIDIA_VISIBLE_DEVICES", dockerfile, re.M):
        problem("the Dockerfile sets NVIDIA_VISIBLE_DEVICES: every container would see the node's GPUs")
    # setup.sh's build-only list holds no test tooling.
    setup = read("scripts/setup.sh")
    m = re.search(r"^BUILD_PACKAGES=\((.*?)\)", setup, re.S | re.M)
    if not m:
        problem("scripts/setup.sh has no BUILD_PACKAGES list")
    else:
        build_pkgs = set(m.group(1).split())
        for p in ("python3-torch", "clang", "libgtest-dev", "nodejs", "npm", "git"):
            if p in build_pkgs:
                problem(f"scripts/setup.sh BUILD_PACKAGES holds the test package {p}")
    # CI's side of the lockstep: .ci/run -> scripts/test.sh -> scripts/build.sh, and the image test.
    ci = read(".ci/run")
    if "scripts/test.sh" not in ci:
        problem(".ci/run no longer runs scripts/test.sh")
    if "scripts/image-test.sh" not in ci:
        problem(".ci/run does not build and run the image (scripts/image-test.sh)")
    test_sh = read("scripts/test.sh")
    if not re.search(r"^[^#\n]*scripts/build\.sh", test_sh, re.M):
        problem("scripts/test.sh does not build through scripts/build.sh")
    if re.search(r"^[^#\n]*\bcmake\s+(-S|--build)", test_sh, re.M):
        problem("scripts/test.sh runs its own cmake build; keep it in scripts/build.sh")
    if not re.search(r"^[^#\n]*scripts/setup\.sh", test_sh, re.M):
        problem("scripts/test.sh does not run scripts/setup.sh")
    build_sh = read("scripts/build.sh")
    if not re.search(r"^cmake -S .* -B ", build_sh, re.M) or not re.search(r"^cmake --build ", build_sh, re.M):
        problem("scripts/build.sh does not configure and build with cmake")

    # --- runtime stages (runtime-cpu is what CI builds and runs; runtime-cuda mirrors it)
    rt = {"instrs": chain("runtime-cpu"), "args": {}}
    for name in ("runtime-base", "runtime-cpu-libs", "runtime-cpu"):
        rt["args"].update(named.get(name, {}).get("args", {}))
    if "runtime-base" in named and resolved_base("runtime-base") != "debian:12-slim":
        problem(f"runtime-base is FROM {resolved_base('runtime-base')}, expected debian:12-slim")
    ri = rt["instrs"]
    # runtime-cpu-host must be runtime-cpu but for where the binaries come from.
    host = named.get("runtime-cpu-host", {})
    if host.get("base") != "runtime-cpu-libs" or named.get("runtime-cpu", {}).get("base") != "runtime-cpu-libs":
        problem("runtime-cpu and runtime-cpu-host must both be FROM runtime-cpu-libs")
    strip_copy = lambda st: [(w, r) for w, r in st.get("instrs", []) if w != "COPY"]  # noqa: E731
    if strip_copy(host) != strip_copy(named.get("runtime-cpu", {})):
        problem("runtime-cpu-host differs from runtime-cpu in more than its COPY of the binaries")
    if "out/image-install/usr/local/ /usr/local/" not in [r for w, r in host.get("instrs", []) if w == "COPY"]:
        problem("runtime-cpu-host does not COPY out/image-install/usr/local/ /usr/local/")
    for name in ("runtime-cpu", "runtime-cuda"):
        users = [r for w, r in named.get(name, {}).get("instrs", []) if w == "USER"]
        uid = users[-1].split(":")[0] if users else ""
        if not uid.isdigit() or int(uid) == 0:
            problem(f"{name}: USER {uid!r} must be a numeric non-root uid (Kubernetes runAsNonRoot checks it)")
        copies = [r for w, r in named.get(name, {}).get("instrs", []) if w == "COPY"]
        src = "build-cpu" if name == "runtime-cpu" else "build-cuda"
        if f"--from={src} /out/usr/local/ /usr/local/" not in copies:
            problem(f"{name} does not COPY --from={src} /out/usr/local/ /usr/local/ (the cmake --install tree: "
                    f"bin/ and lib/neobert-export/, where the engine loader looks)")
    exposed = {int(p.split("/")[0]) for w, r in ri if w == "EXPOSE" for p in r.split()}
    if 50051 not in exposed:
        problem(f"EXPOSE {sorted(exposed)} lacks 50051")
    entry = [exec_form(r) for w, r in ri if w == "ENTRYPOINT"]
    cmd = [exec_form(r) for w, r in ri if w == "CMD"]
    if not entry or entry[-1] != [binary_flags.SERVER]:
        problem(f"ENTRYPOINT should be [\"{binary_flags.SERVER}\"] (exec form), got {entry}")
    listen_port = None
    if not cmd or cmd[-1] is None:
        problem("CMD should be the server's default arguments in exec form")
    else:
        for p in binary_flags.unknown_flags(flags, [binary_flags.SERVER] + cmd[-1]):
            problem(f"CMD: {p}")
        if "--listen" in cmd[-1]:
            listen_port = int(cmd[-1][cmd[-1].index("--listen") + 1].rpartition(":")[2])
            if listen_port not in exposed:
                problem(f"CMD listens on {listen_port}, which is not EXPOSEd")
    hc = [r for w, r in ri if w == "HEALTHCHECK"]
    if not hc:
        problem("runtime stage has no HEALTHCHECK")
    else:
        hc_cmd = exec_form(hc[-1].split(" CMD ", 1)[1]) if " CMD " in " " + hc[-1] else None
        if not hc_cmd or hc_cmd[:2] != [binary_flags.CLIENT, "health"]:
            problem(f"HEALTHCHECK should run [\"{binary_flags.CLIENT}\", \"health\", ...], got {hc[-1]}")
        else:
            for p in binary_flags.unknown_flags(flags, hc_cmd):
                problem(f"HEALTHCHECK: {p}")
            srv = hc_cmd[hc_cmd.index("--server") + 1] if "--server" in hc_cmd else ""
            if listen_port is not None and not srv.endswith(f":{listen_port}"):
                problem(f"HEALTHCHECK asks {srv!r}, but CMD listens on {listen_port}")

    # Runtime libraries: what the binaries link is what the runtime installs.
    runtime_pkgs = set()
    for k, v in rt["args"].items():
        if k.endswith("PACKAGES") and v:
            runtime_pkgs |= set(v.split())
    for owner, sonames in sorted(needed_packages(bin_dir).items()):
        if owner not in runtime_pkgs:
            problem(f"runtime stage does not install {owner} (provides {', '.join(sorted(sonames))})")

    # --- .dockerignore
    ignore = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    for pat in (".git", "build*/", "node_modules/"):
        if pat not in ignore and pat.rstrip("/") not in ignore:
            problem(f".dockerignore lacks {pat}")

    if problems:
        print(f"{len(problems)} problem(s) in the Dockerfile:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"Dockerfile OK: {len(pkgs)} apt packages exist, runtime covers "
          f"{len(runtime_pkgs)} packages, build = setup.sh --build-only + build.sh + cmake --install")


if __name__ == "__main__":
    main()
