// Context shift: generation past the context length drops half of the cached tokens
// after the kept ones, rotating the later keys to their new positions. Checked against
// a fresh pass over the kept sequence (layer 0's keys at the new positions), for plain
// RoPE and YaRN, and through generate().
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { load } from '../../lib/models/model';
import { forward } from '../../lib/models/forward';
import { newState, shiftContext } from '../../lib/models/state';
import { gguf } from '../../lib/formats/gguf-writer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-shift-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const base = { dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, ctxLen: 64, seed: 8, ropeBase: 100 } as const;

describe('context shift', () => {
  const cases = [
    ['llama, plain RoPE', { arch: 'llama' }],
    ['qwen2, YaRN x4', { arch: 'qwen2', extraMetadata: { 'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': gguf.f32(4), 'qwen2.rope.scaling.original_context_length': gguf.u32(16) } }],
  ] as const;
  for (const [name, extra] of cases) {
    test(`${name}: kept keys rotated to their new positions exactly as a fresh pass computes them; values moved as they are`, async () => {
      const file = path.join(tmp, `${extra.arch}.gguf`);
      writeSyntheticModel(file, { ...base, ...extra } as never);
      const m = await load(file, { kvDtype: 'f32' });
      const c = m.config, w = m.weights;
      const seq = Array.from({ length: 40 }, (_, i) => 3 + ((i * 11) % 90));
      const s = newState(c, 'f32');
      await forward(c, w, s, seq, { logits: 'last' });
      const before = s.caches.map((x) => x.read());
      shiftContext(c, w, s, 1, 15);
      expect(s.tokens).toEqual([seq[0], ...seq.slice(16)]);
      // layer 0's K and V depend only on each token and its position: a fresh pass over the kept
      // sequence computes them at the new positions (deeper layers saw the dropped tokens, as in
      // llama.cpp's shift, so only their V rows are compared, moved unchanged)
      const fresh = newState(c, 'f32');
      await forward(c, w, fresh, s.tokens, { logits: 'last' });
      const a = s.caches[0].read(), b = fresh.caches[0].read();
      expect(Array.from(a.positions)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      const ka = a.k.toArray() as Float32Array, kb = b.k.toArray() as Float32Array;
      let err = 0, mag = 0;
      for (let i = 0; i < ka.length; i++) { err = Math.max(err, Math.abs(ka[i] - kb[i])); mag = Math.max(mag, Math.abs(kb[i])); }
      expect(err / mag).toBeLessThan(2e-6); // one f32 rotation back: a few ulp
      expect(Array.from(a.v.toArray())).toEqual(Array.from(b.v.toArray()));
      const row = c.nHeadKv * c.headDim;
      for (let l = 0; l < c.nLayer; l++) {
        const v0 = before[l].v.toArray() as Float32Array, v1 = s.caches[l].read().v.toArray() as Float32Array;
        expect(Array.from(v1)).toEqual([...Array.from(v0.subarray(0, row)), ...Array.from(v0.subarray(16 * row))]);
      }
      // the shifted cache goes on working
      const next = await forward(c, w, s, [7, 9], { logits: 'all' });
      expect((next.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
      for (const x of [...s.caches, ...fresh.caches]) x.dispose();
      expect(() => shiftContext(c, w, s, 20, 10)).toThrow(RangeError);
      m.dispose();
    });
  }

  test('generate() runs past the context length by shifting; contextShift: false stops at it', async () => {
    const file = path.join(tmp, 'gen.gguf');
    writeSyntheticModel(file, { ...base, arch: 'llama' });
    const m = await load(file);
    const prompt = Array.from({ length: 20 }, (_, i) => 3 + i);
    const opts = { maxTokens: 150, temperature: 1, seed: 5, repeatPenalty: 1.3 };
    let n = 0;
    for await (const p of m.generate(prompt, opts)) { void p; n++; }
    const st = m.lastStats!;
    // long enough to need shifts unless the model ended its text first (an end-of-generation token)
    if (n + prompt.length > m.config.ctxLen) expect(st.shiftedTokens).toBeGreaterThan(0);
    expect(n).toBeGreaterThan(m.config.ctxLen - prompt.length); // this seed does run past the context
    await expect(m.complete(prompt, { ...opts, contextShift: false, reuseCache: false })).rejects.toThrow(/exceed the context length 64/);
    await expect(m.complete(Array.from({ length: 65 }, () => 5))).rejects.toThrow("generate: the prompt's 65 tokens exceed the context length 64");
    await expect(m.complete(prompt, { keepTokens: -1 })).rejects.toThrow(/keepTokens/);
    m.dispose();
  });
});
