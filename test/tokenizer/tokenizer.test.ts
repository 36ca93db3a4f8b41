// Tokenizers from GGUF metadata: SPM (llama) and byte-level BPE (gpt2), hand-checked
// cases; the oracle suite (test/oracle) checks identical ids against llama.cpp.
import { Tokenizer, TokenType, GPT2_BYTE_TO_CHAR, renderChat } from '../../lib/tokenizer';
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf } from '../../lib/formats/gguf-writer';

function spmVocab() {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(TokenType.BYTE); scores.push(0); }
  const pieces: [string, number][] = [['▁', -10], ['h', -11], ['e', -12], ['l', -13], ['o', -14], ['w', -15], ['r', -16], ['d', -17],
    ['ll', -1], ['▁h', -2], ['he', -3], ['llo', -4], ['▁he', -5], ['▁hello', -6], ['▁w', -7], ['or', -8]];
  for (const [p, s] of pieces) { tokens.push(p); types.push(TokenType.NORMAL); scores.push(s); }
  tokens.push('<|im_end|>'); types.push(TokenType.CONTROL); scores.push(0);
  tokens.push('<tool>'); types.push(TokenType.USER_DEFINED); scores.push(0);
  return { tokens, types, scores };
}

describe('SPM (tokenizer.ggml.model = llama)', () => {
  const v = spmVocab();
  const file = parseGguf(encodeGguf({
    metadata: {
      'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': gguf.strs(v.tokens),
      'tokenizer.ggml.scores': gguf.f32s(v.scores), 'tokenizer.ggml.token_type': gguf.i32s(v.types),
      'tokenizer.ggml.bos_token_id': gguf.u32(1), 'tokenizer.ggml.eos_token_id': gguf.u32(2),
    },
  }));
  const tok = Tokenizer.fromGguf(file);
  const id = (s: string) => v.tokens.indexOf(s);
  const byte = (b: number) => 3 + b;

  test('flags as llama.cpp defaults them: BOS, space prefix, no EOS', () => {
    expect([tok.addBos, tok.addEos, tok.addSpacePrefix, tok.bos, tok.eos, tok.unk]).toEqual([true, false, true, 1, 2, 0]);
  });
  test('merges by score to the whole word', () => {
    expect(tok.encode('hello')).toEqual([1, id('▁hello')]);
    expect(tok.encode('hello', { addSpecial: false })).toEqual([id('▁hello')]);
  });
  test('unmerged characters, byte fallback for characters not in the vocabulary', () => {
    expect(tok.encode('hello world', { addSpecial: false })).toEqual([id('▁hello'), id('▁w'), id('or'), id('l'), id('d')]);
    expect(tok.encode('hé', { addSpecial: false })).toEqual([id('▁h'), byte(0xc3), byte(0xa9)]);
    expect(tok.encode('', { addSpecial: false })).toEqual([]);
  });
  test('special tokens: user-defined always, control only with parseSpecial; space prefix after a special token', () => {
    expect(tok.encode('he<tool>he', { addSpecial: false })).toEqual([id('▁he'), id('<tool>'), id('▁he')]);
    expect(tok.encode('he<|im_end|>', { addSpecial: false, parseSpecial: true })).toEqual([id('▁he'), id('<|im_end|>')]);
    expect(tok.encode('he<|im_end|>', { addSpecial: false }).length).toBeGreaterThan(5);
  });
  test('decode: ▁ to space, the prefix space stripped, bytes reassembled, control tokens hidden', () => {
    expect(tok.decode(tok.encode('hello world'))).toBe('hello world');
    expect(tok.decode(tok.encode('hé ü 😀'))).toBe('hé ü 😀');
    expect(tok.decode([1, id('▁he'), id('<|im_end|>')], { special: true })).toBe('<s>he<|im_end|>');
    const d = tok.decoder();
    const pieces = tok.encode('😀', { addSpecial: false }).slice(1).map((t) => d.push(t));
    expect(pieces).toEqual(['', '', '', '😀']);
  });
  test('bad ids are RangeErrors', () => {
    expect(() => tok.decode([9999])).toThrow(`detokenize: Expected integer in [0, ${v.tokens.length - 1}] for token but received 9999`);
  });
});

