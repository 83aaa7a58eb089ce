"""ARCHITECTURE.md is checked against the code: every file path it names exists, and every
code name it quotes (a function, type or constant in backticks) is defined in the sources.
A rename that forgets the guide fails here, naming what went stale."""
import os
import re
import sys
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE_DIRS = ("core", "server", "client", "proto", "scripts")


def sources():
    for top in SOURCE_DIRS:
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for f in files:
                if f.endswith((".h", ".cc", ".proto", ".py", ".sh")):
                    with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
                        yield fh.read()


class ArchitectureDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(REPO, "ARCHITECTURE.md"), encoding="utf-8") as f:
            cls.doc = f.read()
        cls.quoted = re.findall(r"`([^`\n]+)`", cls.doc)
        cls.code = "\n".join(sources())

    def test_named_files_exist(self):
        paths = set()
        for q in self.quoted:
            for word in q.split():
                word = word.rstrip(",;:)")
                if "/" in word and re.fullmatch(r"[\w./-]+", word) and not word.startswith("neobert."):
                    paths.add(word)
        self.assertGreater(len(paths), 15, "the guide names files")
        missing = sorted(p for p in paths if not os.path.exists(os.path.join(REPO, p)))
        self.assertEqual(missing, [], "ARCHITECTURE.md names files that do not exist")

    def test_named_code_is_defined(self):
        names = set()
        for q in self.quoted:
            # `ExportCheckpoint`, `base::FsRoot::ReadFile`, `PlanExport(options)`, `Check...(Validation&)`
            m = re.fullmatch(r"((?:\w+::)*)([A-Z]\w+|k[A-Z]\w+)(\(.*\))?", q.strip())
            if m and "..." not in q:
                names.add(m.group(2))
        self.assertGreater(len(names), 25, "the guide names code")
        missing = sorted(n for n in names if not re.search(r"\b%s\b" % re.escape(n), self.code))
        self.assertEqual(missing, [], "ARCHITECTURE.md names code the sources do not define")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
