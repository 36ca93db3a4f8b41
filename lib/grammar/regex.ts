// A JSON Schema `pattern` (an ECMAScript regex, as ajv compiles it with the `u` flag) to a
// GBNF expression over the characters of a JSON string's body.
// The subset: literals and escapes (\t \n \r \f \v \0 \xHH \uHHHH \u{...} and escaped
// punctuation), classes with ranges and negation, \d \w \s \D \W \S, '.', groups (capturing,
// (?:...), (?<name>...)), alternation, the quantifiers * + ? {n} {n,} {n,m} (lazy forms
// match the same strings), and ^ / $ at the ends of an alternative. JSON Schema patterns are
// not anchored: an alternative without ^ (or $) may have any characters before (after) it.
// Refused, naming the construct: lookaround, backreferences, \b \B, \p{...}, flags groups,
// anchors elsewhere. The pattern's own characters are emitted unescaped where JSON allows
// (classes lose '"', '\' and control characters: a subset of the strings, never others);
// the padding of an unanchored side takes any JSON string character, escapes included.

export class PatternError extends Error {}

type Ranges = [number, number][];

const MAX = 0x10ffff;
/** characters a JSON string body may hold unescaped */
const RAW: Ranges = [[0x20, 0x21], [0x23, 0x5b], [0x5d, MAX]];
// ECMAScript \s (WhiteSpace and LineTerminator)
const SPACE: Ranges = [[9, 13], [32, 32], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
const DIGIT: Ranges = [[48, 57]];
const WORD: Ranges = [[48, 57], [65, 90], [95, 95], [97, 122]];
// '.' with the u flag: any code point but the line terminators
const DOT: Ranges = [[0, 9], [11, 12], [14, 0x2027], [0x202a, MAX]];

function normalize(r: Ranges): Ranges {
  const s = r.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: Ranges = [];
  for (const x of s) {
    const m = out[out.length - 1];
    if (m && x[0] <= m[1] + 1) m[1] = Math.max(m[1], x[1]);
    else out.push(x);
  }
  return out;
}
function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [a, b] of normalize(r)) { if (a > next) out.push([next, a - 1]); next = b + 1; }
  if (next <= MAX) out.push([next, MAX]);
  return out;
}
function intersect(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  for (const [x0, x1] of normalize(a)) for (const [y0, y1] of normalize(b)) {
    const lo = Math.max(x0, y0), hi = Math.min(x1, y1);
    if (lo <= hi) out.push([lo, hi]);
  }
  return normalize(out);
}

