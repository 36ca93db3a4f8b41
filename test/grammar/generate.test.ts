// Constrained generation end to end on synthetic models (random weights: the grammar alone
// makes the output well formed): generate({ jsonSchema }) output parses and validates with
// ajv for random bounded schemas, several seeds and temperatures, on an SPM (byte fallback)
// and a byte-level BPE vocabulary; generate({ grammar }) output matches the grammar by the
// independent Earley recogniser; { json: true } gives an object; Sampler with a grammar.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { Model, load } from '../../lib/models/model';
import { Sampler } from '../../lib/generate/sampler';
import { Grammar, TokenVocab, parseGbnf } from '../../lib/grammar';
import { EarleyGrammar } from '../reference/grammar';
import { randomSchema } from './schemas';
import { randn } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-grammar-'));
const ajv = new Ajv({ strict: false, allowUnionTypes: true });
addFormats(ajv);
const models: Record<string, Model> = {};

beforeAll(async () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    const file = path.join(tmp, `${arch}.gguf`);
    writeSyntheticModel(file, { arch, dim: 64, nLayer: 1, nHead: 1, nHeadKv: 1, ffDim: 128, ctxLen: 1024, seed: 5, extraTokens: 100 });
    models[arch] = await load(file);
  }
});
afterAll(() => {
  for (const m of Object.values(models)) m.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function run(m: Model, prompt: string, opts: Parameters<Model['complete']>[1]) {
  const text = await m.complete(prompt, opts);
  return { text, stats: m.lastStats! };
}

describe('generate with a JSON Schema', () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    test(`${arch}: random bounded schemas x seeds x temperatures: output parses and validates, generation ends by the grammar`, async () => {
      const m = models[arch];
      let n = 0;
      const fails: string[] = [];
      for (let s = 1; s <= 24; s++) {
        const schema = randomSchema(1000 + s, true);
        const validate = ajv.compile(schema);
        for (const [seed, temperature] of [[s, 1], [s + 100, 0.7], [s + 200, 1.5], [s + 300, 0]] as const) {
          const { text, stats } = await run(m, 'Output JSON:', { jsonSchema: schema, seed, temperature, maxTokens: 600, topK: 0, topP: 1, minP: 0 });
          let v: unknown, ok = true;
          try { v = JSON.parse(text); } catch { ok = false; }
          if (!ok || !validate(v) || (stats.stopReason !== 'grammar' && stats.stopReason !== 'eog')) {
            fails.push(`${JSON.stringify(schema)} seed=${seed} t=${temperature}: ${stats.stopReason} ${JSON.stringify(text)} ${JSON.stringify(validate.errors)}`);
          }
          n++;
        }
      }
      expect(fails.slice(0, 3)).toEqual([]);
      expect(n).toBe(96);
    });
  }

  test('the same seed gives the same document; a hand schema with every kind of field', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 8 }, age: { type: 'integer', minimum: 0, maximum: 120 },
        email: { type: 'string', format: 'email' }, tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
        when: { type: 'string', format: 'date' }, score: { type: 'number', minimum: -1, maximum: 1 }, ok: { type: 'boolean' },
      },
      required: ['name', 'age', 'when'],
      additionalProperties: false,
    };
    const validate = ajv.compile(schema);
    const m = models.qwen2;
    const a = await run(m, 'x', { jsonSchema: schema, seed: 3, maxTokens: 400 });
    const b = await run(m, 'x', { jsonSchema: schema, seed: 3, maxTokens: 400 });
    expect(a.text).toBe(b.text);
    expect(validate(JSON.parse(a.text))).toBe(true);
    expect(a.stats.stopReason).toBe('grammar');
  });

  test('maxTokens cuts a grammar short with stopReason maxTokens', async () => {
    const { text, stats } = await run(models.llama, 'x', { jsonSchema: { type: 'array', items: { type: 'string' }, minItems: 50 }, maxTokens: 5 });
    expect(stats.stopReason).toBe('maxTokens');
    expect(stats.generatedTokens).toBe(5);
    expect(text.startsWith('[')).toBe(true);
  });
});

