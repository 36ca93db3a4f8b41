// Files over 4 GiB. Node 20 makes no ArrayBuffer (nor typed array) over 4 GiB, so
// the readers hold such a file as windows of at most 4 GiB: mmap'd, each window is
// a view of the one mapping of the file. The files here are sparse (./sparse.ts):
// only the header and a few tensors are written, a few MB of disk.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  GgufError, GgufFile, GgufType, MAX_WINDOW_BYTES, ggufTensor, ggufTensorBytes, ggufGet, readGguf,
} from '../../lib/formats/gguf';
import { gguf, writeGguf } from '../../lib/formats/gguf-writer';
import { syntheticModel } from '../../lib/models/synthetic';
import { load } from '../../lib/models/model';
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;
import { quantize, QuantFormat } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';
import { sparseFile, sparseGguf, sparseSafetensors } from './sparse';
import { SafetensorsFile, readSafetensors, safetensorsTensor } from '../../lib/formats/safetensors';

const G = 2 ** 30;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-big-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const f32bytes = (n: number, seed: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 2654435761 + seed * 40503) % 1000) / 250 - 2;
  return new Uint8Array(a.buffer);
};
const same = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('GGUF over 4 GiB', () => {
  // a, then a padding tensor that ends just below 4 GiB (window 0), then b straddling the
  // 4 GiB boundary and c after it (window 1)
  const straddle = path.join(tmp, 'straddle.gguf');
  const a = f32bytes(64, 1);
  const b = f32bytes(512 * 1024, 2); // 2 MiB across the boundary
  const c = new Uint8Array(34 * 8).map((_, i) => (i * 7 + 3) & 255); // 8 blocks of q8_0
  let bAt = 0;
  beforeAll(() => {
    const padElems = (4 * G - 2 * 2 ** 20) / 4;
    const { dataOffset, offsets } = sparseGguf(straddle, { 'general.architecture': 'test', 'test.note': 'big' }, [
      { name: 'a', shape: [64], type: 'f32', data: a },
      { name: 'pad', shape: [padElems], type: 'f32' },
      { name: 'b', shape: [1024, 512], type: 'f32', data: b },
      { name: 'c', shape: [256], type: 'q8_0', data: c },
    ]);
    bAt = dataOffset + offsets[2];
  });

  test('tensors across and beyond the 4 GiB boundary read back exactly, zero-copy from one mapping', () => {
    expect(bAt).toBeLessThan(MAX_WINDOW_BYTES);
    expect(bAt + b.byteLength).toBeGreaterThan(MAX_WINDOW_BYTES);
    const f = readGguf(straddle);
    expect(f.mapped).toBe(true);
    expect(f.size).toBeGreaterThan(MAX_WINDOW_BYTES);
    expect(ggufGet(f, 'test.note')).toBe('big');
    // window 0 from byte 0 (the header, a and pad), window 1 from the page holding b's first byte
    const w1 = bAt - (bAt % 4096);
    expect(f.windows.map((w) => [w.fileOffset, w.byteLength])).toEqual([[0, MAX_WINDOW_BYTES], [w1, f.size - w1]]);
    expect(f.tensors.map((t) => t.window)).toEqual([0, 0, 1, 1]);
    expect(f.buffer).toBe(f.windows[0].buffer);
    const ta = ggufTensor(f, 'a'), tb = ggufTensor(f, 'b');
    expect(ta.buffer).toBe(f.windows[0].buffer);
    expect(tb.buffer).toBe(f.windows[1].buffer);
    expect(tb.byteOffset).toBe(bAt - w1);
    expect(tb.shape).toEqual([1024, 512]);
    expect(same(ta.bytes(), a)).toBe(true);
    expect(same(tb.bytes(), b)).toBe(true);
    expect(Array.from((tb.toArray() as Float32Array).subarray(-3))).toEqual(Array.from(new Float32Array(b.buffer).subarray(-3)));
    const ic = f.tensors.find((t) => t.name === 'c')!;
    expect(ic.fileOffset).toBeGreaterThan(MAX_WINDOW_BYTES);
    expect(same(ggufTensorBytes(f, ic), c)).toBe(true);
    expect(ggufTensor(f, 'c').dtype).toBe('q8_0');
    // the padding tensor (4 GiB - 2 MiB of hole) is a view too: read two values, both zero
    const pad = ggufTensor(f, 'pad');
    expect(pad.byteLength).toBe(4 * G - 2 * 2 ** 20);
    expect(new Float32Array(pad.buffer, pad.byteOffset + pad.byteLength - 4, 1)[0]).toBe(0);
  });

  // a header of ~3 MiB (a big metadata array), a tensor over 4 GiB, then a tiny llama model
  const modelFile = path.join(tmp, 'model.gguf');
  const smallFile = path.join(tmp, 'small.gguf');
  const spec = { arch: 'llama' as const, dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 128, seed: 3, type: 'q8_0' as const, quantize: (x: Tensor, t: string) => quantize(x, t as QuantFormat) };
  const blob = new Uint8Array(3 * 2 ** 20).map((_, i) => (i * 31) & 255);
  beforeAll(() => {
    const m = syntheticModel(spec);
    writeGguf(smallFile, m);
    sparseGguf(modelFile, { ...m.metadata, 'test.blob': gguf.array(GgufType.UINT8, blob) }, [
      { name: 'pad', shape: [(4 * G) / 4 + 16384], type: 'f32' }, // 4 GiB + 64 KiB: over one window
      ...m.tensors,
    ]);
  });

  test('a model whose tensors sit after a tensor over 4 GiB loads, mmap\'d and read, with the same logits', async () => {
    for (const opts of [{}, { mmap: false }, { repack: false, fuse: false }]) {
      const small = await load(smallFile, opts);
      const tokens = small.tokenizer.encode('the quick brown fox');
      const want = await small.evaluate(tokens, { logits: 'last' });
      small.dispose();
      const m = await load(modelFile, opts);
      try {
        expect(m.file!.size).toBeGreaterThan(4 * G);
        if (opts.repack === false) {
          expect(m.mapped).toBe(true);
          expect(m.weights.layers[1].wDown!.buffer).toBe(m.file!.windows[1].buffer); // zero-copy, past 4 GiB
        }
        // the same weights, the same kernels: bit-identical logits
        const got = await m.evaluate(tokens, { logits: 'last' });
        expect(Array.from(got[got.length - 1])).toEqual(Array.from(want[want.length - 1]));
      } finally { m.dispose(); }
    }
  });

  test('a header larger than the first read grows its window; a tensor over 4 GiB gets a RangeError', () => {
    for (const mmap of [true, false]) {
      const f: GgufFile = readGguf(modelFile, { mmap });
      expect(f.mapped).toBe(mmap);
      const v = ggufGet(f, 'test.blob') as { items: Uint8Array };
      expect(same(v.items, blob)).toBe(true);
      // read: 1 MiB first, grown (at least doubled) until the ~3.1 MiB header fits
      if (mmap) expect(f.windows[0].byteLength).toBe(MAX_WINDOW_BYTES);
      else expect(f.windows[0].byteLength).toBeGreaterThan(3 * 2 ** 20);
      const pad = f.tensors.find((t) => t.name === 'pad')!;
      expect(pad.window).toBe(-1);
      const msg = `Expected a tensor of at most 4294967296 bytes (4 GiB: one ArrayBuffer in this Node) for name but received 'pad' of ${4 * G + 65536} bytes`;
      expect(() => ggufTensor(f, 'pad')).toThrow(RangeError);
      expect(() => ggufTensor(f, 'pad')).toThrow(`ggufTensor: ${msg}`);
      expect(() => ggufTensorBytes(f, pad)).toThrow(`ggufTensorBytes: ${msg}`);
      // read into memory, only the header and the model's tensors were read: a few MB
      if (!mmap) expect(f.windows.reduce((s, w) => s + w.byteLength, 0)).toBeLessThan(8 * 2 ** 20);
    }
  });

  test('a header that claims more than 4 GiB is refused without reading it', () => {
    const file = path.join(tmp, 'hostile.gguf');
    const h = new Uint8Array(4 + 4 + 8 + 8 + 8 + 1);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, 0x46554747, true); dv.setUint32(4, 3, true);
    dv.setBigUint64(8, 0n, true); dv.setBigUint64(16, 1n, true);
    dv.setBigUint64(24, BigInt(4.5 * G), true); // the first key's length: 4.5 GiB
    sparseFile(file, 5 * G, [[0, h]]);
    for (const mmap of [true, false]) {
      expect(() => readGguf(file, { mmap })).toThrow(GgufError);
      expect(() => readGguf(file, { mmap })).toThrow(/runs past 4294967296 bytes, more than readGguf reads in one window \(at byte 32\)/);
    }
    fs.rmSync(file);
  });

  test('native windows: one mapping, each window at most 4 GiB, every range checked', () => {
    const h = native.mmapOpen(straddle);
    const size: number = native.mmapSize(h);
    expect(size).toBeGreaterThan(MAX_WINDOW_BYTES);
    const w = native.mmapWindow(h, bAt, 16) as ArrayBuffer;
    expect(same(new Uint8Array(w), b.subarray(0, 16))).toBe(true);
    expect(native.mmapWindow(h, size, 0).byteLength).toBe(0);
    // (native errors come from another realm than jest's: check the name, not the class)
    expect(() => native.mmapWindow(h, 0, MAX_WINDOW_BYTES + 1)).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => native.mmapWindow(h, 0, MAX_WINDOW_BYTES + 1)).toThrow(`mmapWindow: Expected integer in [0, 4294967296] (the ${size} bytes of the ${size}-byte file after offset 0, at most 4294967296 per window) for length but received 4294967297`);
    expect(() => native.mmapWindow(h, size - 4, 5)).toThrow(/Expected integer in \[0, 4\] .* for length but received 5/);
    expect(() => native.mmapWindow(h, size + 1, 0)).toThrow(`mmapWindow: Expected integer in [0, ${size}] for offset but received ${size + 1}`);
    expect(() => native.mmapWindow(h, -1, 0)).toThrow(`mmapWindow: Expected integer in [0, ${size}] for offset but received -1`);
    expect(() => native.mmapWindow(h, 0.5, 0)).toThrow(`mmapWindow: Expected integer in [0, ${size}] for offset but received 0.5`);
    expect(() => loose.mmapWindow(h, 0, '1')).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => loose.mmapWindow({}, 0, 1)).toThrow('mmapWindow: Expected a mapped-file handle from mmapOpen for handle but received an object');
    expect(() => native.mmapFile(straddle)).toThrow(/mmapFile: Expected a file of at most 4294967296 bytes .* of \d+ bytes/);
    native.mmapClose(h);
    native.mmapClose(h); // idempotent
    // the window holds the mapping: still readable after the handle is closed
    expect(same(new Uint8Array(w), b.subarray(0, 16))).toBe(true);
    expect(() => native.mmapWindow(h, 0, 1)).toThrow('mmapWindow: Expected an open mapped-file handle for handle but received a closed one');
    expect(() => native.mmapSize(h)).toThrow(/closed one/);
  });
});

