// JSON Schema -> grammar, checked against ajv (with ajv-formats): documents sampled from the
// grammar of thousands of random schemas parse and validate; random JSON values and edits
// of valid documents that the grammar accepts validate too (the grammar never lets an
// invalid document through); hand cases for what must be accepted; refusals name the keyword.
import Ajv from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Grammar, GrammarError, JsonSchemaError, jsonSchemaToGbnf, parseGbnf } from '../../lib/grammar';
import { EarleyGrammar } from '../reference/grammar';
import { randomJson, randomSchema } from './schemas';
import { rng } from '../helpers';
import fc from 'fast-check';

const ajv = new Ajv({ strict: false, allowUnionTypes: true });
addFormats(ajv);
const accepts = (g: Grammar, s: string) => { const m = g.matcher(); return m.acceptString(s) && m.canEnd; };

describe('random schemas: grammar output validates with ajv', () => {
  const N = Number(process.env.FUSELM_SCHEMA_RUNS || 2000);
  test(`${N} schemas x 6 sampled documents, and random values / edits the grammar accepts`, () => {
    let docs = 0, refused = 0, negatives = 0;
    const fails: string[] = [];
    for (let seed = 1; seed <= N; seed++) {
      const schema = randomSchema(seed, false);
      let gbnf: string, g: Grammar;
      try {
        gbnf = jsonSchemaToGbnf(schema);
        g = new Grammar(gbnf);
      } catch (e) {
        if (!(e instanceof GrammarError)) throw e;
        refused++;
        continue;
      }
      const validate = ajv.compile(schema);
      const ref = new EarleyGrammar(parseGbnf(gbnf));
      const r = rng(seed);
      for (let i = 0; i < 6; i++) {
        const doc = ref.sample(seed * 100 + i, 10);
        const okMatcher = accepts(g, doc);
        let value: unknown, parsed = true;
        try { value = JSON.parse(doc); } catch { parsed = false; }
        if (!okMatcher || !parsed || !validate(value)) fails.push(`${JSON.stringify(schema)}\n  ${doc} matcher=${okMatcher} parsed=${parsed} ${JSON.stringify(validate.errors)}`);
        docs++;
        // an edit of the document: if the grammar still accepts it, ajv must too
        const cps = Array.from(doc);
        const at = Math.floor(r() * cps.length);
        const ch = '0a"{}[],:-.e '[Math.floor(r() * 13)];
        const edited = r() < 0.5 ? [...cps.slice(0, at), ch, ...cps.slice(at + 1)].join('') : [...cps.slice(0, at), ch, ...cps.slice(at)].join('');
        if (accepts(g, edited)) {
          negatives++;
          let v: unknown, p2 = true;
          try { v = JSON.parse(edited); } catch { p2 = false; }
          if (!p2 || !validate(v)) fails.push(`${JSON.stringify(schema)}\n  edit accepted: ${edited}`);
        }
      }
      for (let i = 0; i < 3; i++) {
        const v = randomJson(seed * 7 + i);
        const text = JSON.stringify(v);
        if (accepts(g, text) && !validate(v)) fails.push(`${JSON.stringify(schema)}\n  random value accepted: ${text}`);
      }
    }
    expect(fails.slice(0, 5)).toEqual([]);
    expect(refused).toBeLessThan(N * 0.05);
    expect(docs).toBeGreaterThan(N * 5);
    expect(negatives).toBeGreaterThan(100);
  });
});

