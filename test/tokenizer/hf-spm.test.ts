// SentencePiece-style tokenizer.json (Llama 2 / Mistral / TinyLlama / Mixtral checkpoints):
// synthetic files in each form HF writes, read by tokenizerFromHfJson, must encode and decode
// exactly as the GGUF "llama" tokenizer made from the same pieces and scores (what llama.cpp's
// converter writes from tokenizer.model).
import { Tokenizer, TokenType } from '../../lib/tokenizer';
import * as fs from 'fs';
import fc from 'fast-check';
import * as os from 'os';
import * as path from 'path';
import { tokenizerFromHf, tokenizerFromHfJson } from '../../lib/tokenizer/hf';
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf } from '../../lib/formats/gguf-writer';
import { SpmJsonForm, spmMerges, spmTestVocab, spmTokenizerJson } from './spm-json';

const V = spmTestVocab();
const ggufTok = (meta: Record<string, unknown> = {}) => Tokenizer.fromGguf(parseGguf(encodeGguf({
  metadata: {
    'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': gguf.strs(V.tokens), 'tokenizer.ggml.scores': gguf.f32s(V.scores),
    'tokenizer.ggml.token_type': gguf.i32s(V.types), 'tokenizer.ggml.bos_token_id': gguf.u32(1), 'tokenizer.ggml.eos_token_id': gguf.u32(2),
    'tokenizer.ggml.unknown_token_id': gguf.u32(0), ...meta,
  } as never,
})));
const TC = { bos_token: '<s>', eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false }, unk_token: '<unk>' };
const id = (s: string) => V.tokens.indexOf(s);

const TEXTS = [
  'hello world', 'Hello World', 'the quick brown fox jumps over the lazy dog', ' hello', '  two  spaces   ', 'hello\nworld\n\n',
  'héllo wörld ü 😀 中文', '', ' ', '\n', 'hellohello worldworld', 'he<tool>he', '<tool>', 'a<|im_end|>b</s>c',
  '<s>user\nhi there</s>\n<s> assistant', 'x    y', 'lowest hell', '<0x41> <unk>',
];

describe.each<[SpmJsonForm, boolean]>([['normalizer', false], ['normalizer', true], ['metaspace-first', false], ['metaspace-always', false]])(
  'tokenizer.json form %s (string merges %s) = GGUF llama from the same pieces',
  (form, stringMerges) => {
    const hf = tokenizerFromHfJson(spmTokenizerJson(V, form, { stringMerges }), { tokenizerConfig: TC });
    const g = ggufTok();

    test('vocabulary, types and flags', () => {
      expect(hf.tokens).toEqual(V.tokens);
      expect(V.tokens.map((_, i) => hf.tokenType(i))).toEqual(V.types);
      expect([hf.model, hf.bos, hf.eos, hf.unk, hf.addBos, hf.addEos, hf.addSpacePrefix]).toEqual(['llama', 1, 2, 0, true, false, true]);
    });
    test.each([[false, false], [true, false], [false, true], [true, true]])('encode, addSpecial %s, parseSpecial %s', (addSpecial, parseSpecial) => {
      for (const t of TEXTS) expect([t, hf.encode(t, { addSpecial, parseSpecial })]).toEqual([t, g.encode(t, { addSpecial, parseSpecial })]);
    });
    test('decode and round trips (special tokens hidden, or shown with special)', () => {
      for (const t of TEXTS) {
        const ids = g.encode(t, { parseSpecial: true });
        expect(hf.decode(ids)).toBe(g.decode(ids));
        expect(hf.decode(ids, { special: true })).toBe(g.decode(ids, { special: true }));
        // without parseSpecial control tokens are text; a user-defined token gets a ▁ prefix after it (llama.cpp too)
        if (!t.includes('<tool>')) expect(hf.decode(hf.encode(t))).toBe(t);
      }
    });
  });

