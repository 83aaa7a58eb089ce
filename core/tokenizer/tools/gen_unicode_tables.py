#!/usr/bin/python3
"""Generates core/tokenizer/unicode_tables.cc, the character data of the tokenizer.

    /usr/bin/python3 core/tokenizer/tools/gen_unicode_tables.py \
        [--probe PROBE.json] [--overrides core/tokenizer/tools/unicode_overrides.json] \
        [--out core/tokenizer/unicode_tables.cc]

Sources, in order:
  1. Python's `unicodedata` (Unicode 14.0 on Debian 12's python3.11) for general
     categories, combining classes, decompositions and lowercase mappings, and
     Perl's Unicode::UCD (same Unicode version) for the Age, Alphabetic,
     Join_Control and White_Space properties, which Python does not expose.
  2. The Unicode version each part of the Rust `tokenizers` library was built
     from: its `unicode_categories` crate has Unicode 8.0 categories and its
     `unicode-normalization-alignments` crate Unicode 9.0 normalization data, so
     those properties are restricted to characters assigned by then (Age).
  3. Overrides (unicode_overrides.json, committed): the characters where the
     reference library still answers differently (category changes since
     Unicode 8, and characters newer than Unicode 14 that Rust's std, the
     `regex` crate and Oniguruma know about). With --probe (the output of
     probe_reference.js) the overrides are recomputed from the reference and
     rewritten; without it the committed file is used, so regeneration needs
     neither node nor the network.

The emitted tables are ranges wherever the data allows: one table of property
bit sets, lowercase deltas with a stride, combining-class runs, one-step
decompositions (expanded recursively at run time) and canonical compositions.
"""

import argparse
import bisect
import json
import os
import subprocess
import sys
import unicodedata as ud

MAX_CP = 0x10FFFF
CATEGORY_VERSION = (8, 0)        # unicode_categories 0.1.1
NORMALIZATION_VERSION = (9, 0)   # unicode-normalization-alignments 0.1.12
HERE = os.path.dirname(os.path.abspath(__file__))

# Bit order is part of the C++ contract (unicode.h, enum Property).
PROPERTIES = [
    "white_space",         # char::is_whitespace (White_Space)
    "bert_clean_removed",  # dropped by BertNormalizer clean_text: NUL, U+FFFD, Cc/Cf/Co but \t\n\r
    "bert_punct",          # BertPreTokenizer punctuation: ASCII punctuation or P*
    "bert_mn",             # BertNormalizer strip_accents: Mn
    "combining_mark",      # StripAccents normalizer: M*
    "onig_letter",         # \p{L} in the ByteLevel regex
    "onig_number",         # \p{N} in the ByteLevel regex
    "regex_word",          # \w of the Whitespace pre-tokenizer and single_word tokens
    "rust_numeric",        # char::is_numeric (Digits pre-tokenizer)
]


def scalar_values():
    return (cp for cp in range(MAX_CP + 1) if not 0xD800 <= cp <= 0xDFFF)


