// The bench framework and the CLI: registry shape, roofline argument checks,
// the report's structure, and the CLI's exit codes. No timing assertions.
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;
import { FAMILIES, formatReport, measureRoofline, runBench, BenchEntry } from '../../lib/bench';
import { main } from '../../lib/cli';
import { parseArgs, UsageError } from '../../lib/commands';

/** the addon's errors come from another realm than jest's globals: compare name and message */
function throwsLike(fn: () => unknown, name: string, message: string): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeDefined();
  expect({ name: (err as Error).name, message: (err as Error).message }).toEqual({ name, message });
}

function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  return fn().then((code) => ({ code, out, err })).finally(() => { o.mockRestore(); e.mockRestore(); });
}

describe('bench registry', () => {
  test('every entry names itself uniquely and states bytes and flops', () => {
    const names = new Set<string>();
    for (const fam of FAMILIES) {
      expect(fam.family).toMatch(/^[a-z0-9_]+$/);
      for (const e of fam.entries) {
        expect(typeof e.name).toBe('string');
        expect(names.has(e.name)).toBe(false);
        names.add(e.name);
        expect(Number.isFinite(e.bytes) && e.bytes >= 0).toBe(true);
        expect(Number.isFinite(e.flops) && e.flops >= 0).toBe(true);
        expect(e.bytes + e.flops).toBeGreaterThan(0);
        expect(['dram', 'fma', 'int8', 'bf16', undefined]).toContain(e.bound);
        expect(typeof e.setup).toBe('function');
        expect(typeof e.run).toBe('function');
      }
    }
    expect(names.has('rmsnorm(f32,4096x4096)')).toBe(true);
  });
});

describe('roofline', () => {
  test('measures every kind on small buffers', () => {
    const r = measureRoofline({ threads: [1], bufferBytes: 2 ** 21, reps: 1, targetMs: 1 });
    expect(r.figures.map((f) => f.kind)).toEqual(['read', 'write', 'copy', 'fma', 'int8', 'bf16']);
    for (const f of r.figures) {
      expect(f.threads).toBe(1);
      if (f.isa === 'none') expect(f.median).toBe(0);
      else expect(f.median).toBeGreaterThan(0);
    }
  });

  test('the native entry checks its arguments', () => {
    throwsLike(() => native.roofline('flops', 1, 2 ** 20, 1, 1), 'RangeError',
      "roofline: Expected one of 'read', 'write', 'copy', 'fma', 'int8', 'bf16' for kind but received 'flops'");
    throwsLike(() => native.roofline('read', 0, 2 ** 20, 1, 1), 'RangeError',
      'roofline: Expected integer in [1, 1024] for threads but received 0');
    throwsLike(() => native.roofline('read', 1, 1000, 1, 1), 'RangeError',
      'roofline: Expected integer in [1048576, 68719476736] for bufferBytes but received 1000');
    throwsLike(() => native.roofline('fma', 1, 2 ** 20, 1, 0), 'RangeError',
      'roofline: Expected a number in [1, 10000] for targetMs but received 0');
    throwsLike(() => loose.roofline('read', 1, 2 ** 20, 1), 'TypeError',
      'roofline: Expected 5 arguments for arguments but received 4');
    throwsLike(() => loose.noop(1), 'TypeError', 'noop: Expected a TypedArray or ArrayBuffer for buffer but received 1');
  });
});