describe('hand cases', () => {
  const good: [string, unknown, string[], string[]][] = [
    ['required and optional properties, in order', { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' }, c: { type: 'boolean' } }, required: ['b'] },
      ['{"b":"x"}', '{"a":1,"b":""}', '{"a": -3, "b": "é", "c": true}', '{ "b":"x","c":false }'], ['{}', '{"a":1}', '{"b":"x","d":1}', '{"b":"x",}', '{"c":true,"b":"x"}']],
    ['additionalProperties schema: keys other than the declared ones', { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'integer' } },
      ['{}', '{"a":"x","n":1}', '{"ab":2,"b":3}', '{"":4}'], ['{"a":"x","a":5}', '{"a":1}', '{"n":"x"}']],
    ['integer range across signs', { type: 'integer', minimum: -12, maximum: 305 }, ['-12', '-1', '0', '9', '10', '99', '100', '299', '305'], ['-13', '306', '-0', '01', '310', '1000', '1.5']],
    ['integer minimum only', { type: 'integer', minimum: 95 }, ['95', '99', '100', '123456'], ['94', '9', '-100', '0']],
    ['integer exclusive bounds', { type: 'integer', exclusiveMinimum: -3, exclusiveMaximum: 3 }, ['-2', '0', '2'], ['-3', '3']],
    ['number with integer bounds', { type: 'number', minimum: -2, maximum: 3 }, ['-2', '-1.5', '0.25', '2.999', '3'], ['3.5', '-2.5', '4', '1e2']],
    ['number maximum negative', { type: 'number', maximum: -1 }, ['-1', '-1.5', '-300.25'], ['0', '-0.5', '0.5']],
    ['array bounds', { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 3 }, ['[1]', '[1, 2, 3]', '[ 1,2 ]'], ['[]', '[1,2,3,4]', '["a"]']],
    ['prefixItems', { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false, minItems: 1 }, ['["a"]', '["a",1]'], ['[]', '[1]', '["a",1,2]']],
    ['enum and const', { enum: ['a', 1, null, { k: [true] }] }, ['"a"', '1', 'null', '{"k":[true]}'], ['"b"', '2', '{"k":[false]}']],
    ['string lengths count code points', { type: 'string', minLength: 2, maxLength: 3 }, ['"ab"', '"日本語"', '"a\\n"', '"😀😀"', '"\\u00e9x"'], ['"a"', '"abcd"', '"\\ud83d\\ude00"']],
    ['formats', { type: 'array', prefixItems: [{ format: 'date' }, { format: 'time' }, { format: 'date-time' }, { format: 'uuid' }, { format: 'email' }, { format: 'ipv4' }], items: false, minItems: 6 },
      ['["2024-02-28","23:59:59Z","2024-12-31T00:00:00.5+05:30","123e4567-e89b-12d3-a456-426614174000","a.b@c.de","255.0.10.1"]'],
      ['["2024-02-30","23:59:59Z","2024-12-31T00:00:00Z","123e4567-e89b-12d3-a456-426614174000","a@c.de","1.1.1.1"]', '["2024-02-28","24:00:00Z","2024-12-31T00:00:00Z","123e4567-e89b-12d3-a456-426614174000","a@c.de","1.1.1.1"]']],
    ['pattern anchored and not', { type: 'array', prefixItems: [{ pattern: '^a[bc]+$' }, { pattern: 'xy' }], items: false, minItems: 2 }, ['["abcb","xy"]', '["ab","__xy__"]', '["ac","\\"xy"]'], ['["a","xy"]', '["abd","xy"]', '["ab","x"]']],
    ['$ref recursion', { $defs: { t: { type: 'object', properties: { v: { type: 'integer' }, k: { type: 'array', items: { $ref: '#/$defs/t' } } }, required: ['v'] } }, $ref: '#/$defs/t' },
      ['{"v":1}', '{"v":1,"k":[{"v":2,"k":[]}]}'], ['{"k":[]}', '{"v":1,"k":[{}]}']],
    ['anyOf, oneOf, type arrays, nullable', { type: 'array', prefixItems: [{ anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 1 }] }, { oneOf: [{ type: 'boolean' }, { type: 'null' }] }, { type: ['integer', 'null'] }, { type: 'string', nullable: true, maxLength: 0 }], items: false, minItems: 4 },
      ['[1,true,null,""]', '["x",null,3,null]'], ['[1.5,true,null,""]', '[1,1,null,""]', '[1,true,"a",""]']],
    ['allOf merged', { allOf: [{ type: 'object', properties: { a: { type: 'integer', minimum: 0 } }, required: ['a'] }, { properties: { a: { maximum: 5 }, b: { const: 'x' } }, required: ['b'] }] },
      ['{"a":0,"b":"x"}', '{"a":5,"b":"x"}'], ['{"a":6,"b":"x"}', '{"a":1}', '{"b":"x"}']],
    ['type object alone: any object', { type: 'object' }, ['{}', '{"a":1,"b":[{"c":null}]}'], ['[]', '1', '{"a"}']],
    ['true: any JSON value', true, ['1', '"s"', '[1,{"a":null}]', '{"a":{"b":[]}}', 'null'], ['', '[1,]', '{a:1}']],
  ];
  for (const [name, schema, yes, no] of good) {
    test(name, () => {
      const g = new Grammar(jsonSchemaToGbnf(schema));
      const validate = ajv.compile(schema as object);
      for (const s of yes) {
        expect({ s, valid: validate(JSON.parse(s)) }).toEqual({ s, valid: true });
        expect({ s, accepted: accepts(g, s) }).toEqual({ s, accepted: true });
      }
      for (const s of no) expect({ s, accepted: accepts(g, s) }).toEqual({ s, accepted: false });
    });
  }
});

