// safetensors reader and writer: round trips (F32/F16/BF16, scalars, empty tensors,
// __metadata__, mmap'd zero-copy views), sharded checkpoints through the index,
// exact errors for malformed and hostile headers, and a fast-check fuzz of
// mutated files where the only allowed outcomes are a clean parse or a
// SafetensorsError, never another exception, a hang or a huge allocation.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import {
  SafetensorsError, checkpointTensor, encodeSafetensors, parseSafetensors, readCheckpoint, readSafetensors,
  safetensorsTensor, writeSafetensors,
} from '../../lib/formats/safetensors';
import { Tensor, toHalf } from '../../lib/tensor';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const f32 = (a: number[]) => new Uint8Array(Float32Array.from(a).buffer);

function sample(): Uint8Array {
  return encodeSafetensors([
    { name: 'a.weight', dtype: 'F32', shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
    { name: 'b.half', dtype: 'F16', shape: [4], data: toHalf([0.5, -1, 2, 3], [4], 'f16').bytes() },
    { name: 'c.bf16', dtype: 'BF16', shape: [1, 2], data: toHalf([1.5, -2], [2], 'bf16').bytes() },
    { name: 'd.scalar', dtype: 'F32', shape: [], data: f32([7]) },
    { name: 'e.empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
    { name: 'f.ints', dtype: 'I64', shape: [2], data: new Uint8Array(16) },
  ], { format: 'pt' });
}

/** A file with a hand-written header (padding and data as given). */
function raw(header: string, data = new Uint8Array(0), len?: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(len ?? h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

describe('safetensors round trip', () => {
  test('dtypes, shapes, metadata; header padded to 8 bytes', () => {
    const b = sample();
    const hl = Number(new DataView(b.buffer).getBigUint64(0, true));
    expect(hl % 8).toBe(0);
    const f = parseSafetensors(b);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect([...f.tensors.keys()]).toEqual(['a.weight', 'b.half', 'c.bf16', 'd.scalar', 'e.empty', 'f.ints']);
    expect(Array.from(safetensorsTensor(f, 'a.weight').toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(safetensorsTensor(f, 'a.weight').shape).toEqual([2, 3]);
    expect(Array.from(safetensorsTensor(f, 'b.half').toArray())).toEqual([0.5, -1, 2, 3]);
    expect(safetensorsTensor(f, 'c.bf16').dtype).toBe('bf16');
    expect(Array.from(safetensorsTensor(f, 'c.bf16').toArray())).toEqual([1.5, -2]);
    expect(Array.from(safetensorsTensor(f, 'd.scalar').toArray())).toEqual([7]);
    expect(f.tensors.get('e.empty')!.byteSize).toBe(0);
    expect(f.tensors.get('f.ints')!.dtype).toBeUndefined();
    expect(() => safetensorsTensor(f, 'f.ints')).toThrow("safetensorsTensor: tensor 'f.ints' has dtype I64; fuselm reads F32, F16 and BF16 checkpoints");
    expect(() => safetensorsTensor(f, 'nope')).toThrow("safetensorsTensor: Expected the name of a tensor in the file for name but received 'nope'");
  });

  test('read from disk: mmap zero-copy views; read fallback; unaligned offsets copied', () => {
    const p = path.join(tmp, 'one.safetensors');
    fs.writeFileSync(p, sample());
    const m = readSafetensors(p);
    expect(m.mapped).toBe(true);
    const t = safetensorsTensor(m, 'a.weight');
    expect(t.buffer).toBe(m.buffer);
    expect(readSafetensors(p, { mmap: false }).mapped).toBe(false);
    // a header whose length is not a multiple of 4 puts F32 data off its alignment: copied, same values
    const un = raw('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} ', f32([3, 4]));
    const fu = parseSafetensors(un);
    expect(fu.dataOffset % 4).not.toBe(0);
    expect(Array.from(safetensorsTensor(fu, 'x').toArray())).toEqual([3, 4]);
    expect(() => readSafetensors(path.join(tmp, 'missing.safetensors'))).toThrow(/readSafetensors: could not map/);
  });

  test('sharded checkpoint through model.safetensors.index.json', () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), [{ name: 'w1', dtype: 'F32', shape: [2], data: f32([1, 2]) }]);
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), [{ name: 'w2', dtype: 'F32', shape: [1], data: f32([3]) }]);
    const idx = (m: Record<string, unknown>) => fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: m }));
    idx({ w1: 'model-00001-of-00002.safetensors', w2: 'model-00002-of-00002.safetensors' });
    const c = readCheckpoint(dir);
    expect(c.files.length).toBe(2);
    expect(Array.from(checkpointTensor(c, 'w2').toArray())).toEqual([3]);
    idx({ w1: '../../etc/passwd' });
    expect(() => readCheckpoint(dir)).toThrow("weight_map['w1'] must be a file name in the index's directory, got \"../../etc/passwd\"");
    idx({ w1: 'model-00002-of-00002.safetensors' });
    expect(() => readCheckpoint(dir)).toThrow("weight_map says 'model-00002-of-00002.safetensors' holds 'w1', but it does not");
    idx({ w1: 'gone.safetensors' });
    expect(() => readCheckpoint(dir)).toThrow(/weight_map\['w1'\] names 'gone.safetensors', which does not exist/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
    expect(() => readCheckpoint(dir)).toThrow(/the index is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{}');
    expect(() => readCheckpoint(dir)).toThrow('the index has no weight_map object');
  });
});