def perl_lines(code):
    out = subprocess.run(["perl", "-MUnicode::UCD=prop_invlist,prop_invmap", "-e", code],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def perl_set(prop):
    bounds = [int(x) for x in perl_lines('print join(" ", prop_invlist("%s"))' % prop)]
    result = set()
    for i in range(0, len(bounds), 2):
        hi = bounds[i + 1] if i + 1 < len(bounds) else MAX_CP + 1
        result.update(range(bounds[i], hi))
    return result


def perl_age():
    fields = perl_lines('my ($r,$m)=prop_invmap("Age"); print "$r->[$_] $m->[$_] " for 0..$#$r;')
    starts = [int(x) for x in fields[0::2]]
    values = [None if v == "Unassigned" else tuple(int(p) for p in v.split(".")) for v in fields[1::2]]
    return lambda cp: values[bisect.bisect_right(starts, cp) - 1]


def assigned_by(age, version):
    return lambda cp: age(cp) is not None and age(cp) <= version


def ascii_punct(cp):
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126


def base_properties(age):
    """Property bits from the Unicode 14 data, restricted per component version."""
    white_space = perl_set("White_Space")
    alphabetic = perl_set("Alphabetic")
    join_control = perl_set("Join_Control")
    old_cat = assigned_by(age, CATEGORY_VERSION)
    old_norm = assigned_by(age, NORMALIZATION_VERSION)
    props = {}
    for cp in scalar_values():
        cat = ud.category(chr(cp))
        bits = 0
        if cp in white_space:
            bits |= 1 << 0
        if cp in (0, 0xFFFD) or (cp not in (9, 10, 13) and
                                  (cat == "Co" or (cat in ("Cc", "Cf") and old_cat(cp)))):
            bits |= 1 << 1
        if ascii_punct(cp) or (cat[0] == "P" and old_cat(cp)):
            bits |= 1 << 2
        if cat == "Mn" and old_cat(cp):
            bits |= 1 << 3
        if cat[0] == "M" and old_norm(cp):
            bits |= 1 << 4
        if cat[0] == "L":
            bits |= 1 << 5
        if cat[0] == "N":
            bits |= 1 << 6
        if cp in alphabetic or cat[0] == "M" or cat in ("Nd", "Pc") or cp in join_control:
            bits |= 1 << 7
        if cat[0] == "N":
            bits |= 1 << 8
        if bits:
            props[cp] = bits
    return props


def base_lowercase():
    result = {}
    for cp in scalar_values():
        low = chr(cp).lower()  # one character alone: no final-sigma context, like Rust
        if low != chr(cp):
            result[cp] = [ord(c) for c in low]
    return result


def to_ranges(cps):
    ranges = []
    for cp in sorted(cps):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def from_ranges(ranges):
    return {cp for lo, hi in ranges for cp in range(lo, hi + 1)}


# ---------------------------------------------------------------- overrides

def derive_overrides(probe, props, lowercase):
    sets = {}
    # bert_mn is only observable on characters that NFD leaves alone (the
    # normalizer decomposes first); elsewhere keep the Unicode answer.
    decomposing = {cp for cp, _ in probe["maps"]["nfd"]}
    for bit, name in enumerate(PROPERTIES):
        truth = from_ranges(probe["sets"][name])
        base = {cp for cp, bits in props.items() if bits >> bit & 1}
        if name == "bert_mn":
            truth = (truth - decomposing) | (base & decomposing)
        sets[name] = {"add": to_ranges(truth - base), "remove": to_ranges(base - truth)}
    truth_low = {cp: m for cp, m in probe["maps"]["lowercase"]}
    low = {}
    for cp in sorted(set(truth_low) | set(lowercase)):
        want = truth_low.get(cp, [cp])
        if lowercase.get(cp, [cp]) != want:
            low["%X" % cp] = want
    return {
        "comment": "Generated by gen_unicode_tables.py --probe from probe_reference.js output: "
                   "where the reference tokenizers library differs from Unicode 14 data restricted "
                   "to each crate's Unicode version. Do not edit by hand.",
        "reference_tokenizers_version": probe["tokenizers_version"],
        "sets": sets,
        "lowercase": low,
    }


def apply_overrides(overrides, props, lowercase):
    for bit, name in enumerate(PROPERTIES):
        for cp in from_ranges(overrides["sets"][name]["add"]):
            props[cp] = props.get(cp, 0) | (1 << bit)
        for cp in from_ranges(overrides["sets"][name]["remove"]):
            props[cp] = props.get(cp, 0) & ~(1 << bit)
    for key, mapping in overrides["lowercase"].items():
        cp = int(key, 16)
        if mapping == [cp]:
            lowercase.pop(cp, None)
        else:
            lowercase[cp] = mapping


# ------------------------------------------------------------ normalization

def normalization_data(age):
    old = assigned_by(age, NORMALIZATION_VERSION)
    ccc = {}
    decomp = {}  # cp -> (compat, [cps]) one step
    compose = {}
    for cp in scalar_values():
        if not old(cp):
            continue
        ch = chr(cp)
        c = ud.combining(ch)
        if c:
            ccc[cp] = c
        d = ud.decomposition(ch)
        if d:
            parts = d.split()
            compat = parts[0].startswith("<")
            if compat:
                parts = parts[1:]
            decomp[cp] = (compat, [int(p, 16) for p in parts])
    for cp, (compat, parts) in decomp.items():
        # Primary composites: two-character canonical decompositions that NFC
        # recomposes (this leaves out exclusions, singletons, non-starters).
        if not compat and len(parts) == 2 and ud.normalize("NFC", chr(cp)) == chr(cp):
            compose[(parts[0], parts[1])] = cp
    return ccc, decomp, compose


S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
N_COUNT = V_COUNT * T_COUNT
S_COUNT = L_COUNT * N_COUNT


def simulate(text, form, ccc, decomp, compose):
    """Reference model of the C++ normalizer, used to check the tables."""
    compat = form in ("NFKD", "NFKC")
    out = []

    def decompose(cp):
        if S_BASE <= cp < S_BASE + S_COUNT:
            s = cp - S_BASE
            out.append(L_BASE + s // N_COUNT)
            out.append(V_BASE + (s % N_COUNT) // T_COUNT)
            if s % T_COUNT:
                out.append(T_BASE + s % T_COUNT)
            return
        d = decomp.get(cp)
        if d and (compat or not d[0]):
            for p in d[1]:
                decompose(p)
        else:
            out.append(cp)

    for ch in text:
        decompose(ord(ch))
    # canonical ordering: stable sort of each run of non-starters
    i = 0
    while i < len(out):
        if ccc.get(out[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < len(out) and ccc.get(out[j], 0) != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda c: ccc[c])
        i = j
    if form in ("NFD", "NFKD"):
        return out
    def compose_pair(a, b):
        if L_BASE <= a < L_BASE + L_COUNT and V_BASE <= b < V_BASE + V_COUNT:
            return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT
        if S_BASE <= a < S_BASE + S_COUNT and (a - S_BASE) % T_COUNT == 0 and T_BASE < b < T_BASE + T_COUNT:
            return a + (b - T_BASE)
        return compose.get((a, b))

    result = []
    starter = None
    last_class = 0
    for cp in out:
        c = ccc.get(cp, 0)
        if starter is not None and (last_class < c or last_class == 0):
            composed = compose_pair(result[starter], cp)
            if composed is not None and (last_class < c or len(result) - 1 == starter):
                result[starter] = composed
                continue
        if c == 0:
            starter = len(result)
        elif starter is None:
            c = 256  # a leading non-starter never composes with what follows
        last_class = c
        result.append(cp)
    return result


def check_normalization(probe, ccc, decomp, compose):
    bad = 0
    for form in ("nfd", "nfkd", "nfc", "nfkc"):
        truth = {cp: m for cp, m in probe["maps"][form]}
        for cp in scalar_values():
            got = simulate(chr(cp), form.upper(), ccc, decomp, compose)
            if got != truth.get(cp, [cp]):
                bad += 1
                if bad < 20:
                    print("normalization mismatch %s U+%04X: ours %s, reference %s" %
                          (form, cp, got, truth.get(cp, [cp])), file=sys.stderr)
    for name, probe_text in (("ccc_gt1", lambda x: x + "\u0334"), ("ccc_lt230", lambda x: "\u0301" + x)):
        truth = from_ranges(probe["sets"][name])
        for cp in scalar_values():
            alone = simulate(chr(cp), "NFD", ccc, decomp, compose)
            both = simulate(probe_text(chr(cp)), "NFD", ccc, decomp, compose)
            plain = alone + [0x334] if name == "ccc_gt1" else [0x301] + alone
            if (both != plain) != (cp in truth):
                bad += 1
                if bad < 20:
                    print("combining class mismatch %s U+%04X" % (name, cp), file=sys.stderr)
    return bad


# ----------------------------------------------------------------- emission

def emit_rows(items, per_line):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def property_ranges(props):
    ranges = []
    for cp in sorted(props):
        bits = props[cp]
        if not bits:
            continue
        if ranges and ranges[-1][1] == cp - 1 and ranges[-1][2] == bits:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, bits])
    return ranges


def lowercase_runs(lowercase):
    """(lo, hi, stride, delta): every stride-th code point in [lo, hi] maps to cp + delta."""
    singles = sorted((cp, m[0] - cp) for cp, m in lowercase.items() if len(m) == 1)
    runs = []
    for cp, delta in singles:
        if runs:
            lo, hi, stride, d = runs[-1]
            if d == delta and ((stride == 0 and cp - hi in (1, 2)) or (stride and cp - hi == stride)):
                runs[-1] = [lo, cp, cp - hi, d]
                continue
        runs.append([cp, cp, 0, delta])
    return [[lo, hi, stride or 1, d] for lo, hi, stride, d in runs]


def emit(path, props, lowercase, ccc, decomp, compose, version_note):
    pr = property_ranges(props)
    runs = lowercase_runs(lowercase)
    multi = sorted((cp, m) for cp, m in lowercase.items() if len(m) > 1)
    ccc_runs = []
    for cp in sorted(ccc):
        if ccc_runs and ccc_runs[-1][1] == cp - 1 and ccc_runs[-1][2] == ccc[cp]:
            ccc_runs[-1][1] = cp
        else:
            ccc_runs.append([cp, cp, ccc[cp]])
    # One stream: a header word (code point | length << 21 | compat << 26)
    # followed by the one-step mapping; the reader indexes it once.
    dec_stream = []
    for cp in sorted(decomp):
        compat, parts = decomp[cp]
        dec_stream.append(cp | len(parts) << 21 | int(compat) << 26)
        dec_stream.extend(parts)
    comp_rows = sorted((a, b, c) for (a, b), c in compose.items())
    assert max(len(p) for _, p in decomp.values()) < 32

    out = []
    out.append("// GENERATED FILE - do not edit. Regenerate with\n"
               "//   /usr/bin/python3 core/tokenizer/tools/gen_unicode_tables.py\n"
               "// (see that script's docstring: Python unicodedata %s + Perl Unicode::UCD,\n"
               "// restricted to Unicode %d.%d for categories and %d.%d for normalization as the\n"
               "// Rust tokenizers crates are, plus tools/unicode_overrides.json derived from\n"
               "// the reference library %s).\n"
               % (ud.unidata_version, CATEGORY_VERSION[0], CATEGORY_VERSION[1],
                  NORMALIZATION_VERSION[0], NORMALIZATION_VERSION[1], version_note))
    out.append('#include "core/tokenizer/unicode_tables.h"\n')
    out.append("namespace neobert::tokenizer::unicode_tables {\n")
    out.append("const PropertyRange kPropertyRanges[] = {")
    out.append(emit_rows(["{0x%X,0x%X,0x%X}," % tuple(r) for r in pr], 5))
    out.append("};\nconst size_t kPropertyRangeCount = %d;\n" % len(pr))
    out.append("const LowercaseRun kLowercaseRuns[] = {")
    out.append(emit_rows(["{0x%X,0x%X,%d,%d}," % tuple(r) for r in runs], 5))
    out.append("};\nconst size_t kLowercaseRunCount = %d;\n" % len(runs))
    out.append("const LowercaseMulti kLowercaseMulti[] = {")
    out.append(emit_rows(["{0x%X,{%s},%d}," % (cp, ",".join("0x%X" % c for c in m), len(m))
                          for cp, m in multi], 3))
    out.append("};\nconst size_t kLowercaseMultiCount = %d;\n" % len(multi))
    out.append("const CombiningRun kCombiningRuns[] = {")
    out.append(emit_rows(["{0x%X,0x%X,%d}," % tuple(r) for r in ccc_runs], 6))
    out.append("};\nconst size_t kCombiningRunCount = %d;\n" % len(ccc_runs))
    out.append("const uint32_t kDecompositionStream[] = {")
    out.append(emit_rows(["0x%X," % w for w in dec_stream], 10))
    out.append("};\nconst size_t kDecompositionStreamSize = %d;\n" % len(dec_stream))
    out.append("const Composition kCompositions[] = {")
    out.append(emit_rows(["{0x%X,0x%X,0x%X}," % r for r in comp_rows], 5))
    out.append("};\nconst size_t kCompositionCount = %d;\n" % len(comp_rows))
    out.append("}  // namespace neobert::tokenizer::unicode_tables")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("%s: %d property ranges, %d lowercase runs (+%d multi), %d ccc runs, %d decompositions "
          "(%d words), %d compositions" % (path, len(pr), len(runs), len(multi), len(ccc_runs),
                                           len(decomp), len(dec_stream), len(comp_rows)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probe", help="probe_reference.js output; rewrites --overrides")
    ap.add_argument("--overrides", default=os.path.join(HERE, "unicode_overrides.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "unicode_tables.cc"))
    args = ap.parse_args()

    age = perl_age()
    props = base_properties(age)
    lowercase = base_lowercase()
    ccc, decomp, compose = normalization_data(age)
    if args.probe:
        with open(args.probe) as f:
            probe = json.load(f)
        overrides = derive_overrides(probe, props, lowercase)
        with open(args.overrides, "w") as f:
            json.dump(overrides, f, indent=1, sort_keys=True)
            f.write("\n")
        bad = check_normalization(probe, ccc, decomp, compose)
        if bad:
            sys.exit("%d normalization mismatches against the reference" % bad)
    with open(args.overrides) as f:
        overrides = json.load(f)
    apply_overrides(overrides, props, lowercase)
    emit(os.path.normpath(args.out), props, lowercase, ccc, decomp, compose,
         "tokenizers " + overrides["reference_tokenizers_version"])


if __name__ == "__main__":
    main()
