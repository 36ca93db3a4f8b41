// GBNF: llama.cpp's example grammars parse; malformed ones give a GrammarError with the
// position; the matcher agrees with an independent Earley recogniser (test/reference/grammar.ts)
// on strings sampled from each grammar and on their mutations; UTF-8 split anywhere.
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { Grammar, GrammarError, parseGbnf } from '../../lib/grammar';
import { EarleyGrammar } from '../reference/grammar';
import { rng } from '../helpers';

const DIRS = ['/work/llama.cpp-src/llama.cpp/grammars', path.join(__dirname, '../oracle/node_modules/node-llama-cpp/llama/grammars'),
  '/work/main/test/oracle/node_modules/node-llama-cpp/llama/grammars'].filter((d) => fs.existsSync(d));
const FILES = DIRS.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.gbnf')).map((f) => path.join(d, f)));

const te = new TextEncoder();
const fullMatch = (g: Grammar, s: string) => { const m = g.matcher(); return m.acceptString(s) && m.canEnd; };

describe('llama.cpp grammars/', () => {
  test('the example folders are there', () => { expect(FILES.length).toBeGreaterThanOrEqual(8); });
  for (const file of FILES) {
    const name = `${path.basename(path.dirname(path.dirname(file)))}/${path.basename(file)}`;
    test(`${name} parses; sampled strings and their mutations: matcher == Earley`, () => {
      const src = fs.readFileSync(file, 'utf8');
      const g = new Grammar(src);
      const ref = new EarleyGrammar(parseGbnf(src));
      const r = rng(src.length);
      const n = /c\.gbnf|english|japanese/.test(file) ? 15 : 40;
      for (let i = 0; i < n; i++) {
        const s = ref.sample(i * 7919 + 1, 8);
        expect({ s, ok: ref.recognizes(s) }).toEqual({ s, ok: true });
        expect({ s, ok: fullMatch(g, s) }).toEqual({ s, ok: true });
        // one edit: delete, replace or insert a character
        const cps = Array.from(s);
        const at = Math.floor(r() * (cps.length + 1));
        const ch = String.fromCodePoint(r() < 0.7 ? 32 + Math.floor(r() * 95) : 0xa0 + Math.floor(r() * 0x3000));
        const op = Math.floor(r() * 3);
        const t = [...cps.slice(0, at), ...(op === 2 ? [ch] : []), ...(op === 1 ? [ch] : []), ...cps.slice(at + (op === 2 ? 0 : 1))].join('');
        expect({ t, ok: fullMatch(g, t) }).toEqual({ t, ok: ref.recognizes(t) });
      }
    });
  }
});

describe('matcher', () => {
  test('UTF-8 across any byte split: the same verdict as whole', () => {
    const g = new Grammar('root ::= [^\\x00-\\x7F]+ "." | "a" [é-ü]* "."');
    for (const s of ['日本語.', 'aéü.', 'aé\u00ff.', '😀😀.', 'a.']) {
      const bytes = te.encode(s);
      const whole = fullMatch(g, s);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const m = g.matcher();
        const ok = m.acceptBytes(bytes.subarray(0, cut)) && m.acceptBytes(bytes.subarray(cut)) && m.canEnd;
        expect({ s, cut, ok }).toEqual({ s, cut, ok: whole });
      }
    }
    expect(fullMatch(g, 'aé\u00ff.')).toBe(false);
    // a lead byte that no allowed code point starts with is rejected at once
    const m = g.matcher();
    expect(m.acceptBytes(Uint8Array.of(0x61, 0xe6))).toBe(false); // U+6000.. after 'a': [é-ü] cannot start so
    expect(m.acceptBytes(Uint8Array.of(0x61, 0xc3))).toBe(true);
    // invalid UTF-8: overlong, surrogates, stray continuation bytes
    for (const bad of [[0xc0, 0xae], [0xed, 0xa0, 0x80], [0x80], [0xf8]]) expect(g.matcher().acceptBytes(Uint8Array.from(bad))).toBe(false);
    // a lead byte is rejected at once when only overlong or out-of-range code points could follow
    const h = new Grammar('root ::= "h" | [\\U00010000-\\U0010FFFF]');
    for (const bad of [[0xc0], [0xc1], [0xe0, 0x80], [0xe0], [0xf4, 0x90], [0xf5]]) expect({ bad, ok: h.matcher().acceptBytes(Uint8Array.from(bad)) }).toEqual({ bad, ok: false });
    // a surrogate lead-in (ED A0..BF) never completes, even where a negated class holds that range
    const neg = new Grammar('root ::= [^a]');
    expect(neg.matcher().acceptBytes(Uint8Array.of(0xed, 0xa0))).toBe(false);
    expect(neg.matcher().acceptBytes(Uint8Array.of(0xed, 0x9f))).toBe(true);
    for (const good of [[0xf0, 0x90], [0xf4, 0x8f, 0xbf]]) expect(h.matcher().acceptBytes(Uint8Array.from(good))).toBe(true);
  });

  test('a rejected byte leaves the matcher where it was', () => {
    const g = new Grammar('root ::= "ab" | "ac"');
    const m = g.matcher();
    expect(m.acceptString('a')).toBe(true);
    expect(m.acceptString('x')).toBe(false);
    expect(m.acceptString('c')).toBe(true);
    expect(m.complete).toBe(true);
  });

  test('repetitions: {m}, {m,}, {m,n}, *, +, ? and a long run in constant stack depth', () => {
    const cases: [string, string[], string[]][] = [
      ['root ::= "a"{3}', ['aaa'], ['aa', 'aaaa', '']],
      ['root ::= "a"{2,}', ['aa', 'aaaaaaa'], ['a', '']],
      ['root ::= "ab"{1,3}', ['ab', 'abab', 'ababab'], ['', 'a', 'abababab']],
      ['root ::= ("x" | "y")* "."', ['.', 'xyyx.'], ['x', 'xz.']],
      ['root ::= [0-9]+ ("." [0-9]+)?', ['1', '12.5'], ['', '1.', '.5']],
      ['root ::= "a"{0}', [''], ['a']],
    ];
    for (const [src, good, bad] of cases) {
      const g = new Grammar(src);
      for (const s of good) expect({ src, s, ok: fullMatch(g, s) }).toEqual({ src, s, ok: true });
      for (const s of bad) expect({ src, s, ok: fullMatch(g, s) }).toEqual({ src, s, ok: false });
    }
    const g = new Grammar('root ::= "x"*');
    const m = g.matcher();
    for (let i = 0; i < 100000; i++) m.acceptBytes(Uint8Array.of(0x78));
    expect(m.canEnd).toBe(true);
    expect(m.state.chars[0].parent).toBeNull();
  });

  test('comments, escapes, any char, the `-` literal in classes, CRLF line ends', () => {
    const g = new Grammar('# c\r\nroot ::= "\\x41\\u00e9\\U0001F600\\t\\n\\\\\\"" [a\\-z-] . # tail\r\n');
    expect(fullMatch(g, 'Aé😀\t\n\\"-\u4e00')).toBe(true);
    expect(fullMatch(g, 'Aé😀\t\n\\"b\u4e00')).toBe(false);
  });
});

