#!/usr/bin/python3
"""Writes the tokenizer parity corpus: a JSON array of strings.

    make_corpus.py --out corpus.json [--lines 2400] [--seed 20240611]
    make_corpus.py --sweep --out sweep.json

The default corpus mixes, line by line and at random (seeded, so the file is
the same on every run), fragments that stress each tokenizer stage: accents
(precomposed and combining), CJK and other scripts, emoji sequences,
punctuation runs, words longer than WordPiece's 100-character limit,
whitespace oddities, control and format characters, stacked combining marks,
compatibility characters (NFKC), case mapping edge cases, and special tokens
and placeholder tokens inline (exact, near misses, surrounded by spaces).
Strings may contain any character, newlines included, hence JSON.

--sweep writes every assigned-plane code point in blocks of 32, once run
together and once space-separated, so every character meets every stage.
"""

import argparse
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_CORPUS = os.path.join(HERE, "..", "..", "fixtures", "corpus.txt")

SPECIALS = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<s>", "</s>", "<pad>", "<mask>", "<unk>"]
NEAR_MISSES = ["[mask]", "[MASK", "MASK]", "[ MASK ]", "<mask", "mask>", "< mask>", "<MASK>", "<<mask>>",
               "[[MASK]]", "<s >", "</ s>", "<|neobert_extra_token_|>", "<|neobert_extra_token_x|>",
               "<|neobert_extra_token_6000|>", "<|neobert_extra_token_", "|>", "<|"]
ACCENTS = ["café", "naïve", "résumé", "Ångström", "ÉCOLE", "façade", "jalapeño", "Zürich", "São Paulo",
           "coöperate", "Tiếng Việt", "Đà Nẵng", "crème brûlée", "Øresund", "Łódź", "Dvořák", "İstanbul",
           "ǅemal", "ﬁnance", "Ǆ", "e\u0301", "a\u0300\u0301", "o\u0308\u0304", "n\u0303",
           "A\u030a", "\u0041\u0323\u0302", "q\u0307\u0323", "ﾊﾝｶｸ", "ａｂｃ１２３", "Ⅻ", "①②③", "㍿", "²³", "½",
           "ℌ𝔢𝔩𝔩𝔬", "𝐀𝐁𝐂", "ΣΊΣΥΦΟΣ", "ὈΔΥΣΣΕΎΣ", "straße", "STRASSE", "ǰ", "ﬀ", "Ꭰꭰ", "ꞋꞌꟐ"]
SCRIPTS = ["Здравствуй, мир", "Γειά σου Κόσμε", "مرحبا بالعالم", "שָׁלוֹם עוֹלָם", "नमस्ते दुनिया", "வணக்கம்",
           "สวัสดีชาวโลก", "გამარჯობა", "Բարեւ", "ሰላም ልዑል", "ᏣᎳᎩ", "ꯃꯤꯇꯩ", "བཀྲ་ཤིས་", "ᠮᠣᠩᠭᠣᠯ",
           "안녕하세요 세계", "ᄒᆞᆫ글", "こんにちは世界", "カタカナとひらがな", "你好，世界！", "漢字測試",
           "𠀀𠀁𪜀𫝀𫠠𬺰", "豈更車", "〇一二三", "ㄅㄆㄇ", "ꀀꀁꀂ", "𐌰𐌱𐌲", "𓀀𓀁", "𒀀𒀁", "𞤀𞤁"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "1️⃣", "❤️", "🏳️‍🌈", "🧑🏿‍💻", "🫨", "🪿", "🫠", "🥲", "☕", "✌︎",
         "🔥🔥🔥", "💯", "🤖", "🦀", "🐍", "🙈🙉🙊", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
PUNCT = ["!!!", "???", "?!?!", "...", "…", "—", "–", "--", "---", "«»", "„“", "‘’", "''", "\"\"", "¿¡",
         "()", "[]", "{}", "<>", "@#$%^&*", "~`|\\", "、。", "，！？", "﹏", "‼", "⁉", "§¶", "•", "·",
         "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "''s", "'", "_", "__init__",
         "=>", "::", "->", "#!/bin/sh", "http://example.com/a?b=c&d=e", "user@example.org", "C++", "$100.00",
         "3.14159", "1,000,000", "2024-06-11", "12:30", "+49 30 1234", "#hashtag", "@mention"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u2003", "\u3000", "\u2009", "\u200b",
          "\u2028", "\u2029", "\u1680", "\u202f", "\u205f", "\u000b", "\u000c", "\u0085", " \t \n "]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x9f", "\u200e", "\u200f", "\u200d", "\u200c",
            "\u2060", "\ufeff", "\ufffd", "\u00ad", "\u0600", "\U000e0001", "\ue000", "\U000f0000",
            "\u061c", "\u180e", "\u2066", "\u2069", "\ufff9"]
