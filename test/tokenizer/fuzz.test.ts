// Fuzzing what parses input:
//   - random and mutated tokenizer.* metadata gives a working tokenizer or a RangeError /
//     TypeError, never another error or a hang; a tokenizer that builds tokenizes random text;
//   - random text (any code points, lone surrogates, special-token look-alikes, whitespace runs)
//     never throws on a valid vocabulary: the 19 slices of llama.cpp's suite vocabularies and
//     complete small ones of every model;
//   - decode(encode(text)) gives the text back where llama.cpp's does: byte-level BPE without
//     clean_spaces (every pre-tokenizer), SPM with byte fallback, gemma4 with <0xXX> tokens.
import fc from 'fast-check';
import * as fs from 'fs';
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf } from '../../lib/formats/gguf-writer';
import { GgufKV, GgufType } from '../../lib/formats/gguf';
import { Tokenizer, TokenType, GPT2_BYTE_TO_CHAR } from '../../lib/tokenizer';
import { PRE_TOKENIZER_NAMES, preTokenizer } from '../../lib/tokenizer/pretokenizer';
import { FIXTURE_PATH, VocabFixture, tokenizerFromSlice } from './vocab-slice';

const SEED = 1234;

/** text with everything a tokenizer meets: scripts, emoji, marks, digits, whitespace kinds, specials, lone surrogates */
const textArb = fc.array(fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u3000', '\u2028', '\ufeff', '\u0085', '▁', "'s", "'LL", '123456', '½',
    '<s>', '</s>', '<|im_start|>', '<|endoftext|>', '<unk>', '[CLS]', '<mask>', '<0x41>', '\ud800', '\udc00', 'é', 'e\u0301', '中文', '😀', 'ab', 'ab ab'),
), { maxLength: 12 }).map((a) => a.join(''));

describe('random text never throws on a valid vocabulary', () => {
  const fixtures = JSON.parse(fs.readFileSync(FIXTURE_PATH, 'utf8')) as Record<string, VocabFixture>;
  test.each(Object.keys(fixtures).map((k) => [k]))('%s (slice)', (file) => {
    const tok = tokenizerFromSlice(fixtures[file]);
    fc.assert(fc.property(textArb, fc.boolean(), fc.boolean(), (text, addSpecial, parseSpecial) => {
      const ids = tok.encode(text, { addSpecial, parseSpecial });
      for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) return false;
      return typeof tok.decode(ids, { special: true }) === 'string';
    }), { seed: SEED, numRuns: 60 });
  });
});

// complete small vocabularies: every byte reachable, so text round-trips where llama.cpp's does
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
function bpeVocab(pre: string): Tokenizer {
  const tokens = [...GPT2_BYTE_TO_CHAR, 'ab', 'Ġa', '12', '<s>', '</s>'];
  const types = tokens.map((t, i) => (i >= tokens.length - 2 ? TokenType.CONTROL : TokenType.NORMAL));
  return new Tokenizer({ model: 'gpt2', pre, tokens, types, merges: ['a b', 'Ġ a', '1 2'], bos: tokens.length - 2, eos: tokens.length - 1 });
}
function spmVocab(): Tokenizer {
  const tokens = ['<unk>', '<s>', '</s>', ...BYTE_TOKENS, '▁', 'a', 'b', '▁a', 'ab', '▁ab'];
  const types = tokens.map((t, i) => (i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : i < 259 ? TokenType.BYTE : TokenType.NORMAL));
  const scores = tokens.map((_, i) => (i < 259 ? 0 : -(i - 258)));
  return new Tokenizer({ model: 'llama', tokens, types, scores });
}
function gemma4Vocab(): Tokenizer {
  const tokens = ['<pad>', '</s>', '<s>', '<unk>', ...BYTE_TOKENS, '▁', 'a', 'b', 'ab', '▁a', '\n', '\n\n'];
  const types = tokens.map((t, i) => (i === 3 ? TokenType.UNKNOWN : i < 4 ? TokenType.CONTROL : i < 260 ? TokenType.BYTE : TokenType.NORMAL));
  return new Tokenizer({ model: 'gemma4', tokens, types, merges: ['a b', '▁ a', '\n \n'], bos: 2, eos: 1, unk: 3 });
}
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

