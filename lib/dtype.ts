// The dtype table, mirrored from csrc/include/fuselm/blocks.h (kDTypeTraits).
// test/kernels/dtype.test.ts checks that the two agree.

export type PlainDType = 'f32' | 'f16' | 'bf16' | 'i8' | 'u8' | 'i32';
export type QuantDType = 'q4_0' | 'q8_0' | 'q4_k' | 'q5_k' | 'q6_k' | 'q8_k' | 'lut4' | 'lut3' | 'q4_0x16' | 'q8_0x16' | 'q4_kx16' | 'q6_kx16'
  | LegacyDType | LegacyX16DType | KQuantDType;
/** The legacy 32-block formats with a q8_0 partner (blocks.h), and their repacked forms */
export type LegacyDType = 'q5_0' | 'q4_1' | 'q5_1' | 'iq4_nl' | 'mxfp4';
export type LegacyX16DType = 'q5_0x16' | 'q4_1x16' | 'q5_1x16' | 'iq4_nlx16' | 'mxfp4x16';
/** The 256-weight super-block formats with the q8_K partner added for issue 14, and their repacked forms. */
export type KQuantDType = 'q2_k' | 'q3_k' | 'iq4_xs' | 'iq4_xsx16' | 'q3_kx16' | 'q2_kx16';
export type DType = PlainDType | QuantDType;

export interface DTypeInfo {
  /** GGML type id where GGML has the type (a GGUF tensor's type field), >= 100 for fuselm's own */
  id: number;
  name: DType;
  /** elements per block (1 for plain types) */
  blockElems: number;
  /** bytes per block */
  blockBytes: number;
  quantized: boolean;
}

/** Every dtype fuselm knows, by name: GGML id, elements and bytes per block, quantized or not. */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  f32: { id: 0, name: 'f32', blockElems: 1, blockBytes: 4, quantized: false },
  f16: { id: 1, name: 'f16', blockElems: 1, blockBytes: 2, quantized: false },
  bf16: { id: 30, name: 'bf16', blockElems: 1, blockBytes: 2, quantized: false },
  i8: { id: 24, name: 'i8', blockElems: 1, blockBytes: 1, quantized: false },
  u8: { id: 100, name: 'u8', blockElems: 1, blockBytes: 1, quantized: false },
  i32: { id: 26, name: 'i32', blockElems: 1, blockBytes: 4, quantized: false },
  q4_0: { id: 2, name: 'q4_0', blockElems: 32, blockBytes: 18, quantized: true },
  q8_0: { id: 8, name: 'q8_0', blockElems: 32, blockBytes: 34, quantized: true },
  q4_k: { id: 12, name: 'q4_k', blockElems: 256, blockBytes: 144, quantized: true },
  q5_k: { id: 13, name: 'q5_k', blockElems: 256, blockBytes: 176, quantized: true },
  q6_k: { id: 14, name: 'q6_k', blockElems: 256, blockBytes: 210, quantized: true },
  q8_k: { id: 15, name: 'q8_k', blockElems: 256, blockBytes: 292, quantized: true },
  lut4: { id: 101, name: 'lut4', blockElems: 32, blockBytes: 16, quantized: true },
  lut3: { id: 102, name: 'lut3', blockElems: 32, blockBytes: 12, quantized: true },
  // Q4_0 / Q8_0 / Q4_K / Q6_K repacked 16 rows at a time for the GEMV (repack() in lib/ops/qgemm.ts); not GGUF types
  q4_0x16: { id: 103, name: 'q4_0x16', blockElems: 32, blockBytes: 18, quantized: true },
  q8_0x16: { id: 104, name: 'q8_0x16', blockElems: 32, blockBytes: 34, quantized: true },
  q4_kx16: { id: 105, name: 'q4_kx16', blockElems: 256, blockBytes: 148, quantized: true },
  q6_kx16: { id: 106, name: 'q6_kx16', blockElems: 256, blockBytes: 210, quantized: true },
  // the legacy 32-block formats (GGUF types) and their repacked forms (fuselm's, not GGUF types)
  q5_0: { id: 6, name: 'q5_0', blockElems: 32, blockBytes: 22, quantized: true },
  q4_1: { id: 3, name: 'q4_1', blockElems: 32, blockBytes: 20, quantized: true },
  q5_1: { id: 7, name: 'q5_1', blockElems: 32, blockBytes: 24, quantized: true },
  iq4_nl: { id: 20, name: 'iq4_nl', blockElems: 32, blockBytes: 18, quantized: true },
  mxfp4: { id: 39, name: 'mxfp4', blockElems: 32, blockBytes: 17, quantized: true },
  q5_0x16: { id: 110, name: 'q5_0x16', blockElems: 32, blockBytes: 22, quantized: true },
  q4_1x16: { id: 111, name: 'q4_1x16', blockElems: 32, blockBytes: 20, quantized: true },
  q5_1x16: { id: 112, name: 'q5_1x16', blockElems: 32, blockBytes: 24, quantized: true },
  iq4_nlx16: { id: 113, name: 'iq4_nlx16', blockElems: 32, blockBytes: 18, quantized: true },
  mxfp4x16: { id: 114, name: 'mxfp4x16', blockElems: 32, blockBytes: 17, quantized: true },
  q2_k: { id: 10, name: 'q2_k', blockElems: 256, blockBytes: 84, quantized: true },
  q3_k: { id: 11, name: 'q3_k', blockElems: 256, blockBytes: 110, quantized: true },
  iq4_xs: { id: 23, name: 'iq4_xs', blockElems: 256, blockBytes: 136, quantized: true },
  // IQ4_XS / Q3_K / Q2_K repacked 16 rows at a time for the GEMV; not GGUF types
  iq4_xsx16: { id: 120, name: 'iq4_xsx16', blockElems: 256, blockBytes: 138, quantized: true },
  q3_kx16: { id: 121, name: 'q3_kx16', blockElems: 256, blockBytes: 114, quantized: true },
  q2_kx16: { id: 122, name: 'q2_kx16', blockElems: 256, blockBytes: 84, quantized: true },
});

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** The DTYPES row of `d`; anything else is a TypeError listing the dtypes. */
export function dtypeInfo(d: DType): DTypeInfo {
  if (!isDType(d)) throw new TypeError(`Expected a dtype (one of ${Object.keys(DTYPES).join(', ')}) for dtype but received ${describe(d)}`);
  return DTYPES[d];
}

export function dtypeById(id: number): DTypeInfo | undefined {
  return Object.values(DTYPES).find((d) => d.id === id);
}

/** Bytes of a row of `n` elements; throws when n does not fill whole blocks. */
export function rowBytes(d: DType, n: number, arg = 'shape'): number {
  const t = dtypeInfo(d);
  if (n % t.blockElems !== 0) {
    throw new RangeError(`Expected a multiple of ${t.blockElems} (the ${d} block) for the last dimension of ${arg} but received ${n}`);
  }
  return (n / t.blockElems) * t.blockBytes;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.slice(0, 8).map(describe).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
