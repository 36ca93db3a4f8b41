// A parsed GBNF grammar compiled to a flat program the matcher runs:
//   every rule is a list of alternatives; every alternative a run of elements in one array,
//   ended by END. Groups become rules of their own; S{m,n} becomes m copies of S, then a chain
//   of n-m optional rules (S* and S+ a right-recursive rule), as llama.cpp rewrites them.
// Checked at compile time: every referenced rule is defined, `root` exists, no rule is left
// recursive (directly, or through rules that may be empty: the matcher expands the leftmost
// element, so left recursion would never end), and root derives at least one finite string.
import { GbnfRule, GrammarError, Item, parseGbnf } from './gbnf';

export const enum El { END = 0, REF = 1, CHARS = 2, TOKEN = 3, TOKEN_NOT = 4 }

/** A set of code points: sorted, disjoint, non-adjacent inclusive ranges [lo0, hi0, lo1, hi1, ...]. */
export class CharSet {
  readonly ranges: Uint32Array;
  /** bit c set when ASCII c is in the set */
  private readonly ascii = new Uint32Array(4);
  constructor(ranges: [number, number][], negate: boolean) {
    const sorted = ranges.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const r of sorted) {
      const m = merged[merged.length - 1];
      if (m && r[0] <= m[1] + 1) m[1] = Math.max(m[1], r[1]);
      else merged.push(r);
    }
    let out = merged;
    if (negate) {
      out = [];
      let next = 0;
      for (const [a, b] of merged) { if (a > next) out.push([next, a - 1]); next = b + 1; }
      if (next <= 0x10ffff) out.push([next, 0x10ffff]);
    }
    this.ranges = Uint32Array.from(out.flat());
    for (let c = 0; c < 128; c++) if (this.search(c)) this.ascii[c >> 5] |= 1 << (c & 31);
  }
  private search(c: number): boolean {
    const r = this.ranges;
    let lo = 0, hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c < r[2 * mid]) hi = mid - 1;
      else if (c > r[2 * mid + 1]) lo = mid + 1;
      else return true;
    }
    return false;
  }
  has(c: number): boolean { return c < 128 ? (this.ascii[c >> 5] & (1 << (c & 31))) !== 0 : this.search(c); }
  /** true when some code point in [lo, hi] is in the set */
  intersects(lo: number, hi: number): boolean {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) if (r[i] <= hi && r[i + 1] >= lo) return true;
    return false;
  }
}

/** Resolves `<text>` token references (needs the vocabulary the grammar will run on). */
export type TokenResolver = (text: string) => number;

export interface CompileOptions {
  /** the start rule (default 'root') */
  root?: string;
  /** resolves `<text>` token references to an id; without it they are an error */
  resolveToken?: TokenResolver;
}

export interface Program {
  /** element kinds, one per element */
  kind: Uint8Array;
  /** REF: rule index; CHARS: charset index; TOKEN / TOKEN_NOT: token id */
  value: Int32Array;
  charsets: CharSet[];
  /** start offsets of each rule's alternatives */
  alts: Int32Array[];
  ruleNames: string[];
  root: number;
}

/** Parses and compiles GBNF text. */
export function compileGbnf(src: string, opts: CompileOptions = {}): Program {
  return compileRules(parseGbnf(src), src, opts);
}

