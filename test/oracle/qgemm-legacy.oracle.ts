// fuselm's quantizers against llama.cpp's own `llama-quantize`, tensor by tensor:
// a synthetic F32 model (hidden 96 and FFN 160: rows that no K-quant can hold, the
// shapes whose fallbacks are these formats) written by fuselm's GGUF writer, quantized
// by llama-quantize --pure to each legacy 32-block format, and every quantized tensor
// of its output compared byte for byte with fuselm's quantize() of the same F32 data.
// Skips when the binary is absent: set LLAMA_QUANTIZE, or build it into
// /work/llama.cpp-src/llama.cpp/build/bin (scripts/build-llama-bench.sh's flags).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { writeSyntheticModel } from '../../lib/models/synthetic';
import { ggufTensor, ggufTensorBytes, readGguf } from '../../lib/formats/gguf';
import { quantize } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';
import { quantize as quantizeCommand } from '../../lib/commands/models';

const BIN = process.env.LLAMA_QUANTIZE ?? '/work/llama.cpp-src/llama.cpp/build/bin/llama-quantize';
const have = fs.existsSync(BIN);
const maybe = have ? describe : describe.skip;

// llama-quantize's ftype for each (MXFP4_MOE with --pure: every matrix MXFP4)
const FORMATS = [['q5_0', 'Q5_0'], ['q4_1', 'Q4_1'], ['q5_1', 'Q5_1'], ['iq4_nl', 'IQ4_NL'], ['mxfp4', 'MXFP4_MOE']] as const;

/** Quantizes src with llama-quantize; compares every tensor of a type in `types` with fuselm's bytes. */
function compareAll(src: string, dst: string, flags: string[], ftype: string, types: readonly string[]): number {
  const r = spawnSync(BIN, [...flags, src, dst, ftype, '2'], { encoding: 'utf8', timeout: 300000 });
  expect({ status: r.status, err: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, err: '' });
  const a = readGguf(src), b = readGguf(dst);
  let compared = 0;
  for (const info of b.tensors) {
    if (!info.dtype || !types.includes(info.dtype)) continue;
    const x = ggufTensor(a, info.name);
    expect(x.dtype).toBe('f32');
    const cols = x.shape[x.ndim - 1];
    const got = quantize(Tensor.from(x.toArray() as Float32Array, [x.numel / cols, cols]), info.dtype as 'q5_0').bytes();
    const want = ggufTensorBytes(b, info);
    let diff = -1;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { diff = i; break; }
    expect({ tensor: info.name, type: info.dtype, len: got.length, diff }).toEqual({ tensor: info.name, type: info.dtype, len: want.length, diff: -1 });
    compared++;
  }
  return compared;
}

maybe('llama-quantize --pure: every tensor byte for byte', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-quant-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const src = path.join(tmp, 'f32.gguf');
  beforeAll(() => {
    writeSyntheticModel(src, { arch: 'llama', dim: 96, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 160, seed: 3, untied: true });
  });
  test.each(FORMATS.map((f) => [...f]))('%s (llama-quantize --pure %s)', (fmt, ftype) => {
    // attention, FFN, embedding and output matrices
    expect(compareAll(src, path.join(tmp, `${fmt}.gguf`), ['--pure'], ftype, [fmt])).toBeGreaterThanOrEqual(9);
  });
  // `fuselm quantize in out <fmt>` against llama-quantize --pure: the same file contents tensor by tensor
  test.each(FORMATS.map((f) => [...f]))('fuselm quantize %s equals llama-quantize --pure %s tensor by tensor', async (fmt, ftype) => {
    const ours = path.join(tmp, `fuselm-${fmt}.gguf`), theirs = path.join(tmp, `${fmt}.gguf`);
    if (!fs.existsSync(theirs)) compareAll(src, theirs, ['--pure'], ftype, [fmt]);
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try { expect(await quantizeCommand.run([src, ours, fmt])).toBe(0); } finally { process.stdout.write = write; }
    const a = readGguf(ours), b = readGguf(theirs);
    let same = 0;
    for (const t of b.tensors) {
      const u = a.tensors.find((v) => v.name === t.name)!;
      expect({ name: t.name, type: u.typeName }).toEqual({ name: t.name, type: t.typeName });
      const x = ggufTensorBytes(a, u), y = ggufTensorBytes(b, t);
      expect({ name: t.name, equal: x.length === y.length && x.every((v, i) => v === y[i]) }).toEqual({ name: t.name, equal: true });
      same++;
    }
    expect(same).toBe(a.tensors.length);
  });
  // gpt-oss style: MoE experts (3-D [E, N, K] tensors) in MXFP4, everything else Q8_0
  test('MXFP4_MOE on an MoE model (expert FFN width 160): experts MXFP4, the rest Q8_0', () => {
    const moe = path.join(tmp, 'moe-f32.gguf');
    writeSyntheticModel(moe, { arch: 'qwen3moe', dim: 64, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 96, nExpert: 4, nExpertUsed: 2, expertFf: 160, seed: 5 });
    const out = path.join(tmp, 'moe-mxfp4.gguf');
    expect(compareAll(moe, out, [], 'MXFP4_MOE', ['mxfp4', 'q8_0'])).toBeGreaterThanOrEqual(10);
    expect(readGguf(out).tensors.filter((t) => t.dtype === 'mxfp4').length).toBe(6);  // gate, up, down x 2 layers
  });
});