describe('safetensors over 4 GiB', () => {
  const bf16 = (n: number, seed: number) => new Uint8Array(2 * n).map((_, i) => (i & 1 ? 0x3f + (seed & 1) : (i * 13 + seed) & 255));
  const a = f32bytes(16, 4);
  const b = bf16(1024 * 1024, 5); // 2 MiB, across the 4 GiB boundary
  const d = f32bytes(8, 6); // at an odd offset: copied, as in a small file
  const e = new Uint8Array(128).map((_, i) => (i * 5 + 1) & 255);
  const huge = 4 * G + 65536;
  // a, a 4 GiB - 1 MiB hole tensor, b across the boundary, d at an odd offset, a tensor over 4 GiB, e after it
  const straddle = path.join(tmp, 'straddle.safetensors');
  // no tensor holding a hole under 4 GiB: a, a tensor over 4 GiB (never read), b and e after it
  const gappy = path.join(tmp, 'gappy.safetensors');
  let bAt = 0;
  beforeAll(() => {
    const padEnd = 64 + 4 * G - 2 ** 20;
    const { dataOffset } = sparseSafetensors(straddle, [
      { name: 'a', dtype: 'F32', shape: [16], at: 0, data: a },
      { name: 'pad', dtype: 'U8', shape: [4 * G - 2 ** 20], at: 64 },
      { name: 'b', dtype: 'BF16', shape: [1024, 1024], at: padEnd, data: b },
      { name: 'odd', dtype: 'U8', shape: [3], at: padEnd + b.byteLength },
      { name: 'd', dtype: 'F32', shape: [8], at: padEnd + b.byteLength + 3, data: d },
      { name: 'huge', dtype: 'F32', shape: [huge / 4], at: padEnd + b.byteLength + 64 },
      { name: 'e', dtype: 'F16', shape: [64], at: padEnd + b.byteLength + 64 + huge, data: e },
    ]);
    bAt = dataOffset + padEnd;
    sparseSafetensors(gappy, [
      { name: 'a', dtype: 'F32', shape: [16], at: 0, data: a },
      { name: 'huge', dtype: 'F32', shape: [huge / 4], at: 64 },
      { name: 'b', dtype: 'BF16', shape: [1024, 1024], at: 64 + huge, data: b },
      { name: 'e', dtype: 'F16', shape: [64], at: 64 + huge + b.byteLength, data: e },
    ]);
  });

  const check = (f: SafetensorsFile) => {
    expect(same(safetensorsTensor(f, 'a').bytes(), a)).toBe(true);
    const tb = safetensorsTensor(f, 'b');
    expect(tb.dtype).toBe('bf16');
    expect(tb.shape).toEqual([1024, 1024]);
    expect(same(tb.bytes(), b)).toBe(true);
    expect(same(safetensorsTensor(f, 'e').bytes(), e)).toBe(true);
    const msg = `Expected a tensor of at most 4294967296 bytes (4 GiB: one ArrayBuffer in this Node) for name but received 'huge' of ${huge} bytes`;
    expect(() => safetensorsTensor(f, 'huge')).toThrow(RangeError);
    expect(() => safetensorsTensor(f, 'huge')).toThrow(`safetensorsTensor: ${msg}`);
    expect(f.tensors.get('huge')!.window).toBe(-1);
  };

  test('tensors across and beyond the 4 GiB boundary read back exactly from one mapping', () => {
    const f = readSafetensors(straddle);
    expect(f.mapped).toBe(true);
    expect(f.size).toBeGreaterThan(8 * G);
    check(f);
    const w1 = bAt - (bAt % 4096);
    expect(f.windows.map((w) => w.fileOffset)).toEqual([0, w1, f.tensors.get('e')!.fileOffset - (f.tensors.get('e')!.fileOffset % 4096)]);
    expect(f.tensors.get('b')!.window).toBe(1);
    expect(safetensorsTensor(f, 'b').buffer).toBe(f.windows[1].buffer); // zero-copy
    expect(safetensorsTensor(f, 'a').buffer).toBe(f.buffer);
    // d sits at an odd file offset: copied (as in a small file), still exact
    const td = safetensorsTensor(f, 'd');
    expect(td.buffer).not.toBe(f.windows[1].buffer);
    expect(same(td.bytes(), d)).toBe(true);
  });

  test('mmap\'d and read into memory alike; read, only the header and the windows with tensors are read', () => {
    for (const mmap of [true, false]) {
      const f = readSafetensors(gappy, { mmap });
      expect(f.mapped).toBe(mmap);
      check(f);
      if (!mmap) {
        expect(f.windows[0].byteLength).toBe(f.dataOffset); // just the header
        expect(f.windows.reduce((s, w) => s + w.byteLength, 0)).toBeLessThan(4 * 2 ** 20);
      }
    }
  });
});
