// Model.embed: the final hidden states (after the output RMSNorm) pooled. Checked
// against the model's own logits (the last token's hidden state times the output
// matrix is the last logits row, bit for bit), against per-prefix runs (mean pooling
// is the mean of each prefix's last state: causal attention), and for its own
// cache (the generation cache is left as it was). llama.cpp's embeddings: test/oracle.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { load } from '../../lib/models/model';
import { readConfig } from '../../lib/models/config';
import { readGguf } from '../../lib/formats/gguf';
import { gguf } from '../../lib/formats/gguf-writer';
import { matmul } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-embed-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const spec = { arch: 'qwen3', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 21 } as const;
const file = path.join(tmp, 'qwen3.gguf');
writeSyntheticModel(file, spec);
const toks = [5, 17, 40, 3, 99, 12, 7, 61, 33, 2, 18];

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('Model.embed', () => {
  test("'last', unnormalized, times the output matrix is the last logits row, bit for bit", async () => {
    const m = await load(file);
    const e = await m.embed(toks, { pooling: 'last', normalize: false });
    expect(e.length).toBe(m.config.dim);
    const logits = matmul(Tensor.from(e, [1, m.config.dim]), m.weights.output).toArray();
    const want = (await m.evaluate(toks, { logits: 'last' }))[0];
    expect(Array.from(logits)).toEqual(Array.from(want));
    const n = await m.embed(toks, { pooling: 'last' });
    expect(norm(n)).toBeCloseTo(1, 6);
    for (let d = 0; d < e.length; d++) expect(n[d]).toBeCloseTo(e[d] / norm(e), 6);
    m.dispose();
  });

  test("'mean' is the mean of every prefix's last state; 'cls' is the first token's; chunked runs agree", async () => {
    const m = await load(file);
    const mean = await m.embed(toks, { pooling: 'mean', normalize: false });
    const want = new Float64Array(m.config.dim);
    for (let k = 1; k <= toks.length; k++) {
      const e = await m.embed(toks.slice(0, k), { pooling: 'last', normalize: false });
      for (let d = 0; d < e.length; d++) want[d] += e[d] / toks.length;
    }
    // the prefixes run other batch sizes (GEMV or GEMM rounding): agreement to f32 precision
    const err = Math.max(...Array.from(mean, (x, d) => Math.abs(x - want[d]))) / Math.max(...Array.from(want, Math.abs));
    expect(err).toBeLessThan(1e-4);
    expect(Array.from(await m.embed(toks, { pooling: 'cls', normalize: false })))
      .toEqual(Array.from(await m.embed(toks.slice(0, 1), { pooling: 'last', normalize: false })));
    const chunked = await load(file, { maxBatch: 4 });
    const mc = await chunked.embed(toks, { pooling: 'mean', normalize: false });
    const err2 = Math.max(...Array.from(mc, (x, d) => Math.abs(x - mean[d]))) / Math.max(...Array.from(mean, Math.abs));
    expect(err2).toBeLessThan(1e-4);
    chunked.dispose();
    m.dispose();
  });

  test("the file's pooling_type is the default pooling", async () => {
    const f = path.join(tmp, 'mean.gguf');
    writeSyntheticModel(f, { ...spec, extraMetadata: { 'qwen3.pooling_type': gguf.u32(1) } });
    expect(readConfig(readGguf(f)).pooling).toBe('mean');
    const m = await load(f);
    expect(Array.from(await m.embed(toks))).toEqual(Array.from(await m.embed(toks, { pooling: 'mean' })));
    m.dispose();
    const bad = path.join(tmp, 'bad.gguf');
    writeSyntheticModel(bad, { ...spec, extraMetadata: { 'qwen3.pooling_type': gguf.u32(9) } });
    expect(() => readConfig(readGguf(bad))).toThrow(/pooling_type 9 is not supported/);
  });

  test('the generation cache is untouched; bad input gets clear errors', async () => {
    const m = await load(file);
    await m.complete(toks, { maxTokens: 3, temperature: 0 });
    await m.embed('hello there');
    await m.complete([...toks, 4], { maxTokens: 3, temperature: 0 });
    expect(m.lastStats!.reusedTokens).toBe(toks.length);
    await expect(m.embed([])).rejects.toThrow('Model.embed: the input has no tokens');
    await expect(m.embed([1, 1e9])).rejects.toThrow(RangeError);
    await expect(m.embed(toks, { pooling: 'max' as never })).rejects.toThrow(/opts.pooling/);
    await expect(m.embed(toks, { normalize: 1 as never })).rejects.toThrow(/opts.normalize/);
    m.dispose();
    await expect(m.embed(toks)).rejects.toThrow(/disposed/);
  });
});