describe('what the pieces turn into (hand-checked)', () => {
  const hf = tokenizerFromHfJson(spmTokenizerJson(V, 'normalizer'), { tokenizerConfig: TC });
  test('merges to whole words, the ▁ prefix on the first text and after each special token', () => {
    expect(hf.encode('hello world')).toEqual([1, id('▁hello'), id('▁world')]);
    expect(hf.encode('hi<|im_end|>hi', { addSpecial: false, parseSpecial: true })).toEqual([id('▁hi'), id('<|im_end|>'), id('▁hi')]);
    expect(hf.encode(' hi', { addSpecial: false })).toEqual([id('▁▁'), id('hi')]);
  });
  test('byte fallback for characters not in the vocabulary (ü, newline, emoji), é kept as a piece', () => {
    const b = (x: number) => id(`<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`);
    expect(hf.encode('ü\n', { addSpecial: false })).toEqual([id('▁'), b(0xc3), b(0xbc), b(0x0a)]);
    expect(hf.encode('é', { addSpecial: false })).toEqual([id('▁'), id('é')]);
    expect(hf.encode('😀', { addSpecial: false }).slice(1)).toEqual([0xf0, 0x9f, 0x98, 0x80].map(b));
    expect(hf.decode(hf.encode('a ü\n😀 b'))).toBe('a ü\n😀 b');
  });
  test('user-defined added tokens always split out; control ones only with parseSpecial', () => {
    expect(hf.encode('hi<tool>', { addSpecial: false })).toEqual([id('▁hi'), id('<tool>')]);
    expect(hf.encode('hi</s>', { addSpecial: false })).not.toContain(2);
    expect(hf.encode('hi</s>', { addSpecial: false, parseSpecial: true })).toEqual([id('▁hi'), 2]);
  });
});

describe('merge ranks: a pair merges only when model.merges lists it', () => {
  // a tiny vocabulary where score order and merges disagree: "bc" is a piece, but no merge makes it
  const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'b', 'c', 'ab', 'bc', '▁ab', '▁a'];
  const json = {
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', byte_fallback: true, unk_token: '<unk>', vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges: [['▁', 'a'], ['a', 'b'], ['▁a', 'b']] },
  };
  test('"abc" -> ab c (the merges), not a bc', () => {
    const t = tokenizerFromHfJson(json);
    expect(t.encode('abc', { addSpecial: false })).toEqual([tokens.indexOf('▁ab'), tokens.indexOf('c')]);
    expect(t.encode('bc', { addSpecial: false })).toEqual([3, 5, 6]);
  });
  test('a merge into a piece outside the vocabulary is an error', () => {
    expect(() => tokenizerFromHfJson({ ...json, model: { ...json.model, merges: [['c', 'a']] } }))
      .toThrow(`tokenizer: 'tokenizer.json' has model.merges[0] = ["c","a"] with a piece that is not in the vocabulary`);
  });
});

describe('Metaspace split (tokenizers < 0.15 files, split: true by default)', () => {
  const hf = tokenizerFromHfJson(spmTokenizerJson(V, 'metaspace-legacy'), { tokenizerConfig: TC });
  test('no piece spans a ▁ boundary except at its start', () => {
    // unsplit, "▁x▁▁▁▁y" would take ▁▁▁▁; split at each ▁ it is ▁x ▁ ▁ ▁ ▁y
    expect(ggufTok().encode('x    y', { addSpecial: false })).toEqual([id('▁'), id('x'), id('▁▁▁▁'), id('y')]);
    expect(hf.encode('x    y', { addSpecial: false })).toEqual([id('▁'), id('x'), id('▁'), id('▁'), id('▁'), id('▁'), id('y')]);
    expect(hf.encode('hello world')).toEqual(ggufTok().encode('hello world'));
    expect(hf.decode(hf.encode('x    y'))).toBe('x    y');
  });
});

describe("spaces: 'hf', HF tokenizers' Metaspace rules (expected ids as HF tokenizers 0.22.2 gives them; test/oracle checks it live)", () => {
  const enc = (form: SpmJsonForm, t: string, spaces?: 'hf') =>
    tokenizerFromHfJson(spmTokenizerJson(V, form), { tokenizerConfig: TC, spaces }).encode(t, { parseSpecial: true }).map((i) => V.tokens[i]).join('|');
  test('no second ▁ before a leading space; prepend_scheme first: none after a special token', () => {
    expect(enc('metaspace-first', ' hello', 'hf')).toBe('<s>|▁hello');
    expect(enc('metaspace-first', ' hello')).toBe('<s>|▁▁|hello'); // llama.cpp
    expect(enc('metaspace-first', 'he<tool>he', 'hf')).toBe('<s>|▁he|<tool>|he');
    expect(enc('metaspace-first', 'a<|im_end|>b</s>c', 'hf')).toBe('<s>|▁|a|<|im_end|>|b|</s>|c');
    expect(enc('metaspace-always', 'a<|im_end|>b</s> c', 'hf')).toBe('<s>|▁|a|<|im_end|>|▁b|</s>|▁|c');
    expect(enc('metaspace-always', '<s>user\nhi</s>\n<s> hi', 'hf')).toBe('<s>|<s>|▁user|<0x0A>|hi|</s>|▁|<0x0A>|<s>|▁hi');
    expect(enc('metaspace-legacy', '  two  spaces', 'hf')).toBe('<s>|▁|▁t|wo|▁|▁|s|p|a|c|e|s');
  });
  test('the Prepend/Replace normalizer form tokenizes alike either way', () => {
    for (const t of TEXTS) expect(enc('normalizer', t, 'hf')).toBe(enc('normalizer', t));
  });
  test('a bad value is named', () => {
    expect(() => tokenizerFromHfJson({}, { spaces: 'x' as never })).toThrow("tokenizerFromHfJson: Expected 'llama.cpp' or 'hf' for files.spaces but received x");
  });
});

