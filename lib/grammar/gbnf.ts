// GBNF, llama.cpp's grammar format (grammars/README.md there), parsed into a syntax tree:
//   rule      ::= name "::=" alternates (newline | end)
//   alternates: sequences separated by '|'; a sequence is items, each optionally followed by
//   '*', '+', '?' or '{m}', '{m,}', '{m,n}'
//   items: "literal", [char class] / [^negated], name (rule reference), ( group ), '.' (any
//   code point), <[id]> (one token by id), <text> (the one token `text` tokenizes to), and
//   !<...> (any token but that one)
//   escapes: \xHH \uHHHH \UHHHHHHHH \t \r \n \\ \" \[ \] \-
//   '#' starts a comment to the end of the line. Newlines end a rule, except inside a group,
//   after '::=' and after '|'.
// The same facts llama.cpp's parser (src/llama-grammar.cpp) works by; the code is fuselm's own.
// Every malformed input throws a GrammarError with the offset, line and column.

export class GrammarError extends Error {
  /** offset (UTF-16 code units) into the grammar text, or -1 when the error has no place */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  constructor(message: string, src?: string, offset = -1) {
    let line = 0, column = 0;
    if (src !== undefined && offset >= 0) {
      line = 1;
      let lineStart = 0;
      for (let i = 0; i < offset && i < src.length; i++) if (src[i] === '\n') { line++; lineStart = i + 1; }
      column = offset - lineStart + 1;
      const end = src.indexOf('\n', lineStart);
      const text = src.slice(lineStart, end < 0 ? src.length : end);
      message = `${message} at line ${line}, column ${column}:\n  ${text}\n  ${' '.repeat(Math.max(0, column - 1))}^`;
    }
    super(`grammar: ${message}`);
    this.name = 'GrammarError';
    this.offset = offset;
    this.line = line;
    this.column = column;
  }
}

/** Code point ranges [lo, hi] inclusive; `negate` matches every code point outside them. */
export interface CharsItem { kind: 'chars'; ranges: [number, number][]; negate: boolean }
export interface RefItem { kind: 'ref'; name: string; at: number }
export interface GroupItem { kind: 'group'; alts: Item[][] }
export interface TokenItem { kind: 'token'; id?: number; text?: string; negate: boolean; at: number }
export interface RepeatItem { kind: 'repeat'; item: Item; min: number; max: number /* Infinity: unbounded */ }
/** a literal string: a sequence of single code points */
export interface LiteralItem { kind: 'literal'; codePoints: number[] }
export type Item = CharsItem | RefItem | GroupItem | TokenItem | RepeatItem | LiteralItem;

export interface GbnfRule { name: string; alts: Item[][]; at: number }

/** Largest count a {m,n} repetition may name (llama.cpp's MAX_REPETITION_THRESHOLD). */
export const MAX_REPETITION = 2000;

