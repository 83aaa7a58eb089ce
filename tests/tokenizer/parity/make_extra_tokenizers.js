#!/usr/bin/env node
// Builds extra tokenizer.json files for the parity test, covering components
// the two fixture tokenizers (BERT WordPiece, byte-level BPE) do not use:
// Metaspace (all prepend schemes, split on/off), SentencePiece-style BPE with
// byte fallback, WordLevel, NFC/NFKC/NFKD, Strip/Replace/Prepend/Nmt
// normalizers, Whitespace/Digits/Punctuation/Split/CharDelimiterSplit
// pre-tokenizers, Bert/Roberta/Template post-processors, truncation, padding
// and added tokens with every flag.
//
//   node make_extra_tokenizers.js --corpus tests/fixtures/corpus.txt --out DIR
//
// Vocabularies come from the library's own trainers on the fixture corpus;
// the rest of each file is written as JSON and re-read and re-saved by the
// library, so every file is one the reference accepts as it would save it.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tk = require(path.join(__dirname, '../../../node_modules/tokenizers'));

function parseArgs(argv) {
  const a = {};
  for (let i = 2; i < argv.length; i += 2) {
    if (argv[i] === '--corpus') a.corpus = argv[i + 1];
    else if (argv[i] === '--out') a.out = argv[i + 1];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!a.corpus || !a.out) throw new Error('usage: --corpus FILE --out DIR');
  return a;
}

