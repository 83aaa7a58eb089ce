#!/usr/bin/env node
// Asks the reference implementation (the npm `tokenizers` package, i.e. the
// HF Rust library) how it classifies every Unicode scalar value, one component
// at a time, and writes the answers as JSON for gen_unicode_tables.py.
//
//   node probe_reference.js OUT.json        (~3 minutes; writes ~1 MB)
//
// Why probe instead of reading the Unicode Character Database: the Rust
// library mixes table versions (its `unicode_categories` crate ships Unicode 8
// categories, `unicode-normalization-alignments` Unicode 9, while Rust's std
// lowercase/whitespace, the `regex` crate and Oniguruma follow newer
// releases). gen_unicode_tables.py starts from Python's unicodedata and keeps
// only the differences it finds here, as explicit overrides.
//
// Each probe embeds the code point X in a short context whose split or
// normalisation differs depending on exactly one property of X:
//   bert_clean_removed  BertNormalizer(clean_text only) drops X
//   white_space         BertPreTokenizer drops X (char::is_whitespace)
//   bert_punct          BertPreTokenizer isolates X in "aXb"
//   bert_mn             BertNormalizer(strip_accents only) drops X (Mn)
//   combining_mark      StripAccents drops X (is_combining_mark)
//   onig_letter         ByteLevel regex keeps "aX" whole (\p{L})
//   onig_number         ByteLevel regex keeps "1X" whole (\p{N})
//   regex_word          Whitespace pre-tokenizer keeps "aX" whole (\w)
//   rust_numeric        Digits isolates X in "aXb" (char::is_numeric)
//   ccc_gt1 / ccc_lt230 NFD reorders X+U+0334 / U+0301+X (combining class)
//   lowercase, nfd, nfkd, nfc, nfkc: the mapping of X alone, where X changes.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../../node_modules/tokenizers'));

const out = process.argv[2];
if (!out) { console.error('usage: probe_reference.js OUT.json'); process.exit(2); }

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const bertStrip = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const stripAccents = tk.stripAccentsNormalizer();
const bertPre = tk.bertPreTokenizer();
const byteLevel = tk.byteLevelPreTokenizer(false, true);
const whitespace = tk.whitespacePreTokenizer();
const digits = tk.digitsPreTokenizer(false);
const maps = { lowercase: tk.lowercase(), nfd: tk.nfdNormalizer(), nfkd: tk.nfkdNormalizer(),
  nfc: tk.nfcNormalizer(), nfkc: tk.nfkcNormalizer() };

const setNames = ['bert_clean_removed', 'white_space', 'bert_punct', 'bert_mn', 'combining_mark',
  'onig_letter', 'onig_number', 'regex_word', 'rust_numeric', 'ccc_gt1', 'ccc_lt230'];
const sets = Object.fromEntries(setNames.map((n) => [n, []]));
const mapOut = Object.fromEntries(Object.keys(maps).map((n) => [n, []]));

function add(name, cp) {
  const r = sets[name];
  const last = r[r.length - 1];
  if (last && last[1] === cp - 1) last[1] = cp; else r.push([cp, cp]);
}

for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const x = String.fromCodePoint(cp);
  if (clean.normalizeString(x) === '') add('bert_clean_removed', cp);
  const b = bertPre.preTokenizeString('a' + x + 'b');
  if (b.length === 2) add('white_space', cp);
  if (b.length === 3) add('bert_punct', cp);
  const nfd = maps.nfd.normalizeString(x);
  if (nfd === x && bertStrip.normalizeString(x) === '') add('bert_mn', cp);
  if (stripAccents.normalizeString(x) === '') add('combining_mark', cp);
  if (byteLevel.preTokenizeString('a' + x).length === 1) add('onig_letter', cp);
  if (byteLevel.preTokenizeString('1' + x).length === 1) add('onig_number', cp);
  const w = whitespace.preTokenizeString('a' + x);
  if (w.length === 1 && w[0][0] === 'a' + x) add('regex_word', cp);
  if (digits.preTokenizeString('a' + x + 'b').length === 3) add('rust_numeric', cp);
  if (maps.nfd.normalizeString(x + '\u0334') !== nfd + '\u0334') add('ccc_gt1', cp);
  if (maps.nfd.normalizeString('\u0301' + x) !== '\u0301' + nfd) add('ccc_lt230', cp);
  for (const [name, n] of Object.entries(maps)) {
    const y = name === 'nfd' ? nfd : n.normalizeString(x);
    if (y !== x) mapOut[name].push([cp, [...y].map((c) => c.codePointAt(0))]);
  }
}

fs.writeFileSync(out, JSON.stringify({
  tokenizers_version: require(path.join(__dirname, '../../../node_modules/tokenizers/package.json')).version,
  sets, maps: mapOut }) + '\n');
