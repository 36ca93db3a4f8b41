// load() never copies a model into memory it does not have (issue: MoE models larger than
// memory, step 0): when the repacked/fused copies of a mapped model would not fit in the
// memory the process may use, it runs zero-copy from the mapping, says so in one line (a
// FUSELM_ZERO_COPY warning), and gives the logits the zero-copy layout gives.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { load } from '../../lib/models/model';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { layoutCopyBytes, layoutWeights, loadWeights } from '../../lib/models/weights';
import { readGguf } from '../../lib/formats/gguf';
import { readConfig } from '../../lib/models/config';
import { quantize, QuantFormat } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-memlimit-'));
const file = path.join(dir, 'm.gguf');
beforeAll(() => {
  writeSyntheticModel(file, { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, type: 'q8_0', seed: 5,
    quantize: (x: Tensor, t) => quantize(x, t as QuantFormat) });
});

async function warnings(fn: () => Promise<void>): Promise<string[]> {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    await fn();
    return spy.mock.calls.filter((c) => (c[1] as { code?: string } | undefined)?.code === 'FUSELM_ZERO_COPY').map((c) => String(c[0]));
  } finally {
    spy.mockRestore();
  }
}

describe('load() and the memory it may use', () => {
  test('layoutCopyBytes is the bytes layoutWeights allocates', () => {
    const f = readGguf(file);
    const w = loadWeights(f, readConfig(f));
    const laid = layoutWeights(w);
    const allocated = new Set<ArrayBufferLike>();
    let bytes = 0;
    const count = (t: Tensor | undefined) => { if (t && !allocated.has(t.buffer) && t.buffer !== w.tokEmbd.buffer) { allocated.add(t.buffer); bytes += t.buffer.byteLength; } };
    for (const l of laid.weights.layers) for (const t of Object.values(l)) count(t as Tensor | undefined);
    count(laid.weights.output);
    expect(layoutCopyBytes(w)).toBe(bytes);
    expect(layoutCopyBytes(w, { repack: false, fuse: false })).toBe(0);
  });

  test('copies that do not fit: zero-copy, one warning, the same logits as repack/fuse off', async () => {
    let m1: Awaited<ReturnType<typeof load>> | undefined;
    const w = await warnings(async () => { m1 = await load(file, { memoryLimit: 64 * 1024 }); });
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^load: .*m\.gguf'?: repacking and fusing would copy [\d.]+ KiB but 64\.00 KiB is available \(memoryLimit\): running zero-copy from the mapping$/);
    expect(m1!.mapped).toBe(true);
    const m2 = await load(file, { repack: false, fuse: false });
    const a = await m1!.evaluate([1, 5, 9, 2], { logits: 'all' });
    const b = await m2.evaluate([1, 5, 9, 2], { logits: 'all' });
    expect(a).toHaveLength(4);
    a.forEach((row, i) => expect(Buffer.from(row.buffer, row.byteOffset, row.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength))).toBe(true));
    m1!.dispose(); m2.dispose();
  });

  test('copies that fit, or an explicit repack/fuse: copied, no warning', async () => {
    const w = await warnings(async () => {
      const m = await load(file, { memoryLimit: '1GB' });
      expect(m.mapped).toBe(false);
      m.dispose();
      const f = await load(file, { memoryLimit: 1024, repack: true, fuse: true });
      expect(f.mapped).toBe(false);
      f.dispose();
    });
    expect(w).toEqual([]);
  });

  test.each([[0], ['lots'], [-1], [{}]])('memoryLimit %p is refused by name', async (v) => {
    await expect(load(file, { memoryLimit: v as never })).rejects.toThrow(/load: Expected a byte count.* for opts\.memoryLimit but received/);
  });

  // a real memory cgroup (v1 or v2, as root): a model whose fused/repacked copies exceed the limit
  // loads, says it runs zero-copy and evaluates, where copying would be OOM-killed
  const cg = (() => {
    if (process.getuid?.() !== 0) return undefined;
    const v1 = '/sys/fs/cgroup/memory';
    if (fs.existsSync(path.join(v1, 'memory.limit_in_bytes'))) return { root: v1, limit: 'memory.limit_in_bytes', procs: 'cgroup.procs' };
    if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers') && fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').includes('memory')) {
      return { root: '/sys/fs/cgroup', limit: 'memory.max', procs: 'cgroup.procs' };
    }
    return undefined;
  })();
  (cg ? test : test.skip)('under a real memory cgroup limit: zero-copy instead of an OOM kill', () => {
    const big = path.join(dir, 'big.gguf');
    // ~190 MB of f16 weights: the fused q/k/v and gate/up copies alone exceed the 160 MiB limit
    writeSyntheticModel(big, { arch: 'llama', dim: 1024, nLayer: 8, nHead: 8, nHeadKv: 8, ffDim: 2816, type: 'f16', seed: 1, fastWeights: true });
    const name = path.join(cg!.root, `fuselm-test-${process.pid}`);
    fs.mkdirSync(name);
    try {
      fs.writeFileSync(path.join(name, cg!.limit), String(160 * 2 ** 20));
      const script = `
        const fs = require('fs');
        fs.writeFileSync(${JSON.stringify(path.join(name, cg!.procs))}, String(process.pid));
        process.on('warning', (w) => { if (w.code === 'FUSELM_ZERO_COPY') console.log('NOTICE ' + w.message); });
        const { load } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'index.js'))});
        load(${JSON.stringify(big)}).then(async (m) => {
          const l = await m.evaluate([1, 2, 3], { logits: 'last' });
          console.log('MAPPED ' + m.mapped + ' FINITE ' + l[0].every(Number.isFinite));
        });`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120000 });
      expect({ signal: r.signal, status: r.status, stderr: r.stderr.split('\n').filter((l) => !/Warning|trace-warnings/.test(l)).join('\n') }).toEqual({ signal: null, status: 0, stderr: '' });
      expect(r.stdout).toMatch(/NOTICE load: .*big\.gguf'?: repacking and fusing would copy .* \(cgroup v[12]\): running zero-copy/);
      expect(r.stdout).toContain('MAPPED true FINITE true');
    } finally {
      for (let i = 0; i < 50; i++) { try { fs.rmdirSync(name); break; } catch { spawnSync('sleep', ['0.1']); } }
    }
  }, 180000);
});