MARKS = ["\u0301", "\u0300\u0301\u0302", "\u0323\u0301", "\u0301\u0323", "\u0345\u0314", "\u05b4\u05bc",
         "\u064b\u0651", "\u093c\u094d", "\u0e31\u0e48", "\u1ab0", "\u20d7", "\ufe20", "\U0001d167",
         "\u0334\u0335", "\u0f71\u0f72", "\u302a", "\u0488", "\u20dd"]
CODE = ["def f(x):\n    return x * 2", "for (int i = 0; i < n; ++i) {}", "SELECT * FROM t WHERE a=1;",
        "if x != None: print(x)", "{\"key\": [1, 2, 3]}", "<div class=\"a\">hi</div>", "a_b_c=1",
        "std::vector<int> v;", "console.log(`${x}`);", "x**2 + y**2 == r**2"]
WORDS = ["the", "cat", "sat", "on", "mat", "Python", "coding", "quantum", "physics", "neural", "network",
         "token", "tokenizer", "running", "jumped", "unbelievable", "internationalization", "42", "3",
         "don't", "I'll", "we're", "O'Neil", "e-mail", "well-known", "NeoBERT", "HuggingFace", "GPU"]


def long_word(rng):
    kind = rng.randrange(6)
    n = rng.choice([99, 100, 101, 150, 300])
    if kind == 0:
        return "a" * n
    if kind == 1:
        return ("supercalifragilistic" * 20)[:n]
    if kind == 2:
        return "".join(rng.choice("0123456789") for _ in range(n))
    if kind == 3:
        return ("é" * n)
    if kind == 4:
        return "".join(rng.choice("абвгдежз") for _ in range(n))
    return ("token" * 40)[:n] + "s"


def random_codepoints(rng):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF),
              (0x900, 0xDFF), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x2E80, 0x9FFF),
              (0xAC00, 0xD7A3), (0xE000, 0xE0FF), (0xF900, 0xFFFD), (0x10000, 0x1FAFF),
              (0x20000, 0x2FA1F), (0x30000, 0x323AF), (0xE0000, 0xE01EF), (0x0, 0x1F), (0x7F, 0x9F)]
    out = []
    for _ in range(rng.randint(1, 12)):
        lo, hi = rng.choice(ranges)
        cp = rng.randint(lo, hi)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def special_fragment(rng, sentence_words):
    s = rng.choice(SPECIALS + NEAR_MISSES + ["<|neobert_extra_token_%d|>" % rng.randint(590, 780)])
    style = rng.randrange(6)
    if style == 0:
        return " " + s + " "
    if style == 1:
        return s  # glued to neighbours
    if style == 2:
        return "  " + s
    if style == 3:
        return s + "\t"
    if style == 4:
        return rng.choice(sentence_words) + s + rng.choice(sentence_words)
    return s.lower() if rng.random() < 0.5 else s.upper()