describe('runner', () => {
  test('reports each entry, its fraction, and an entry that throws', () => {
    let runs = 0;
    const ok: BenchEntry = { name: 'ok(1)', bytes: 1e6, flops: 0, setup() {}, run() { runs++; } };
    const bad: BenchEntry = { name: 'bad(1)', bytes: 1, flops: 1, bound: 'fma', setup() {}, run() { throw new Error('boom'); } };
    const report = runBench({ families: [{ family: 'toy', entries: [ok, bad] }], roofline: false, reps: 3, minSampleMs: 0.01, overheadCalls: 1000 });
    expect(runs).toBeGreaterThan(3);
    expect(report.kernels).toHaveLength(2);
    const [a, b] = report.kernels;
    expect(a).toMatchObject({ name: 'ok(1)', family: 'toy', bound: 'dram', samples: 3, roof: null, fraction: null });
    expect(a.gbs).toBeGreaterThan(0);
    expect(b).toMatchObject({ name: 'bad(1)', bound: 'fma', error: 'boom' });
    expect(report.overhead.noopNs).toBeGreaterThan(0);
    const text = formatReport(report);
    expect(text).toContain('ok(1)');
    expect(text).toContain('boom');
  });

  test("entries marked runs: 'full' are left out of a quick run, runs: 'quick' out of a full one", () => {
    const mk = (name: string, runs?: 'quick' | 'full'): BenchEntry => ({ name, bytes: 1e3, flops: 0, runs, setup() {}, run() {} });
    const families = [{ family: 'toy', entries: [mk('both'), mk('big', 'full'), mk('small', 'quick')] }];
    const o = { families, roofline: false, reps: 1, minSampleMs: 0.01, overheadCalls: 1000 };
    expect(runBench({ ...o, quick: true }).kernels.map((k) => k.name)).toEqual(['both', 'small']);
    expect(runBench(o).kernels.map((k) => k.name)).toEqual(['both', 'big']);
  });
});

describe('cli', () => {
  test('no command or an unknown one prints usage and exits 2', async () => {
    const r = await capture(() => main(['nope']));
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'nope'");
    expect(r.err).toContain('usage: fuselm <command>');
    expect((await capture(() => main([]))).code).toBe(2);
  });

  test('help and --help exit 0', async () => {
    const r = await capture(() => main(['help']));
    expect(r.code).toBe(0);
    expect(r.out).toContain('bench');
    const b = await capture(() => main(['bench', '--help']));
    expect(b.code).toBe(0);
    expect(b.out).toContain('--json');
  });

  test('bad options are usage errors', async () => {
    for (const argv of [['bench', '--bogus'], ['bench', '--threads'], ['bench', '--threads', 'x'], ['bench', '--threads', '0'], ['bench', 'extra']]) {
      const r = await capture(() => main(argv));
      expect(r.code).toBe(2);
      expect(r.err).toContain('usage: fuselm bench');
    }
  });

  test('bench --json prints a parseable report', async () => {
    const r = await capture(() => main(['bench', '--json', '--quick', '--buffer-mb', '4', '--filter', 'rmsnorm', '--reps', '1']));
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.roofline.figures.length).toBeGreaterThan(0);
    expect(rep.kernels.map((k: { name: string }) => k.name)).toContain('rmsnorm(f32,4096x4096)');
    const k = rep.kernels[0];
    expect(k.fraction).toBeGreaterThan(0);
    expect(typeof rep.overhead.tinyKernelNs).toBe('number');
    // a replayed op skips the TypeScript checks and the argument unwrapping of the call it recorded
    expect(rep.overhead.graphOpNs).toBeGreaterThan(0);
    expect(rep.overhead.graphOpNs).toBeLessThan(rep.overhead.tinyKernelNs);
    expect(rep.overhead.asyncRoundTripNs).toBeGreaterThan(rep.overhead.noopNs); // a queue, a thread and back
  });

  test('parseArgs', () => {
    expect(parseArgs(['--a=3', '--b', 'x', '--no-c', 'p'], { a: 'int', b: 'string', c: 'boolean' })).toEqual({
      flags: { a: 3, b: 'x', c: false }, positional: ['p'],
    });
    expect(() => parseArgs(['--a=1.5'], { a: 'int' })).toThrow(UsageError);
    expect(() => parseArgs(['--c=1'], { c: 'boolean' })).toThrow(UsageError);
  });
});