describe('safetensors errors name what is wrong', () => {
  const T = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  test.each([
    ['too short', new Uint8Array(5), 'file truncated: 5 bytes is too short for the 8-byte header length'],
    ['header past the end', raw(T, f32([1, 2]), 1000), 'file truncated: the header length is 1000 bytes but only 62 bytes follow it'],
    ['huge header length', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 64n - 1n, true); return b; })(),
      'file truncated: the header length is 18446744073709551615 bytes but only 8 bytes follow it'],
    ['not JSON', raw('{"x": [}'), /the header is not valid JSON/],
    ['not an object', raw('{"x":1}'.replace('{', '[').replace('}', ']')), "the header does not start with '{'"],
    ['a GGUF file', new TextEncoder().encode('GGUF\u0003\u0000\u0000\u0000\u0000\u0000\u0000\u0000'), /\(is this a GGUF file\?\)/],
    ['unknown dtype', raw('{"x":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}', f32([1])), "tensor 'x': unknown dtype \"F12\""],
    ['negative dim', raw('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32([1])), "tensor 'x': shape [-1] has a dimension that is not a non-negative integer"],
    ['huge shape', raw('{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', f32([1])), "tensor 'x': shape [4294967296,4294967296] (F32) needs more bytes than the data section has (4)"],
    ['offsets past the end', raw('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32([1])), "tensor 'x': data_offsets [4, 8] run past the end of the file: the data section has 4 bytes"],
    ['size mismatch', raw('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', f32([1, 2])), "tensor 'x': data_offsets [0, 8] hold 8 bytes but shape [1] of F32 needs 4"],
    ['reversed offsets', raw('{"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', f32([1, 2])), "tensor 'x': data_offsets [8, 0] ends before it begins"],
    ['float offsets', raw('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}', f32([1])), /data_offsets must be two non-negative integers/],
    ['overlap', raw('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32([1, 2])),
      "tensors 'x' [0, 8] and 'y' [4, 8] overlap"],
    ['bad metadata', raw('{"__metadata__":{"a":1}}'), '__metadata__.a must be a string, got 1'],
    ['unknown field', raw('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}', f32([1])), "tensor 'x': unknown field 'extra'"],
  ] as const)('%s', (_, bytes, msg) => {
    expect(() => parseSafetensors(bytes, 'f')).toThrow(SafetensorsError);
    if (typeof msg === 'string') expect(() => parseSafetensors(bytes, 'f')).toThrow(`safetensors f: ${msg}`);
    else expect(() => parseSafetensors(bytes, 'f')).toThrow(msg);
  });
});

test('safetensors fuzz (fast-check): mutated files parse cleanly or throw SafetensorsError', () => {
  const base = [sample(), encodeSafetensors([{ name: 'w', dtype: 'BF16', shape: [3, 2], data: new Uint8Array(12) }])];
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), v: fc.constantFrom(0, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0xff) }),
    fc.record({ kind: fc.constant('u64' as const), v: fc.constantFrom(0n, 1n, 7n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('digits' as const), at: fc.nat(), s: fc.constantFrom('9999999999', '-1', '1e300', '0', '"', 'null', '[]', '{}') }),
  );
  const heapBefore = process.memoryUsage().heapUsed;
  let errors = 0, ok = 0;
  fc.assert(fc.property(fc.nat({ max: 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, muts) => {
    let b = base[which].slice();
    for (const m of muts) {
      if (m.kind === 'flip') b[m.at % b.length] ^= 1 << m.bit;
      else if (m.kind === 'byte') b[m.at % b.length] = m.v;
      else if (m.kind === 'u64') { if (b.length >= 8) new DataView(b.buffer).setBigUint64(0, m.v, true); }
      else if (m.kind === 'cut') b = b.slice(0, m.at % (b.length + 1));
      else if (b.length > 8) {
        const at = 8 + (m.at % Math.max(1, b.length - 8));
        const s = new TextEncoder().encode(m.s);
        const nb = new Uint8Array(b.length);
        nb.set(b);
        nb.set(s.subarray(0, Math.max(0, nb.length - at)), at);
        b = nb;
      }
    }
    try {
      const f = parseSafetensors(b);
      for (const t of f.tensors.values()) {
        if (t.fileOffset + t.byteSize > b.byteLength) throw new Error(`tensor ${t.name} outside the file`);
        if (t.dtype) safetensorsTensor(f, t);
      }
      ok++;
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw new Error(`${(e as Error).name}: ${(e as Error).message}\nfile: ${Buffer.from(b).toString('hex')}`);
      errors++;
    }
  }), { numRuns: 5000, seed: 20261129 });
  expect(errors).toBeGreaterThan(500);
  expect(ok).toBeGreaterThan(0);
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 1024 * 1024);
});

test('encodeSafetensors / writeSafetensors check their input', () => {
  // a number would be taken by fs as an open descriptor (the export fuzz once wrote into libuv's signal pipe that way)
  expect(() => writeSafetensors(3 as never, [])).toThrow('writeSafetensors: Expected a file path for file but received number');
  expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [2], data: new Uint8Array(4) }])).toThrow('encodeSafetensors: Expected 8 bytes for x.data but received 4');
  expect(() => encodeSafetensors([{ name: 'x', dtype: 'F9', shape: [1], data: new Uint8Array(4) }])).toThrow('encodeSafetensors: Expected a safetensors dtype for x.dtype but received F9');
  const t = Tensor.from(Float32Array.from([1]), [1]);
  expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: t.bytes() }, { name: 'x', dtype: 'F32', shape: [1], data: t.bytes() }])).toThrow("encodeSafetensors: duplicate tensor name 'x'");
});
