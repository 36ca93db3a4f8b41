// The load-time layout (lib/models/weights.ts layoutWeights): q/k/v and gate/up fused into one
// matrix each, repacked on the way, every weight copied once; the parts are row views of the
// fused matrix, byte for byte what repacking each part and concatenating them gives.
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf } from '../../lib/formats/gguf-writer';
import { readConfig } from '../../lib/models/config';
import { SyntheticSpec, syntheticModel } from '../../lib/models/synthetic';
import { layoutWeights, loadWeights } from '../../lib/models/weights';
import { QuantFormat, REPACKABLE_DTYPES, REPACKED_FORMATS, quantize, repack } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';

const q = (x: Tensor, t: string) => quantize(x, t as QuantFormat);
const concat = (ts: Tensor[]) => Buffer.concat(ts.map((t) => Buffer.from(t.bytes())));
const sameBuffer = (a: Tensor, b: Tensor) => a.buffer === b.buffer;

function weightsOf(spec: Partial<SyntheticSpec>) {
  const f = parseGguf(encodeGguf(syntheticModel({ arch: 'llama', dim: 128, nLayer: 1, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 2, ...spec } as SyntheticSpec)));
  return loadWeights(f, readConfig(f));
}

describe('layoutWeights', () => {
  test('the repackable formats are one list: REPACKABLE_DTYPES are the formats REPACKED_FORMATS holds', () => {
    expect(REPACKABLE_DTYPES).toEqual(Object.values(REPACKED_FORMATS));
  });

  test.each(['q4_0', 'q8_0'])('%s: q/k/v and gate/up fused and repacked in one copy, equal to the repacked parts concatenated', (type) => {
    const w = weightsOf({ type: type as never, quantize: q });
    const L = w.layers[0];
    const { weights, copied } = layoutWeights(w);
    const M = weights.layers[0];
    expect(copied).toBeGreaterThan(0);
    expect(M.wQkv!.dtype).toBe(`${type}x16`);
    expect(Buffer.from(M.wQkv!.bytes()).equals(concat([repack(L.wq), repack(L.wk), repack(L.wv)]))).toBe(true);
    expect(Buffer.from(M.wGateUp!.bytes()).equals(concat([repack(L.wGate!), repack(L.wUp!)]))).toBe(true);
    // the parts are views of the fused matrices: no weight is held twice
    for (const t of [M.wq, M.wk, M.wv]) expect(sameBuffer(t, M.wQkv!)).toBe(true);
    for (const t of [M.wGate!, M.wUp!]) expect(sameBuffer(t, M.wGateUp!)).toBe(true);
    expect(M.wo.dtype).toBe(`${type}x16`);
    expect(M.wDown!.dtype).toBe(`${type}x16`);
  });

  test('repack false: fused in the file\'s format; fuse false: each projection repacked on its own; both false: untouched', () => {
    const w = weightsOf({ type: 'q8_0', quantize: q });
    const L = w.layers[0];
    const plain = layoutWeights(w, { repack: false }).weights.layers[0];
    expect(plain.wQkv!.dtype).toBe('q8_0');
    expect(Buffer.from(plain.wQkv!.bytes()).equals(concat([L.wq, L.wk, L.wv]))).toBe(true);
    const apart = layoutWeights(w, { fuse: false }).weights.layers[0];
    expect(apart.wQkv).toBeUndefined();
    expect(apart.wq.dtype).toBe('q8_0x16');
    const none = layoutWeights(w, { repack: false, fuse: false });
    expect(none.copied).toBe(0);
    expect(none.weights.layers[0].wq).toBe(L.wq);
  });

  test('parts of which only some can be repacked are not fused (each keeps the layout it can have)', () => {
    // wk, wv cut to 8 rows (not a whole group of 16; no real head size gives that), wq 64
    const w = weightsOf({ type: 'q8_0', quantize: q, dim: 64, nHead: 1, nHeadKv: 1, ffDim: 64 });
    w.layers[0].wk = w.layers[0].wk.slice(0, 8);
    w.layers[0].wv = w.layers[0].wv.slice(0, 8);
    const M = layoutWeights(w).weights.layers[0];
    expect(M.wQkv).toBeUndefined();
    expect(M.wq.dtype).toBe('q8_0x16');
    expect(M.wk.dtype).toBe('q8_0');
  });
});

describe('loadWeights refuses what the attention kernels cannot run, at load', () => {
  test('a head size outside ATTENTION_HEAD_DIMS names the tensor and the sizes', () => {
    // dim 120 / 3 heads = head size 40
    expect(() => weightsOf({ dim: 120, nHead: 3, nHeadKv: 1, ffDim: 64, type: 'f32' as never })).toThrow(
      /blk\.0\.attn_q\.weight: head size 40 \(key_length\) is not one the attention kernels take \(32, 64, 80, 96, 128, 192, 256, 512\)/);
  });
  test.each([[96 * 2, 2], [256 * 2, 2]])('dim %d with %d heads (head size 96, 256) loads', (dim, nHead) => {
    const w = weightsOf({ dim, nHead, nHeadKv: 1, ffDim: 64, type: 'f32' as never });
    expect(w.layers).toHaveLength(1);
  });
});
