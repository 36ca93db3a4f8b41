// GGUF reader and writer: round trips of every metadata type, v2 and v3,
// alignment, tensors (zero-copy, mmap'd), and exact errors for malformed files.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  GgufError, GgufType, parseGguf, readGguf, ggufTensor, ggufGet, ggufPlain, ggufTensorBytes,
} from '../../lib/formats/gguf';
import { encodeGguf, gguf, writeGguf } from '../../lib/formats/gguf-writer';
import { Tensor } from '../../lib/tensor';
import { native } from '../../lib/native';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function everyType() {
  return {
    'a.u8': gguf.u8(200), 'a.i8': gguf.i8(-100), 'a.u16': gguf.u16(60000), 'a.i16': gguf.i16(-30000),
    'a.u32': gguf.u32(4000000000), 'a.i32': gguf.i32(-2000000000), 'a.f32': gguf.f32(1.5), 'a.bool': gguf.bool(true),
    'a.str': gguf.str('héllo ▁world'), 'a.u64': gguf.u64(2n ** 63n + 5n), 'a.i64': gguf.i64(-(2n ** 62n)), 'a.f64': gguf.f64(Math.PI),
    'a.empty': gguf.str(''),
    'arr.f32': gguf.f32s([1, 2.5, -3]), 'arr.i32': gguf.i32s([-1, 0, 7]), 'arr.str': gguf.strs(['a', '', 'ü']),
    'arr.bool': gguf.array(GgufType.BOOL, [true, false, true] as never),
    'arr.u64': gguf.array(GgufType.UINT64, new BigUint64Array([1n, 2n ** 64n - 1n])),
    'arr.empty': gguf.array(GgufType.UINT8, new Uint8Array(0)),
    'arr.nested': gguf.array(GgufType.ARRAY, [
      { itemType: GgufType.INT16, items: new Int16Array([1, -2]) },
      { itemType: GgufType.ARRAY, items: [{ itemType: GgufType.STRING, items: ['deep'] }] },
    ] as never),
  };
}

