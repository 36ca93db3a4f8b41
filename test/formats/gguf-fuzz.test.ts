// GGUF fuzzing: thousands of mutated valid files (bit flips, byte runs, huge
// counts written over length fields, truncations, splices). The only allowed
// outcomes are a clean parse or a GgufError; never another exception, a hang,
// or a huge allocation (the heap is checked).
import { GgufError, GgufType, ggufTensorBytes, parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf } from '../../lib/formats/gguf-writer';
import { rng } from '../helpers';

function seeds(): Uint8Array[] {
  const vocab = Array.from({ length: 40 }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i] : `▁t${i}`));
  const a = encodeGguf({
    metadata: {
      'general.architecture': 'llama', 'llama.block_count': gguf.u32(2), 'llama.rope.freq_base': gguf.f32(10000),
      'tokenizer.ggml.tokens': gguf.strs(vocab), 'tokenizer.ggml.scores': gguf.f32s(vocab.map((_, i) => -i)),
      'tokenizer.ggml.token_type': gguf.i32s(vocab.map(() => 1)), 'x.u64': gguf.u64(5), 'x.i8': gguf.i8(-1),
      'x.nested': gguf.array(GgufType.ARRAY, [{ itemType: GgufType.UINT16, items: new Uint16Array([1, 2]) }] as never),
      'x.bools': gguf.array(GgufType.BOOL, [true, false] as never),
    },
    tensors: [
      { name: 'token_embd.weight', shape: [4, 32], type: 'q8_0', data: new Uint8Array(4 * 34) },
      { name: 'output_norm.weight', shape: [32], type: 'f32', data: new Uint8Array(128) },
      { name: 'blk.0.ffn_down.weight', shape: [2, 256], type: 'q4_k', data: new Uint8Array(2 * 144) },
    ],
  });
  const b = encodeGguf({ version: 2, alignment: 64, metadata: { s: 'x' }, tensors: [{ name: 'w', shape: [3, 2], type: 'f16', data: new Uint8Array(12) }] });
  return [a, b];
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  let b = src.slice();
  const kinds = 1 + pick(3);
  for (let m = 0; m < kinds; m++) {
    switch (pick(6)) {
      case 0: { // bit flips
        for (let i = 1 + pick(8); i > 0; i--) { const at = pick(b.length); b[at] ^= 1 << pick(8); }
        break;
      }
      case 1: { // a run of 0xff or 0x00
        const at = pick(b.length), n = 1 + pick(12), v = r() < 0.5 ? 0xff : 0;
        b.fill(v, at, Math.min(b.length, at + n));
        break;
      }
      case 2: { // a huge or boundary u64 written at a random 8-aligned-ish spot (counts and lengths live there)
        if (b.length < 9) break;
        const at = pick(b.length - 8);
        const vals = [2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, 2n ** 32n - 1n, BigInt(b.length), BigInt(b.length - at), 0n, 1n, 2n ** 53n + 1n];
        new DataView(b.buffer).setBigUint64(at, vals[pick(vals.length)], true);
        break;
      }
      case 3: // truncation
        b = b.slice(0, pick(b.length + 1));
        break;
      case 4: { // splice: copy a chunk of the file over another place
        const from = pick(b.length), to = pick(b.length), n = pick(64);
        b.copyWithin(to, from, Math.min(b.length, from + n));
        break;
      }
      case 5: { // a small u32 (types, dims) written somewhere
        if (b.length < 5) break;
        const at = pick(b.length - 4);
        new DataView(b.buffer).setUint32(at, [0, 1, 5, 9, 12, 13, 31, 0xffffffff][pick(8)], true);
        break;
      }
    }
  }
  return b;
}

test('gguf fuzz: 20000 mutated files, only clean parses or GgufErrors', () => {
  const base = seeds();
  for (const s of base) expect(() => parseGguf(s)).not.toThrow();
  const r = rng(12345);
  let ok = 0, errors = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  for (let i = 0; i < 20000; i++) {
    const b = mutate(base[i % base.length], r);
    try {
      const f = parseGguf(b);
      for (const t of f.tensors) {
        const bytes = ggufTensorBytes(f, t);
        if (bytes.byteOffset + bytes.byteLength > b.byteLength) throw new Error(`tensor ${t.name} outside the file`);
      }
      ok++;
    } catch (e) {
      if (!(e instanceof GgufError)) {
        throw new Error(`case ${i}: ${(e as Error).name}: ${(e as Error).message}\nfile: ${Buffer.from(b).toString('hex')}`);
      }
      expect(e.message).toMatch(/^GGUF: /);
      errors++;
    }
  }
  // no case may allocate anything near the sizes the hostile counts ask for
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 1024 * 1024);
  expect(ok + errors).toBe(20000);
  expect(errors).toBeGreaterThan(1000);
  // not a timing assertion on the code: a guard against a hang turning into a CI timeout
  expect(Date.now() - t0).toBeLessThan(200000);
});
