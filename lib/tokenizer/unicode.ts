// Code point classes as llama.cpp's src/unicode.cpp uses them: one general category per code
// point (its UnicodeData.txt category folded to N, L, Z, M, P, S, C or UNDEFINED for Cn), plus
// White_Space, and its simple lowercase map. fuselm reads the categories from the JavaScript
// engine's Unicode tables (Node's ICU) instead of a copy of llama.cpp's generated table, so the
// two agree except for code points assigned in a Unicode version one of them lacks.

export const enum CpFlag {
  UNDEFINED = 0x0001,
  NUMBER = 0x0002,
  LETTER = 0x0004,
  SEPARATOR = 0x0008,
  ACCENT_MARK = 0x0010,
  PUNCTUATION = 0x0020,
  SYMBOL = 0x0040,
  CONTROL = 0x0080,
  CATEGORIES = 0x00ff,
  WHITESPACE = 0x0100,
  COMPUTED = 0x8000,
}

const CATEGORY_TESTS: [RegExp, number][] = [
  [/^\p{Cn}$/u, CpFlag.UNDEFINED],
  [/^\p{L}$/u, CpFlag.LETTER],
  [/^\p{N}$/u, CpFlag.NUMBER],
  [/^\p{M}$/u, CpFlag.ACCENT_MARK],
  [/^\p{P}$/u, CpFlag.PUNCTUATION],
  [/^\p{S}$/u, CpFlag.SYMBOL],
  [/^\p{Z}$/u, CpFlag.SEPARATOR],
  [/^\p{C}$/u, CpFlag.CONTROL],
];
// llama.cpp's whitespace set: the White_Space property
const WHITESPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);

/** flags by code point, filled on first use (0 = not computed yet) */
const table = new Uint16Array(0x110000);

function compute(cp: number): number {
  let f = CpFlag.UNDEFINED as number;
  if (cp >= 0xd800 && cp <= 0xdfff) f = CpFlag.CONTROL; // Cs
  else {
    const s = String.fromCodePoint(cp);
    for (const [re, flag] of CATEGORY_TESTS) if (re.test(s)) { f = flag; break; }
  }
  if (WHITESPACE.has(cp)) f |= CpFlag.WHITESPACE;
  return f | CpFlag.COMPUTED;
}

/** llama.cpp's unicode_cpt_flags_from_cpt(cp) (without the case and NFD bits); 0 outside Unicode. */
export function cpFlags(cp: number): number {
  if (cp < 0 || cp >= 0x110000) return 0;
  let f = table[cp];
  if (f === 0) table[cp] = f = compute(cp);
  return f & ~CpFlag.COMPUTED;
}

export const isLetter = (cp: number) => (cpFlags(cp) & CpFlag.LETTER) !== 0;
export const isNumber = (cp: number) => (cpFlags(cp) & CpFlag.NUMBER) !== 0;
export const isWhitespace = (cp: number) => (cpFlags(cp) & CpFlag.WHITESPACE) !== 0;
export const isMark = (cp: number) => (cpFlags(cp) & CpFlag.ACCENT_MARK) !== 0;

/** The simple (one code point) lowercase mapping, as unicode_tolower. */
export function toLower(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
  if (cp >= 0xd800 && cp <= 0xdfff) return cp;
  if (cp === 0x130) return 0x69; // İ: UnicodeData's simple mapping (the full one is i + U+0307)
  const l = String.fromCodePoint(cp).toLowerCase();
  const lc = l.codePointAt(0)!;
  return l.length === (lc > 0xffff ? 2 : 1) ? lc : cp;
}

/** unicode_cpt_is_han */
export function isHan(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0x2ceb0 && cp <= 0x2ebef) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/**
 * The code points of `text` as llama.cpp reads the UTF-8 it is given: a lone surrogate (which
 * JavaScript's UTF-8 encoder turns into U+FFFD) is U+FFFD.
 */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { out.push(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000); i++; continue; }
    }
    out.push(c >= 0xd800 && c <= 0xdfff ? 0xfffd : c);
  }
  return out;
}

export function fromCodePoints(cps: ArrayLike<number>, begin = 0, end = cps.length): string {
  let s = '';
  const chunk: number[] = [];
  for (let i = begin; i < end; i++) {
    chunk.push(cps[i]);
    if (chunk.length === 4096) { s += String.fromCodePoint(...chunk); chunk.length = 0; }
  }
  return chunk.length > 0 ? s + String.fromCodePoint(...chunk) : s;
}