export function compileRules(parsed: GbnfRule[], src: string | undefined, opts: CompileOptions = {}): Program {
  const rootName = opts.root ?? 'root';
  const ids = new Map<string, number>();
  const names: string[] = [];
  const defined: (GbnfRule | undefined)[] = [];
  for (const r of parsed) {
    if (!ids.has(r.name)) { ids.set(r.name, names.length); names.push(r.name); }
    defined[ids.get(r.name)!] = r;
  }
  if (!ids.has(rootName)) throw new GrammarError(`the grammar has no '${rootName}' rule (the start rule)`);
  // rule bodies: arrays of alternatives of flat elements [kind, value]
  const bodies: [El, number][][][] = names.map(() => []);
  const charsets: CharSet[] = [];
  const csKey = new Map<string, number>();
  const charset = (ranges: [number, number][], negate: boolean): number => {
    const cs = new CharSet(ranges, negate);
    const k = cs.ranges.join(',');
    let i = csKey.get(k);
    if (i === undefined) { i = charsets.length; charsets.push(cs); csKey.set(k, i); }
    return i;
  };
  let elements = 0;
  const budget = () => {
    if (++elements > 2_000_000) throw new GrammarError('the grammar expands to more than 2,000,000 elements (reduce the repetition counts)');
  };
  const newRule = (base: string): number => {
    const id = names.length;
    names.push(`${base}_${id}`);
    bodies.push([]);
    return id;
  };
  const refOf = (name: string, at: number): number => {
    const id = ids.get(name);
    if (id === undefined || !defined[id]) throw new GrammarError(`undefined rule '${name}'`, src, at);
    return id;
  };
  // appends item's elements to seq
  const emit = (item: Item, seq: [El, number][], base: string): void => {
    switch (item.kind) {
      case 'literal':
        for (const c of item.codePoints) { budget(); seq.push([El.CHARS, charset([[c, c]], false)]); }
        return;
      case 'chars':
        budget();
        seq.push([El.CHARS, charset(item.ranges, item.negate)]);
        return;
      case 'ref':
        budget();
        seq.push([El.REF, refOf(item.name, item.at)]);
        return;
      case 'token': {
        let id = item.id;
        if (id === undefined) {
          if (!opts.resolveToken) throw new GrammarError(`token reference ${item.text} needs a vocabulary (give the tokenizer)`, src, item.at);
          try {
            id = opts.resolveToken(item.text!);
          } catch (e) {
            throw new GrammarError(`token reference ${item.text}: ${(e as Error).message}`, src, item.at);
          }
        }
        budget();
        seq.push([item.negate ? El.TOKEN_NOT : El.TOKEN, id]);
        return;
      }
      case 'group': {
        // a group of one alternative is spliced in place; otherwise it becomes a rule
        if (item.alts.length === 1) { for (const it of item.alts[0]) emit(it, seq, base); return; }
        const id = newRule(base);
        bodies[id] = item.alts.map((alt) => { const s: [El, number][] = []; for (const it of alt) emit(it, s, base); return s; });
        budget();
        seq.push([El.REF, id]);
        return;
      }
      case 'repeat': {
        const { min, max } = item;
        // S as a sequence of elements once; repeated by copying it
        const one: [El, number][] = [];
        emit(item.item, one, base);
        for (let i = 0; i < min; i++) for (const e of one) { budget(); seq.push(e); }
        if (max === Infinity) {
          // star ::= S star | ""
          const star = newRule(base);
          bodies[star] = [[...one, [El.REF, star]], []];
          budget();
          seq.push([El.REF, star]);
        } else if (max > min) {
          // opt_k ::= S opt_{k-1} | "" ; opt_1 ::= S | ""
          let prev = -1;
          for (let k = 1; k <= max - min; k++) {
            const r = newRule(base);
            bodies[r] = [prev < 0 ? [...one] : [...one, [El.REF, prev]], []];
            elements += one.length + 1;
            if (elements > 2_000_000) budget();
            prev = r;
          }
          budget();
          seq.push([El.REF, prev]);
        }
        return;
      }
    }
  };
  for (let i = 0; i < parsed.length; i++) {
    const r = parsed[i];
    const id = ids.get(r.name)!;
    if (defined[id] !== r) continue;
    bodies[id] = r.alts.map((alt) => { const s: [El, number][] = []; for (const it of alt) emit(it, s, r.name); return s; });
  }
  const root = ids.get(rootName)!;
  checkLeftRecursion(bodies, names);
  checkProductive(bodies, names, root);
  // flatten
  let total = 0;
  for (const b of bodies) for (const a of b) total += a.length + 1;
  const kind = new Uint8Array(total), value = new Int32Array(total);
  const alts: Int32Array[] = [];
  let p = 0;
  for (const b of bodies) {
    const starts = new Int32Array(b.length);
    b.forEach((a, j) => {
      starts[j] = p;
      for (const [k, v] of a) { kind[p] = k; value[p] = v; p++; }
      kind[p] = El.END; p++;
    });
    alts.push(starts);
  }
  return { kind, value, charsets, alts, ruleNames: names, root };
}

/** Which rules can derive the empty string (a fixed point). */
function nullableRules(bodies: [El, number][][][]): boolean[] {
  const nullable = bodies.map(() => false);
  for (let changed = true; changed;) {
    changed = false;
    bodies.forEach((b, r) => {
      if (nullable[r]) return;
      if (b.some((a) => a.every(([k, v]) => k === El.REF && nullable[v]))) { nullable[r] = true; changed = true; }
    });
  }
  return nullable;
}

function checkLeftRecursion(bodies: [El, number][][][], names: string[]): void {
  const nullable = nullableRules(bodies);
  // left-corner edges: r -> s when s can be expanded at r's start
  const edges = bodies.map((b) => {
    const out = new Set<number>();
    for (const a of b) for (const [k, v] of a) {
      if (k !== El.REF) break;
      out.add(v);
      if (!nullable[v]) break;
    }
    return [...out];
  });
  const state = new Uint8Array(bodies.length); // 0 new, 1 on the path, 2 done
  const path: number[] = [];
  // iterative DFS (deep chains of generated repetition rules would overflow the JS stack)
  for (let s = 0; s < bodies.length; s++) {
    if (state[s]) continue;
    const stack: [number, number][] = [[s, 0]];
    state[s] = 1; path.push(s);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [r, i] = top;
      if (i < edges[r].length) {
        top[1]++;
        const t = edges[r][i];
        if (state[t] === 1) {
          const cycle = path.slice(path.indexOf(t)).concat(t).map((x) => displayName(names[x]));
          throw new GrammarError(`left recursion (the matcher cannot expand it): ${cycle.join(' -> ')}`);
        }
        if (state[t] === 0) { state[t] = 1; path.push(t); stack.push([t, 0]); }
      } else {
        state[r] = 2; path.pop(); stack.pop();
      }
    }
  }
}

function checkProductive(bodies: [El, number][][][], names: string[], root: number): void {
  const ok = bodies.map(() => false);
  for (let changed = true; changed;) {
    changed = false;
    bodies.forEach((b, r) => {
      if (ok[r]) return;
      if (b.some((a) => a.every(([k, v]) => k !== El.REF || ok[v]))) { ok[r] = true; changed = true; }
    });
  }
  if (!ok[root]) throw new GrammarError(`rule '${names[root]}' derives no finite string (every alternative recurses forever)`);
}

/** names of generated rules read as "rule (group/repetition)" in messages */
function displayName(n: string): string {
  const m = /^(.*)_(\d+)$/.exec(n);
  return m ? `${m[1]} (a group or repetition in it)` : n;
}