describe('gguf round trip', () => {
  for (const version of [2, 3] as const) {
    test(`every metadata type, v${version}`, () => {
      const f = parseGguf(encodeGguf({ metadata: everyType(), version }));
      expect(f.version).toBe(version);
      expect(f.tensors).toEqual([]);
      const m = f.metadata;
      expect(m.get('a.u8')).toEqual({ type: GgufType.UINT8, value: 200 });
      expect(m.get('a.i8')!.value).toBe(-100);
      expect(m.get('a.u16')!.value).toBe(60000);
      expect(m.get('a.i16')!.value).toBe(-30000);
      expect(m.get('a.u32')!.value).toBe(4000000000);
      expect(m.get('a.i32')!.value).toBe(-2000000000);
      expect(m.get('a.f32')).toEqual({ type: GgufType.FLOAT32, value: 1.5 });
      expect(m.get('a.bool')!.value).toBe(true);
      expect(m.get('a.str')!.value).toBe('héllo ▁world');
      expect(m.get('a.empty')!.value).toBe('');
      expect(m.get('a.u64')!.value).toBe(2n ** 63n + 5n);
      expect(m.get('a.i64')!.value).toBe(-(2n ** 62n));
      expect(m.get('a.f64')!.value).toBe(Math.PI);
      expect(ggufPlain(ggufGet(f, 'arr.f32')!)).toEqual([1, 2.5, -3]);
      expect(ggufPlain(ggufGet(f, 'arr.i32')!)).toEqual([-1, 0, 7]);
      expect(ggufPlain(ggufGet(f, 'arr.str')!)).toEqual(['a', '', 'ü']);
      expect(ggufPlain(ggufGet(f, 'arr.bool')!)).toEqual([true, false, true]);
      expect(ggufPlain(ggufGet(f, 'arr.u64')!)).toEqual([1, 2n ** 64n - 1n]);
      expect(ggufPlain(ggufGet(f, 'arr.empty')!)).toEqual([]);
      expect(ggufPlain(ggufGet(f, 'arr.nested')!)).toEqual([[1, -2], [['deep']]]);
    });
  }

  test('bare values are typed: integers u32, fractions f32, strings, bools, string arrays', () => {
    const f = parseGguf(encodeGguf({ metadata: { n: 7, x: 0.25, neg: -3, s: 'x', b: false, l: ['p', 'q'] } }));
    expect(f.metadata.get('n')!.type).toBe(GgufType.UINT32);
    expect(f.metadata.get('x')!.type).toBe(GgufType.FLOAT32);
    expect(f.metadata.get('neg')!.type).toBe(GgufType.INT32);
    expect(f.metadata.get('l')!.value).toEqual({ itemType: GgufType.STRING, items: ['p', 'q'] });
  });

  test.each([32, 64, 1, 4096])('tensors at alignment %i, zero-copy, mmap and read', (alignment) => {
    const a = Float32Array.from({ length: 3 * 5 }, (_, i) => i - 7);
    const q = new Uint8Array(2 * 34).map((_, i) => i * 7);
    const h = new Uint16Array([0x3c00, 0xc000, 0x3800]);
    const file = path.join(tmp, `t${alignment}.gguf`);
    writeGguf(file, {
      alignment, metadata: { 'general.architecture': 'llama' },
      tensors: [
        { name: 'a', shape: [3, 5], type: 'f32', data: Tensor.from(a, [3, 5]) },
        { name: 'q', shape: [2, 32], type: 'q8_0', data: q },
        { name: 'h', shape: [3], type: 'f16', data: new Uint8Array(h.buffer) },
      ],
    });
    for (const mmap of [true, false]) {
      const f = readGguf(file, { mmap });
      expect(f.mapped).toBe(mmap);
      expect(f.alignment).toBe(alignment);
      expect(f.dataOffset % alignment).toBe(0);
      const ta = ggufTensor(f, 'a');
      expect(ta.shape).toEqual([3, 5]);
      // zero-copy, unless the alignment leaves f32 data misaligned in memory
      if (alignment >= 4) expect(ta.buffer === f.buffer).toBe(true);
      expect(Array.from(ta.toArray())).toEqual(Array.from(a));
      const info = f.tensors.find((t) => t.name === 'q')!;
      expect(info.ne).toEqual([32, 2]);
      expect(info.typeName).toBe('Q8_0');
      expect(Array.from(ggufTensorBytes(f, info))).toEqual(Array.from(q));
      expect(Array.from(ggufTensor(f, 'h').toArray())).toEqual([1, -2, 0.5]);
      expect(f.tensors.every((t) => t.offset % alignment === 0)).toBe(true);
    }
  });

  test('a tensor of a type fuselm has no kernels for is listed, and ggufTensor says so', () => {
    const f = parseGguf(encodeGguf({ tensors: [{ name: 'x', shape: [256], type: 29, data: new Uint8Array(56) }] }));
    expect(f.tensors[0]).toMatchObject({ typeName: 'IQ1_M', dtype: undefined, byteSize: 56 });
    expect(() => ggufTensor(f, 'x')).toThrow("ggufTensor: tensor 'x' has type IQ1_M, which fuselm has no kernels for");
    // the legacy 32-block formats resolve to their dtypes
    const g = parseGguf(encodeGguf({ tensors: [3, 6, 7, 20, 39].map((type, i) => ({ name: `t${i}`, shape: [32], type, data: new Uint8Array([20, 22, 24, 18, 17][i]) })) }));
    expect(g.tensors.map((t) => t.dtype)).toEqual(['q4_1', 'q5_0', 'q5_1', 'iq4_nl', 'mxfp4']);
    expect(ggufTensor(g, 't1').dtype).toBe('q5_0');
    expect(() => ggufTensor(f, 'nope')).toThrow("ggufTensor: Expected the name of a tensor in the file for name but received 'nope'");
  });
});

