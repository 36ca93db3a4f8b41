// The grammar matcher: a set of stacks of rule positions, advanced over bytes.
//   A stack is a persistent linked list of positions (the element to match, then where to go
//   on when its rule ends), interned, so equal stacks are one object. A state is the set of
//   stacks whose top is a terminal (a character class or a token reference) after every rule
//   reference at the top was expanded (the closure), plus whether an empty stack was reached
//   (the input may end here), plus the bits of a code point whose UTF-8 bytes have not all
//   arrived. States are interned too, and each remembers its transition per byte, so the
//   matcher is a DFA built lazily: a byte already seen from a state costs one array lookup.
//   That is what makes the vocabulary walk (vocab.ts) cheap.
// A reference to a rule whose next element is the end of the alternative does not push a
// return position (a tail call), so `x*` runs in constant stack depth, as in llama.cpp.
import { CompileOptions, El, Program, compileGbnf } from './compile';
import { GrammarError } from './gbnf';
import { checkOptionKeys, fail } from '../check';

export class StackNode {
  constructor(readonly pos: number, readonly parent: StackNode | null, readonly id: number) {}
}

export class GrammarState {
  /** transitions by byte: the next state, null (rejected), undefined (not computed yet) */
  trans: (GrammarState | null | undefined)[] | undefined;
  /** the allowed-token mask, cached for the vocabulary `maskOf` */
  mask: Uint32Array | undefined;
  maskOf: object | undefined;
  constructor(
    /** stacks whose top is a CHARS element */
    readonly chars: readonly StackNode[],
    /** stacks whose top is a TOKEN / TOKEN_NOT element (only at a code point boundary) */
    readonly tokens: readonly StackNode[],
    /** an empty stack was reached: the input may end here */
    readonly accept: boolean,
    /** partial UTF-8: the code point's bits so far, the bytes still to come, its length */
    readonly cp: number,
    readonly remain: number,
    readonly len: number,
  ) {}
  /** nothing more can be matched: the input must end here */
  get complete(): boolean { return this.accept && this.chars.length === 0 && this.tokens.length === 0; }
}

const MIN_CP = [0, 0, 0x80, 0x800, 0x10000];

export interface GrammarOptions extends CompileOptions {
  /** resolves `<text>` token references with this tokenizer (the text must be exactly one token) */
  tokenizer?: { encode(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): number[] };
}

const GRAMMAR_OPTION_KEYS: readonly (keyof GrammarOptions)[] = ['root', 'resolveToken', 'tokenizer'];

/** A compiled grammar: the program, and the interned stacks and states its matchers share. */
export class Grammar {
  readonly program: Program;
  /** the GBNF text it was compiled from */
  readonly source: string;
  private nodes = new Map<number, StackNode>();
  private states = new Map<string, GrammarState>();
  private nextNode = 0;
  private readonly K: number;
  readonly initial: GrammarState;
  /** states holding a cached mask, oldest first (at most 128) */
  private readonly masked: GrammarState[] = [];

  constructor(source: string, opts: GrammarOptions = {}) {
    if (typeof source !== 'string') throw new TypeError(`grammar: Expected a GBNF string for grammar but received ${source === null ? 'null' : typeof source}`);
    opts = checkOptionKeys(opts, GRAMMAR_OPTION_KEYS, 'opts', 'Grammar');
    const tk = opts.tokenizer;
    const resolveToken = opts.resolveToken ?? (tk ? (text: string) => {
      const ids = tk.encode(text, { addSpecial: false, parseSpecial: true });
      if (ids.length !== 1) throw new Error(`tokenizes to ${ids.length} tokens, expected exactly 1`);
      return ids[0];
    } : undefined);
    this.source = source;
    this.program = compileGbnf(source, { root: opts.root, resolveToken });
    this.K = this.program.kind.length + 1;
    const p = this.program;
    const init = this.closure(Array.from(p.alts[p.root], (s) => this.node(s, null)), 0, 0, 0);
    if (!init) throw new GrammarError('the grammar matches nothing');
    this.initial = init;
  }

  /** Compiles GBNF text (the same as `new Grammar(src, opts)`). */
  static parse(source: string, opts: GrammarOptions = {}): Grammar { return new Grammar(source, opts); }

  /** A matcher at the start of the grammar. */
  matcher(): GrammarMatcher { return new GrammarMatcher(this); }

  private node(pos: number, parent: StackNode | null): StackNode {
    const key = pos + (parent ? parent.id + 1 : 0) * this.K;
    let n = this.nodes.get(key);
    if (!n) {
      n = new StackNode(pos, parent, this.nextNode++);
      this.nodes.set(key, n);
    }
    return n;
  }

  /** where a stack goes after its top element is matched */
  private cont(n: StackNode): StackNode | null {
    return this.program.kind[n.pos + 1] === El.END ? n.parent : this.node(n.pos + 1, n.parent);
  }

