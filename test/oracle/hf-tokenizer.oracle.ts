// HF tokenizers (the Rust library, through @anush008/tokenizers' Node binding) as the oracle for
// fuselm's SentencePiece-style tokenizer.json reader: the synthetic files of
// test/tokenizer/spm-json.ts, in every form, fixed and seeded random texts, ids and decoded text.
// With { spaces: 'hf' } fuselm must agree on every text; with the default (llama.cpp's rules)
// on every text for the Prepend/Replace-normalizer form (Llama 2, Mistral v0.1, Mixtral,
// TinyLlama), while the Metaspace forms differ only where the README says (a leading space,
// prepend_scheme first after a special token). Part of `npm run test:oracle`.
import { tokenizerFromHfJson } from '../../lib/tokenizer/hf';
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
