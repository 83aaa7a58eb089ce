"""Checks the Dockerfile without a Docker engine.

Usage: test_dockerfile.py BIN_DIR   (the build's bin/, holding both binaries)

- every apt package it names exists (apt-cache show; the lists are there
  because scripts/setup.sh ran apt-get update on a CI machine);
- the build stage is Debian 12 and builds the way CI does: scripts/setup.sh,
  then scripts/build.sh, the same script scripts/test.sh (CI) runs; no cmake
  command of its own;
- the runtime stage installs the package of every shared library the built
  binaries and the engine library they dlopen link directly (readelf NEEDED
  -> ldconfig -> dpkg -S), COPYs both binaries from build/bin and the engine
  library to where the loader looks (core/engine/backend.h), runs as a numeric non-root USER, EXPOSEs 50051,
  has a HEALTHCHECK running `neobert-export health` at the listen port, and
  its ENTRYPOINT/CMD and HEALTHCHECK flags are real flags (--help);
- .dockerignore keeps build trees, node_modules and .git out of the context.
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
# core/engine/backend_loader.cc looks next to the executable, then here.
ENGINE_LIBRARY_DIR = "/usr/local/lib/neobert-export/"


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
    for p, where in sorted(pkgs.items()):
        r = subprocess.run(["apt-cache", "show", p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0 or f"Package: {p}\n" not in r.stdout:
            problem(f"apt package {p} ({where}) does not exist: {r.stdout.strip()[:200]}")

    # --- the LibTorch variants the build argument selects
    variant = global_args.get("TORCH_VARIANT")
    if variant != "cpu":
        problem(f"ARG TORCH_VARIANT should default to cpu, not {variant!r}")
    for v in ("cpu", "cuda"):
        if f"torch-{v}" not in named:
            problem(f"no stage torch-{v} for TORCH_VARIANT={v}")
    if not any(s["base"] == "torch-${TORCH_VARIANT}" for s in all_stages):
        problem("no stage FROM torch-${TORCH_VARIANT}: the build argument selects nothing")

    # --- build stage: Debian 12, setup.sh, build.sh
    build = named.get("build")
    if build is None:
        problem("no stage named 'build'")
    else:
        if build["resolved"] != "debian:12":
            problem(f"build stage is FROM {build['resolved']}, expected debian:12")
        runs = [r for w, r in build["instrs"] if w == "RUN"]
        setup_i = next((i for i, r in enumerate(runs) if "scripts/setup.sh" in r), None)
        build_i = next((i for i, r in enumerate(runs) if re.search(r"scripts/build\.sh\b", r)), None)
        if setup_i is None:
            problem("build stage does not run scripts/setup.sh")
        if build_i is None:
            problem("build stage does not run scripts/build.sh")
        if setup_i is not None and build_i is not None and setup_i > build_i:
            problem("build stage runs build.sh before setup.sh")
        copies = " ".join(r for w, r in build["instrs"] if w == "COPY")
        if "scripts/setup.sh" not in copies and not re.search(r"(^|\s)\.\s", copies + " "):
            problem("build stage never COPYs scripts/setup.sh")
        if build_i is not None:
            for tgt in binary_flags.BINARIES:
                if not re.search(rf"build\.sh[^;&|]*\b{re.escape(tgt)}(\s|$|;)", runs[build_i]):
                    problem(f"build stage's build.sh call does not build {tgt}")
    dockerfile = read("Dockerfile")
    if re.search(r"^\s*[^#\n]*\bcmake\s+(-S|--build|-B)", dockerfile, re.M):
        problem("the Dockerfile runs cmake itself; it must build only through scripts/build.sh")
    # CI's side of the lockstep: .ci/run -> scripts/test.sh -> scripts/build.sh.
    if "scripts/test.sh" not in read(".ci/run"):
        problem(".ci/run no longer runs scripts/test.sh")
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

    # --- runtime stage
    rt = all_stages[-1]
    if rt["resolved"] != "debian:12-slim":
        problem(f"runtime (last) stage is FROM {rt['resolved']}, expected debian:12-slim")
    ri = rt["instrs"]
    users = [r for w, r in ri if w == "USER"]
    uid = users[-1].split(":")[0] if users else ""
    if not uid.isdigit() or int(uid) == 0:
        problem(f"runtime USER {uid!r} must be a numeric non-root uid (Kubernetes runAsNonRoot checks it)")
    exposed = {int(p.split("/")[0]) for w, r in ri if w == "EXPOSE" for p in r.split()}
    if 50051 not in exposed:
        problem(f"EXPOSE {sorted(exposed)} lacks 50051")
    copies = [r for w, r in ri if w == "COPY"]
    for b in binary_flags.BINARIES:
        if not any(c.startswith("--from=build ") and re.search(rf"build/bin/{re.escape(b)}(\s|$)", c)
                   for c in copies):
            problem(f"runtime stage does not COPY --from=build .../build/bin/{b}")
    binary_dirs = {c.split()[-1] for c in copies
                   if any(re.search(rf"build/bin/{re.escape(b)}(\s|$)", c) for b in binary_flags.BINARIES)}
    if binary_dirs != {"/usr/local/bin/"}:
        problem(f"the binaries are copied to {sorted(binary_dirs)}, expected /usr/local/bin/ "
                f"(the engine library is looked for at <exe dir>/../lib/neobert-export/)")
    if not any(c.startswith("--from=build ") and re.search(rf"build/bin/{re.escape(ENGINE_LIBRARY)}\s", c)
               and c.split()[-1] == ENGINE_LIBRARY_DIR for c in copies):
        problem(f"runtime stage does not COPY --from=build .../build/bin/{ENGINE_LIBRARY} "
                f"{ENGINE_LIBRARY_DIR}")
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
          f"{len(runtime_pkgs)} packages, build = setup.sh + build.sh")


if __name__ == "__main__":
    main()
