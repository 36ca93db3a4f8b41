// JSON Schema to GBNF. The grammar derives only JSON documents the schema accepts (a subset
// of them where the schema allows more than a grammar can say simply: properties in the
// schema's order, no extra properties unless additionalProperties allows them, numbers of at
// most 16 integer and 15 fraction digits, bounded numbers without an exponent). Every keyword
// the grammar cannot enforce is refused with a JsonSchemaError naming it and where it is;
// none is silently ignored. Annotations (title, description, default, examples, ...) are read
// past, as they constrain nothing.
import { GrammarError } from './gbnf';
import { PatternError, gbnfClass, gbnfLiteral, patternToGbnf } from './regex';

export class JsonSchemaError extends GrammarError {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSchemaError';
    this.message = `jsonSchema: ${message}`;
  }
}

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', '$comment', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$defs', 'definitions']);
const HANDLED = new Set(['type', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref', 'properties', 'required', 'additionalProperties', 'items',
  'prefixItems', 'minItems', 'maxItems', 'minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'nullable', 'uniqueItems']);
const TYPES = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'] as const;
type JsonType = typeof TYPES[number];
const FORMATS = ['date', 'time', 'date-time', 'uuid', 'email', 'ipv4'] as const;
/** string formats the grammar enforces exactly as ajv-formats checks them (a subset of the valid strings) */
export const JSON_SCHEMA_FORMATS: readonly string[] = FORMATS;
const MAX_REPEAT = 2000;

// the fixed rules, added when used
const BASE: Record<string, string> = {
  ws: '" "?',
  value: 'object | array | string | number | boolean | null',
  object: '"{" ws ( string ws ":" ws value ( "," ws string ws ":" ws value )* ws )? "}"',
  array: '"[" ws ( value ( "," ws value )* ws )? "]"',
  string: '"\\"" char* "\\""',
  char: '[^"\\\\\\x00-\\x1f] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )',
  // one code point: no \u escape of a surrogate (a pair would be one character in two escapes)
  'char-1': '[^"\\\\\\x00-\\x1f] | "\\\\" ( ["\\\\/bfnrt] | "u" ( [0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )',
  number: '"-"? int ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?',
  integer: '"-"? int',
  int: '"0" | [1-9] [0-9]{0,15}',
  boolean: '"true" | "false"',
  null: '"null"',
  frac: '"." [0-9]{1,15}',
  date: '[0-9]{4} "-" ( ( "01" | "03" | "05" | "07" | "08" | "10" | "12" ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "04" | "06" | "09" | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )',
  time: '( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )',
  'date-time': 'date "T" time',
  uuid: 'hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}',
  hex: '[0-9a-fA-F]',
  email: 'email-atom ( "." email-atom ){0,2} "@" email-label ( "." email-label ){1,3}',
  'email-atom': '[a-z0-9_+-]{1,20}',
  'email-label': '[a-z0-9] ( [a-z0-9-]{0,20} [a-z0-9] )?',
  ipv4: 'octet "." octet "." octet "." octet',
  octet: '"25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9]? [0-9]',
};
const DEPS: Record<string, string[]> = {
  value: ['object', 'array', 'string', 'number', 'boolean', 'null'], object: ['ws', 'string', 'value'], array: ['ws', 'value'],
  string: ['char'], number: ['int'], integer: ['int'], 'date-time': ['date', 'time'], uuid: ['hex'], email: ['email-atom', 'email-label'],
  ipv4: ['octet'],
};

const typeOfValue = (v: unknown): JsonType => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
};

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  return v;
}

