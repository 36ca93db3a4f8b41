// allocPages: zeroed native memory advised as huge pages, for the weights decode streams
// (repack and the fused q/k/v, gate/up copies take it from 2 MiB up).
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;
import { weightZeros } from '../../lib/ops/common';
import { dequantize, quantize, repack } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';

describe('allocPages', () => {
  test('a zeroed, writable ArrayBuffer of the size asked for', () => {
    const b = native.allocPages(3 << 20) as ArrayBuffer;
    expect(b.byteLength).toBe(3 << 20);
    const u = new Uint8Array(b);
    expect(u.every((x) => x === 0)).toBe(true);
    u[u.length - 1] = 7;
    expect(u[u.length - 1]).toBe(7);
  });

  test('bad sizes are RangeErrors naming bytes', () => {
    // errors made by the addon come from the main realm: compared by name and message
    const err = (f: () => unknown) => { try { f(); } catch (e) { return `${(e as Error).name}: ${(e as Error).message}`; } return 'no error'; };
    expect(err(() => native.allocPages(0))).toBe('RangeError: allocPages: Expected integer in [1, 4294967296] for bytes but received 0');
    expect(err(() => native.allocPages(2 ** 32 + 1))).toMatch(/^RangeError: allocPages/);
    expect(err(() => native.allocPages(1.5))).toMatch(/^RangeError: allocPages/);
    expect(err(() => loose.allocPages('8'))).toMatch(/^TypeError: allocPages/);
  });

  test('weightZeros: native pages from 2 MiB up; a repacked 2048x2048 Q4_0 in them holds the same values', () => {
    expect(weightZeros([16, 16], 'f32').buffer.byteLength).toBe(1024);
    const t = weightZeros([1024, 1024], 'f32');
    expect(t.byteLength).toBe(4 << 20);
    const w = new Float32Array(2048 * 2048);
    for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 500 - 1;
    const W = quantize(Tensor.from(w, [2048, 2048]), 'q4_0');
    const Wp = repack(W);
    expect(Wp.byteLength).toBeGreaterThan(2 << 20);
    const a = dequantize(Wp).bytes(), b = dequantize(W).bytes();
    expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
  });
});
