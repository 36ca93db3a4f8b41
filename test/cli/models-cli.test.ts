// The model subcommands of `npx fuselm`: info, run (plain and --chat), chat (turns
// from a stream, the KV cache reused across turns) and quantize, each checked
// against the library calls it stands for; usage errors are UsageErrors.
import { CUDA_MATMUL_DTYPES, MATMUL_WEIGHT_DTYPES, repackSupported } from '../../lib/ops/qgemm';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { COMMANDS, UsageError } from '../../lib/commands';
import { chatLoop } from '../../lib/commands/models';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { load } from '../../lib/models/model';
import { readGguf } from '../../lib/formats/gguf';
import { QUANT_PRESETS, quantPlan } from '../../lib/formats/quant-plan';
import { spawnSync } from 'child_process';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = path.join(tmp, 'qwen2.gguf');
writeSyntheticModel(file, { arch: 'qwen2', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 11 });
const cmd = (name: string) => COMMANDS.find((c) => c.name === name)!;

/** Runs a command with stdout and stderr captured. */
async function capture(name: string, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  try {
    const code = await cmd(name).run(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('fuselm CLI, model commands', () => {
  test('info --json: the config the loader reads', async () => {
    const r = await capture('info', [file, '--json']);
    const j = JSON.parse(r.out);
    expect(r.code).toBe(0);
    expect(j.config).toMatchObject({ arch: 'qwen2', dim: 128, nLayer: 2, nHead: 2 });
    expect(j.tensorBytes).toBeGreaterThan(0);
  });

  test('info: each weight type with what fuselm has for it (matmul, repacked GEMV, CUDA)', async () => {
    const j = JSON.parse((await capture('info', [file, '--json'])).out);
    const types = Object.keys(j.types);
    expect(types.length).toBeGreaterThan(0);
    for (const t of types) {
      const d = t.toLowerCase() as never;
      expect(j.types[t]).toMatchObject({ matmul: MATMUL_WEIGHT_DTYPES.includes(d), repackedGemv: repackSupported(d), cuda: CUDA_MATMUL_DTYPES.includes(d) });
    }
    const r = await capture('info', [file]);
    expect(r.out).toMatch(new RegExp(`^  ${types[0]}\\s+x\\d+\\s+[\\d.]+ MiB  matmul (yes|no )  repacked (yes|no )  cuda (yes|no )$`, 'm'));
  });

  test('run --json and run --chat --json give what generate() and chat() give', async () => {
    const opts = { maxTokens: 8, temperature: 0.7, seed: 3 };
    const m = await load(file);
    const plain = await m.complete('hello world', opts);
    const chatted = await m.chat([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello world' }], opts);
    m.dispose();
    const flags = ['-n', '8', '--temperature', '0.7', '--seed', '3', '--json'];
    const a = JSON.parse((await capture('run', [file, '-p', 'hello world', ...flags])).out);
    expect(a.text).toBe(plain);
    expect(a.decodeTokensPerSec).toBeGreaterThan(0);
    const b = JSON.parse((await capture('run', [file, '-p', 'hello world', '--chat', '--system', 'be brief', ...flags])).out);
    expect(b.text).toBe(chatted);
    expect(b.promptTokens).toBeGreaterThan(a.promptTokens);
  });

  test('chat: one turn per input line, streamed; later turns reuse the cache', async () => {
    const input = new PassThrough(), out = new PassThrough(), err = new PassThrough();
    let o = '', e = '';
    out.on('data', (d) => { o += d; });
    err.on('data', (d) => { e += d; });
    input.end('hi there\n\nand again\n');
    const code = await chatLoop([file, '-n', '6', '--temperature', '0', '--system', 'sys'], input, out, err);
    expect(code).toBe(0);
    const stats = e.trim().split('\n');
    expect(stats).toHaveLength(2); // the empty line is not a turn
    const reused = stats.map((s) => Number(/(\d+) from the cache/.exec(s)![1]));
    expect(reused[0]).toBe(0);
    expect(reused[1]).toBeGreaterThan(0);
    // the replies are what chat() gives for the same history
    const m = await load(file);
    const h = [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hi there' }];
    const r1 = await m.chat(h, { maxTokens: 6, temperature: 0 });
    const r2 = await m.chat([...h, { role: 'assistant', content: r1 }, { role: 'user', content: 'and again' }], { maxTokens: 6, temperature: 0 });
    m.dispose();
    expect(o).toBe(`${r1}\n${r2}\n`);
  });

  test('quantize: the written file holds the 2-D weights in the new format and loads', async () => {
    const dst = path.join(tmp, 'q8.gguf');
    const r = await capture('quantize', [file, dst, 'q8_0']);
    expect(r.code).toBe(0);
    const f = readGguf(dst);
    expect(f.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!.typeName).toBe('Q8_0');
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.typeName).toBe('F32');
    const m = await load(dst);
    expect((await m.evaluate([1, 2, 3]))[0].length).toBe(m.config.vocabSize);
    m.dispose();
  });

  test('quantize --dry-run: the plan of a preset (tensor, from -> to, MiB), nothing written', async () => {
    const dst = path.join(tmp, 'plan.gguf');
    const r = await capture('quantize', [file, dst, 'Q4_K_M', '--dry-run']);
    expect(r.code).toBe(0);
    expect(fs.existsSync(dst)).toBe(false);
    // qwen2 dim 128: rows of 128 fill no 256-block, so Q4_K falls back to Q5_0 and output's Q6_K to Q8_0
    expect(r.out).toMatch(/^blk\.0\.attn_q\.weight\s+F32\s+-> Q5_0\s+[\d.]+ MiB$/m);
    expect(r.out).toMatch(/^output\.weight\s+F32\s+-> Q8_0\s+[\d.]+ MiB$/m);
    expect(r.out).toMatch(/^blk\.0\.attn_norm\.weight\s+F32\s+-> F32\s+[\d.]+ MiB$/m);
    expect(r.out).toMatch(/^blk\.0\.attn_q\.bias\s+F32\s+-> F32\s+/m);
    expect(r.out).toMatch(/^total: [\d.]+ MiB -> [\d.]+ MiB \(\d+ of \d+ tensors converted; nothing written\)$/m);
    const f = readGguf(file);
    expect(r.out.trim().split('\n').length).toBe(f.tensors.length + 1);
  });

  test('quantize <PRESET>: the file holds the planned types, sets general.file_type and loads', async () => {
    const dst = path.join(tmp, 'q4km.gguf');
    expect((await capture('quantize', [file, dst, 'Q4_K_M'])).code).toBe(0);
    const f = readGguf(dst);
    const plan = new Map(quantPlan(readGguf(file), 'Q4_K_M').map((e) => [e.name, String(e.to).toUpperCase()]));
    for (const t of f.tensors) expect([t.name, t.typeName]).toEqual([t.name, plan.get(t.name)]);
    expect(f.metadata.get('general.file_type')?.value).toBe(15);
    const m = await load(dst);
    expect((await m.evaluate([1, 2, 3]))[0].length).toBe(m.config.vocabSize);
    m.dispose();
  });

  test('quantize: an unknown preset is a usage error (exit 2) naming the known ones; imatrix presets are refused by name', async () => {
    const call = (argv: string[]) => (async () => cmd('quantize').run(argv))();
    const names = Object.keys(QUANT_PRESETS);
    const e = await call([file, path.join(tmp, 'x.gguf'), 'Q4_K_X']).catch((x: Error) => x);
    expect(e).toBeInstanceOf(UsageError);
    for (const n of names) expect((e as Error).message).toContain(n);
    expect((e as Error).message).toContain("got 'Q4_K_X'");
    const run = spawnSync(process.execPath, [path.join(__dirname, '../../dist/cli.js'), 'quantize', file, path.join(tmp, 'x.gguf'), 'Q4_K_X'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('Q4_K_M');
    await expect(call([file, path.join(tmp, 'x.gguf'), 'IQ2_XXS'])).rejects.toThrow('preset IQ2_XXS needs an importance matrix');
    expect(() => quantPlan(readGguf(file), 'Q9')).toThrow(/^quantPlan: Expected one of Q4_0, .* for preset but received Q9$/);
  });

  test('usage errors and bad files', async () => {
    await expect(cmd('run').run([file])).rejects.toThrow(UsageError);
    await expect(cmd('run').run([file, '-p', 'x', '--system', 's'])).rejects.toThrow('--system needs --chat');
    await expect(cmd('run').run([file, '-p', 'x', '-n', 'many'])).rejects.toThrow("--max-tokens expects an integer, got 'many'");
    await expect(chatLoop([], new PassThrough(), new PassThrough(), new PassThrough())).rejects.toThrow('expected one model path');
    const call = (name: string, argv: string[]) => (async () => cmd(name).run(argv))();
    await expect(call('info', [path.join(tmp, 'missing.gguf')])).rejects.toThrow(/^readGguf: cannot read '.*missing.gguf': no such file$/);
    await expect(call('quantize', [file, path.join(tmp, 'x.gguf'), 'q3_x'])).rejects.toThrow(UsageError);
  });
});