  /** The state of the stacks `seeds` with every reference at their tops expanded. */
  private closure(seeds: (StackNode | null)[], cp: number, remain: number, len: number): GrammarState | null {
    const { kind, value, alts } = this.program;
    const seen = new Set<number>();
    const chars: StackNode[] = [], tokens: StackNode[] = [];
    let accept = false;
    const expand = (n: StackNode | null): void => {
      while (n !== null) {
        if (seen.has(n.id)) return;
        seen.add(n.id);
        const k = kind[n.pos];
        if (k === El.END) { n = n.parent; continue; }
        if (k === El.REF) {
          const cont = this.cont(n);
          const starts = alts[value[n.pos]];
          for (let i = 0; i < starts.length; i++) expand(this.node(starts[i], cont));
          return;
        }
        (k === El.CHARS ? chars : tokens).push(n);
        return;
      }
      accept = true;
    };
    for (const s of seeds) expand(s);
    return this.intern(chars, tokens, accept, cp, remain, len);
  }

  private intern(chars: StackNode[], tokens: StackNode[], accept: boolean, cp: number, remain: number, len: number): GrammarState | null {
    if (chars.length === 0 && tokens.length === 0 && !accept) return null;
    chars.sort((a, b) => a.id - b.id);
    tokens.sort((a, b) => a.id - b.id);
    const key = `${chars.map((n) => n.id).join(',')}|${tokens.map((n) => n.id).join(',')}|${accept ? 1 : 0}|${cp},${remain},${len}`;
    let s = this.states.get(key);
    if (!s) {
      if (this.states.size >= 200_000 || this.nodes.size >= 2_000_000) {
        // bound the caches of a very long run: later states are built afresh (same answers)
        this.states.clear();
        this.nodes.clear();
      }
      s = new GrammarState(chars, tokens, accept, cp, remain, len);
      this.states.set(key, s);
    }
    return s;
  }

  /** The state after byte `b` from state `s`, or null when `b` is rejected. */
  step(s: GrammarState, b: number): GrammarState | null {
    let tr = s.trans;
    if (!tr) tr = s.trans = new Array(256);
    let t = tr[b];
    if (t === undefined) tr[b] = t = this.computeStep(s, b);
    return t;
  }

