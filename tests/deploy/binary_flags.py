"""The real command-line flags of our two binaries, read from their --help.

The deploy tests check that every flag a manifest or the Dockerfile passes
exists, so the list must come from the built binaries themselves, not from a
copy in the test that would drift.
"""
import os
import re
import subprocess

SERVER = "neobert-exportd"
CLIENT = "neobert-export"
BINARIES = (SERVER, CLIENT)

# Client subcommands that always talk to a server (main.cc routes them to
# remote_commands.cc); export and validate run in-process unless --server (or
# $NEOBERT_EXPORT_SERVER) is given.
REMOTE_ONLY = {"submit", "watch", "jobs", "cancel", "health"}

# Server flags deploy/ uses that another branch is adding, each with where it
# comes from. While a flag here is missing from --help it is accepted; once
# it is there the deploy test asks for it to be taken off this list (the lead
# empties it when merging those branches).
PENDING_SERVER_FLAGS = {}  # empty: issue 11's store flags landed
LOCAL_OR_REMOTE = {"export", "validate"}

_LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
_SHORT = re.compile(r"(?<![\w-])-([a-zA-Z])(?=[,\s])")


def _help_text(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}:\n{p.stdout}")
    if "usage:" not in p.stdout:
        raise AssertionError(f"{' '.join(argv)} printed no usage:\n{p.stdout}")
    return p.stdout


def flags_in_help(text):
    """(long flag names, short letters) documented in a help text."""
    return set(_LONG.findall(text)), set(_SHORT.findall(text))


class Flags:
    """Lazily runs the binaries' --help and caches the flag sets."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self._cache = {}
        for b in BINARIES:
            path = os.path.join(bin_dir, b)
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{path} is not built (build the neobert-exportd and neobert-export targets)")

    def _get(self, key, argv):
        if key not in self._cache:
            self._cache[key] = flags_in_help(_help_text(argv))
        return self._cache[key]

    def server(self):
        return self._get("server", [os.path.join(self.bin_dir, SERVER), "--help"])[0]

    def server_help(self):
        """neobert-exportd --help as text (it also names the environment variables read)."""
        if "server_help" not in self._cache:
            self._cache["server_help"] = _help_text([os.path.join(self.bin_dir, SERVER), "--help"])
        return self._cache["server_help"]

    def client_subcommands(self):
        text = _help_text([os.path.join(self.bin_dir, CLIENT), "--help"])
        # "  export CKPT_DIR ...", "  watch JOB | cancel JOB | jobs | health"
        names = set()
        for line in text.splitlines():
            if line.startswith("  ") and not line.startswith("   "):
                for part in line.strip().split("|"):
                    word = part.strip().split(" ")[0]
                    if re.fullmatch(r"[a-z]+", word):
                        names.add(word)
        return names

    def client(self, subcommand, remote):
        """(long, short) flags of one subcommand in local or client mode."""
        argv = [os.path.join(self.bin_dir, CLIENT), subcommand]
        if remote:
            # A dummy address selects the client-mode parser; --help prints
            # its usage before anything is dialled.
            argv += ["--server", "127.0.0.1:1"]
        argv.append("--help")
        return self._get(("client", subcommand, remote), argv)


def unknown_flags(flags, argv, env=None):
    """Flags in argv (argv[0] = binary, as in a container command+args) that
    the binary's --help does not document. Returns a list of messages."""
    binary = os.path.basename(argv[0])
    args = [str(a) for a in argv[1:]]
    if binary == SERVER:
        known, short = flags.server(), set()
    elif binary == CLIENT:
        if not args or args[0].startswith("-"):
            return [f"{CLIENT} needs a subcommand, got {args!r}"]
        sub = args[0]
        if sub not in flags.client_subcommands():
            return [f"{CLIENT}: unknown subcommand '{sub}'"]
        remote = sub in REMOTE_ONLY or any(a == "--server" or a.startswith("--server=") for a in args) or \
            bool((env or {}).get("NEOBERT_EXPORT_SERVER"))
        known, short = flags.client(sub, remote)
        if sub in LOCAL_OR_REMOTE:
            known = known | {"local", "server"}  # handled by main.cc before the subcommand parser
        args = args[1:]
    else:
        raise ValueError(f"not one of our binaries: {argv[0]}")
    problems = []
    for a in args:
        if a == "--":
            break
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            if name not in known and not (binary == SERVER and name in PENDING_SERVER_FLAGS):
                problems.append(f"{binary}: unknown flag --{name}")
        elif re.fullmatch(r"-[a-zA-Z]", a) and a[1] not in short:
            problems.append(f"{binary}: unknown option {a}")
    return problems