describe('decode(encode(text)) is the text where llama.cpp gives it back', () => {
  const roundTrip = PRE_TOKENIZER_NAMES.filter((n) => { const p = preTokenizer(n); return p.byteEncode && !p.cleanSpaces; });
  test.each(roundTrip.map((n) => [n]))('byte-level BPE, pre-tokenizer %s', (pre) => {
    const tok = bpeVocab(pre);
    fc.assert(fc.property(textArb, (text) => tok.decode(tok.encode(text, { addSpecial: false })) === wellFormed(text)), { seed: SEED, numRuns: 40 });
  });
  // a literal ▁ comes back as a space, as in llama.cpp
  test('SPM with byte fallback', () => {
    const tok = spmVocab();
    fc.assert(fc.property(textArb, (text) => tok.decode(tok.encode(text)) === wellFormed(text).replace(/▁/g, ' ')), { seed: SEED, numRuns: 200 });
  });
  // llama.cpp's clean_spaces, written as regexes: " ?" " !" " ." " ," lose the space, " ' " is
  // "'", " 's" " 'm" " 're" " 've" lose the space
  const cleaned = (s: string) => s.replace(/ (?=[?!.,])/g, '').replace(/ ' /g, "'").replace(/ '(?=[sm]|re|ve)/g, "'");
  test('gemma4 (and its clean_spaces)', () => {
    const tok = gemma4Vocab();
    fc.assert(fc.property(textArb, (text) => tok.decode(tok.encode(text, { addSpecial: false })) === cleaned(wellFormed(text).replace(/▁/g, ' '))), { seed: SEED, numRuns: 200 });
  });
});

describe('random and mutated tokenizer metadata', () => {
  const small = fc.string({ unit: 'grapheme', minLength: 0, maxLength: 4 });
  const kv = (arb: fc.Arbitrary<GgufKV>) => fc.option(arb, { nil: undefined });
  const idArb = fc.oneof(fc.integer({ min: -3, max: 60 }), fc.constant(2 ** 31));
  const metaArb = fc.record({
    model: fc.oneof(fc.constantFrom('llama', 'gpt2', 'gemma4', 'bert', 't5'), small),
    pre: kv(fc.oneof(fc.constantFrom(...PRE_TOKENIZER_NAMES), small).map((s) => gguf.str(s))),
    tokens: fc.oneof(
      fc.array(small, { maxLength: 40 }),
      fc.constant([...GPT2_BYTE_TO_CHAR, 'ab', '<s>']),
      fc.constant(['<unk>', '<s>', '</s>', ...BYTE_TOKENS, '▁', '▁a', 'a']),
    ),
    types: fc.option(fc.array(fc.integer({ min: -1, max: 8 }), { maxLength: 300 }), { nil: undefined }),
    scores: fc.option(fc.array(fc.float({ noNaN: false }), { maxLength: 300 }), { nil: undefined }),
    merges: fc.option(fc.array(fc.oneof(fc.constantFrom('a b', 'Ġ a', '▁ a', ' ', 'ab'), small), { maxLength: 10 }), { nil: undefined }),
    ids: fc.record({ bos: fc.option(idArb), eos: fc.option(idArb), unk: fc.option(idArb), sep: fc.option(idArb) }),
    flags: fc.record({ bos: fc.option(fc.boolean()), eos: fc.option(fc.boolean()), prefix: fc.option(fc.boolean()), wrongType: fc.boolean() }),
    charsmap: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
  });
  test('a tokenizer, or a RangeError / TypeError; what builds tokenizes random text', () => {
    fc.assert(fc.property(metaArb, textArb, (m, text) => {
      const md: Record<string, GgufKV> = { 'tokenizer.ggml.model': gguf.str(m.model), 'tokenizer.ggml.tokens': gguf.strs(m.tokens) };
      if (m.pre) md['tokenizer.ggml.pre'] = m.pre;
      if (m.types) md['tokenizer.ggml.token_type'] = gguf.i32s(m.types);
      if (m.scores) md['tokenizer.ggml.scores'] = gguf.f32s(m.scores);
      if (m.merges) md['tokenizer.ggml.merges'] = gguf.strs(m.merges);
      for (const [k, v] of [['bos', m.ids.bos], ['eos', m.ids.eos], ['unknown', m.ids.unk], ['seperator', m.ids.sep]] as const) {
        if (v !== null && v !== undefined) md[`tokenizer.ggml.${k}_token_id`] = v < 0 ? gguf.i32(v) : gguf.u32(v);
      }
      for (const [k, v] of [['add_bos_token', m.flags.bos], ['add_eos_token', m.flags.eos], ['add_space_prefix', m.flags.prefix]] as const) {
        if (v !== null && v !== undefined) md[`tokenizer.ggml.${k}`] = m.flags.wrongType ? gguf.u32(v ? 1 : 0) : gguf.bool(v);
      }
      if (m.charsmap) md['tokenizer.ggml.precompiled_charsmap'] = gguf.array(GgufType.UINT8, m.charsmap);
      let tok: Tokenizer;
      try {
        tok = Tokenizer.fromGguf(parseGguf(encodeGguf({ metadata: md })));
      } catch (e) {
        if (e instanceof RangeError || e instanceof TypeError) return true;
        throw e;
      }
      try {
        const ids = tok.encode(text, { parseSpecial: true });
        for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) return false;
        tok.decode(ids, { special: true });
      } catch (e) {
        // a random charsmap is read as it goes: its bad indices are RangeErrors then
        if (m.charsmap && e instanceof RangeError) return true;
        throw e;
      }
      return true;
    }), { seed: SEED, numRuns: 400 });
  });
});
