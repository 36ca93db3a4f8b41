// Seeded random texts on every vocabulary of llama.cpp's tokenizer suite, checked against
// llama.cpp's llama_tokenize through node-llama-cpp (test/oracle/vocab-ids.mjs, vocabulary-only
// loads): multilingual text, emoji, combining marks, long whitespace runs, code, numbers,
// contractions, the vocabulary's own special tokens and look-alikes, lone surrogates; with
// parse_special false and true (add_special false); and llama_detokenize of those ids, special
// tokens hidden and shown, against decode(). The vocabularies come from
// FUSELM_LLAMA_VOCAB_DIR or scripts/llama-vocab.js. Part of `npm run test:oracle`.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readGguf } from '../../lib/formats/gguf';
import { Tokenizer, TokenType } from '../../lib/tokenizer';
import { rng } from '../helpers';

const N = Number(process.env.FUSELM_ORACLE_TEXTS ?? 200);

function vocabDir(): string | undefined {
  if (process.env.FUSELM_LLAMA_VOCAB_DIR) return process.env.FUSELM_LLAMA_VOCAB_DIR;
  try {
    return execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'llama-vocab.js')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  } catch {
    return undefined;
  }
}

const PARTS = [
  'hello', ' world', 'The', ' quick', 'brown', 'fox', "'s", "'LL", "'re", ' don\'t', 'Cửa Việt', 'Việt Nam', 'e\u0301', 'ñ', 'Äpfel', 'straße',
  '中文', '日本語', 'カタカナ', '한국어', 'ภาษาไทย', 'नमस्ते', 'مرحبا', 'Ελληνικά', 'кириллица', '😀', '👍🏽', '🇫🇷', '👨‍👩‍👧',
  ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\u00a0', '\u3000', '\u2028', '\u0085', '\ufeff', '▁',
  '123', '4567', '3.14159', '1,000,000', '½', '²', '١٢٣', '０１２',
  'def f(x):', '    return x', '{', '}', '();', '=>', '!==', '<div class="a">', '</div>', '#include <stdio.h>', '// comment',
  '...', '!!!', '???', '—', '«', '»', '$', '€', '@', '#', '%', '^', '&', '*', '~', '`', '|',
  '<s>', '</s>', '<unk>', '<|endoftext|>', '<|im_start|>', '<|im_end|>', '[CLS]', '[SEP]', '<mask>', '<0x41>', '<|', '|>',
  '\ud800', '\udfff',
];

function randomTexts(n: number, seed: number, specials: string[]): string[] {
  const r = rng(seed);
  const pool = [...PARTS, ...specials];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = 1 + Math.floor(r() * 12);
    let s = '';
    for (let j = 0; j < k; j++) {
      const x = r();
      if (x < 0.08) s += ' '.repeat(1 + Math.floor(r() * 20));
      else if (x < 0.12) s += String.fromCodePoint(0x20 + Math.floor(r() * 0x2fff));
      else s += pool[Math.floor(r() * pool.length)];
    }
    out.push(s);
  }
  return out;
}

const dir = vocabDir();
const oracle = path.join(__dirname, 'vocab-ids.mjs');
const haveLlama = fs.existsSync(path.join(__dirname, 'node_modules', 'node-llama-cpp'));
const vocabs = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^ggml-vocab-.*\.gguf$/.test(f)).sort() : [];
const maybe = haveLlama && vocabs.length > 0 ? describe : describe.skip;
if (!haveLlama || vocabs.length === 0) console.warn('vocab-random.oracle: no node-llama-cpp or no vocabularies (npm install in test/oracle); skipped');

maybe("random texts = llama.cpp's llama_tokenize", () => {
  test.each(vocabs.map((v, i) => [v, i] as const))('%s', (file, i) => {
    const tok = Tokenizer.fromGguf(readGguf(path.join(dir!, file)));
    const specials = tok.tokens.filter((_, id) => tok.tokenType(id) === TokenType.CONTROL || tok.tokenType(id) === TokenType.USER_DEFINED).slice(0, 40);
    const texts = randomTexts(N, 1000 + i, specials);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-vocab-'));
    try {
      fs.writeFileSync(path.join(tmp, 'texts.json'), JSON.stringify(texts));
      const r = spawnSync(process.execPath, [oracle, path.join(dir!, file), path.join(tmp, 'texts.json'), path.join(tmp, 'ids.json')], { encoding: 'utf8', timeout: 300000 });
      if (r.status !== 0) throw new Error(`vocab-ids.mjs failed: ${r.stderr}`);
      const res = JSON.parse(fs.readFileSync(path.join(tmp, 'ids.json'), 'utf8')) as { ids: number[][]; idsSpecial: number[][]; decoded: string[]; decodedSpecial: string[] };
      const bad: string[] = [];
      texts.forEach((t, k) => {
        const a = tok.encode(t, { addSpecial: false, parseSpecial: false });
        const b = tok.encode(t, { addSpecial: false, parseSpecial: true });
        if (JSON.stringify(a) !== JSON.stringify(res.ids[k])) bad.push(`${JSON.stringify(t)}: [${a}] vs llama.cpp [${res.ids[k]}]`);
        if (JSON.stringify(b) !== JSON.stringify(res.idsSpecial[k])) bad.push(`(parse_special) ${JSON.stringify(t)}: [${b}] vs llama.cpp [${res.idsSpecial[k]}]`);
        // llama_detokenize of llama.cpp's ids (remove_special false), special tokens hidden / shown
        const d = tok.decode(res.ids[k], { stripSpacePrefix: 'llama.cpp' }), ds = tok.decode(res.idsSpecial[k], { special: true, stripSpacePrefix: 'llama.cpp' });
        if (d !== res.decoded[k]) bad.push(`(decode) ${JSON.stringify(t)}: ${JSON.stringify(d)} vs llama.cpp ${JSON.stringify(res.decoded[k])}`);
        if (ds !== res.decodedSpecial[k]) bad.push(`(decode special) ${JSON.stringify(t)}: ${JSON.stringify(ds)} vs llama.cpp ${JSON.stringify(res.decodedSpecial[k])}`);
      });
      expect(bad.slice(0, 5)).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