describe('BPE (tokenizer.ggml.model = gpt2)', () => {
  const G = (s: string) => Array.from(new TextEncoder().encode(s), (b) => GPT2_BYTE_TO_CHAR[b]).join('');
  const base = GPT2_BYTE_TO_CHAR.slice();
  const merges = ['h e', 'l l', 'he ll', 'hell o', `${G(' ')} w`, 'o r', `${G(' ')}w or`, `${G(' ')}wor l`, `${G(' ')}worl d`, '1 2'];
  const words = ['he', 'll', 'hell', 'hello', G(' w'), 'or', G(' wor'), G(' worl'), G(' world'), '12'];
  const tokens = [...base, ...words, '<|endoftext|>', '<|im_start|>'];
  const types = tokens.map((_, i) => (i >= tokens.length - 2 ? TokenType.CONTROL : TokenType.NORMAL));
  const make = (pre: string) => Tokenizer.fromGguf(parseGguf(encodeGguf({
    metadata: {
      'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': pre, 'tokenizer.ggml.tokens': gguf.strs(tokens),
      'tokenizer.ggml.token_type': gguf.i32s(types), 'tokenizer.ggml.merges': gguf.strs(merges),
      'tokenizer.ggml.eos_token_id': gguf.u32(tokens.length - 2), 'tokenizer.ggml.bos_token_id': gguf.u32(tokens.length - 2),
    },
  })));
  const id = (s: string) => tokens.indexOf(s);

  test('no BOS, no space prefix by default; merges by rank', () => {
    const t = make('qwen2');
    expect([t.addBos, t.addSpacePrefix]).toEqual([false, false]);
    expect(t.encode('hello world')).toEqual([id('hello'), id(G(' world'))]);
  });
  test('qwen2 splits digits one by one, gpt-2 keeps runs', () => {
    expect(make('qwen2').encode('x123')).toEqual([id('x'), id('1'), id('2'), id('3')]);
    expect(make('gpt-2').encode('x123')).toEqual([id('x'), id('12'), id('3')]);
    expect(make('olmo').encode(' 123')).toEqual([id(G(' ')), id('12'), id('3')]);
  });
  test('whitespace runs: \\s+(?!\\S) leaves the last space to the next word', () => {
    expect(make('gpt-2').encode('a  world')).toEqual([id('a'), id(G(' ')), id(G(' world'))]);
  });
  test('bytes of any text round trip', () => {
    const t = make('qwen2');
    const s = 'héllo,\n\tworld! 😀 ñ';
    expect(t.decode(t.encode(s))).toBe(s);
    expect(t.encode('<|im_start|>x', { parseSpecial: true })).toEqual([id('<|im_start|>'), id('x')]);
  });
  test('unknown pre-tokenizer and missing merges are named', () => {
    expect(() => make('nope')).toThrow("tokenizer: unknown pre-tokenizer type 'nope'");
  });
});

test('chat template rendered with @huggingface/jinja', () => {
  const tmpl = "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
  expect(renderChat(tmpl, [{ role: 'user', content: 'hi' }], { bosToken: '<s>' })).toBe('<s><|user|>hi\n<|assistant|>');
  expect(() => renderChat('{% for %}', [])).toThrow(/renderChat: the chat template does not parse/);
});