describe('gguf mmap', () => {
  test('mmapFile maps a file; errors name the path', () => {
    const file = path.join(tmp, 'bytes.bin');
    fs.writeFileSync(file, Buffer.from([1, 2, 3, 4, 5]));
    const ab: ArrayBuffer = native.mmapFile(file);
    expect(Array.from(new Uint8Array(ab))).toEqual([1, 2, 3, 4, 5]);
    new Uint8Array(ab)[0] = 9; // private copy-on-write: the file is untouched, no crash
    expect(fs.readFileSync(file)[0]).toBe(1);
    fs.writeFileSync(path.join(tmp, 'empty.bin'), '');
    expect(native.mmapFile(path.join(tmp, 'empty.bin')).byteLength).toBe(0);
    expect(() => native.mmapFile(path.join(tmp, 'missing.bin'))).toThrow(/mmapFile: open '.*missing.bin' failed: No such file/);
    expect(() => native.mmapFile(tmp)).toThrow(/Expected a regular file for path/);
    expect(() => native.mmapFile(3)).toThrow('mmapFile: Expected a string for path but received 3');
  });

  test('readGguf: a failed map throws unless readFallback is given', () => {
    expect(() => readGguf(tmp)).toThrow(/readGguf: could not map .*pass \{ readFallback: true \}/);
    expect(() => readGguf(tmp, { readFallback: true })).toThrow(/readGguf: Expected a regular file for path but received '.*' \(a directory\)/);
  });
});