describe('tokenizer_config.json and the post-processor', () => {
  const json = spmTokenizerJson(V, 'metaspace-first');
  test('bos/eos as strings or {content}; add_bos_token / add_eos_token; chat_template (string or named list)', () => {
    const t = tokenizerFromHfJson(json, { tokenizerConfig: { bos_token: { content: '</s>' }, eos_token: '<|im_end|>', add_bos_token: false, add_eos_token: true, chat_template: '{{ x }}' } });
    expect([t.bos, t.eos, t.addBos, t.addEos, t.chatTemplate]).toEqual([2, id('<|im_end|>'), false, true, '{{ x }}']);
    expect(t.encode('hi')).toEqual([id('▁hi'), id('<|im_end|>')]);
    const l = tokenizerFromHfJson(json, { tokenizerConfig: { ...TC, chat_template: [{ name: 'tool_use', template: 'a' }, { name: 'default', template: 'b' }] } });
    expect(l.chatTemplate).toBe('b');
    expect(tokenizerFromHfJson(json, { tokenizerConfig: TC, chatTemplate: 'from file' }).chatTemplate).toBe('from file');
  });
  test('without add_bos_token: the post-processor template says; without either, SentencePiece adds BOS', () => {
    const noBos = { ...json, post_processor: { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }] } };
    const t = tokenizerFromHfJson(noBos, { tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' } });
    expect([t.addBos, t.addEos]).toEqual([false, true]);
    expect(tokenizerFromHfJson({ ...json, post_processor: null }).addBos).toBe(true);
    // nothing in tokenizer_config.json: the template's <s> is BOS, and it is added
    const bare = tokenizerFromHfJson(json);
    expect([bare.bos, bare.addBos, bare.addEos]).toEqual([1, true, false]);
  });
  test('the vocabulary is padded to config.json vocab_size', () => {
    const t = tokenizerFromHfJson(json, { config: { vocab_size: V.tokens.length + 2 } });
    expect(t.vocabSize).toBe(V.tokens.length + 2);
    expect(t.tokens[V.tokens.length]).toBe(`[PAD${V.tokens.length}]`);
  });
  test('prepend_scheme never: no ▁ prefix, no Strip', () => {
    const t = tokenizerFromHfJson(spmTokenizerJson(V, 'metaspace-never'));
    expect(t.addSpacePrefix).toBe(false);
    expect(t.encode('hi hi', { addSpecial: false })).toEqual(ggufTok({ 'tokenizer.ggml.add_space_prefix': false }).encode('hi hi', { addSpecial: false }));
  });
});

describe('what fuselm does not implement is an error that names it', () => {
  const base = spmTokenizerJson(V, 'normalizer');
  const model = base.model as Record<string, unknown>;
  const cases: [string, Record<string, unknown>, string | RegExp][] = [
    ['Unigram whose added tokens disagree with its vocabulary', { model: { type: 'Unigram', vocab: [['a', -1]] } }, /adds token "<unk>" at id 0, where model.vocab has "a"/],
    ['WordPiece', { model: { type: 'WordPiece', vocab: {} } }, `has model.type "WordPiece"`],
    ['BPE without byte fallback', { model: { ...model, byte_fallback: false } }, /neither a ByteLevel pre-tokenizer nor byte_fallback: true/],
    ['NFKC', { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] } }, `uses the normalizer {"type":"NFKC"}`],
    ['Replace of a regex', { normalizer: { type: 'Replace', pattern: { Regex: '\\s' }, content: '▁' } }, 'uses the normalizer {"type":"Replace","pattern":{"Regex":"\\\\s"},"content":"▁"}'],
    ['Digits pre-tokenizer', { pre_tokenizer: { type: 'Digits', individual_digits: true } }, 'uses the pre-tokenizer {"type":"Digits","individual_digits":true}'],
    ['no space replacement', { normalizer: null }, /writes spaces as neither "▁"/],
    ['no decoder', { decoder: null }, /has no decoder/],
    ['decoder without ByteFallback', { decoder: { type: 'Replace', pattern: { String: '▁' }, content: ' ' } }, /decoder without ByteFallback/],
    ['decoder Strip without prefix', { normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' } }, /strips 1 leading space\(s\) in its decoder but adds no "▁" prefix/],
    ['an unknown decoder', { decoder: { type: 'Sequence', decoders: [{ type: 'WordPiece' }] } }, 'uses the decoder {"type":"WordPiece"}'],
    ['lstrip added token', { added_tokens: [{ id: 3, content: '<0x00>', special: true, lstrip: true }] }, `gives the added token "<0x00>" lstrip: true`],
    ['dropout', { model: { ...model, dropout: 0.1 } }, 'sets model.dropout 0.1'],
    ['suffix', { model: { ...model, end_of_word_suffix: '</w>' } }, 'sets model.end_of_word_suffix "</w>"'],
    ['a bad merge', { model: { ...model, merges: ['a b c'] } }, `has model.merges[0] = "a b c"`],
    ['no model', { model: undefined }, 'has no model object'],
  ];
  test.each(cases)('%s', (_, patch, msg) => {
    expect(() => tokenizerFromHfJson({ ...base, ...patch })).toThrow(msg);
  });
  test('errors are RangeErrors prefixed with the file', () => {
    expect(() => tokenizerFromHfJson({ model: { type: 'Unigram' } }, { name: '/m/tokenizer.json' })).toThrow(RangeError);
    expect(() => tokenizerFromHfJson({ model: { type: 'Unigram' } }, { name: '/m/tokenizer.json' })).toThrow("tokenizer: '/m/tokenizer.json' is a Unigram model without a model.vocab list of [piece, score] pairs");
  });
});

