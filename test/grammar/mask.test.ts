// The allowed-token mask (one walk of the vocabulary trie) equals the brute-force check of
// every token on its own, on random grammars and random vocabularies (multi-byte characters
// split across tokens, duplicate and prefix tokens, control tokens, token references), at
// every state of random walks; and on the synthetic models' tokenizers with the JSON grammar.
import * as fs from 'fs';
import { Grammar, GrammarError, TokenVocab } from '../../lib/grammar';
import { Tokenizer } from '../../lib/tokenizer';
import { parseGguf, readGguf } from '../../lib/formats/gguf';
import { rng } from '../helpers';
import { syntheticTokenizer } from '../../lib/models/synthetic';
import { encodeGguf } from '../../lib/formats/gguf-writer';

const te = new TextEncoder();

function bruteMask(g: Grammar, m: ReturnType<Grammar['matcher']>, v: TokenVocab): Uint32Array {
  const out = new Uint32Array(v.words);
  for (let id = 0; id < v.size; id++) {
    if (m.clone().acceptToken(id, v)) out[id >>> 5] |= 1 << (id & 31);
  }
  return out;
}
const ids = (mask: Uint32Array, n: number) => { const r: number[] = []; for (let i = 0; i < n; i++) if (mask[i >>> 5] & (1 << (i & 31))) r.push(i); return r; };

const CHARS = ['a', 'b', 'c', '"', ' ', 'é', '日', '😀'];
function randomGrammar(r: () => number, nRules: number, tokens: number): string {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const lit = () => JSON.stringify(Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(CHARS)).join('')).replace(/"(.*)"/, '$1');
  const item = (depth: number, rule: number): string => {
    const k = r();
    let s: string;
    if (k < 0.35) s = `"${lit()}"`;
    else if (k < 0.5) s = pick(['[a-c]', '[^a"]', '[é-日]', '.', '[😀b]']);
    else if (k < 0.62 && rule + 1 < nRules) s = `r${rule + 1 + Math.floor(r() * (nRules - rule - 1))}`;
    else if (k < 0.7 && tokens > 0) s = r() < 0.5 ? `<[${Math.floor(r() * tokens)}]>` : `!<[${Math.floor(r() * tokens)}]>`;
    else if (k < 0.82 && depth < 2) s = `(${alts(depth + 1, rule)})`;
    else s = `"${lit()}"`;
    const q = r();
    return s + (q < 0.15 ? '*' : q < 0.25 ? '+' : q < 0.35 ? '?' : q < 0.42 ? `{${Math.floor(r() * 2)},${2 + Math.floor(r() * 2)}}` : '');
  };
  const seq = (depth: number, rule: number) => Array.from({ length: 1 + Math.floor(r() * 3) }, () => item(depth, rule)).join(' ');
  const alts = (depth: number, rule: number) => Array.from({ length: 1 + Math.floor(r() * 3) }, () => seq(depth, rule)).join(' | ');
  const rules = [`root ::= ${alts(0, -1).replace(/\br(\d+)/g, 'r$1')}`];
  for (let i = 0; i < nRules; i++) rules.push(`r${i} ::= ${alts(0, i)}`);
  // references only point forward, so no left recursion; every rule is defined
  return rules.join('\n').replace(/\br(\d+)/g, (_, d) => `r${Math.min(Number(d), nRules - 1)}`);
}

function randomVocab(r: () => number, n: number): TokenVocab {
  const bytes: (Uint8Array | null)[] = [];
  const pool = te.encode(CHARS.join('') + 'xyz{}');
  for (let i = 0; i < n; i++) {
    const k = r();
    if (i === 1 || k < 0.04) { bytes.push(null); continue; } // control tokens (1: also EOS)
    if (k < 0.3) { bytes.push(te.encode(CHARS[Math.floor(r() * CHARS.length)])); continue; } // whole characters (duplicates)
    const len = 1 + Math.floor(r() * 5);
    const start = Math.floor(r() * pool.length);
    bytes.push(pool.slice(start, start + len)); // byte runs: may start or end inside a character
  }
  return new TokenVocab(bytes, [1]);
}