describe('errors', () => {
  const cases: [string, string | RegExp][] = [
    ['root ::= "a', 'unterminated string literal at line 1, column 10'],
    ['root ::= [a', 'unterminated character class at line 1, column 10'],
    ['root ::= (a', "expected ')' to close the group opened at offset 9, found the end of input at line 1, column 12"],
    ['root := "a"', "expected '::=' after the rule name 'root', found ':' at line 1, column 6"],
    ['root ::= "a" ]', "expected a newline or the end after rule 'root', found ']' at line 1, column 14"],
    ['root ::= b', "undefined rule 'b' at line 1, column 10"],
    ['a ::= "x"', "the grammar has no 'root' rule (the start rule)"],
    ['root ::= "\\q"', 'unknown escape \\q at line 1, column 11'],
    ['root ::= "\\x4"', 'expected 2 hex digits after \\x at line 1, column 11'],
    ['root ::= *', "expected an item before '*' at line 1, column 10"],
    ['root ::= "a"{3,1}', 'repetition {3,1} has max < min at line 1, column 13'],
    ['root ::= "a"{2001}', 'repetition count 2001 exceeds 2000 at line 1, column 13'],
    ['root ::= "a"{x}', "expected an integer after '{', found 'x' at line 1, column 14"],
    ['root ::= [z-a]', 'character range is out of order (U+7a > U+61) at line 1, column 13'],
    ['root ::= <foo>', 'token reference <foo> needs a vocabulary (give the tokenizer) at line 1, column 10'],
    ['root ::= !x', "expected '<' after '!' (a negated token reference) at line 1, column 11"],
    ['root ::= root "a"', 'left recursion (the matcher cannot expand it): root -> root'],
    ['root ::= a "x"\na ::= "y"? root', 'left recursion (the matcher cannot expand it): root -> a -> root'],
    ['root ::= "a" root', "rule 'root' derives no finite string (every alternative recurses forever)"],
    ['', 'the grammar defines no rules (expected at least `root ::= ...`)'],
  ];
  for (const [src, msg] of cases) {
    test(`${JSON.stringify(src)}`, () => {
      let err: unknown;
      try { new Grammar(src); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(GrammarError);
      const m = (err as Error).message;
      if (typeof msg === 'string') expect(m.startsWith(`grammar: ${msg}`)).toBe(true);
      else expect(m).toMatch(msg);
    });
  }
  test('the message shows the line and a caret', () => {
    expect(() => new Grammar('root ::= x\nx ::= "a" |\n  "b" ]')).toThrow('grammar: expected a newline or the end after rule \'x\', found \']\' at line 3, column 7:\n    "b" ]\n        ^');
    expect(() => new Grammar(42 as unknown as string)).toThrow(new TypeError('grammar: Expected a GBNF string for grammar but received number'));
  });

  test('fuzz: any text (and mutated example grammars) gives a Grammar or a GrammarError, quickly', () => {
    const seeds = FILES.map((f) => fs.readFileSync(f, 'utf8'));
    const alphabet = fc.constantFrom(...'root ::= "ab"[^]-\\x{}*+?|()#\n.<>![0]12,'.split(''));
    const check = (src: string) => {
      const t0 = Date.now();
      try {
        const g = new Grammar(src);
        g.matcher().acceptString('ab');
      } catch (e) {
        if (!(e instanceof GrammarError)) throw e;
      }
      expect(Date.now() - t0).toBeLessThan(2000);
    };
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')), check), { numRuns: 1500, seed: 19 });
    fc.assert(fc.property(fc.string({ maxLength: 40 }).map((s) => 'root ::= ' + s), check), { numRuns: 1000, seed: 20 });
    fc.assert(fc.property(fc.nat(seeds.length - 1), fc.nat(), fc.nat(), fc.string({ maxLength: 3 }), (k, a, b, ins) => {
      const s = seeds[k];
      const i = a % s.length, j = Math.min(s.length, i + (b % 5));
      check(s.slice(0, i) + ins + s.slice(j));
    }), { numRuns: 400, seed: 21 });
  });
});