/** The integers in [a, b] (0 <= a, b may be Infinity) written without leading zeros. */
function magnitudeRange(a: number, b: number): string {
  if (a > b) throw new Error('empty range');
  const digits = (x: number) => String(x).length;
  const alts: string[] = [];
  if (b === Infinity) {
    const d = digits(a);
    alts.push(magnitudeRange(a, 10 ** d - 1));
    alts.push(`[1-9] [0-9]{${d},15}`);
    return alts.join(' | ');
  }
  for (let len = digits(a); len <= digits(b); len++) {
    const lo = Math.max(a, len === 1 ? 0 : 10 ** (len - 1)), hi = Math.min(b, 10 ** len - 1);
    if (lo <= hi) alts.push(sameLength(String(lo), String(hi)));
  }
  return alts.join(' | ');
}
/** digit strings of one length between lo and hi (inclusive) */
function sameLength(lo: string, hi: string): string {
  const n = lo.length;
  if (n === 0) return '""';
  if (lo === hi) return `"${lo}"`;
  if (n === 1) return `[${lo}-${hi}]`;
  if (lo[0] === hi[0]) return `"${lo[0]}" ( ${sameLength(lo.slice(1), hi.slice(1))} )`;
  const rest = n - 1;
  if (/^0*$/.test(lo.slice(1)) && /^9*$/.test(hi.slice(1))) return `[${lo[0]}-${hi[0]}] [0-9]{${rest}}`;
  const alts = [`"${lo[0]}" ( ${sameLength(lo.slice(1), '9'.repeat(rest))} )`];
  const d0 = Number(lo[0]) + 1, d1 = Number(hi[0]) - 1;
  if (d0 <= d1) alts.push(`[${d0}-${d1}] [0-9]{${rest}}`);
  alts.push(`"${hi[0]}" ( ${sameLength('0'.repeat(rest), hi.slice(1))} )`);
  return alts.join(' | ');
}

const isSchema = (v: unknown) => typeof v === 'boolean' || (v !== null && typeof v === 'object' && !Array.isArray(v));
const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
/** each keyword's value has the kind the keyword takes */
function checkShapes(s: Record<string, unknown>, at: string): void {
  const bad = (k: string, what: string) => { throw new JsonSchemaError(`expected ${what} for ${k} at ${at} but received ${JSON.stringify(s[k])}`); };
  const has = (k: string) => s[k] !== undefined;
  if (has('$ref') && typeof s.$ref !== 'string') bad('$ref', 'a string');
  if (has('type') && !(typeof s.type === 'string' || (Array.isArray(s.type) && s.type.every((t) => typeof t === 'string')))) bad('type', 'a type name or an array of them');
  if (has('enum') && !(Array.isArray(s.enum) && s.enum.length > 0)) bad('enum', 'a non-empty array');
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (has(k) && !(Array.isArray(s[k]) && (s[k] as unknown[]).length > 0 && (s[k] as unknown[]).every(isSchema))) bad(k, 'a non-empty array of schemas');
  if (has('prefixItems') && !(Array.isArray(s.prefixItems) && s.prefixItems.every(isSchema))) bad('prefixItems', 'an array of schemas');
  for (const k of ['items', 'additionalProperties']) if (has(k) && !isSchema(s[k])) bad(k, 'a schema');
  if (has('properties') && !(isObject(s.properties) && Object.values(s.properties as object).every(isSchema))) bad('properties', 'an object of schemas');
  if (has('required') && !(Array.isArray(s.required) && s.required.every((r) => typeof r === 'string'))) bad('required', 'an array of strings');
  for (const k of ['pattern', 'format']) if (has(k) && typeof s[k] !== 'string') bad(k, 'a string');
  for (const k of ['nullable', 'uniqueItems']) if (has(k) && typeof s[k] !== 'boolean') bad(k, 'a boolean');
  for (const k of ['$defs', 'definitions']) if (has(k) && !isObject(s[k])) bad(k, 'an object of schemas');
}

class Converter {
  private rules = new Map<string, string>();
  private used = new Set<string>();
  private refNames = new Map<string, string>();
  private counter = 0;
  constructor(private readonly root: Schema) {}

  useBase(name: string): string {
    if (!this.used.has(name)) {
      this.used.add(name);
      this.rules.set(name, BASE[name]);
      for (const d of DEPS[name] ?? []) this.useBase(d);
    }
    return name;
  }

  private newRule(hint: string, body: string): string {
    const base = hint.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase().slice(0, 40) || 'r';
    const name = `${base}-${this.counter++}`;
    this.rules.set(name, body);
    return name;
  }

  gbnf(): string {
    return [...this.rules].map(([n, b]) => `${n} ::= ${b}`).join('\n') + '\n';
  }