describe('mask: trie walk == brute force', () => {
  test('random grammars x random vocabularies, along random walks', () => {
    let states = 0, grammars = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const r = rng(seed);
      const v = randomVocab(r, 20 + Math.floor(r() * 100));
      let g: Grammar;
      const src = randomGrammar(r, 1 + Math.floor(r() * 4), v.size);
      try { g = new Grammar(src); } catch (e) { if (e instanceof GrammarError) continue; throw e; }
      grammars++;
      const m = g.matcher();
      for (let step = 0; step < 12; step++) {
        const fast = ids(v.allowed(g, m.state), v.size);
        const slow = ids(bruteMask(g, m, v), v.size);
        expect({ src, step, fast }).toEqual({ src, step, fast: slow });
        states++;
        if (fast.length === 0) break;
        const t = fast[Math.floor(r() * fast.length)];
        expect(m.acceptToken(t, v)).toBe(true);
        if (m.complete) break;
      }
    }
    expect(grammars).toBeGreaterThan(60);
    expect(states).toBeGreaterThan(300);
  });

  function tokenizerOf(kind: 'llama' | 'gpt2'): Tokenizer {
    const meta = syntheticTokenizer(kind, 200);
    return Tokenizer.fromGguf(parseGguf(encodeGguf({ metadata: { ...meta, 'general.architecture': 'llama' } })));
  }

  for (const kind of ['llama', 'gpt2'] as const) {
    test(`${kind} synthetic tokenizer, json.gbnf: mask == brute force along a walk; cached per tokenizer`, () => {
      const tk = tokenizerOf(kind);
      const v = TokenVocab.of(tk);
      expect(TokenVocab.of(tk)).toBe(v);
      const g = new Grammar(fs.readFileSync('/work/llama.cpp-src/llama.cpp/grammars/json.gbnf', 'utf8'));
      const m = g.matcher();
      const r = rng(kind.length);
      for (let step = 0; step < 40; step++) {
        const fast = ids(v.allowed(g, m.state), v.size);
        expect({ step, fast }).toEqual({ step, fast: ids(bruteMask(g, m, v), v.size) });
        // EOS exactly when the grammar can end
        expect(fast.includes(tk.eos!)).toBe(m.canEnd);
        const t = fast[Math.floor(r() * fast.length)];
        m.acceptToken(t, v);
        if (m.complete) break;
      }
    });
  }

  const VOCABS = ['llama-spm', 'qwen2'].map((n) => `/work/llama.cpp-src/llama.cpp/models/ggml-vocab-${n}.gguf`).filter((f) => fs.existsSync(f));
  for (const file of VOCABS) {
    test(`${file.split('/').pop()}: a real vocabulary, json.gbnf: mask == brute force along a walk`, () => {
      const tk = Tokenizer.fromGguf(readGguf(file));
      const v = TokenVocab.of(tk);
      const g = new Grammar(fs.readFileSync('/work/llama.cpp-src/llama.cpp/grammars/json.gbnf', 'utf8'));
      const m = g.matcher();
      const r = rng(v.size);
      // a walk that enters strings, numbers and nesting: prefer tokens that are one byte of JSON punctuation now and then
      for (let step = 0; step < 6; step++) {
        const fast = ids(v.allowed(g, m.state), v.size);
        expect({ step, fast }).toEqual({ step, fast: ids(bruteMask(g, m, v), v.size) });
        expect(fast.length).toBeGreaterThan(0);
        const punct = fast.filter((id) => /^[{}\[\]":,]$/.test(new TextDecoder().decode(v.bytesOf(id) ?? new Uint8Array())));
        const pool = punct.length && r() < 0.5 ? punct : fast;
        m.acceptToken(pool[Math.floor(r() * pool.length)], v);
        if (m.complete) break;
      }
    });
  }

  test('token references: <[id]>, !<[id]> and <text> resolved with the tokenizer', () => {
    const tk = tokenizerOf('gpt2');
    const v = TokenVocab.of(tk);
    const imStart = tk.encode('<|im_start|>', { addSpecial: false, parseSpecial: true })[0];
    const g = new Grammar('root ::= <|im_start|> "x" !<[5]>', { tokenizer: tk });
    const m = g.matcher();
    expect(ids(v.allowed(g, m.state), v.size)).toEqual([imStart]);
    expect(m.acceptToken(imStart, v)).toBe(true);
    expect(m.acceptString('x')).toBe(true);
    const allowed = ids(v.allowed(g, m.state), v.size);
    expect(allowed.length).toBe(v.size - 1 - v.eog.length);
    expect(allowed.includes(5)).toBe(false);
    expect(() => new Grammar('root ::= <hello world>', { tokenizer: tk })).toThrow(/token reference <hello world>: tokenizes to \d+ tokens, expected exactly 1/);
  });
});
