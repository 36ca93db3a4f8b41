// Options are checked, not trusted: every options object of the model API rejects a key it
// does not know with a TypeError naming the key and listing the known ones (a silently
// dropped `jsonSchema` or `memoryBudget` is a wrong answer delivered without a word).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { EMBED_OPTIONS, EVALUATE_OPTIONS, LOAD_OPTIONS, Model, load } from '../../lib/models/model';
import { GENERATE_OPTIONS } from '../../lib/generate/generate';
import { SAMPLER_OPTIONS, Sampler } from '../../lib/generate/sampler';
import { TOOL_CHAT_OPTIONS } from '../../lib/grammar/tools';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-options-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = path.join(tmp, 'm.gguf');
writeSyntheticModel(file, { arch: 'qwen2', dim: 128, nLayer: 1, nHead: 2, nHeadKv: 1, ffDim: 128, seed: 3 });

const unknown = (fn: string, key: string, known: readonly string[]) =>
  `${fn}: Expected one of the options ${known.join(', ')} for opts but received unknown key '${key}'`;

async function thrown(f: () => unknown): Promise<Error> {
  try {
    const r = f();
    if (r && typeof (r as AsyncIterator<unknown>).next === 'function') await (r as AsyncIterator<unknown>).next();
    else await r;
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('an unknown option key is a TypeError naming it and the known ones', () => {
  let m: Model;
  beforeAll(async () => { m = await load(file); });
  afterAll(() => m.dispose());

  const cases: [string, string, readonly string[], (bad: object) => unknown][] = [
    ['load', 'memoryBudget', LOAD_OPTIONS, (o) => load(file, o as never)],
    ['load', 'decodeGraph', LOAD_OPTIONS, (o) => load(file, o as never)],
    ['Model.evaluate', 'logit', EVALUATE_OPTIONS, (o) => m.evaluate([1, 2], o as never)],
    ['generate', 'jsonSchma', GENERATE_OPTIONS, (o) => m.generate([1, 2], o as never)],
    ['complete', 'maxToken', GENERATE_OPTIONS, (o) => m.complete([1, 2], o as never)],
    ['chat', 'grammer', GENERATE_OPTIONS, (o) => m.chat([{ role: 'user', content: 'hi' }], o as never)],
    ['chatStream', 'temp', GENERATE_OPTIONS, (o) => m.chatStream([{ role: 'user', content: 'hi' }], o as never)],
    ['Model.embed', 'pool', EMBED_OPTIONS, (o) => m.embed([1, 2], o as never)],
    ['Sampler', 'top_k', SAMPLER_OPTIONS, (o) => new Sampler(o as never)],
    ['chatWithTools', 'tool_choice', TOOL_CHAT_OPTIONS, (o) => m.chatWithTools([{ role: 'user', content: 'hi' }], o as never)],
    ['chatWithTools', 'toolz', TOOL_CHAT_OPTIONS, async (o) => { for await (const e of m.chatWithToolsStream([{ role: 'user', content: 'hi' }], o as never)) void e; }],
  ];
  test.each(cases)('%s rejects %s', async (fn, key, known, call) => {
    const e = await thrown(() => call({ [key]: 1 }));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe(unknown(fn, key, known));
  });

  test('a key whose value is undefined is checked too; known keys pass', async () => {
    expect((await thrown(() => m.generate([1, 2], { jsonSchma: undefined } as never))).message).toBe(unknown('generate', 'jsonSchma', GENERATE_OPTIONS));
    expect(await m.complete([1, 2], { maxTokens: 2, temperature: 0, topK: 1, stop: [], reuseCache: false })).toEqual(expect.any(String));
    expect((await m.evaluate([1, 2], { logits: 'all', reset: true })).length).toBe(2);
    expect((await m.embed([1, 2], { pooling: 'mean', normalize: false })).length).toBe(128);
  });

  test('the lists name every option of their interface', () => {
    expect([...GENERATE_OPTIONS].sort()).toEqual([...SAMPLER_OPTIONS, 'maxTokens', 'stop', 'signal', 'tokenize', 'reuseCache', 'contextShift', 'keepTokens', 'jsonSchema', 'json'].sort());
    expect(LOAD_OPTIONS).toContain('decodeReplay');
    expect(LOAD_OPTIONS).toContain('mmap');
    expect(LOAD_OPTIONS).toContain('quantize');
  });
});