  private resolve(ref: string, at: string): [Schema, string] {
    if (!ref.startsWith('#')) throw new JsonSchemaError(`$ref '${ref}' at ${at}: only references inside the schema (#/...) are supported`);
    let node: unknown = this.root;
    const parts = ref === '#' ? [] : ref.slice(2).split('/').map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
    if (ref !== '#' && !ref.startsWith('#/')) throw new JsonSchemaError(`$ref '${ref}' at ${at}: anchors are not supported (use a JSON pointer #/...)`);
    for (const p of parts) {
      if (node === null || typeof node !== 'object' || !(p in (node as object))) throw new JsonSchemaError(`$ref '${ref}' at ${at} points at nothing`);
      node = (node as Record<string, unknown>)[p];
    }
    if (typeof node !== 'boolean' && (node === null || typeof node !== 'object' || Array.isArray(node))) throw new JsonSchemaError(`$ref '${ref}' at ${at} is not a schema`);
    return [node as Schema, ref];
  }

  /** A GBNF expression for the values `s` accepts. */
  visit(s: Schema, at: string): string {
    if (s === true) return this.useBase('value');
    if (s === false) throw new JsonSchemaError(`the schema at ${at} is false: nothing is valid`);
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new JsonSchemaError(`expected a schema (an object or a boolean) at ${at} but received ${JSON.stringify(s)}`);
    for (const k of Object.keys(s)) {
      if (!HANDLED.has(k) && !ANNOTATIONS.has(k)) throw new JsonSchemaError(`cannot enforce '${k}' at ${at}`);
    }
    checkShapes(s, at);
    if (typeof s.$ref === 'string') {
      const $ref = s.$ref;
      const others = Object.keys(s).filter((k) => k !== '$ref' && !ANNOTATIONS.has(k));
      if (others.length) return this.visit(this.mergeAll([{ $ref }, Object.fromEntries(others.map((k) => [k, s[k]]))], at), at);
      let name = this.refNames.get($ref);
      if (!name) {
        const [target, ref] = this.resolve($ref, at);
        name = this.newRule(`ref ${ref.split('/').pop() || 'root'}`, '""');
        this.refNames.set($ref, name);
        this.rules.set(name, this.visit(target, ref));
      }
      return name;
    }
    if (s.allOf !== undefined) {
      if (!Array.isArray(s.allOf) || s.allOf.length === 0) throw new JsonSchemaError(`expected a non-empty array for allOf at ${at}`);
      const rest = { ...s };
      delete rest.allOf;
      return this.visit(this.mergeAll([rest, ...(s.allOf as Schema[])], `${at}/allOf`), at);
    }
    if (s.nullable !== undefined) {
      if (typeof s.nullable !== 'boolean') throw new JsonSchemaError(`expected a boolean for nullable at ${at}`);
      const rest = { ...s };
      delete rest.nullable;
      if (!s.nullable) return this.visit(rest, at);
      const inner = this.visit(rest, at);
      return this.newRule(at, `${inner} | ${this.useBase('null')}`);
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (s[key] === undefined) continue;
      const branches = s[key];
      if (!Array.isArray(branches) || branches.length === 0) throw new JsonSchemaError(`expected a non-empty array for ${key} at ${at}`);
      if (key === 'anyOf' && s.oneOf !== undefined) throw new JsonSchemaError(`anyOf together with oneOf at ${at}`);
      const rest = { ...s };
      delete rest[key];
      const hasRest = Object.keys(rest).some((k) => !ANNOTATIONS.has(k));
      const merged = branches.map((b, i) => (hasRest ? this.mergeAll([rest, b as Schema], `${at}/${key}/${i}`) : (b as Schema)));
      if (key === 'oneOf') this.checkDisjoint(merged, `${at}/oneOf`);
      const alts = merged.map((b, i) => this.visit(b, `${at}/${key}/${i}`));
      return this.newRule(at, alts.join(' | '));
    }
    let types: JsonType[] | undefined;
    if (s.type !== undefined) {
      const t = Array.isArray(s.type) ? s.type : [s.type];
      for (const x of t) if (!TYPES.includes(x as JsonType)) throw new JsonSchemaError(`unknown type ${JSON.stringify(x)} at ${at}`);
      types = t as JsonType[];
      if (types.length === 0) throw new JsonSchemaError(`an empty type array at ${at}: nothing is valid`);
    }
    if (s.const !== undefined || s.enum !== undefined) {
      let values: unknown[];
      if (s.const !== undefined) values = [s.const];
      else {
        if (!Array.isArray(s.enum) || s.enum.length === 0) throw new JsonSchemaError(`expected a non-empty array for enum at ${at}`);
        values = s.enum;
      }
      if (s.const !== undefined && s.enum !== undefined) values = values.filter((v) => (s.enum as unknown[]).some((e) => deepEqual(e, v)));
      const others = Object.keys(s).filter((k) => !['const', 'enum', 'type'].includes(k) && !ANNOTATIONS.has(k));
      if (others.length) throw new JsonSchemaError(`cannot enforce '${others[0]}' together with ${s.const !== undefined ? 'const' : 'enum'} at ${at}`);
      if (types) values = values.filter((v) => types!.includes(typeOfValue(v)) || (typeOfValue(v) === 'integer' && types!.includes('number')));
      if (values.length === 0) throw new JsonSchemaError(`no value of enum/const at ${at} is valid`);
      return this.newRule(at, values.map((v) => gbnfLiteral(JSON.stringify(v))).join(' | '));
    }
    if (!types) {
      // keywords without a type apply to their own type only; the grammar takes that type
      const inferred = new Set<JsonType>();
      if (['properties', 'required', 'additionalProperties'].some((k) => k in s)) inferred.add('object');
      if (['items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems'].some((k) => k in s)) inferred.add('array');
      if (['minLength', 'maxLength', 'pattern', 'format'].some((k) => k in s)) inferred.add('string');
      if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].some((k) => k in s)) inferred.add('number');
      if (inferred.size === 0) return this.useBase('value');
      types = [...inferred];
    }
    const alts = types.filter((t) => !(t === 'integer' && types!.includes('number'))).map((t) => this.visitType(t, s, at));
    return alts.length === 1 ? alts[0] : this.newRule(at, alts.join(' | '));
  }

  private visitType(t: JsonType, s: Record<string, unknown>, at: string): string {
    switch (t) {
      case 'null': return this.useBase('null');
      case 'boolean': return this.useBase('boolean');
      case 'integer': case 'number': return this.visitNumber(t, s, at);
      case 'string': return this.visitString(s, at);
      case 'array': return this.visitArray(s, at);
      case 'object': return this.visitObject(s, at);
    }
  }

  private num(s: Record<string, unknown>, k: string, at: string): number | undefined {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new JsonSchemaError(`expected a finite number for ${k} at ${at} but received ${JSON.stringify(v)}`);
    return v;
  }
  private count(s: Record<string, unknown>, k: string, at: string): number | undefined {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new JsonSchemaError(`expected an integer >= 0 for ${k} at ${at} but received ${JSON.stringify(v)}`);
    if (v > MAX_REPEAT) throw new JsonSchemaError(`cannot enforce ${k} ${v} at ${at}: counts above ${MAX_REPEAT} are not supported`);
    return v;
  }

  private visitNumber(t: 'integer' | 'number', s: Record<string, unknown>, at: string): string {
    const min = this.num(s, 'minimum', at), max = this.num(s, 'maximum', at);
    const xmin = this.num(s, 'exclusiveMinimum', at), xmax = this.num(s, 'exclusiveMaximum', at);
    if (min === undefined && max === undefined && xmin === undefined && xmax === undefined) return this.useBase(t);
    let lo = -Infinity, hi = Infinity;
    if (t === 'integer') {
      if (min !== undefined) lo = Math.max(lo, Math.ceil(min));
      if (xmin !== undefined) lo = Math.max(lo, Math.floor(xmin) + 1);
      if (max !== undefined) hi = Math.min(hi, Math.floor(max));
      if (xmax !== undefined) hi = Math.min(hi, Math.ceil(xmax) - 1);
    } else {
      if (xmin !== undefined || xmax !== undefined) throw new JsonSchemaError(`cannot enforce '${xmin !== undefined ? 'exclusiveMinimum' : 'exclusiveMaximum'}' on a number at ${at} (on an integer it can be)`);
      for (const [k, v] of [['minimum', min], ['maximum', max]] as const) {
        if (v !== undefined && !Number.isInteger(v)) throw new JsonSchemaError(`cannot enforce '${k}' ${v} on a number at ${at}: only integer bounds are exact`);
      }
      if (min !== undefined) lo = min;
      if (max !== undefined) hi = max;
    }
    for (const v of [lo, hi]) if (Number.isFinite(v) && Math.abs(v) > 1e15) throw new JsonSchemaError(`cannot enforce the bound ${v} at ${at}: bounds beyond 1e15 are not supported`);
    if (lo > hi) throw new JsonSchemaError(`minimum > maximum at ${at}: no number is valid`);
    const alts: string[] = [];
    const frac = t === 'number' ? this.useBase('frac') : '';
    // non-negative values in [max(lo, 0), hi]
    if (hi >= 0) {
      const a = Math.max(lo, 0);
      alts.push(magnitudeRange(a, hi));
      if (frac && hi - 1 >= a) alts.push(`( ${magnitudeRange(a, hi - 1)} ) ${frac}`);
    }
    // negative values -m with m in [c, L]
    if (lo < 0) {
      const c = hi < 0 ? -hi : 0, L = -lo;
      if (Math.max(c, 1) <= L) alts.push(`"-" ( ${magnitudeRange(Math.max(c, 1), L)} )`);
      if (frac && L - 1 >= c) alts.push(`"-" ( ${magnitudeRange(c, L - 1)} ) ${frac}`);
    }
    return this.newRule(`${at} ${t}`, alts.join(' | '));
  }

  private visitString(s: Record<string, unknown>, at: string): string {
    const minL = this.count(s, 'minLength', at), maxL = this.count(s, 'maxLength', at);
    const q = '"\\""';
    if (s.format !== undefined) {
      if (typeof s.format !== 'string' || !(FORMATS as readonly string[]).includes(s.format)) {
        throw new JsonSchemaError(`cannot enforce format ${JSON.stringify(s.format)} at ${at} (enforced: ${FORMATS.join(', ')})`);
      }
      for (const k of ['pattern', 'minLength', 'maxLength']) if (s[k] !== undefined) throw new JsonSchemaError(`cannot enforce '${k}' together with format at ${at}`);
      return this.newRule(`${at} ${s.format}`, `${q} ${this.useBase(s.format)} ${q}`);
    }
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== 'string') throw new JsonSchemaError(`expected a string for pattern at ${at}`);
      for (const k of ['minLength', 'maxLength']) if (s[k] !== undefined) throw new JsonSchemaError(`cannot enforce '${k}' together with pattern at ${at}`);
      let body: string;
      try {
        new RegExp(s.pattern, 'u');
        body = patternToGbnf(s.pattern, this.useBase('char'));
      } catch (e) {
        if (e instanceof PatternError) throw new JsonSchemaError(`cannot enforce pattern at ${at}: ${e.message}`);
        throw new JsonSchemaError(`pattern at ${at} is not a valid regular expression: ${(e as Error).message}`);
      }
      return this.newRule(`${at} pattern`, `${q} ${body} ${q}`);
    }
    if (minL === undefined && maxL === undefined) return this.useBase('string');
    const lo = minL ?? 0, hi = maxL ?? Infinity;
    if (lo > hi) throw new JsonSchemaError(`minLength > maxLength at ${at}: no string is valid`);
    const c = this.useBase('char-1');
    const rep = hi === Infinity ? `{${lo},}` : lo === hi ? `{${lo}}` : `{${lo},${hi}}`;
    return this.newRule(`${at} string`, hi === 0 ? `${q} ${q}` : `${q} ${c}${rep} ${q}`);
  }

  private visitArray(s: Record<string, unknown>, at: string): string {
    const minI = this.count(s, 'minItems', at) ?? 0, maxI = this.count(s, 'maxItems', at) ?? Infinity;
    if (s.uniqueItems !== undefined && s.uniqueItems !== false) throw new JsonSchemaError(`cannot enforce 'uniqueItems' at ${at}`);
    if (minI > maxI) throw new JsonSchemaError(`minItems > maxItems at ${at}: no array is valid`);
    const ws = this.useBase('ws');
    const sep = `"," ${ws}`;
    const items: string[] = [];
    let tail: string | undefined;
    if (s.prefixItems !== undefined) {
      if (!Array.isArray(s.prefixItems)) throw new JsonSchemaError(`expected an array for prefixItems at ${at}`);
      (s.prefixItems as Schema[]).forEach((p, i) => items.push(this.visit(p, `${at}/prefixItems/${i}`)));
      if (s.items !== undefined && s.items !== false) tail = this.visit(s.items as Schema, `${at}/items`);
    } else {
      tail = s.items === undefined ? this.useBase('value') : s.items === false ? undefined : this.visit(s.items as Schema, `${at}/items`);
    }
    // the first min(prefix, maxItems) items, of which the first minItems are required
    const n = items.length;
    const out: string[] = [];
    // position k (0-based) is item k; after n prefix items, `tail` repeats
    const maxTotal = tail === undefined ? Math.min(n, maxI) : maxI;
    if (minI > maxTotal) throw new JsonSchemaError(`minItems ${minI} at ${at} needs more items than prefixItems and items allow`);
    // build right to left: rest(k) = what may follow after k items were written
    const rest = (k: number): string => {
      if (k >= maxTotal) return '""';
      if (k >= n) {
        // tail items: at least max(0, minI - k) more, at most maxTotal - k more
        const need = Math.max(0, minI - k), most = maxTotal === Infinity ? Infinity : maxTotal - k;
        const one = `( ${sep} ${tail} )`;
        if (most === Infinity) return need === 0 ? `${one}*` : `${one}{${need},}`;
        return need === most ? `${one}{${need}}` : `${one}{${need},${most}}`;
      }
      const next = `${sep} ${items[k]} ${rest(k + 1)}`;
      return k < minI ? next : `( ${next} )?`;
    };
    const first = n > 0 ? items[0] : tail;
    if (maxTotal === 0 || first === undefined) out.push(`"[" ${ws} "]"`);
    else {
      const body = `${first} ${rest(1)} ${ws}`;
      out.push(minI > 0 ? `"[" ${ws} ${body} "]"` : `"[" ${ws} ( ${body} )? "]"`);
    }
    return this.newRule(`${at} array`, out.join(' | '));
  }

  private visitObject(s: Record<string, unknown>, at: string): string {
    // no properties named: any object (with declared ones, the grammar writes only those unless additionalProperties allows more)
    if (s.properties === undefined && s.required === undefined && (s.additionalProperties === undefined || s.additionalProperties === true)) return this.useBase('object');
    const props = (s.properties ?? {}) as Record<string, Schema>;
    if (typeof props !== 'object' || Array.isArray(props)) throw new JsonSchemaError(`expected an object for properties at ${at}`);
    const required = (s.required ?? []) as string[];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw new JsonSchemaError(`expected an array of strings for required at ${at}`);
    const names = Object.keys(props);
    for (const r of required) if (!names.includes(r) && (s.additionalProperties === false || s.additionalProperties === undefined)) {
      throw new JsonSchemaError(`required property '${r}' at ${at} is not in properties (and no additional properties are allowed)`);
    }
    for (const r of required) if (!names.includes(r)) throw new JsonSchemaError(`cannot enforce required property '${r}' at ${at} without a schema for it in properties`);
    const ws = this.useBase('ws');
    const kv = names.map((k) => this.newRule(`${at} ${k} kv`, `${gbnfLiteral(JSON.stringify(k))} ${ws} ":" ${ws} ${this.visit(props[k], `${at}/properties/${k}`)}`));
    const ap = s.additionalProperties;
    let extra: string | undefined;
    if (ap !== undefined && ap !== false) {
      const valueRule = this.visit(ap as Schema, `${at}/additionalProperties`);
      extra = this.newRule(`${at} extra kv`, `${this.keyNotIn(names, at)} ${ws} ":" ${ws} ${valueRule}`);
    }
    const req = names.map((k) => required.includes(k));
    // F(i): nothing written yet, properties i.. to go; R(i): something written
    const R: string[] = [], F: string[] = [];
    const extras = extra ? `( "," ${ws} ${extra} )*` : '""';
    R[names.length] = this.newRule(`${at} r`, extras);
    F[names.length] = this.newRule(`${at} f`, extra ? `${extra} ${R[names.length]} | ""` : '""');
    for (let i = names.length - 1; i >= 0; i--) {
      R[i] = this.newRule(`${at} r`, `"," ${ws} ${kv[i]} ${R[i + 1]}${req[i] ? '' : ` | ${R[i + 1]}`}`);
      F[i] = this.newRule(`${at} f`, `${kv[i]} ${R[i + 1]}${req[i] ? '' : ` | ${F[i + 1]}`}`);
    }
    return this.newRule(`${at} object`, `"{" ${ws} ${F[0]} ${ws} "}"`);
  }

  /** a JSON string key (unescaped characters only) that is none of `names` */
  private keyNotIn(names: string[], at: string): string {
    type Node = { kids: Map<number, Node>; end: boolean };
    const root: Node = { kids: new Map(), end: false };
    for (const n of names) {
      let node = root;
      for (const ch of n) {
        const c = ch.codePointAt(0)!;
        if (!node.kids.has(c)) node.kids.set(c, { kids: new Map(), end: false });
        node = node.kids.get(c)!;
      }
      node.end = true;
    }
    const raw: [number, number][] = [[0x20, 0x21], [0x23, 0x5b], [0x5d, 0x10ffff]];
    const rawClass = gbnfClass(raw);
    const anyRest = this.newRule(`${at} key rest`, `${rawClass}* "\\""`);
    const visit = (node: Node): string => {
      const alts: string[] = [];
      const kids = [...node.kids.keys()];
      const others = raw.flatMap(([a, b]) => {
        const out: [number, number][] = [];
        let lo = a;
        for (const c of kids.filter((k) => k >= a && k <= b).sort((x, y) => x - y)) { if (c > lo) out.push([lo, c - 1]); lo = c + 1; }
        if (lo <= b) out.push([lo, b]);
        return out;
      });
      if (others.length) alts.push(`${gbnfClass(others)} ${anyRest}`);
      for (const [c, kid] of node.kids) alts.push(`${gbnfLiteral(String.fromCodePoint(c))} ${visit(kid)}`);
      if (!node.end) alts.push('"\\""');
      return this.newRule(`${at} key`, alts.join(' | '));
    };
    return `"\\"" ${visit(root)}`;
  }

  /** allOf: one schema with every constraint of the parts (refused where two parts disagree) */
  mergeAll(parts: Schema[], at: string, depth = 0): Schema {
    if (depth > 50) throw new JsonSchemaError(`allOf at ${at}: $ref / allOf nest deeper than 50 (a cycle?)`);
    const out: Record<string, unknown> = {};
    for (let p of parts) {
      if (typeof p === 'object' && p !== null && typeof p.$ref === 'string') {
        const [target] = this.resolve(p.$ref, at);
        const rest = { ...p };
        delete rest.$ref;
        p = this.mergeAll([target, rest], at, depth + 1);
      }
      if (p === true) continue;
      if (p === false) throw new JsonSchemaError(`allOf at ${at} holds a false schema: nothing is valid`);
      if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new JsonSchemaError(`expected a schema in allOf at ${at}`);
      checkShapes(p, at);
      if (p.allOf !== undefined) {
        const inner = { ...p };
        delete inner.allOf;
        p = this.mergeAll([inner, ...(p.allOf as Schema[])], at, depth + 1) as Record<string, unknown>;
      }
      for (const [k, v] of Object.entries(p)) {
        if (ANNOTATIONS.has(k)) continue;
        if (!(k in out)) { out[k] = k === 'properties' ? { ...(v as object) } : v; continue; }
        if (k === 'properties') {
          const mine = out.properties as Record<string, unknown>;
          for (const [pk, pv] of Object.entries(v as object)) {
            if (pk in mine && !deepEqual(mine[pk], pv)) mine[pk] = this.mergeAll([mine[pk] as Schema, pv as Schema], `${at}/properties/${pk}`, depth + 1);
            else mine[pk] = pv;
          }
        } else if (k === 'required') {
          out.required = [...new Set([...(out.required as string[]), ...(v as string[])])];
        } else if (k === 'type') {
          const a = Array.isArray(out.type) ? out.type : [out.type];
          const b = Array.isArray(v) ? v : [v];
          const both: unknown[] = [];
          for (const x of a) for (const y of b) {
            const m = x === y ? x : (x === 'integer' && y === 'number') || (x === 'number' && y === 'integer') ? 'integer' : undefined;
            if (m !== undefined && !both.includes(m)) both.push(m);
          }
          if (both.length === 0) throw new JsonSchemaError(`allOf at ${at}: the types ${JSON.stringify(a)} and ${JSON.stringify(b)} have no value in common`);
          out.type = both.length === 1 ? both[0] : both;
        } else if (['minimum', 'minLength', 'minItems', 'exclusiveMinimum'].includes(k)) {
          out[k] = Math.max(out[k] as number, v as number);
        } else if (['maximum', 'maxLength', 'maxItems', 'exclusiveMaximum'].includes(k)) {
          out[k] = Math.min(out[k] as number, v as number);
        } else if (!deepEqual(out[k], v)) {
          throw new JsonSchemaError(`cannot merge allOf at ${at}: its parts give different '${k}'`);
        }
      }
    }
    return out;
  }

  /** oneOf is an alternation only when no value can match two branches */
  private checkDisjoint(branches: Schema[], at: string): void {
    const kinds = branches.map((b) => this.kindsOf(b));
    for (let i = 0; i < branches.length; i++) for (let j = i + 1; j < branches.length; j++) {
      const a = kinds[i], b = kinds[j];
      if (a.values && b.values) {
        if (a.values.some((x) => b.values!.some((y) => deepEqual(x, y)))) throw new JsonSchemaError(`cannot enforce oneOf at ${at}: branches ${i} and ${j} share a value (use anyOf)`);
        continue;
      }
      const ta = a.values ? new Set(a.values.map(typeOfValue)) : a.types, tb = b.values ? new Set(b.values.map(typeOfValue)) : b.types;
      const overlap = [...ta].some((t) => tb.has(t) || (t === 'integer' && tb.has('number')) || (t === 'number' && tb.has('integer')));
      if (overlap) throw new JsonSchemaError(`cannot enforce oneOf at ${at}: branches ${i} and ${j} may match the same value (use anyOf, or make them differ in type or const)`);
    }
  }

  private kindsOf(s: Schema, depth = 0): { types: Set<JsonType>; values?: unknown[] } {
    const all = new Set<JsonType>(TYPES);
    if (typeof s === 'boolean' || depth > 20) return { types: all };
    if (typeof s.$ref === 'string') { try { return this.kindsOf(this.resolve(s.$ref, '')[0], depth + 1); } catch { return { types: all }; } }
    if (s.const !== undefined) return { types: new Set([typeOfValue(s.const)]), values: [s.const] };
    if (Array.isArray(s.enum)) return { types: new Set(s.enum.map(typeOfValue)), values: s.enum };
    const t = s.type === undefined ? undefined : Array.isArray(s.type) ? s.type : [s.type];
    const types = new Set<JsonType>((t as JsonType[] | undefined) ?? TYPES);
    if (s.nullable === true) types.add('null');
    return { types };
  }
}

/**
 * The GBNF grammar of the JSON documents `schema` accepts (`true`: any JSON value).
 * @example
 *   jsonSchemaToGbnf({ type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 12 } }, required: ['n'] })
 */
export function jsonSchemaToGbnf(schema: unknown): string {
  if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
    throw new TypeError(`jsonSchema: Expected a JSON Schema (an object or a boolean) for schema but received ${schema === null ? 'null' : Array.isArray(schema) ? 'an array' : typeof schema}`);
  }
  const c = new Converter(schema as Schema);
  const root = c.visit(schema as Schema, '#');
  const text = c.gbnf();
  return `root ::= ${root}\n${text}`;
}
