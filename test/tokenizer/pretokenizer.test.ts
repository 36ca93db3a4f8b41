// Every pre-tokenizer type llama.cpp has, on sample texts: the pieces must be the ones llama.cpp's
// own unicode_regex_split makes. fixtures/llama-regex-splits.json holds llama.cpp's answers,
// taken by test/oracle/regex-split.cpp (built from llama.cpp's src/unicode.cpp); with
// FUSELM_REGEX_SPLIT_ORACLE=<that binary> this test asks it afresh and rewrites the file.
// Then: every tokenizer.ggml.pre name builds a tokenizer with llama.cpp's flags, and an unknown
// name is refused by name.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { preTokenizer, preTokenizerTypes, PRE_TOKENIZER_NAMES, splitText } from '../../lib/tokenizer/pretokenizer';
import { Tokenizer, TokenType, GPT2_BYTE_TO_CHAR } from '../../lib/tokenizer';

const FIXTURE = path.join(__dirname, 'fixtures', 'llama-regex-splits.json');
const te = new TextEncoder();

/** texts that reach each branch of the regexes: scripts, marks, digits, case, whitespace kinds */
const EXTRA = [
  'Cửa Việt', 'Cửa Việt', 'e\u0301te\u0301 ça', 'नमस्ते दुनिया', 'ภาษาไทย ง่าย', 'مرحبا بالعالم ١٢٣',
  '中文字符和English混合123', '日本語のテキスト、カタカナ', '한국어 텍스트 ㄱㄴ ㅏ', '𠀀𠀁 𝔘𝔫𝔦 😀👍🏽',
  '1234567890 12 1,234,567.89 ½ ² Ⅻ', "I'M HE'S we'LL They'Re 'tis O'Neil", 'HelloWORLD camelCase XMLHttpRequest ÀÉÎõü',
  'a\u00a0b\u2009c\u3000d\u0085e\u2028f\ufeffg', ' \t\n\r\n  \n\n\n   x   ', 'tab\there\r\nline\rcr', '    \n    code();\n',
  'def f(x):\n\treturn x**2  # comment', '<sentinel:12> IMGIMGABZ <|im_start|>', '!!!??? ... ,,, ;;; «» „“ —–', '$100 + €5 = <=> ^~|`',
  '\u0000\u0001\u007f', '\ud800 lone \udfff', 'x'.repeat(3) + ' '.repeat(7) + 'y', '٣٤٥ ०१२ ๓๔', 'ﬁ ﬂ Ａｂｃ１２３',
];

function suiteTexts(): string[] {
  const f = path.join(__dirname, 'fixtures', 'llama-cpp-ids', 'ggml-vocab-aquila.gguf.json');
  return (JSON.parse(fs.readFileSync(f, 'utf8')) as { texts: string[] }).texts;
}

function askOracle(bin: string, texts: string[]): Record<string, number[][]> {
  const parts: Buffer[] = [];
  const put = (s: string) => { const b = Buffer.from(te.encode(s)); parts.push(Buffer.from(`${b.length}\n`), b); };
  put(String(texts.length));
  for (const t of texts) put(t);
  for (const [type, regexes] of preTokenizerTypes()) { put(type); put(String(regexes.length)); for (const r of regexes) put(r); }
  const out = execFileSync(bin, [], { input: Buffer.concat(parts), maxBuffer: 1 << 28 }).toString().trim().split('\n');
  const res: Record<string, number[][]> = {};
  for (const line of out) {
    const [type, ...lens] = line.split(' ');
    (res[type] ??= []).push(lens[0] === 'error' ? null as unknown as number[] : lens.map(Number));
  }
  return res;
}

const texts = [...suiteTexts(), ...EXTRA];
if (process.env.FUSELM_REGEX_SPLIT_ORACLE) {
  const splits = askOracle(process.env.FUSELM_REGEX_SPLIT_ORACLE, texts);
  fs.writeFileSync(FIXTURE, JSON.stringify({ source: 'llama.cpp unicode_regex_split(text, regexes, false) via test/oracle/regex-split.cpp', texts, splits }) + '\n');
}
const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { texts: string[]; splits: Record<string, number[][]> };

describe.each([...preTokenizerTypes().keys()])("pre-tokenizer type %s splits as llama.cpp's unicode_regex_split", (type) => {
  const regexes = preTokenizerTypes().get(type)!;
  test.each(fixture.texts.map((t, i) => [JSON.stringify(t).slice(0, 50), i] as const))('%s', (_, i) => {
    // llama.cpp answers in UTF-8 byte lengths (lone surrogates arrive as U+FFFD)
    const got = splitText(fixture.texts[i], regexes).map((p) => te.encode(p).length);
    // null: llama.cpp throws (Kimi-K2's and AFMoE's pseudo-regexes on empty text, which it
    // never splits: empty runs of text make no fragment); fuselm gives no pieces
    expect(got).toEqual(fixture.splits[type][i] ?? []);
  });
});

describe('every tokenizer.ggml.pre name', () => {
  // a tiny byte-level vocabulary: the 256 byte characters and one merge
  const tokens = [...GPT2_BYTE_TO_CHAR, 'ab', '<s>', '</s>'];
  const types = tokens.map((_, i) => (i >= 257 ? TokenType.CONTROL : TokenType.NORMAL));
  const make = (pre: string) => new Tokenizer({ model: 'gpt2', pre, tokens, types, merges: ['a b'], bos: 257, eos: 258 });
  test.each(PRE_TOKENIZER_NAMES.map((n) => [n]))('%s builds and round-trips bytes', (name) => {
    const tok = make(name);
    const p = preTokenizer(name);
    expect(tok.preTokenizer).toEqual(p);
    expect(tok.addBos).toBe(p.addBos || p.type === 'GEMMA4');
    expect(tok.cleanSpaces).toBe(p.cleanSpaces);
    const s = 'ab cd\n\t1234 ÀÉ 中文 😀';
    const ids = tok.encode(s, { addSpecial: false });
    if (p.byteEncode) {
      expect(ids).toContain(256); // "ab" merged
      expect(tok.decode(ids)).toBe(s);
    }
  });
  test("llama.cpp's flags for a few names", () => {
    const f = (n: string) => { const p = preTokenizer(n); return [p.type, p.ignoreMerges, p.cleanSpaces, p.addBos]; };
    expect(f('llama-bpe')).toEqual(['LLAMA3', true, true, true]);
    expect(f('qwen2')).toEqual(['QWEN2', false, false, false]);
    expect(f('tekken')).toEqual(['TEKKEN', true, false, true]);
    expect(f('gpt-2')).toEqual(['GPT2', false, true, false]);
    expect(f('llama4')).toEqual(['GPT4O', false, false, false]);
    expect(preTokenizer('gemma4')).toMatchObject({ escapeWhitespaces: true, byteEncode: false });
    expect(preTokenizer('chatglm-bpe').noBos).toBe(true);
    expect(preTokenizer(undefined).type).toBe('DEFAULT');
  });
  test('an unknown name is refused by name', () => {
    expect(() => preTokenizer('nope')).toThrow(/^tokenizer: unknown pre-tokenizer type 'nope' \(tokenizer.ggml.pre; llama.cpp's names: default, /);
    expect(() => make('constructor')).toThrow(RangeError);
  });
});
