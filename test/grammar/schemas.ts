// Random JSON Schemas for the property tests: nesting, optional and required properties,
// enums, const, arrays with item bounds, anyOf, oneOf over distinct types, $ref to $defs
// (recursive too), allOf of mergeable objects, integer and number ranges, string lengths,
// formats and patterns, type arrays with null. `bounded` keeps every document finite and
// short (strings, arrays and recursion bounded), for generation with a model.
import { rng } from '../helpers';

export const PATTERNS = ['^[a-z]{1,4}$', '^[A-Z][a-z0-9_]{0,3}$', '^\\d{3}-\\d{2}$', '^(ab|cd)+x?$', '^[^a-z"]{2}$', '^a.c$', '^\\w\\s\\w$', 'ok', '^(?:yes|no)$', '^[0-9a-f]{2,3}$'];
const FORMATS = ['date', 'time', 'date-time', 'uuid', 'email', 'ipv4'];

export function randomSchema(seed: number, bounded: boolean): Record<string, unknown> {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const defs: Record<string, unknown> = {};
  let nDefs = 0;
  const prim = (): unknown => pick([() => int(-50, 50), () => pick(['a', 'b c', 'é', '"q"', '']), () => null, () => r() < 0.5, () => int(-9, 9) / 4])();
  const gen = (depth: number): Record<string, unknown> => {
    const leaf = depth >= (bounded ? 3 : 4);
    const k = r();
    if (leaf || k < 0.3) {
      switch (int(0, 8)) {
        case 0: {
          const s: Record<string, unknown> = { type: 'integer' };
          if (r() < 0.5) s.minimum = int(-300, 300);
          if (r() < 0.5) s.maximum = (s.minimum as number ?? -300) + int(0, 2000);
          if (r() < 0.2) { delete s.minimum; s.exclusiveMinimum = int(-20, 20); }
          return s;
        }
        case 1: {
          const s: Record<string, unknown> = { type: 'number' };
          if (r() < 0.6) s.minimum = int(-100, 100);
          if (r() < 0.6) s.maximum = (s.minimum as number ?? -100) + int(0, 300);
          return s;
        }
        case 2: {
          const s: Record<string, unknown> = { type: 'string' };
          if (r() < 0.5 || bounded) s.maxLength = int(0, bounded ? 6 : 12);
          if (r() < 0.5) s.minLength = int(0, (s.maxLength as number) ?? 5);
          return s;
        }
        case 3: return { type: 'string', format: pick(FORMATS) };
        case 4: return { type: 'string', pattern: pick(bounded ? PATTERNS.filter((p) => /^\^[^*+]*\$$/.test(p)) : PATTERNS) };
        case 5: return { enum: Array.from({ length: int(1, 4) }, prim).filter((v, i, a) => a.findIndex((x) => JSON.stringify(x) === JSON.stringify(v)) === i) };
        case 6: return { const: prim() };
        case 7: return { type: pick(['boolean', 'null']) };
        default: return { type: [pick(['integer', 'boolean']), 'null'] };
      }
    }
    if (k < 0.6) {
      const n = int(0, 4);
      const props: Record<string, unknown> = {};
      const required: string[] = [];
      for (let i = 0; i < n; i++) {
        const name = pick(['id', 'name', 'tags', 'x', 'value', 'a b', 'é', 'k' + i]);
        if (name in props) continue;
        props[name] = gen(depth + 1);
        if (r() < 0.5) required.push(name);
      }
      const s: Record<string, unknown> = { type: 'object', properties: props };
      if (required.length) s.required = required;
      if (!bounded && r() < 0.2) s.additionalProperties = r() < 0.5 ? true : { type: 'integer' };
      else if (r() < 0.5) s.additionalProperties = false;
      return s;
    }
    if (k < 0.75) {
      const s: Record<string, unknown> = { type: 'array', items: gen(depth + 1) };
      if (r() < 0.5) s.minItems = int(0, 2);
      if (r() < 0.6 || bounded) s.maxItems = ((s.minItems as number) ?? 0) + int(0, 3);
      return s;
    }
    if (k < 0.83) return { anyOf: [gen(depth + 1), gen(depth + 1)] };
    if (k < 0.88) {
      const [a, b] = [pick(['string', 'integer', 'boolean']), pick(['null', 'array', 'object'])];
      const side = (t: string) => (t === 'array' ? { type: 'array', items: { type: 'integer' }, maxItems: 2 } : t === 'string' ? { type: 'string', maxLength: 4 } : { type: t });
      return { oneOf: [side(a), side(b)] };
    }
    if (k < 0.94) {
      const name = `d${nDefs++}`;
      defs[name] = gen(depth + 1);
      return { $ref: `#/$defs/${name}` };
    }
    if (k < 0.97 && !bounded) {
      // a recursive definition: a tree of bounded fan-out (finite documents exist)
      const name = `tree${nDefs++}`;
      defs[name] = { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: `#/$defs/${name}` }, maxItems: 2 } }, required: ['v'] };
      return { $ref: `#/$defs/${name}` };
    }
    return {
      allOf: [
        { type: 'object', properties: { p: gen(depth + 1) }, required: ['p'] },
        { properties: { q: { type: 'boolean' } } },
      ],
    };
  };
  const s = gen(0);
  if (nDefs) s.$defs = defs;
  return s;
}

/** random JSON values of any shape (mostly invalid for a given schema) */
export function randomJson(seed: number): unknown {
  const r = rng(seed);
  const go = (d: number): unknown => {
    const k = Math.floor(r() * (d > 2 ? 5 : 7));
    switch (k) {
      case 0: return null;
      case 1: return r() < 0.5;
      case 2: return Math.floor(r() * 2000) - 1000;
      case 3: return (Math.floor(r() * 2000) - 1000) / 8;
      case 4: return ['', 'a', 'abc', '2024-02-03', 'x@y.zz', '12-34', 'é"\\'][Math.floor(r() * 7)];
      case 5: return Array.from({ length: Math.floor(r() * 4) }, () => go(d + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (const key of ['id', 'name', 'x', 'value', 'p', 'q'].filter(() => r() < 0.4)) o[key] = go(d + 1);
        return o;
      }
    }
  };
  return go(0);
}
