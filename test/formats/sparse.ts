// Sparse files for the over-4-GiB tests: ftruncate sets the size and only the
// given parts are written, so a 5 GB file takes a few MB of disk; every hole
// reads as zeros, and the readers touch only the pages they read.
import * as fs from 'fs';
import { GgufTensorSpec, encodeGgufHeader } from '../../lib/formats/gguf-writer';
import { SAFETENSORS_DTYPES } from '../../lib/formats/safetensors';
import { Tensor } from '../../lib/tensor';

/** Writes a sparse file of `size` bytes with `parts` ([position, bytes]) written and the rest a hole. */
export function sparseFile(file: string, size: number, parts: [number, Uint8Array][]): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const [at, b] of parts) fs.writeSync(fd, b, 0, b.byteLength, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** A sparse GGUF: the header, then the tensors' data where the header puts it (holes for tensors given no data). */
export function sparseGguf(file: string, metadata: Record<string, unknown>, tensors: GgufTensorSpec[]): { dataOffset: number; offsets: number[] } {
  const { header, offsets, sizes } = encodeGgufHeader({ metadata: metadata as never, tensors });
  const end = header.length + offsets[offsets.length - 1] + sizes[sizes.length - 1];
  const parts: [number, Uint8Array][] = [[0, header]];
  tensors.forEach((t, i) => { if (t.data) parts.push([header.length + offsets[i], t.data instanceof Tensor ? t.data.bytes() : t.data]); });
  sparseFile(file, end, parts);
  return { dataOffset: header.length, offsets };
}

export interface SparseSafetensor {
  name: string;
  dtype: string;
  shape: number[];
  /** offset in the data section */
  at: number;
  /** the bytes, or none for a hole */
  data?: Uint8Array;
}

/** A sparse safetensors file: the header (padded to 8 bytes), then each tensor's data at its offset (gaps allowed). */
export function sparseSafetensors(file: string, tensors: SparseSafetensor[]): { dataOffset: number; size: number } {
  const header: Record<string, unknown> = {};
  let end = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPES[t.dtype];
    if (t.data && t.data.byteLength !== n) throw new Error(`sparseSafetensors: ${t.name} needs ${n} bytes, got ${t.data.byteLength}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [t.at, t.at + n] };
    end = Math.max(end, t.at + n);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  const parts: [number, Uint8Array][] = [[0, head]];
  for (const t of tensors) if (t.data) parts.push([head.length + t.at, t.data]);
  sparseFile(file, head.length + end, parts);
  return { dataOffset: head.length, size: head.length + end };
}