describe('generate with a GBNF grammar', () => {
  const src = String.raw`root ::= greeting " " (name | num) "!"
greeting ::= "hello" | "hi" | "hey"
name ::= [A-Z] [a-zé]{1,6}
num ::= [1-9] [0-9]{0,3} ("." [0-9]{1,2})?
`;
  for (const arch of ['llama', 'qwen2'] as const) {
    test(`${arch}: outputs match the grammar (Earley) for seeds and temperatures; a compiled Grammar works the same`, async () => {
      const ref = new EarleyGrammar(parseGbnf(src));
      const g = new Grammar(src);
      for (let seed = 0; seed < 12; seed++) {
        for (const temperature of [0, 1, 2]) {
          const { text, stats } = await run(models[arch], 'Say:', { grammar: seed % 2 ? g : src, seed, temperature, maxTokens: 100 });
          expect({ text, ok: ref.recognizes(text), why: stats.stopReason === 'grammar' || stats.stopReason === 'eog' }).toEqual({ text, ok: true, why: true });
        }
      }
    });
  }

  const DIR = '/work/llama.cpp-src/llama.cpp/grammars';
  const FILES = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.gbnf')) : [];
  test(`llama.cpp grammars/ (${FILES.length}): sampled outputs match by the Earley recogniser (whole when the grammar ended, a viable prefix when cut)`, async () => {
    expect(FILES.length).toBeGreaterThanOrEqual(8);
    for (const f of FILES) {
      const src = fs.readFileSync(path.join(DIR, f), 'utf8');
      const ref = new EarleyGrammar(parseGbnf(src));
      for (let seed = 0; seed < 3; seed++) {
        const { text, stats } = await run(models[seed % 2 ? 'llama' : 'qwen2'], 'x', { grammar: src, seed, temperature: 1, maxTokens: 48 });
        const ended = stats.stopReason === 'grammar' || stats.stopReason === 'eog';
        expect({ f, seed, text, ok: ended ? ref.recognizes(text) : ref.viablePrefix(text) }).toEqual({ f, seed, text, ok: true });
      }
    }
  });

  test('{ json: true }: a JSON object (any keys), or cut at maxTokens inside one', async () => {
    let complete = 0, keys = 0;
    for (let seed = 0; seed < 16; seed++) {
      const { text, stats } = await run(models.qwen2, 'x', { json: true, seed, maxTokens: 200, temperature: 2, topK: 0, topP: 1, minP: 0 });
      if (/^\{\s*"/.test(text)) keys++; // a key started: not only {}
      if (stats.stopReason === 'maxTokens') continue;
      const v = JSON.parse(text);
      expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
      complete++;
    }
    expect(complete).toBeGreaterThan(0);
    expect(keys).toBeGreaterThan(0);
  });

  test('option errors', async () => {
    const m = models.llama;
    await expect(run(m, 'x', { grammar: 'root ::= "a"', json: true })).rejects.toThrow(new TypeError('generate: Expected at most one of opts.grammar, opts.jsonSchema and opts.json but received grammar and json'));
    await expect(run(m, 'x', { grammar: 42 as unknown as string })).rejects.toThrow(new TypeError('generate: Expected a GBNF string or a Grammar for opts.grammar but received 42'));
    await expect(run(m, 'x', { grammar: 'root ::= ' })).resolves.toEqual(expect.objectContaining({ text: '' }));
    await expect(run(m, 'x', { jsonSchema: { type: 'integer', multipleOf: 2 } })).rejects.toThrow("jsonSchema: cannot enforce 'multipleOf' at #");
    await expect(run(m, 'x', { grammar: 'root ::= "a" root' })).rejects.toThrow(/derives no finite string/);
  });
});

describe('Sampler with a grammar', () => {
  test('random logits: every draw is allowed, the output matches, and a given mask restricts the ids', () => {
    const tk = models.qwen2.tokenizer;
    const src = 'root ::= "[" [0-9]{1,3} ("," [0-9]{1,3}){0,4} "]"';
    const ref = new EarleyGrammar(parseGbnf(src));
    for (let seed = 0; seed < 20; seed++) {
      const s = new Sampler({ grammar: src, seed, temperature: 1, topK: 0, topP: 1, minP: 0 }, tk);
      const ids: number[] = [];
      for (let i = 0; i < 40 && !s.grammarComplete; i++) {
        const id = s.sample(randn(tk.vocabSize, seed * 50 + i, 4), ids);
        ids.push(id);
      }
      expect(s.grammarComplete).toBe(true);
      expect(ref.recognizes(tk.decode(ids, { stripSpacePrefix: false }))).toBe(true);
    }
    // the mask hook alone (no grammar): only ids 3 and 40
    const mask = new Uint32Array(Math.ceil(tk.vocabSize / 32));
    mask[0] = 1 << 3; mask[1] = 1 << 8;
    const plain = new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 0 });
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) seen.add(plain.sample(randn(tk.vocabSize, i, 1), [], mask));
    expect([...seen].sort((a, b) => a - b)).toEqual([3, 40]);
    // a grammar and a mask: the ids both allow
    const seven = tk.encode('7', { addSpecial: false });
    expect(seven.length).toBe(1);
    const only7 = new Uint32Array(Math.ceil(tk.vocabSize / 32));
    only7[seven[0] >>> 5] |= 1 << (seven[0] & 31);
    for (let i = 0; i < 5; i++) {
      const both = new Sampler({ grammar: 'root ::= [0-9]', seed: i, temperature: 1 }, tk);
      expect(both.sample(randn(tk.vocabSize, i, 3), [], only7)).toBe(seven[0]);
      expect(both.grammarComplete).toBe(true);
    }
    expect(() => new Sampler({ grammar: 'root ::= "a"' })).toThrow(new TypeError('GrammarConstraint: Expected a Tokenizer (a grammar needs the vocabulary) for tokenizer but received undefined'));
    expect(TokenVocab.of(tk).trieNodes).toBeGreaterThan(300);
  });
});
