// Unigram: llama.cpp's UGM ("t5") by hand on a tiny vocabulary, and a SentencePiece Unigram
// tokenizer.json read by tokenizerFromHfJson, which must tokenize as the GGUF llama.cpp makes
// from the same model: here the slice of nomic-bert-moe's (XLM-R) vocabulary and precompiled
// charsmap in fixtures/llama-vocab-cases.json, on the cases llama.cpp tokenized.
import * as fs from 'fs';
import { Tokenizer, TokenType } from '../../lib/tokenizer';
import { tokenizerFromHfJson } from '../../lib/tokenizer/hf';
import { FIXTURE_PATH, VocabFixture, sliceCharsmap } from './vocab-slice';

describe('UGM by hand', () => {
  const pieces: [string, number, TokenType][] = [
    ['<pad>', 0, TokenType.CONTROL], ['</s>', 0, TokenType.CONTROL], ['<unk>', 0, TokenType.UNKNOWN], ['▁', -2, TokenType.NORMAL],
    ['a', -3, TokenType.NORMAL], ['b', -3, TokenType.NORMAL], ['ab', -2.5, TokenType.NORMAL], ['▁ab', -1, TokenType.NORMAL],
    ['c', -4, TokenType.NORMAL], ['▁c', -9, TokenType.NORMAL], ['<x>', 0, TokenType.USER_DEFINED],
  ];
  const make = (o: { addSpacePrefix?: boolean; removeExtraWhitespaces?: boolean } = {}) => new Tokenizer({
    model: 't5', tokens: pieces.map((p) => p[0]), scores: pieces.map((p) => p[1]), types: pieces.map((p) => p[2]),
    addSpacePrefix: o.addSpacePrefix ?? true, removeExtraWhitespaces: o.removeExtraWhitespaces,
  });
  const id = (s: string) => pieces.findIndex((p) => p[0] === s);
  test("llama.cpp's defaults: EOS 1 added, no BOS, unk 2", () => {
    const t = make();
    expect([t.eos, t.unk, t.bos, t.addEos, t.addBos]).toEqual([1, 2, undefined, true, false]);
    expect(t.encode('ab')).toEqual([id('▁ab'), 1]);
  });
  test('the best-scoring segmentation; uncovered characters one unknown token', () => {
    const t = make();
    const e = (s: string) => t.encode(s, { addSpecial: false });
    expect(e('ab')).toEqual([id('▁ab')]);
    expect(e('abc')).toEqual([id('▁ab'), id('c')]); // ▁ab + c (-5) beats ▁ + a + b + c
    expect(e('c')).toEqual([id('▁'), id('c')]); // -6 beats ▁c (-9)
    expect(e('abdd')).toEqual([id('▁ab'), 2]); // "dd": one <unk>
    // a user-defined token is split out first; each run of text after it gets its own ▁ (llama.cpp)
    expect(e('a<x>b')).toEqual([id('▁'), id('a'), id('<x>'), id('▁'), id('b')]);
    expect(e('')).toEqual([]);
  });
  test('spaces: ▁ for each, collapsed and trimmed with remove_extra_whitespaces', () => {
    expect(make().encode('ab  ab ', { addSpecial: false })).toEqual([id('▁ab'), id('▁'), id('▁ab'), id('▁')]);
    expect(make({ removeExtraWhitespaces: true }).encode('  ab  ab ', { addSpecial: false })).toEqual([id('▁ab'), id('▁ab')]);
    expect(make({ addSpacePrefix: false }).encode('ab', { addSpecial: false })).toEqual([id('ab')]);
  });
  test('decode: ▁ read as a space, the prefix space stripped', () => {
    const t = make();
    expect(t.decode(t.encode('ab abc'))).toBe('ab abc');
  });
  test('a bad charsmap is a RangeError', () => {
    const bad = (cm: Uint8Array) => () => new Tokenizer({ model: 't5', tokens: ['<unk>', 'a'], precompiledCharsmap: cm, unk: 0 });
    expect(bad(Uint8Array.of(1, 0))).toThrow(/too small/);
    expect(bad(Uint8Array.of(200, 0, 0, 0, 1))).toThrow(/runs past its end/);
  });
});

describe('SentencePiece Unigram tokenizer.json = the GGUF llama.cpp makes (nomic-bert-moe slice)', () => {
  const fx = (JSON.parse(fs.readFileSync(FIXTURE_PATH, 'utf8')) as Record<string, VocabFixture>)['ggml-vocab-nomic-bert-moe.gguf'];
  const vocab: [string, number][] = Array.from({ length: fx.vocabSize }, (_, i) => [`\u0001unused-${i}\u0001`, 0]);
  const added: Record<string, unknown>[] = [];
  for (const [i, text, type, score] of fx.tokens) {
    vocab[i] = [text, score];
    if (type === TokenType.CONTROL || type === TokenType.UNKNOWN) added.push({ id: i, content: text, special: true, lstrip: false, rstrip: false, single_word: false, normalized: false });
  }
  const json = {
    model: { type: 'Unigram', unk_id: fx.data.unk, vocab, byte_fallback: false },
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'Precompiled', precompiled_charsmap: Buffer.from(sliceCharsmap(fx)!).toString('base64') },
      { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    ] },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }] },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  };
  const hf = tokenizerFromHfJson(json, { tokenizerConfig: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' } });
  test('flags as the GGUF has them', () => {
    expect([hf.model, hf.bos, hf.eos, hf.unk, hf.addBos, hf.addEos, hf.addSpacePrefix]).toEqual(['t5', 0, 2, 3, true, true, true]);
  });
  test.each(fx.cases.map((c) => [JSON.stringify(c.text).slice(0, 50), c] as const))("%s gives llama.cpp's ids", (_, c) => {
    expect(hf.encode(c.text, { addSpecial: false })).toEqual(c.ids);
  });
  test('what it refuses is named', () => {
    expect(() => tokenizerFromHfJson({ ...json, model: { ...json.model, vocab: [['a', 'x']] } })).toThrow(/model.vocab\[0\] = \["a","x"\]; expected \[piece, score\]/);
    expect(() => tokenizerFromHfJson({ ...json, normalizer: { type: 'Lowercase' } })).toThrow(/normalizer \{"type":"Lowercase"\}/);
    expect(() => tokenizerFromHfJson({ ...json, pre_tokenizer: null })).toThrow(/no Metaspace pre-tokenizer/);
  });
});