// Trains `model` with the given pre-tokenizer and normalizer; returns the JSON.
function train(model, preTokenizer, normalizer, corpus, scratch, name) {
  const t = new tk.Tokenizer(model);
  if (normalizer) t.setNormalizer(normalizer);
  if (preTokenizer) t.setPreTokenizer(preTokenizer);
  t.train([corpus]);
  const file = path.join(scratch, `${name}.json`);
  t.save(file, false);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function addToVocab(vocab, token) {
  if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  return vocab[token];
}

function added(content, special, flags = {}) {
  return Object.assign({ id: 0, content, single_word: false, lstrip: false, rstrip: false,
    normalized: !special, special }, flags);
}

// Placeholders up to a multiple of 128, as the NeoBERT trainer pads.
function placeholders(first, count) {
  const out = [];
  for (let i = first; i < first + count; i++) out.push(added(`<|neobert_extra_token_${i}|>`, false));
  return out;
}

function save(dir, name, json) {
  const padded = json.__pad;
  delete json.__pad;
  let tok = tk.Tokenizer.fromString(JSON.stringify(json));
  if (padded) {
    const total = tok.getVocabSize(true);
    const count = (128 - (total % 128)) % 128;
    json.added_tokens = json.added_tokens.concat(placeholders(total, count));
    tok = tk.Tokenizer.fromString(JSON.stringify(json));
  }
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  tok.save(path.join(dir, name, 'tokenizer.json'), true);
  return tok;
}

const SPECIAL_BERT = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function main() {
  const args = parseArgs(process.argv);
  fs.mkdirSync(args.out, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'neobert-parity-'));
  try {
    // 1. Metaspace + BPE (SentencePiece-like), NFKC, RoBERTa-style specials as
    //    the NeoBERT trainer adds them, RobertaProcessing, placeholders.
    const msp = train(tk.BPE.empty(), tk.metaspacePreTokenizer('\u2581', 'always', true),
      tk.nfkcNormalizer(), args.corpus, scratch, 'msp');
    const mspVocab = msp.model.vocab;
    for (const s of ['<unk>', '<s>', '</s>', '<pad>', '<mask>']) addToVocab(mspVocab, s);
    const mspModel = Object.assign({}, msp.model, { unk_token: '<unk>', fuse_unk: true });
    save(args.out, 'metaspace_bpe', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: ['<s>', '</s>', '<unk>', '<pad>'].map((s) => added(s, true))
        .concat([added('<mask>', true, { lstrip: true })]),
      normalizer: { type: 'NFKC' },
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', mspVocab['</s>']], cls: ['<s>', mspVocab['<s>']],
        trim_offsets: true, add_prefix_space: true },
      decoder: null, model: mspModel, __pad: true,
    });

    // 2. The same model, one piece per line: Metaspace without split, never
    //    prepending; NFKD + Lowercase.
    save(args.out, 'metaspace_nosplit', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: ['<s>', '</s>', '<unk>'].map((s) => added(s, true)),
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'Lowercase' }] },
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: false },
      post_processor: null, decoder: null, model: mspModel,
    });

    // 3. SentencePiece/Llama-style BPE: Prepend + Replace normalizers, no
    //    pre-tokenizer, byte fallback, fused unknowns, "<s> $A" template.
    const llamaVocab = Object.assign({}, mspVocab);
    for (let b = 0; b < 256; b++) addToVocab(llamaVocab, `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    // Leave some bytes out so fallback sometimes fails over to <unk>.
    delete llamaVocab['<0xF0>'];
    delete llamaVocab['<0x9F>'];
    save(args.out, 'llama_bpe', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: ['<unk>', '<s>', '</s>'].map((s) => added(s, true)),
      normalizer: { type: 'Sequence', normalizers: [
        { type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
      pre_tokenizer: null,
      post_processor: { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [llamaVocab['<s>']], tokens: ['<s>'] } } },
      decoder: null,
      model: Object.assign({}, mspModel, { vocab: llamaVocab, byte_fallback: true, fuse_unk: true }),
    });

    // 4. WordPiece trained behind Metaspace "first", with Strip/Replace/NFD/
    //    StripAccents/Lowercase and BertProcessing.
    const wpm = train(tk.WordPiece.empty(), tk.metaspacePreTokenizer('\u2581', 'first', true),
      tk.sequenceNormalizer([tk.nfdNormalizer(), tk.stripAccentsNormalizer(), tk.lowercase()]),
      args.corpus, scratch, 'wpm');
    const wpmVocab = wpm.model.vocab;
    for (const s of SPECIAL_BERT) addToVocab(wpmVocab, s);
    save(args.out, 'metaspace_wordpiece', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: SPECIAL_BERT.map((s) => added(s, true)),
      normalizer: { type: 'Sequence', normalizers: [
        { type: 'Strip', strip_left: true, strip_right: true },
        { type: 'Replace', pattern: { String: '``' }, content: '"' },
        { type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
      pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', wpmVocab['[SEP]']], cls: ['[CLS]', wpmVocab['[CLS]']] },
      decoder: null,
      model: Object.assign({}, wpm.model, { unk_token: '[UNK]', max_input_chars_per_word: 30 }), __pad: true,
    });

    // 5. WordLevel behind Whitespace + individual Digits; NFKD/StripAccents/
    //    Lowercase/Nmt; added tokens with single_word / lstrip / rstrip /
    //    normalized; truncation from the left and fixed padding.
    const wl = train(tk.WordLevel.empty(), tk.whitespacePreTokenizer(), tk.lowercase(), args.corpus, scratch, 'wl');
    const wlVocab = wl.model.vocab;
    for (const s of SPECIAL_BERT) addToVocab(wlVocab, s);
    save(args.out, 'wordlevel_whitespace', {
      version: '1.0',
      truncation: { direction: 'Left', max_length: 40, strategy: 'LongestFirst', stride: 0 },
      padding: { strategy: { Fixed: 24 }, direction: 'Right', pad_to_multiple_of: 8, pad_id: wlVocab['[PAD]'],
        pad_type_id: 0, pad_token: '[PAD]' },
      added_tokens: SPECIAL_BERT.map((s) => added(s, true)).concat([
        added('sat', false, { single_word: true, lstrip: true, rstrip: true }),
        added('NeoBERT', false, { normalized: true }),
        added('ing', false, { rstrip: true }),
        added('Cat', false, { normalized: false, single_word: true }),
        added(' x ', false, { normalized: false }),
      ]),
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Nmt' }, { type: 'NFKD' }, { type: 'StripAccents' },
        { type: 'Lowercase' }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' },
        { type: 'Digits', individual_digits: true }] },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', wlVocab['[SEP]']], cls: ['[CLS]', wlVocab['[CLS]']] },
      decoder: null, model: Object.assign({}, wl.model, { unk_token: '[UNK]' }),
    });

    // 6. WordLevel behind WhitespaceSplit, Punctuation, contiguous Digits,
    //    CharDelimiterSplit and literal Splits; NFC + left Strip; a template
    //    with several special tokens and type ids.
    save(args.out, 'wordlevel_punct', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: SPECIAL_BERT.map((s) => added(s, true)),
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Strip', strip_left: true, strip_right: false }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'WhitespaceSplit' },
        { type: 'Punctuation', behavior: 'MergedWithPrevious' },
        { type: 'Digits', individual_digits: false },
        { type: 'CharDelimiterSplit', delimiter: 'e' },
        { type: 'Split', pattern: { String: 'th' }, behavior: 'MergedWithNext', invert: false },
        { type: 'Split', pattern: { String: 'a' }, behavior: 'Contiguous', invert: true }] },
      post_processor: { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 1 } },
          { SpecialToken: { id: 'SEPS', type_id: 2 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: {
          '[CLS]': { id: '[CLS]', ids: [wlVocab['[CLS]']], tokens: ['[CLS]'] },
          SEPS: { id: 'SEPS', ids: [wlVocab['[SEP]'], wlVocab['[SEP]']], tokens: ['[SEP]', '[SEP]'] } } },
      decoder: null, model: Object.assign({}, wl.model, { unk_token: '[UNK]' }),
    });

    // 7. Byte-level BPE with add_prefix_space, ignore_merges, an NFC
    //    normalizer, RobertaProcessing, and RoBERTa-like added tokens with
    //    every strip flag.
    const bl = train(tk.BPE.empty(), tk.byteLevelPreTokenizer(true, true), null, args.corpus, scratch, 'bl');
    const blVocab = bl.model.vocab;
    for (const s of ['<s>', '</s>', '<pad>', '<unk>', '<mask>']) addToVocab(blVocab, s);
    save(args.out, 'bytelevel_prefix', {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [added('<s>', true), added('</s>', true), added('<pad>', true), added('<unk>', true),
        added('<mask>', true, { lstrip: true, rstrip: true }),
        added('[MASK]', true, { single_word: true }),
        added('<|neobert_extra_token_9000|>', false, { normalized: true, rstrip: true })],
      normalizer: { type: 'NFC' },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: { type: 'Sequence', processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        { type: 'RobertaProcessing', sep: ['</s>', blVocab['</s>']], cls: ['<s>', blVocab['<s>']],
          trim_offsets: true, add_prefix_space: true }] },
      decoder: null, model: Object.assign({}, bl.model, { ignore_merges: true }),
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