const isWord = (c: string | undefined) => c !== undefined && /[a-zA-Z0-9-]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** Parses GBNF text into rules, in the order they are defined (a name defined twice: the later wins, as in llama.cpp). */
export function parseGbnf(src: string): GbnfRule[] {
  if (typeof src !== 'string') throw new TypeError(`grammar: Expected a GBNF string for grammar but received ${typeof src}`);
  let pos = 0;
  const err = (msg: string, at = pos): never => { throw new GrammarError(msg, src, at); };
  const peek = (k = 0) => src[pos + k] as string | undefined;

  const space = (newlineOk: boolean) => {
    for (;;) {
      const c = src[pos];
      if (c === ' ' || c === '\t') pos++;
      else if (c === '#') { while (pos < src.length && src[pos] !== '\n' && src[pos] !== '\r') pos++; }
      else if (newlineOk && (c === '\n' || c === '\r')) pos++;
      else return;
    }
  };
  const name = (): string => {
    const start = pos;
    while (isWord(src[pos])) pos++;
    if (pos === start) err(`expected a rule name, found ${describeChar(src[pos])}`);
    return src.slice(start, pos);
  };
  const int = (): number => {
    const start = pos;
    while (isDigit(src[pos])) pos++;
    if (pos === start) err(`expected an integer, found ${describeChar(src[pos])}`);
    const v = Number(src.slice(start, pos));
    return v;
  };
  const hex = (n: number): number => {
    const start = pos;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = src[pos];
      if (c === undefined || !/[0-9a-fA-F]/.test(c)) err(`expected ${n} hex digits after \\${src[start - 1]}`, start - 2);
      v = v * 16 + parseInt(c, 16);
      pos++;
    }
    if (v > 0x10ffff) err(`code point U+${v.toString(16).toUpperCase()} is beyond U+10FFFF`, start - 2);
    return v;
  };
  // one character of a literal or class, escapes decoded
  const char = (): number => {
    const c = src[pos];
    if (c === undefined) err('unexpected end of input');
    if (c === '\\') {
      const e = src[pos + 1];
      pos += 2;
      switch (e) {
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        case 't': return 9;
        case 'r': return 13;
        case 'n': return 10;
        case '\\': case '"': case '[': case ']': case '-': return e.charCodeAt(0);
        default: return err(`unknown escape ${e === undefined ? '\\ at the end' : '\\' + e}`, pos - 2);
      }
    }
    const cp = src.codePointAt(pos)!;
    pos += cp > 0xffff ? 2 : 1;
    return cp;
  };
  const token = (negate: boolean): TokenItem => {
    const at = pos;
    pos++; // '<'
    if (src[pos] === '[') {
      pos++;
      const id = int();
      if (src[pos] !== ']') err(`expected ']' in a token reference, found ${describeChar(src[pos])}`);
      pos++;
      if (src[pos] !== '>') err(`expected '>' after a token reference, found ${describeChar(src[pos])}`);
      pos++;
      if (!Number.isSafeInteger(id)) err(`token id ${id} is too large`, at);
      return { kind: 'token', id, negate, at };
    }
    const start = pos;
    while (pos < src.length && src[pos] !== '>') pos++;
    if (src[pos] !== '>') err("expected '>' to end the token reference", at);
    const text = src.slice(start - 1, pos + 1);
    pos++;
    return { kind: 'token', text, negate, at };
  };

  const alternates = (nested: boolean): Item[][] => {
    const alts = [sequence(nested)];
    while (src[pos] === '|') {
      pos++;
      space(true);
      alts.push(sequence(nested));
    }
    return alts;
  };

  const sequence = (nested: boolean): Item[] => {
    const items: Item[] = [];
    // the item a repetition applies to; llama.cpp applies it to the last item (the last
    // character of a literal is part of the literal item, so "ab"* repeats "ab")
    let last: Item | undefined;
    const repeat = (min: number, max: number, at: number) => {
      if (!last) err(`expected an item before '${src[at]}'`, at);
      items.pop();
      last = { kind: 'repeat', item: last!, min, max };
      items.push(last);
    };
    for (;;) {
      const c = peek();
      const at = pos;
      if (c === '"') {
        pos++;
        const cps: number[] = [];
        while (src[pos] !== '"') {
          if (pos >= src.length) err('unterminated string literal', at);
          cps.push(char());
        }
        pos++;
        last = { kind: 'literal', codePoints: cps };
        items.push(last);
        space(nested);
      } else if (c === '[') {
        pos++;
        let negate = false;
        if (src[pos] === '^') { negate = true; pos++; }
        const ranges: [number, number][] = [];
        while (src[pos] !== ']') {
          if (pos >= src.length) err('unterminated character class', at);
          const lo = char();
          if (src[pos] === '-' && src[pos + 1] !== ']' && pos + 1 < src.length) {
            pos++;
            const hiAt = pos;
            const hi = char();
            if (hi < lo) err(`character range is out of order (U+${lo.toString(16)} > U+${hi.toString(16)})`, hiAt);
            ranges.push([lo, hi]);
          } else {
            ranges.push([lo, lo]);
          }
        }
        pos++;
        last = { kind: 'chars', ranges, negate };
        items.push(last);
        space(nested);
      } else if (c === '<' || (c === '!' && peek(1) === '<')) {
        const negate = c === '!';
        if (negate) pos++;
        last = token(negate);
        items.push(last);
        space(nested);
      } else if (c === '!') {
        err("expected '<' after '!' (a negated token reference)", at + 1);
      } else if (isWord(c)) {
        last = { kind: 'ref', name: name(), at };
        items.push(last);
        space(nested);
      } else if (c === '(') {
        pos++;
        space(true);
        const alts = alternates(true);
        if (src[pos] !== ')') err(`expected ')' to close the group opened at offset ${at}, found ${describeChar(src[pos])}`);
        pos++;
        last = { kind: 'group', alts };
        items.push(last);
        space(nested);
      } else if (c === '.') {
        pos++;
        last = { kind: 'chars', ranges: [[0, 0x10ffff]], negate: false };
        items.push(last);
        space(nested);
      } else if (c === '*' || c === '+' || c === '?') {
        pos++;
        space(nested);
        repeat(c === '+' ? 1 : 0, c === '?' ? 1 : Infinity, at);
      } else if (c === '{') {
        pos++;
        space(nested);
        if (!isDigit(src[pos])) err(`expected an integer after '{', found ${describeChar(src[pos])}`);
        const min = int();
        space(nested);
        let max = min;
        if (src[pos] === ',') {
          pos++;
          space(nested);
          max = isDigit(src[pos]) ? int() : Infinity;
          space(nested);
        }
        if (src[pos] !== '}') err(`expected '}' or ',' in a repetition, found ${describeChar(src[pos])}`);
        pos++;
        space(nested);
        if (min > MAX_REPETITION) err(`repetition count ${min} exceeds ${MAX_REPETITION}`, at);
        if (max !== Infinity && max > MAX_REPETITION) err(`repetition count ${max} exceeds ${MAX_REPETITION}`, at);
        if (max < min) err(`repetition {${min},${max}} has max < min`, at);
        repeat(min, max, at);
      } else {
        return items;
      }
    }
  };

  const rules: GbnfRule[] = [];
  space(true);
  while (pos < src.length) {
    const at = pos;
    const n = name();
    space(false);
    if (!src.startsWith('::=', pos)) err(`expected '::=' after the rule name '${n}', found ${describeChar(src[pos])}`);
    pos += 3;
    space(true);
    const alts = alternates(false);
    const c = src[pos];
    if (c === '\r') pos += src[pos + 1] === '\n' ? 2 : 1;
    else if (c === '\n') pos++;
    else if (c !== undefined) err(`expected a newline or the end after rule '${n}', found ${describeChar(c)}`);
    rules.push({ name: n, alts, at });
    space(true);
  }
  if (rules.length === 0) throw new GrammarError('the grammar defines no rules (expected at least `root ::= ...`)');
  return rules;
}

function describeChar(c: string | undefined): string {
  if (c === undefined) return 'the end of input';
  if (c === '\n') return 'a newline';
  if (c === '\r') return 'a carriage return';
  return `'${c}'`;
}