describe('tokenizerFromHf(dir): the files next to the weights', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-spm-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  test('tokenizer.json + tokenizer_config.json + chat_template.jinja; config.json pads the vocabulary', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(spmTokenizerJson(V, 'metaspace-first')));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...TC, add_bos_token: true }));
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), '{{ messages[0].content }}');
    const t = tokenizerFromHf(dir, 'llama', { vocab_size: V.tokens.length + 3 });
    expect([t.model, t.vocabSize, t.chatTemplate]).toEqual(['llama', V.tokens.length + 3, '{{ messages[0].content }}']);
    expect(t.encode('hello world')).toEqual(ggufTok().encode('hello world'));
  });
  test("{ spaces: 'hf' } reaches the reader", () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(spmTokenizerJson(V, 'metaspace-first')));
    const ids = (spaces?: 'hf') => tokenizerFromHf(dir, 'llama', {}, { spaces }).encode(' hello').map((i) => V.tokens[i]).join('|');
    expect([ids('hf'), ids()]).toEqual(['<s>|▁hello', '<s>|▁▁|hello']);
  });
  test('an unsupported file says what to pass instead', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    expect(() => tokenizerFromHf(dir, 'llama', {})).toThrow(/^model: '.*tokenizer.json' has an empty model.vocab; pass \{ tokenizer \} to load\(\)/);
  });
});

test('spm-json helper: merges sorted by the merged piece score', () => {
  const m = spmMerges(V) as [string, string][];
  const score = (p: [string, string]) => V.scores[V.tokens.indexOf(p[0] + p[1])];
  for (let i = 1; i < m.length; i++) expect(score(m[i - 1])).toBeGreaterThanOrEqual(score(m[i]));
  expect(m.length).toBeGreaterThan(100);
});

test('mutated tokenizer.json files: a working tokenizer or a clean RangeError/TypeError, never a crash', () => {
  // every field of a valid file (4 levels deep) may be replaced by junk, 1-3 at a time
  const base = spmTokenizerJson(V, 'metaspace-first');
  const paths: string[][] = [];
  const walk = (o: unknown, p: string[], depth: number) => {
    if (depth > 4) return;
    if (p.length > 0) paths.push(p);
    if (o && typeof o === 'object') for (const k of Object.keys(o).slice(0, 20)) walk((o as Record<string, unknown>)[k], [...p, k], depth + 1);
  };
  walk(base, [], 0);
  const junk = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant({}),
    fc.constant([]), fc.array(fc.string(), { maxLength: 3 }), fc.constant(1e12), fc.constant(-1));
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: paths.length - 1 }), junk), { minLength: 1, maxLength: 3 }), fc.string(), (muts, text) => {
    const j = JSON.parse(JSON.stringify(base));
    for (const [pi, v] of muts) {
      let o = j;
      for (const k of paths[pi].slice(0, -1)) if (o && typeof o === 'object') o = o[k];
      if (o && typeof o === 'object') o[paths[pi][paths[pi].length - 1]] = v;
    }
    let t: Tokenizer;
    try {
      t = tokenizerFromHfJson(j, { tokenizerConfig: TC });
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof TypeError) || /Cannot read|is not a function|is not iterable/.test((e as Error).message)) throw e;
      return;
    }
    t.decode(t.encode(`${text} hello<s>`, { parseSpecial: true }));
  }), { numRuns: 1000, seed: 20261129 });
});