const hex = (c: number) => (c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : c < 0x10000 ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`);
/** a GBNF character class for `r` (non-empty) */
export function gbnfClass(r: Ranges): string {
  const esc = (c: number) => (c < 0x20 || c === 0x5c || c === 0x5d || c === 0x5b || c === 0x2d || c === 0x5e || c === 0x22 || c >= 0x7f ? hex(c) : String.fromCodePoint(c));
  return `[${normalize(r).map(([a, b]) => (a === b ? esc(a) : `${esc(a)}-${esc(b)}`)).join('')}]`;
}
/** a GBNF string literal for the text */
export function gbnfLiteral(text: string): string {
  let s = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    s += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : c < 0x20 || c === 0x7f ? hex(c) : ch;
  }
  return s + '"';
}

/** a literal character of the pattern as it appears in the JSON string body */
function jsonChar(c: number): string {
  return gbnfLiteral(JSON.stringify(String.fromCodePoint(c)).slice(1, -1));
}

/**
 * The GBNF expression for the body of a JSON string matching `pattern`.
 * `anyChar` is the GBNF expression of one JSON string character (escapes included), used
 * for the padding of unanchored sides.
 */
export function patternToGbnf(pattern: string, anyChar: string): string {
  let pos = 0;
  const src = pattern;
  const err = (what: string): never => { throw new PatternError(`${what} (at offset ${pos} of /${src}/)`); };
  const peek = () => src[pos];

  const parseAlts = (top: boolean): string => {
    const alts: string[] = [];
    for (;;) {
      alts.push(parseSeq(top));
      if (peek() !== '|') break;
      pos++;
    }
    return alts.length === 1 ? alts[0] : `(${alts.join(' | ')})`;
  };

  const parseSeq = (top: boolean): string => {
    const items: string[] = [];
    let startAnchor = false, endAnchor = false;
    if (peek() === '^') {
      if (!top) err('^ inside a group is not supported');
      startAnchor = true;
      pos++;
    }
    while (pos < src.length && peek() !== '|' && peek() !== ')') {
      if (peek() === '$') {
        pos++;
        if (!top || (pos < src.length && peek() !== '|')) err('$ before the end of an alternative is not supported');
        endAnchor = true;
        break;
      }
      if (peek() === '^') err('^ after the start of an alternative is not supported');
      let atom = parseAtom();
      atom = parseQuant(atom);
      items.push(atom);
    }
    if (top) {
      if (!startAnchor) items.unshift(`${anyChar}*`);
      if (!endAnchor) items.push(`${anyChar}*`);
    }
    return items.length === 0 ? '""' : items.length === 1 ? items[0] : `(${items.join(' ')})`;
  };

  const parseQuant = (atom: string): string => {
    const c = peek();
    let min: number, max: number;
    if (c === '*') { min = 0; max = Infinity; pos++; }
    else if (c === '+') { min = 1; max = Infinity; pos++; }
    else if (c === '?') { min = 0; max = 1; pos++; }
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(pos));
      if (!m) return atom; // a literal '{' (annex B); parseAtom took none: treat as literal below
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) err('a quantifier {n,m} with m < n');
      if (min > 2000 || (max !== Infinity && max > 2000)) err('a repetition count above 2000');
      pos += m[0].length;
    } else return atom;
    if (peek() === '?') pos++; // lazy: the same strings
    if (peek() === '*' || peek() === '+' || peek() === '?' || peek() === '{' && /^\{\d/.test(src.slice(pos))) err('a quantifier after a quantifier');
    const q = max === Infinity ? (min === 0 ? '*' : min === 1 ? '+' : `{${min},}`) : min === 0 && max === 1 ? '?' : min === max ? `{${min}}` : `{${min},${max}}`;
    return `(${atom})${q}`;
  };

  const classOf = (r: Ranges): string => {
    const raw = intersect(r, RAW);
    if (raw.length === 0) err('a character class with no character a JSON string holds unescaped');
    return gbnfClass(raw);
  };

  // an escape inside or outside a class: a set of ranges
  const parseEscape = (inClass: boolean): Ranges => {
    pos++; // '\'
    const c = src[pos++];
    if (c === undefined) err('a pattern ending in \\');
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return complement(DIGIT);
      case 'w': return WORD;
      case 'W': return complement(WORD);
      case 's': return SPACE;
      case 'S': return complement(SPACE);
      case 't': return [[9, 9]];
      case 'n': return [[10, 10]];
      case 'r': return [[13, 13]];
      case 'f': return [[12, 12]];
      case 'v': return [[11, 11]];
      case '0': if (/\d/.test(src[pos] ?? '')) err('an octal escape'); return [[0, 0]];
      case 'x': {
        const m = /^[0-9a-fA-F]{2}/.exec(src.slice(pos));
        if (!m) err('\\x without two hex digits');
        pos += 2;
        const v = parseInt(m![0], 16);
        return [[v, v]];
      }
      case 'u': {
        let m = /^\{([0-9a-fA-F]{1,6})\}/.exec(src.slice(pos));
        if (m) { pos += m[0].length; const v = parseInt(m[1], 16); if (v > MAX) err('a code point beyond U+10FFFF'); return [[v, v]]; }
        m = /^[0-9a-fA-F]{4}/.exec(src.slice(pos));
        if (!m) err('\\u without four hex digits');
        pos += 4;
        const v = parseInt(m![0], 16);
        if (v >= 0xd800 && v <= 0xdfff) err('a surrogate escape');
        return [[v, v]];
      }
      case 'b': if (inClass) return [[8, 8]]; return err('\\b (a word boundary) is not supported');
      case 'B': return err('\\B (a non-boundary) is not supported');
      case 'p': case 'P': return err(`\\${c}{...} (a Unicode property) is not supported`);
      case 'k': return err('\\k<...> (a backreference) is not supported');
      case 'c': return err('\\c (a control escape) is not supported');
      default:
        if (/[1-9]/.test(c)) err(`\\${c} (a backreference) is not supported`);
        if (/[\^$\\.*+?()[\]{}|/\-]/.test(c)) return [[c.charCodeAt(0), c.charCodeAt(0)]];
        return err(`the escape \\${c}`);
    }
  };

  const parseClass = (): string => {
    pos++; // '['
    let negate = false;
    if (peek() === '^') { negate = true; pos++; }
    const ranges: Ranges = [];
    while (peek() !== ']') {
      if (pos >= src.length) err('an unterminated character class');
      const one = (): Ranges => {
        if (peek() === '\\') return parseEscape(true);
        const cp = src.codePointAt(pos)!;
        pos += cp > 0xffff ? 2 : 1;
        return [[cp, cp]];
      };
      const lo = one();
      if (peek() === '-' && src[pos + 1] !== ']' && pos + 1 < src.length) {
        pos++;
        const hi = one();
        if (lo.length !== 1 || hi.length !== 1 || lo[0][0] !== lo[0][1] || hi[0][0] !== hi[0][1]) err('a class range with a class escape at an end');
        if (hi[0][0] < lo[0][0]) err('a class range out of order');
        ranges.push([lo[0][0], hi[0][0]]);
      } else {
        ranges.push(...lo);
      }
    }
    pos++;
    return classOf(negate ? complement(ranges) : ranges);
  };

  const parseAtom = (): string => {
    const c = peek();
    if (c === '(') {
      pos++;
      if (peek() === '?') {
        const m = /^\?(:|<[A-Za-z_$][\w$]*>)/.exec(src.slice(pos));
        if (!m) err(src.startsWith('?=', pos) || src.startsWith('?!', pos) || src.startsWith('?<=', pos) || src.startsWith('?<!', pos) ? 'lookaround is not supported' : 'this group kind is not supported');
        pos += m![0].length;
      }
      const inner = parseAlts(false);
      if (peek() !== ')') err('an unclosed group');
      pos++;
      return `(${inner})`;
    }
    if (c === '[') return parseClass();
    if (c === '.') { pos++; return classOf(DOT); }
    if (c === '\\') {
      const r = parseEscape(false);
      if (r.length === 1 && r[0][0] === r[0][1]) return jsonChar(r[0][0]);
      return classOf(r);
    }
    if (c === '*' || c === '+' || c === '?') err(`nothing to repeat before '${c}'`);
    if (c === ')') err("an unmatched ')'");
    const cp = src.codePointAt(pos)!;
    pos += cp > 0xffff ? 2 : 1;
    return jsonChar(cp);
  };

  const out = parseAlts(true);
  if (pos < src.length) err(`an unmatched '${src[pos]}'`);
  return out;
}