  private computeStep(s: GrammarState, b: number): GrammarState | null {
    if (s.remain === 0) {
      if (b < 0x80) return this.acceptCodePoint(s.chars, b);
      if ((b & 0xe0) === 0xc0) return this.partial(s.chars, b & 0x1f, 1, 2);
      if ((b & 0xf0) === 0xe0) return this.partial(s.chars, b & 0x0f, 2, 3);
      if ((b & 0xf8) === 0xf0) return this.partial(s.chars, b & 0x07, 3, 4);
      return null; // a continuation byte or 0xF8..0xFF where a code point must start
    }
    if ((b & 0xc0) !== 0x80) return null;
    const cp = (s.cp << 6) | (b & 0x3f);
    if (s.remain > 1) return this.partial(s.chars, cp, s.remain - 1, s.len);
    if (cp < MIN_CP[s.len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null; // overlong, beyond Unicode, surrogate
    return this.acceptCodePoint(s.chars, cp);
  }

  /** mid-code-point: keep the stacks some code point with these leading bits could satisfy */
  private partial(chars: readonly StackNode[], cp: number, remain: number, len: number): GrammarState | null {
    // the code points these bits can still become, without overlong forms or beyond U+10FFFF
    const lo = Math.max(cp * 2 ** (6 * remain), MIN_CP[len]), hi = Math.min(cp * 2 ** (6 * remain) + 2 ** (6 * remain) - 1, 0x10ffff);
    if (lo > hi) return null;
    const { value, charsets } = this.program;
    // surrogates are no code point UTF-8 can carry: a range of only those would never complete
    const s1 = Math.min(hi, 0xd7ff), s2 = Math.max(lo, 0xe000);
    const keep = chars.filter((n) => {
      const cs = charsets[value[n.pos]];
      return (lo <= s1 && cs.intersects(lo, s1)) || (s2 <= hi && cs.intersects(s2, hi));
    });
    if (keep.length === 0) return null;
    return this.intern(keep, [], false, cp, remain, len);
  }

  private acceptCodePoint(chars: readonly StackNode[], c: number): GrammarState | null {
    const { value, charsets } = this.program;
    const seeds: (StackNode | null)[] = [];
    for (const n of chars) if (charsets[value[n.pos]].has(c)) seeds.push(this.cont(n));
    if (seeds.length === 0) return null;
    return this.closure(seeds, 0, 0, 0);
  }

  /** The state after the bytes, or null when rejected. */
  stepBytes(s: GrammarState | null, bytes: Uint8Array): GrammarState | null {
    for (let i = 0; i < bytes.length && s; i++) s = this.step(s, bytes[i]);
    return s;
  }

  /**
   * The state after a whole token: its bytes through the character stacks, united with the
   * token-reference stacks it satisfies (at a code point boundary only). `bytes` null: a
   * token with no text (a control token), which only token references can match.
   */
  stepToken(s: GrammarState, id: number, bytes: Uint8Array | null): GrammarState | null {
    const byText = bytes && bytes.length > 0 ? this.stepBytes(s, bytes) : null;
    if (s.tokens.length === 0 || s.remain !== 0) return byText;
    const { kind, value } = this.program;
    const seeds: (StackNode | null)[] = [];
    for (const n of s.tokens) if ((kind[n.pos] === El.TOKEN) === (value[n.pos] === id)) seeds.push(this.cont(n));
    if (seeds.length === 0) return byText;
    // a text path ending mid-code-point cannot be united with a boundary state: the reference wins
    if (byText && byText.remain === 0) {
      for (const n of byText.chars) seeds.push(n);
      for (const n of byText.tokens) seeds.push(n);
      if (byText.accept) seeds.push(null);
    }
    return this.closure(seeds, 0, 0, 0);
  }

  /** Drops every cached allowed-token mask (the DFA's transitions stay): for measuring the walk. */
  clearMaskCache(): void {
    for (const s of this.masked) { s.mask = undefined; s.maskOf = undefined; }
    this.masked.length = 0;
  }

  /** @internal the mask cache: remembers `m` for state `s` and vocabulary `of` (the oldest of 128 is dropped) */
  cacheMask(s: GrammarState, of: object, m: Uint32Array): void {
    if (s.mask === undefined) {
      this.masked.push(s);
      if (this.masked.length > 128) { const old = this.masked.shift()!; old.mask = undefined; old.maskOf = undefined; }
    }
    s.mask = m;
    s.maskOf = of;
  }
}

/** Where a matcher stands: advance it over bytes, strings or tokens. */
export class GrammarMatcher {
  readonly grammar: Grammar;
  private s: GrammarState;
  private ended = false;

  constructor(grammar: Grammar, state?: GrammarState) {
    if (!(grammar instanceof Grammar)) fail('type', 'grammar', 'a Grammar', grammar, 'GrammarMatcher');
    if (state !== undefined && !(state instanceof GrammarState)) fail('type', 'state', 'a GrammarState', state, 'GrammarMatcher');
    this.grammar = grammar;
    this.s = state ?? grammar.initial;
  }

  get state(): GrammarState { return this.s; }
  /** the input may end here */
  get canEnd(): boolean { return !this.ended && this.s.accept && this.s.remain === 0; }
  /** nothing more can follow: the grammar is complete (or an end-of-generation token was accepted) */
  get complete(): boolean { return this.ended || this.s.complete; }

  /** Advances over `bytes`; false (and no change) when the grammar rejects them. */
  acceptBytes(bytes: Uint8Array): boolean {
    if (!(bytes instanceof Uint8Array)) fail('type', 'bytes', 'a Uint8Array', bytes, 'GrammarMatcher.acceptBytes');
    if (this.ended) return bytes.length === 0;
    const t = this.grammar.stepBytes(this.s, bytes);
    if (!t) return false;
    this.s = t;
    return true;
  }

  /** Advances over the UTF-8 bytes of `text`. */
  acceptString(text: string): boolean {
    if (typeof text !== 'string') fail('type', 'text', 'a string', text, 'GrammarMatcher.acceptString');
    return this.acceptBytes(new TextEncoder().encode(text));
  }

  /**
   * Advances over token `id` of `vocab`: an end-of-generation token only where the input may
   * end (then the matcher is complete), text tokens by their bytes, token references by id.
   */
  acceptToken(id: number, vocab: { isEog(id: number): boolean; bytesOf(id: number): Uint8Array | null }): boolean {
    if (!vocab || typeof vocab.isEog !== 'function' || typeof vocab.bytesOf !== 'function') fail('type', 'vocab', 'a TokenVocab', vocab, 'GrammarMatcher.acceptToken');
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail('range', 'id', 'a token id (integer >= 0)', id, 'GrammarMatcher.acceptToken');
    if (this.ended) return false;
    if (vocab.isEog(id)) {
      if (!this.canEnd) return false;
      this.ended = true;
      return true;
    }
    const t = this.grammar.stepToken(this.s, id, vocab.bytesOf(id));
    if (!t) return false;
    this.s = t;
    return true;
  }

  clone(): GrammarMatcher {
    const m = new GrammarMatcher(this.grammar, this.s);
    m.ended = this.ended;
    return m;
  }
}
