// The README's examples (examples/*.mjs) run as a user runs them: each copied into a
// scratch project whose node_modules/fuselm is this package (dist/ and the built addon),
// imported as `fuselm`, run by node in a child process. The generate example runs on a
// synthetic GGUF model and must stream what Model.complete() gives for the same options.
// The README shows each example verbatim and lists every export of lib/index.ts in its
// API index; both are checked here too. No timing assertions.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { load, writeSyntheticModel } from '../lib';

const root = path.join(__dirname, '..');
const examples = path.join(root, 'examples');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-examples-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
    throw new Error('examples: dist/index.js is missing; run `npm run build:ts` (npm install does it) first');
  }
  fs.mkdirSync(path.join(tmp, 'node_modules'));
  fs.symlinkSync(root, path.join(tmp, 'node_modules', 'fuselm'), 'dir');
  for (const f of fs.readdirSync(examples)) if (f.endsWith('.mjs')) fs.copyFileSync(path.join(examples, f), path.join(tmp, f));
});

/** Runs one example with node in the scratch project; returns its stdout (a failure throws with its stderr). */
function runExample(name: string, args: string[] = []): string {
  return execFileSync(process.execPath, [path.join(tmp, name), ...args], {
    cwd: tmp, encoding: 'utf8', timeout: 110_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('examples/', () => {
  test('every example file is run by a test here', () => {
    expect(fs.readdirSync(examples).filter((f) => f.endsWith('.mjs')).sort()).toEqual(['bench.mjs', 'generate.mjs', 'kernels.mjs']);
  });

  test('kernels.mjs: rmsnorm, quantize, matmul; a bad shape is a RangeError', () => {
    const out = runExample('kernels.mjs');
    expect(out).toMatch(/^isa (ref|avx2|avx512): y\[0\.\.3\] = /m);
    const err = Number(/max \|q4_0 - f32\| = ([0-9.]+)/.exec(out)?.[1]);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.2);
    expect(out).toContain('RangeError: matmul: Expected [M, 256] for x.shape but received [1, 257]');
  });

  test('generate.mjs: streams what complete() gives on a synthetic model', async () => {
    const file = path.join(tmp, 'qwen2.gguf');
    writeSyntheticModel(file, { arch: 'qwen2', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 11 });
    const prompt = 'hello world';
    const out = runExample('generate.mjs', [file, prompt]);
    const m = await load(file);
    let sampled: string, greedy: string;
    try {
      sampled = await m.complete(prompt, { maxTokens: 32, temperature: 0.8, seed: 1 });
      greedy = await m.complete(prompt, { maxTokens: 16, temperature: 0, stop: '\n' });
    } finally {
      m.dispose();
    }
    expect(out.startsWith('qwen2: 2 layers, dim 128, vocab ')).toBe(true);
    const streamed = out.slice(out.indexOf('\n') + 1);
    expect(streamed.startsWith(sampled + '\nprefill ')).toBe(true);
    expect(out).toMatch(/prefill \d+ tokens: [0-9.]+ tok\/s; decode 32 tokens: [0-9.]+ tok\/s/);
    expect(out).toContain(`greedy: ${JSON.stringify(greedy)}`);
  });

  test('generate.mjs without a model path prints its usage and exits 2', () => {
    let status: number | null = null, stderr = '';
    try { runExample('generate.mjs'); } catch (e) {
      status = (e as { status: number }).status;
      stderr = String((e as { stderr: string }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain('usage: node generate.mjs <model.gguf>');
  });

  test('bench.mjs: the roofline and the rmsnorm entry, as a report', () => {
    const out = runExample('bench.mjs', ['rmsnorm', '8']);
    expect(out).toContain('roofline (median of 3 runs; memory: 8 MiB per buffer)');
    expect(out).toMatch(/^rmsnorm\(f32,4096x4096\): [0-9.]+ ms, [0-9.]+ GB\/s, [0-9.]+ GFLOP\/s, \d+% of the dram roofline$/m);
  });
});

describe('README.md', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

  test.each(['kernels.mjs', 'generate.mjs', 'bench.mjs'])('shows examples/%s verbatim', (name) => {
    const code = fs.readFileSync(path.join(examples, name), 'utf8');
    expect(readme).toContain('```js\n' + code + '```\n');
  });

  test('the API index has a line for every export of lib/index.ts', () => {
    const src = fs.readFileSync(path.join(root, 'lib', 'index.ts'), 'utf8');
    const names = new Set<string>();
    for (const m of src.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
      for (const n of m[1].split(',')) if (n.trim()) names.add(n.trim().split(/\s+as\s+/).pop()!);
    }
    for (const m of src.matchAll(/^export\s+(?:async\s+)?(?:function|const|class|interface|type|enum)\s+(\w+)/gm)) names.add(m[1]);
    expect(names.size).toBeGreaterThan(100);
    const index = readme.slice(readme.indexOf('## API index'), readme.indexOf('\n## ', readme.indexOf('## API index') + 1));
    const missing = [...names].filter((n) => !new RegExp('`' + n + '[`(. ]').test(index));
    expect(missing).toEqual([]);
  });
});