def make_line(rng, sentences):
    words = rng.choice(sentences).split()
    parts = []
    for _ in range(rng.randint(1, 9)):
        kind = rng.choices(
            ["sentence", "words", "accent", "script", "emoji", "punct", "space", "control", "mark",
             "special", "long", "code", "soup", "number"],
            weights=[6, 8, 6, 6, 4, 6, 6, 3, 4, 8, 2, 2, 3, 2])[0]
        if kind == "sentence":
            parts.append(rng.choice(sentences))
        elif kind == "words":
            parts.append(" ".join(rng.choice(WORDS + words) for _ in range(rng.randint(1, 6))))
        elif kind == "accent":
            parts.append(rng.choice(ACCENTS))
        elif kind == "script":
            parts.append(rng.choice(SCRIPTS))
        elif kind == "emoji":
            parts.append(rng.choice(EMOJI))
        elif kind == "punct":
            parts.append(rng.choice(PUNCT) * rng.choice([1, 1, 2, 5]))
        elif kind == "space":
            parts.append(rng.choice(SPACES))
        elif kind == "control":
            parts.append(rng.choice(CONTROLS))
        elif kind == "mark":
            base = rng.choice(["a", "e", "o", " ", "", "x", "ß", "中", "1", "!"])
            parts.append(base + rng.choice(MARKS))
        elif kind == "special":
            parts.append(special_fragment(rng, words))
        elif kind == "long":
            parts.append(long_word(rng))
        elif kind == "code":
            parts.append(rng.choice(CODE))
        elif kind == "soup":
            parts.append(random_codepoints(rng))
        else:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
    sep = rng.choice(["", " ", " ", " ", "  "])
    line = sep.join(parts)
    if rng.random() < 0.1:
        line = line.upper()
    elif rng.random() < 0.1:
        line = " " + line + " "
    return line


def fixed_lines():
    """Hand-picked cases that must always be present."""
    lines = ["", " ", "   ", "\n", "\t\t", "a", "A", "[MASK]", "<mask>", " <mask>", "<mask> ", "  <mask>  ",
             "[CLS] [SEP]", "[MASK][MASK]", "<s></s>", "<s> hello </s>", "The cat sat on the [MASK].",
             "The cat sat on the <mask>.", "<|neobert_extra_token_600|>", "<|neobert_extra_token_767|>",
             "x<|neobert_extra_token_700|>y", "<|neobert_extra_token_639|><|neobert_extra_token_640|>",
             "A naïve café résumé.", "hello\u0000world", "\ufeffBOM", "İ", "ǅ", "Σ", "ΑΣ ΑΣ.", "ß", "ẞ",
             "ﬃ", "Å", "A\u030a", "\u1100\u1161\u11a8", "각", "e\u0301\u0301", "\u0301start", "中文字符",
             "a" * 100, "a" * 101, "é" * 101, "token " * 200, "😀" * 50, "!" * 300,
             "don't won't I'm they'll we've she'd it's", "'s's's", " 's", "1 2  3   4",
             "\u2581leading metaspace", "▁▁▁", "a▁b", "tab\there", "cr\rlf\n", "\u3000全角スペース\u3000"]
    return lines


def sweep_lines():
    cps = [cp for cp in list(range(0, 0x323B0)) + list(range(0xE0000, 0xE01F0))
           if not 0xD800 <= cp <= 0xDFFF and not 0xE000 <= cp <= 0xF8FF]
    cps += list(range(0xE000, 0xE100)) + list(range(0xF0000, 0xF0100))
    lines = []
    for i in range(0, len(cps), 32):
        block = [chr(c) for c in cps[i:i + 32]]
        lines.append("".join(block))
        lines.append(" ".join(block))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--lines", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    if args.sweep:
        lines = sweep_lines()
    else:
        with open(FIXTURE_CORPUS, encoding="utf-8") as f:
            sentences = [l.rstrip("\n") for l in f if l.strip()]
        rng = random.Random(args.seed)
        lines = fixed_lines()
        while len(lines) < args.lines:
            lines.append(make_line(rng, sentences))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(lines, f, ensure_ascii=True)
        f.write("\n")
    print("%s: %d lines" % (args.out, len(lines)))


if __name__ == "__main__":
    main()
