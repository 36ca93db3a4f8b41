// The dtype table is declared once in C++ (csrc/include/fuselm/blocks.h, kDTypeTraits) and mirrored in
// lib/dtype.ts (DTYPES). This checks the two agree row by row, in both directions, so a format added
// on one side only fails here; and that dtypes cross the native boundary as ids, never as names.
import { CUDA_MATMUL_DTYPES } from '../../lib/ops/qgemm';
import { DTYPES, DType, Tensor, add, gather, KVCache } from '../../lib';
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;

interface NativeRow { id: number; name: string; blockElems: number; blockBytes: number; quantized: boolean }
const nativeRows = native.dtypeTraits() as NativeRow[];

describe('dtype table: native (blocks.h) and lib/dtype.ts agree', () => {
  test('the native table is well formed: unique ids and names, positive block sizes', () => {
    expect(nativeRows.length).toBeGreaterThan(0);
    expect(new Set(nativeRows.map((r) => r.id)).size).toBe(nativeRows.length);
    expect(new Set(nativeRows.map((r) => r.name)).size).toBe(nativeRows.length);
    for (const r of nativeRows) {
      expect(Number.isInteger(r.blockElems) && r.blockElems >= 1).toBe(true);
      expect(Number.isInteger(r.blockBytes) && r.blockBytes >= 1).toBe(true);
    }
  });
  for (const r of nativeRows) {
    test(`native ${r.name} (id ${r.id}) has the same row in DTYPES`, () => {
      const t = (DTYPES as Record<string, unknown>)[r.name];
      expect(t).toEqual({ id: r.id, name: r.name, blockElems: r.blockElems, blockBytes: r.blockBytes, quantized: r.quantized });
    });
  }
  for (const name of Object.keys(DTYPES) as DType[]) {
    test(`DTYPES.${name} is in the native table`, () => {
      expect(nativeRows.map((r) => r.name)).toContain(name);
      expect(DTYPES[name].name).toBe(name);
    });
  }
});

describe('dtypes cross the boundary as ids', () => {
  test('a dtype given by name to the native layer is a TypeError listing the ids', () => {
    const x = new Float32Array(4);
    let err: unknown;
    try { loose.add(x, x, 'f32', x, 'f32', 4, 4); } catch (e) { err = e; }
    expect((err as Error).name).toBe('TypeError'); // (the addon's TypeError is of another realm than jest's)
    expect(() => loose.add(x, x, 'f32', x, 0, 4, 4)).toThrow(/Expected a dtype id \(one of f32=0, f16=1, bf16=30\) for aDtype but received a string/);
    expect(() => native.add(x, x, 2, x, 0, 4, 4)).toThrow(/for aDtype but received 2/);
    expect(() => loose.kvCreate(1, 64, 'f16')).toThrow(/Expected a dtype id \(one of f32=0, f16=1, i8=24\) for dtype/);
  });
  test('the public calls pass ids', () => {
    const a = Tensor.from(new Float32Array([1, 2]), [2]);
    expect(Array.from(add(a, a).toArray())).toEqual([2, 4]);
    expect(Array.from(gather(Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]), Int32Array.of(1)).toArray())).toEqual([3, 4]);
    for (const dtype of ['f32', 'f16', 'int8'] as const) {
      const c = new KVCache({ nKvHead: 1, headDim: 64, dtype });
      expect(c.dtype).toBe(dtype);
      c.dispose();
    }
  });
});

test('CUDA_MATMUL_DTYPES is the CUDA dispatch list (csrc/cuda/formats.cuh FL_CUDA_DISPATCH_FORMAT)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const src: string = require('fs').readFileSync(require('path').join(__dirname, '..', '..', 'csrc', 'cuda', 'formats.cuh'), 'utf8');
  const at = src.indexOf('#define FL_CUDA_DISPATCH_FORMAT');
  const body = src.slice(at, src.indexOf('default:', at));
  const cases = [...body.matchAll(/case DType::(\w+):/g)].map((m) => m[1].toLowerCase());
  expect([...CUDA_MATMUL_DTYPES].sort()).toEqual(cases.sort());
});
