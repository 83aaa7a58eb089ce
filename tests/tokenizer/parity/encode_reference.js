#!/usr/bin/env node
// Encodes every line of a corpus with the reference implementation (the npm
// `tokenizers` package: the HF Rust library) and writes the results as JSON.
//
//   node encode_reference.js --tokenizer tokenizer.json --corpus corpus.json \
//        --out reference.json [--no-tokens]
//
// corpus.json is a JSON array of strings. reference.json:
//   {"tokenizers_version": "...", "results": [
//      {"ids": [...], "tokens": [...], "plain_ids": [...]}   // plain: no special tokens
//    | {"error": "message"}, ...]}
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../../node_modules/tokenizers'));

function parseArgs(argv) {
  const a = { tokens: true };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--no-tokens') { a.tokens = false; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    if (k === '--tokenizer') a.tokenizer = v;
    else if (k === '--corpus') a.corpus = v;
    else if (k === '--out') a.out = v;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.tokenizer || !a.corpus || !a.out) throw new Error('usage: --tokenizer F --corpus F --out F');
  return a;
}

async function main() {
  const args = parseArgs(process.argv);
  const tok = tk.Tokenizer.fromFile(args.tokenizer);
  const lines = JSON.parse(fs.readFileSync(args.corpus, 'utf8'));
  const results = [];
  for (const line of lines) {
    try {
      const enc = await tok.encode(line);
      const plain = await tok.encode(line, null, { addSpecialTokens: false });
      const r = { ids: enc.getIds(), plain_ids: plain.getIds() };
      if (args.tokens) r.tokens = enc.getTokens();
      results.push(r);
    } catch (e) {
      results.push({ error: String(e && e.message ? e.message : e) });
    }
  }
  const version = require(path.join(__dirname, '../../../node_modules/tokenizers/package.json')).version;
  fs.writeFileSync(args.out, JSON.stringify({ tokenizers_version: version, results }) + '\n');
}

main().catch((e) => { console.error(`encode_reference.js: ${e.stack || e}`); process.exit(1); });