describe('refusals name the keyword', () => {
  const cases: [unknown, string][] = [
    [{ type: 'integer', multipleOf: 3 }, "jsonSchema: cannot enforce 'multipleOf' at #"],
    [{ type: 'object', properties: { a: { type: 'string', format: 'hostname' } } }, 'jsonSchema: cannot enforce format "hostname" at #/properties/a (enforced: date, time, date-time, uuid, email, ipv4)'],
    [{ type: 'object', patternProperties: { '^x': {} } }, "jsonSchema: cannot enforce 'patternProperties' at #"],
    [{ type: 'array', uniqueItems: true }, "jsonSchema: cannot enforce 'uniqueItems' at #"],
    [{ type: 'number', exclusiveMinimum: 0 }, "jsonSchema: cannot enforce 'exclusiveMinimum' on a number at # (on an integer it can be)"],
    [{ type: 'number', minimum: 0.5 }, "jsonSchema: cannot enforce 'minimum' 0.5 on a number at #: only integer bounds are exact"],
    [{ type: 'string', pattern: '^(?=a)b$' }, 'jsonSchema: cannot enforce pattern at #: lookaround is not supported (at offset 2 of /^(?=a)b$/)'],
    [{ type: 'string', pattern: '(a)\\1' }, 'jsonSchema: cannot enforce pattern at #: \\1 (a backreference) is not supported (at offset 5 of /(a)\\1/)'],
    [{ type: 'string', pattern: '\\bword' }, 'jsonSchema: cannot enforce pattern at #: \\b (a word boundary) is not supported (at offset 2 of /\\bword/)'],
    [{ type: 'string', pattern: '(' }, 'jsonSchema: pattern at # is not a valid regular expression'],
    [{ $ref: 'other.json#/x' }, "jsonSchema: $ref 'other.json#/x' at #: only references inside the schema (#/...) are supported"],
    [{ $ref: '#/$defs/missing' }, "jsonSchema: $ref '#/$defs/missing' at # points at nothing"],
    [{ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 'jsonSchema: cannot enforce oneOf at #/oneOf: branches 0 and 1 may match the same value (use anyOf, or make them differ in type or const)'],
    [{ allOf: [{ type: 'string' }, { type: 'integer' }] }, 'jsonSchema: allOf at #/allOf: the types ["string"] and ["integer"] have no value in common'],
    [{ allOf: [{ pattern: 'a' }, { pattern: 'b' }] }, "jsonSchema: cannot merge allOf at #/allOf: its parts give different 'pattern'"],
    [{ type: 'string', minLength: 5, maxLength: 2 }, 'jsonSchema: minLength > maxLength at #: no string is valid'],
    [{ type: 'array', maxItems: 5000 }, 'jsonSchema: cannot enforce maxItems 5000 at #: counts above 2000 are not supported'],
    [{ type: 'string', format: 'date', maxLength: 3 }, "jsonSchema: cannot enforce 'maxLength' together with format at #"],
    [{ enum: [1, 2], minimum: 2 }, "jsonSchema: cannot enforce 'minimum' together with enum at #"],
    [false, 'jsonSchema: the schema at # is false: nothing is valid'],
    [{ type: 'object', properties: { a: { $ref: '#' } }, required: ['a'] }, "grammar: rule 'root' derives no finite string"],
  ];
  for (const [schema, msg] of cases) {
    test(msg.slice(0, 90), () => {
      let err: unknown;
      try { new Grammar(jsonSchemaToGbnf(schema)); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(GrammarError);
      expect((err as Error).message.startsWith(msg)).toBe(true);
      if (msg.startsWith('jsonSchema')) expect(err).toBeInstanceOf(JsonSchemaError);
    });
  }
  test('fuzz: any JSON value as a schema gives a grammar or a GrammarError / TypeError, never another error', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      try {
        new Grammar(jsonSchemaToGbnf(v));
      } catch (e) {
        if (!(e instanceof GrammarError) && !(e instanceof TypeError && e.message.startsWith('jsonSchema: '))) throw e;
      }
    }), { numRuns: 3000, seed: 19 });
    const keys = fc.constantFrom('type', 'properties', 'items', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref', 'required', 'minimum', 'maxLength', 'pattern', 'format', 'prefixItems', 'additionalProperties', 'nullable', '$defs');
    const schema = fc.letrec((tie) => ({
      s: fc.dictionary(keys, fc.oneof(fc.constantFrom('object', 'string', 'integer', 'number', 'array', 'null', '#', '#/$defs/a', 'date', '^a+$', 3, -1, true, false, null),
        fc.array(tie('s'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b'), tie('s'), { maxKeys: 2 })), { maxKeys: 4 }),
    })).s;
    fc.assert(fc.property(schema, (v) => {
      try {
        new Grammar(jsonSchemaToGbnf(v));
      } catch (e) {
        if (!(e instanceof GrammarError) && !(e instanceof TypeError && e.message.startsWith('jsonSchema: '))) throw e;
      }
    }), { numRuns: 3000, seed: 20 });
  });

  test('not a schema', () => {
    expect(() => jsonSchemaToGbnf([1])).toThrow(new TypeError('jsonSchema: Expected a JSON Schema (an object or a boolean) for schema but received an array'));
  });
});