describe("llama.cpp's rules beyond the suite", () => {
  const base = GPT2_BYTE_TO_CHAR.slice();
  const make = (pre: string, extra: Partial<ConstructorParameters<typeof Tokenizer>[0]> = {}) => {
    const tokens = [...base, '<|end|>', '<s>'];
    const types = tokens.map((_, i) => (i >= 256 ? TokenType.CONTROL : TokenType.NORMAL));
    return new Tokenizer({ model: 'gpt2', pre, tokens, types, merges: [], bos: 257, eos: 256, ...extra });
  };
  test('decode keeps a leading U+FEFF (no BOM sniffing)', () => {
    const t = make('qwen2');
    expect(t.decode(t.encode('\ufeffx'))).toBe('\ufeffx');
    const d = t.decoder();
    expect(t.encode('\ufeffx').map((i) => d.push(i)).join('') + d.flush()).toBe('\ufeffx');
  });
  test("clean_spaces: gpt-2 removes spaces before . , ! ? and 's 'm 're 've; qwen2 does not", () => {
    const s = "a . b , c ! d ? e 's f 'm g 're h 've i 't j ' k";
    expect(make('gpt-2').decode(make('gpt-2').encode(s))).toBe("a. b, c! d? e's f'm g're h've i 't j'k");
    expect(make('qwen2').decode(make('qwen2').encode(s))).toBe(s);
  });
  test('llama3 adds BOS by default; the file says otherwise with add_bos_token', () => {
    // the 256 byte characters are ids 0..255 in byte order
    expect(make('llama3').encode('x')).toEqual([257, 0x78]);
    expect(make('llama3', { addBos: false }).encode('x')).toEqual([0x78]);
    expect(make('llama3').decode([257, 0x48], { removeSpecial: true, special: true })).toBe('H');
  });
  test('phi-3: special tokens eat the whitespace after them (rstrip by model name)', () => {
    const t = make('gpt-2', { modelName: 'Phi-3-mini' });
    expect(t.encode('<|end|>  x', { addSpecial: false, parseSpecial: true })).toEqual([256, 0x78]);
    expect(make('gpt-2').encode('<|end|> x', { addSpecial: false, parseSpecial: true }).length).toBe(3);
  });
  test('bert: [CLS] text [SEP] with addSpecial, lowercased, accents stripped, punctuation split', () => {
    const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '▁hello', '▁world', '▁,', 'ab', '▁c', '▁!'];
    const types = tokens.map((t) => (t.startsWith('[') ? TokenType.CONTROL : TokenType.NORMAL));
    const t = new Tokenizer({ model: 'bert', tokens, types, bos: 2, sep: 3, unk: 1 });
    expect(t.encode('Héllo, WORLD!')).toEqual([2, 4, 6, 5, 9, 3]);
    expect(t.encode('cab zz', { addSpecial: false })).toEqual([8, 7, 1]);
    // llama.cpp's WPM pieces are "▁word": its detokenized text starts with a space
    expect(t.decode(t.encode('hello, world!', { addSpecial: false }))).toBe(' hello, world!');
  });
});

test("decode's stripSpacePrefix: past leading control tokens (default), only the first token ('llama.cpp'), never", () => {
  const v = spmVocab();
  const tok = Tokenizer.fromGguf(parseGguf(encodeGguf({
    metadata: {
      'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': gguf.strs(v.tokens),
      'tokenizer.ggml.scores': gguf.f32s(v.scores), 'tokenizer.ggml.token_type': gguf.i32s(v.types),
    },
  })));
  const ids = tok.encode('hello'); // [BOS, ▁hello]
  expect(tok.decode(ids)).toBe('hello');
  expect(tok.decode(ids, { stripSpacePrefix: 'llama.cpp' })).toBe(' hello'); // llama_detokenize(remove_special=false)
  expect(tok.decode(ids.slice(1), { stripSpacePrefix: 'llama.cpp' })).toBe('hello');
  expect(tok.decode(ids, { stripSpacePrefix: false })).toBe(' hello');
  expect(tok.decode(ids, { removeSpecial: true, stripSpacePrefix: 'llama.cpp' })).toBe(' hello'); // llama.cpp keeps it after a removed BOS
  expect(tok.decode(ids, { removeSpecial: true })).toBe('hello');
});