describe('gguf errors', () => {
  const good = () => encodeGguf({
    metadata: { 'general.architecture': 'llama', 'x.list': gguf.i32s([1, 2, 3]) },
    tensors: [{ name: 'w', shape: [2, 4], type: 'f32', data: new Uint8Array(32) }],
  });
  const u32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer).setUint32(at, v, true);
  const u64 = (b: Uint8Array, at: number, v: bigint) => new DataView(b.buffer).setBigUint64(at, v, true);
  const err = (b: Uint8Array) => { try { parseGguf(b); } catch (e) { return e as GgufError; } throw new Error('no error'); };

  test('magic, version', () => {
    expect(err(new Uint8Array([0x47, 0x47]))).toMatchObject({ message: 'GGUF: file truncated: 2 bytes is too short for the magic "GGUF" (at byte 0)' });
    const b = good(); b[0] = 0x50;
    expect(err(b).message).toBe('GGUF: not a GGUF file: magic is "PGUF" (0x46554750), expected "GGUF" (at byte 0)');
    const v = good(); u32(v, 4, 1);
    expect(err(v).message).toMatch(/version 1 is not supported/);
    u32(v, 4, 0x03000000);
    expect(err(v).message).toBe('GGUF: unsupported GGUF version 50331648 (expected 2 or 3; a big-endian file?) (at byte 4)');
  });

  test('hostile counts are capped by the bytes that remain, before any allocation', () => {
    const b = good(); u64(b, 8, 2n ** 60n);
    expect(err(b).message).toMatch(/^GGUF: tensor count is 1152921504606846976, more than \d+ \(the bytes that remain can hold\) \(at byte 8\)$/);
    const k = good(); u64(k, 16, 2n ** 40n);
    expect(err(k).message).toMatch(/metadata kv count is 1099511627776, more than/);
    // the first key's length
    const s = good(); u64(s, 24, 2n ** 63n);
    expect(err(s)).toMatchObject({ offset: 24 });
    expect(err(s).message).toMatch(/length of metadata key #0 is 9223372036854775808, more than/);
  });

  test('huge array count', () => {
    const b = good();
    const at = Buffer.from(b).indexOf('x.list') + 6 + 4 + 4; // key, value type, item type
    u64(b, at, 2n ** 50n);
    const e = err(b);
    expect(e.offset).toBe(at);
    expect(e.message).toMatch(/item count of metadata 'x.list' is 1125899906842624, more than/);
  });

  test('tensor data past the end, misaligned offset, bad type, bad dims', () => {
    const b = good();
    expect(err(b.subarray(0, b.length - 1)).message).toMatch(/tensor 'w' \(F32 \[4, 2\], 32 bytes at data offset 0\) runs past the end of the file: the data section has 31 bytes/);
    const at = Buffer.from(b).indexOf('w', 40) + 1;
    const nd = good(); u32(nd, at, 5);
    expect(err(nd).message).toBe(`GGUF: tensor 'w' has 5 dimensions (expected 1..4) (at byte ${at})`);
    const ty = good(); u32(ty, at + 4 + 16, 77);
    expect(err(ty).message).toBe(`GGUF: tensor 'w' has unknown GGML type 77 (at byte ${at + 20})`);
    const off = good(); u64(off, at + 4 + 16 + 4, 3n);
    expect(err(off).message).toBe(`GGUF: tensor 'w' data offset 3 is not a multiple of the alignment 32 (at byte ${at + 24})`);
    const q = good(); u32(q, at + 20, 2); // Q4_0 with ne[0] = 4
    expect(err(q).message).toMatch(/tensor 'w' of type Q4_0: ne\[0\] = 4 is not a multiple of the block size 32/);
  });

  test('duplicate keys and tensors, bad alignment, bad utf-8, deep nesting', () => {
    const d = encodeGguf({ metadata: { ab: 1, ac: 2 } });
    d[Buffer.from(d).indexOf('ac') + 1] = 0x62;
    expect(err(d).message).toMatch(/duplicate metadata key 'ab'/);
    const t = encodeGguf({ tensors: [{ name: 'ta', shape: [1], type: 'f32', data: new Uint8Array(4) }, { name: 'tb', shape: [1], type: 'f32', data: new Uint8Array(4) }] });
    t[Buffer.from(t).indexOf('tb') + 1] = 0x61;
    expect(err(t).message).toMatch(/duplicate tensor name 'ta'/);
    expect(err(encodeGguf({ metadata: { 'general.alignment': gguf.u32(48) } })).message).toMatch(/general.alignment must be a u32 power of two, got u32 48/);
    expect(err(encodeGguf({ metadata: { 'general.alignment': gguf.u64(32) } })).message).toMatch(/got u64 32/);
    const u = encodeGguf({ metadata: { k: 'ab' } });
    u[Buffer.from(u).indexOf('ab') + 1] = 0xff;
    expect(err(u).message).toMatch(/metadata 'k' is not valid UTF-8/);
    let deep: { itemType: GgufType; items: unknown[] } = { itemType: GgufType.UINT8, items: [] as never };
    for (let i = 0; i < 20; i++) deep = { itemType: GgufType.ARRAY, items: [deep] };
    const n = encodeGguf({ metadata: { k: { type: GgufType.ARRAY, value: deep as never } } });
    expect(err(n).message).toMatch(/arrays nested deeper than 16 levels/);
  });

  test('writer rejects what it cannot write', () => {
    expect(() => encodeGguf({ tensors: [{ name: 'w', shape: [2, 3], type: 'q4_0', data: new Uint8Array(4) }] }))
      .toThrow("writeGguf: tensor 'w' of type q4_0: the last dimension 3 is not a multiple of the block size 32");
    expect(() => encodeGguf({ tensors: [{ name: 'w', shape: [2, 32], type: 'q4_0', data: new Uint8Array(4) }] }))
      .toThrow("writeGguf: Expected 36 bytes (q4_0 [2, 32]) for tensor 'w' data but received 4");
    expect(() => encodeGguf({ metadata: { k: gguf.u8(256) } })).toThrow("writeGguf: Expected integer in [0, 255] for metadata 'k' but received 256");
    expect(() => encodeGguf({ alignment: 12 })).toThrow('writeGguf: Expected a power of two for alignment but received 12');
    expect(() => encodeGguf({ tensors: [{ name: 'w', shape: [4], type: 'lut4', data: new Uint8Array(0) }] })).toThrow(/a dtype GGUF can store/);
  });
});
