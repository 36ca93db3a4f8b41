// An independent recogniser for GBNF grammars: an Earley parser over code points, built from
// the parser's syntax tree (it shares parseGbnf, none of the compiler or the matcher), and a
// random sampler of strings the grammar derives. The oracle the matcher is checked against.
import { GbnfRule, Item } from '../../lib/grammar/gbnf';
import { rng } from '../helpers';

type Sym = { nt: number } | { test: (c: number) => boolean; pick: (r: () => number) => number };
interface Prod { lhs: number; rhs: Sym[] }

export class EarleyGrammar {
  readonly prods: Prod[] = [];
  readonly byLhs: number[][] = [];
  private names = new Map<string, number>();
  private n = 0;
  readonly root: number;
  readonly nullable: boolean[];
  /** shortest derivation length per nonterminal */
  readonly minLen: number[];

  constructor(rules: GbnfRule[], root = 'root') {
    for (const r of rules) if (!this.names.has(r.name)) this.names.set(r.name, this.n++);
    for (const r of rules) {
      const lhs = this.names.get(r.name)!;
      this.byLhs[lhs] = []; // a later definition replaces an earlier one
    }
    const defined = new Map<string, GbnfRule>();
    for (const r of rules) defined.set(r.name, r);
    for (const [name, r] of defined) { const lhs = this.names.get(name)!; for (const a of r.alts) this.add(lhs, a.flatMap((it) => this.sym(it))); }
    this.root = this.names.get(root)!;
    for (let i = 0; i < this.n; i++) this.byLhs[i] ??= [];
    this.nullable = new Array(this.n).fill(false);
    this.minLen = new Array(this.n).fill(Infinity);
    for (let changed = true; changed;) {
      changed = false;
      for (const p of this.prods) {
        let len = 0;
        for (const s of p.rhs) len += 'nt' in s ? this.minLen[s.nt] : 1;
        if (len < this.minLen[p.lhs]) { this.minLen[p.lhs] = len; changed = true; }
        if (!this.nullable[p.lhs] && p.rhs.every((s) => 'nt' in s && this.nullable[s.nt])) { this.nullable[p.lhs] = true; changed = true; }
      }
    }
  }

  private fresh(): number { this.byLhs[this.n] = []; return this.n++; }
  private add(lhs: number, rhs: Sym[]): void { this.byLhs[lhs].push(this.prods.length); this.prods.push({ lhs, rhs }); }

  private sym(it: Item): Sym[] {
    switch (it.kind) {
      case 'literal': return it.codePoints.map((c) => ({ test: (x: number) => x === c, pick: () => c }));
      case 'chars': {
        const inR = (x: number) => it.ranges.some(([a, b]) => x >= a && x <= b);
        const test = it.negate ? (x: number) => !inR(x) : inR;
        const pick = (r: () => number) => {
          if (!it.negate) { const [a, b] = it.ranges[Math.floor(r() * it.ranges.length)]; return a + Math.floor(r() * (b - a + 1)); }
          for (;;) { const x = r() < 0.8 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0x3000); if (test(x) && !(x >= 0xd800 && x <= 0xdfff)) return x; }
        };
        return [{ test, pick }];
      }
      case 'ref': return [{ nt: this.names.get(it.name)! }];
      case 'group': { const g = this.fresh(); for (const a of it.alts) this.add(g, a.flatMap((x) => this.sym(x))); return [{ nt: g }]; }
      case 'repeat': {
        const one = this.sym(it.item);
        const r = this.fresh();
        if (it.max === Infinity) {
          const t = this.fresh();
          this.add(t, [...one, { nt: t }]);
          this.add(t, []);
          this.add(r, [...Array.from({ length: it.min }, () => one).flat(), { nt: t }]);
        } else {
          for (let k = it.min; k <= it.max; k++) this.add(r, Array.from({ length: k }, () => one).flat());
        }
        return [{ nt: r }];
      }
      case 'token': throw new Error('the reference recogniser has no tokens');
    }
  }

  /** true when the whole string derives from root */
  recognizes(text: string): boolean { return this.run(text).whole; }

  /** true when the string is a prefix of some string root derives */
  viablePrefix(text: string): boolean { return this.run(text).alive; }

  private run(text: string): { whole: boolean; alive: boolean } {
    const cps = Array.from(text, (c) => c.codePointAt(0)!);
    type It = [number, number, number]; // prod, dot, origin
    const chart: It[][] = [];
    const seen: Set<string>[] = [];
    const push = (i: number, it: It) => {
      const k = it.join(',');
      if (seen[i].has(k)) return;
      seen[i].add(k);
      chart[i].push(it);
    };
    for (let i = 0; i <= cps.length; i++) { chart.push([]); seen.push(new Set()); }
    for (const p of this.byLhs[this.root]) push(0, [p, 0, 0]);
    for (let i = 0; i <= cps.length; i++) {
      for (let j = 0; j < chart[i].length; j++) {
        const [p, dot, origin] = chart[i][j];
        const rhs = this.prods[p].rhs;
        if (dot === rhs.length) {
          const lhs = this.prods[p].lhs;
          for (const [q, d2, o2] of chart[origin]) {
            const s = this.prods[q].rhs[d2];
            if (s && 'nt' in s && s.nt === lhs) push(i, [q, d2 + 1, o2]);
          }
          continue;
        }
        const s = rhs[dot];
        if ('nt' in s) {
          for (const q of this.byLhs[s.nt]) push(i, [q, 0, i]);
          if (this.nullable[s.nt]) push(i, [p, dot + 1, origin]);
        } else if (i < cps.length && s.test(cps[i])) {
          push(i + 1, [p, dot + 1, origin]);
        }
      }
    }
    return {
      whole: chart[cps.length].some(([p, dot, o]) => o === 0 && this.prods[p].lhs === this.root && dot === this.prods[p].rhs.length),
      alive: chart[cps.length].length > 0,
    };
  }

  /** a random string the grammar derives; past `depth` it takes the shortest alternatives */
  sample(seed: number, depth = 12): string {
    const r = rng(seed);
    const out: number[] = [];
    const go = (nt: number, d: number) => {
      const ps = this.byLhs[nt];
      let p: number;
      if (d > depth) {
        p = ps[0];
        let best = Infinity;
        for (const q of ps) {
          let len = 0;
          for (const s of this.prods[q].rhs) len += 'nt' in s ? this.minLen[s.nt] : 1;
          if (len < best) { best = len; p = q; }
        }
      } else {
        const finite = ps.filter((q) => this.prods[q].rhs.every((s) => !('nt' in s) || this.minLen[s.nt] < Infinity));
        p = finite[Math.floor(r() * finite.length)];
      }
      for (const s of this.prods[p].rhs) {
        if ('nt' in s) go(s.nt, d + 1);
        else out.push(s.pick(r));
      }
    };
    go(this.root, 0);
    return String.fromCodePoint(...out);
  }
}
