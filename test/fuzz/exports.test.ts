// Property-based fuzzing of every export: each function of lib/index.ts (and
// the static and instance methods of its classes, and the functions inside
// exported objects) and each raw addon export from lib/native.ts is called
// with thousands of random argument lists: wrong counts and kinds, NaN, signed
// and huge numbers, detached buffers, tiny and odd typed arrays, tensors of
// every dtype and awkward shapes, strided views, random option objects.
//
// The process must survive (a native crash kills the jest worker and fails the
// suite) and every throw, synchronous or as a rejection, must be an Error
// (TypeError, RangeError, Error or a subclass) with a non-empty message.
// Exports added later are covered with no change here: the lists are built by
// walking the modules.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import * as lib from '../../lib';
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;
import { DTYPES, DType } from '../../lib/dtype';
import { Tensor } from '../../lib/tensor';

const RUNS = Number(process.env.FUSELM_FUZZ_RUNS || 1000); // per callable
const ONLY = process.env.FUSELM_FUZZ_FILTER || '';
const SEED = Number(process.env.FUSELM_FUZZ_SEED || 20261129);

// ---- the callables --------------------------------------------------------
type Callable = { name: string; call: (args: unknown[]) => unknown; arity: number };

const isClass = (f: unknown): f is new (...a: unknown[]) => unknown =>
  typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));

function methodsOf(obj: object, prefix: string, out: Callable[], seen: Set<unknown>, depth: number): void {
  if (seen.has(obj) || depth > 2) return;
  seen.add(obj);
  for (const key of Object.getOwnPropertyNames(obj)) {
    if (['length', 'name', 'prototype', 'caller', 'arguments', 'constructor'].includes(key)) continue;
    // modules compiled to CommonJS re-export through getters: read the value, not the descriptor
    let v: unknown;
    try {
      v = (obj as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    const name = `${prefix}.${key}`;
    if (isClass(v)) {
      const C = v;
      out.push({ name: `new ${name}`, call: (a) => new C(...a), arity: v.length });
      out.push({ name: `${name}()`, call: (a) => (v as unknown as (...x: unknown[]) => unknown)(...a), arity: v.length });
      methodsOf(v, name, out, seen, depth + 1);
    } else if (typeof v === 'function') {
      out.push({ name, call: (a) => (v as (...x: unknown[]) => unknown).apply(obj, a), arity: v.length });
    } else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      methodsOf(v as object, name, out, seen, depth + 1);
    }
  }
}

function libCallables(): Callable[] {
  const out: Callable[] = [];
  methodsOf(lib, 'fuselm', out, new Set(), 0);
  // instance methods: on instances the fuzzer's own generators make (tensors)
  for (const key of Object.getOwnPropertyNames(Tensor.prototype)) {
    if (key === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(Tensor.prototype, key)!;
    if (typeof d.value === 'function') {
      out.push({
        name: `Tensor#${key}`,
        call: (a) => {
          const t = a[0] instanceof Tensor ? a[0] : Tensor.zeros([2, 3]);
          return (d.value as (...x: unknown[]) => unknown).apply(t, a.slice(1));
        },
        arity: d.value.length + 1,
      });
    } else if (d.get) {
      out.push({ name: `Tensor#${key} (getter)`, call: (a) => d.get!.call(a[0]), arity: 1 });
    }
  }
  return out;
}

function nativeCallables(): Callable[] {
  return Object.keys(native)
    .filter((k) => typeof loose[k] === 'function')
    .map((k) => ({ name: `native.${k}`, call: (a: unknown[]) => loose[k](...a), arity: loose[k].length }));
}

// ---- the values -----------------------------------------------------------
const DTYPE_NAMES = Object.keys(DTYPES) as DType[];
const SHAPES: number[][] = [[1], [3], [4], [16], [17], [2, 3], [4, 4], [3, 8], [1, 32], [2, 64], [0, 4], [4, 0], [2, 2, 8], [1, 256], [2, 256], [1, 4097]];

// the first elements only: values matter little to argument checks, and generation must stay cheap
function fillPattern(a: { length: number; [i: number]: number }, seed: number, float: boolean): void {
  for (let i = 0; i < Math.min(a.length, 64); i++) a[i] = float ? ((i * 37 + seed) % 17) * 0.37 - 3 : (i * 7 + seed) % 5;
}

function makeTensor(shapeIx: number, dtype: DType, kind: number, seed: number): unknown {
  let shape = SHAPES[shapeIx % SHAPES.length];
  const info = DTYPES[dtype];
  if (info.quantized && shape[shape.length - 1] % info.blockElems !== 0) shape = [2, info.blockElems];
  let t: Tensor;
  try {
    t = Tensor.zeros(shape, dtype);
  } catch {
    t = Tensor.zeros([2, 3], 'f32');
  }
  if (!info.quantized) {
    const u8 = t.bytes();
    if (dtype === 'f32') fillPattern(new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength / 4), seed, true);
    else fillPattern(u8, seed, false);
  }
  switch (kind) {
    case 1: // a strided (transposed) view
      if (!info.quantized && t.ndim === 2 && t.numel > 0) return new Tensor(t.buffer, 0, dtype, [t.shape[1], t.shape[0]], [1, t.shape[1]]);
      return t;
    case 2: // a tensor whose buffer was then detached
      structuredClone(t.buffer, { transfer: [t.buffer as ArrayBuffer] });
      return t;
    case 3: // a view at an offset into a bigger buffer
      if (t.shape[0] > 1) return t.slice(1);
      return t;
    default:
      return t;
  }
}

const TYPED = [Float32Array, Float64Array, Int8Array, Uint8Array, Uint16Array, Int16Array, Int32Array, Uint32Array] as const;
const LENGTHS = [0, 1, 3, 4, 16, 17, 64, 256, 1024, 4097];

function makeTyped(ctor: number, len: number, kind: number, seed: number): unknown {
  const C = TYPED[ctor % TYPED.length];
  if (kind === 1) { // detached
    const a = new C(len);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    return a;
  }
  if (kind === 2) { // misaligned view into a byte buffer
    const bpe = C.BYTES_PER_ELEMENT;
    const buf = new ArrayBuffer(len * bpe + 8);
    return new Uint8Array(buf, 1, len * bpe);
  }
  if (kind === 3) return new DataView(new ArrayBuffer(len));
  if (kind === 4) return new ArrayBuffer(len * 4);
  if (kind === 5) {
    const sab = new SharedArrayBuffer(len * 4);
    return new Float32Array(sab);
  }
  const a = new C(len);
  fillPattern(a, seed, C === Float32Array || C === Float64Array);
  return a;
}

const specialNumber = fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, -7, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e300, -1e300, Number.MIN_VALUE, 1e-7, 4097);
const smallInt = fc.integer({ min: -3, max: 70 });
const number = fc.oneof({ weight: 4, arbitrary: smallInt }, { weight: 3, arbitrary: specialNumber }, { weight: 1, arbitrary: fc.double() });
// element values inside arrays stay small: a valid shape of huge dims would only test the allocator
const elemNumber = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -2, max: 33 }) }, { weight: 1, arbitrary: fc.constantFrom(NaN, 1.5, -0, 2 ** 53, 256, 4097) });
const string = fc.oneof(
  fc.constantFrom(...DTYPE_NAMES, '', 'x', 'ref', 'avx2', 'avx512', 'normal', 'neox', 'softmax_topk', 'topk_softmax', 'sigmoid_group', 'llama', 'cuda:0', 'cpu', '/', '.', 'a'.repeat(300)),
  fc.string({ maxLength: 12 }),
);
const tensor = fc.tuple(fc.nat(), fc.constantFrom(...DTYPE_NAMES), fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }), fc.nat())
  .map(([s, d, k, seed]) => makeTensor(s, d, k, seed));
const f32Tensor = fc.tuple(fc.nat(), fc.constantFrom(0, 0, 0, 1, 3), fc.nat()).map(([s, k, seed]) => makeTensor(s, 'f32', k, seed));
const typed = fc.tuple(fc.nat(), fc.constantFrom(...LENGTHS), fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 5 }) }), fc.nat())
  .map(([c, n, k, seed]) => makeTyped(c, n, k, seed));
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: number },
  { weight: 3, arbitrary: string },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, true, false, 0n, 2n ** 70n, Symbol('s'), () => 1, new Date(0), /x/, new Map(), Promise.resolve(1)) },
  { weight: 4, arbitrary: typed },
  { weight: 5, arbitrary: tensor },
  { weight: 3, arbitrary: f32Tensor },
);
const OPTION_KEYS = ['eps', 'k', 'dtype', 'shape', 'out', 'n', 'theta', 'base', 'mode', 'offset', 'pos', 'heads', 'groups', 'topk', 'scoring', 'scale', 'dim', 'axis', 'bias', 'threads', 'metadata', 'tensors', 'name', 'type', 'data', 'role', 'content', 'nGroups', 'topkGroups', 'normalize', 'experts', 'capacity'];
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 10, arbitrary: leaf },
    { weight: 2, arbitrary: fc.array(elemNumber, { maxLength: 6 }) },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 4 }) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.subarray(OPTION_KEYS, { maxLength: 4 }), fc.array(tie('v'), { minLength: 4, maxLength: 4 }))
        .map(([keys, vals]) => Object.fromEntries(keys.map((k, i) => [k, vals[i]]))),
    },
    { weight: 1, arbitrary: fc.object({ maxDepth: 1, maxKeys: 3 }) },
  ),
})).v;

// "plausible" values: few shapes and lengths, so that argument lists often agree with each other
// and calls get past the kind checks to the size and extent checks (and sometimes run)
const PLAUSIBLE_SHAPES = [[4, 4], [16], [1, 16], [2, 32], [3, 17]];
const plausible: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 17 }) },
  { weight: 1, arbitrary: fc.constantFrom(1e-6, 0.5, 10000, -1, NaN) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(0, 1, 4, 16, 17, 32, 64), fc.constantFrom(Float32Array, Int32Array, Uint16Array, Uint8Array, Int8Array)).map(([n, C]) => new C(n)) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...PLAUSIBLE_SHAPES), fc.constantFrom<DType>('f32', 'f32', 'f32', 'f16', 'bf16', 'i32', 'u8')).map(([sh, d]) => Tensor.zeros(sh, d)) },
  { weight: 1, arbitrary: fc.constantFrom(...DTYPE_NAMES, 'normal', 'neox', 'softmax_topk', 'sigmoid_group') },
  { weight: 1, arbitrary: fc.tuple(fc.subarray(['eps', 'k', 'theta', 'mode', 'offset', 'scale', 'dim', 'nGroups', 'topkGroups'], { maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 3, maxLength: 3 }))
    .map(([keys, vals]) => Object.fromEntries(keys.map((k, i) => [k, vals[i]]))) },
);

function argLists(arity: number): fc.Arbitrary<unknown[]> {
  return fc.oneof(
    // native functions declare no arity (length 0): any count up to 7, uniformly
    fc.integer({ min: 0, max: 7 }).chain((n) => fc.array(plausible, { minLength: n, maxLength: n })),
    fc.array(plausible, { minLength: arity, maxLength: arity }),
    fc.array(plausible, { minLength: Math.max(arity - 1, 0), maxLength: arity + 1 }),
    fc.array(value, { maxLength: 8 }),
    fc.array(value, { minLength: arity, maxLength: arity }), // the declared count: reaches deeper checks
    fc.array(fc.oneof(leaf, leaf, f32Tensor), { minLength: Math.max(arity, 1), maxLength: Math.max(arity, 1) + 1 }),
  );
}

// ---- seeds: valid native calls, recorded, then mutated ---------------------
// While the lib/ callables run, every native call that returns is recorded (its
// arguments were valid). The native callables then run mostly on mutations of
// those recordings: one or two arguments replaced, an integer nudged past an
// edge, a buffer shortened by one element, detached or misaligned, an argument
// dropped or added. That reaches the extent checks behind the kind checks.
// PRIMERS make sure each op family has a few recordings; a new op adds a line.
const PRIMERS: Array<() => unknown> = [
  () => lib.rmsnorm(Tensor.zeros([3, 17]), Tensor.zeros([17])),
  () => lib.rmsnorm(Tensor.zeros([2, 4]), null, { eps: 1e-5 }),
  () => lib.add(Tensor.zeros([3, 17]), Tensor.zeros([3, 17])),
  () => lib.mul(Tensor.zeros([3, 17]), Tensor.zeros([17])),
  () => lib.silu(Tensor.zeros([17])),
  () => lib.gelu(Tensor.zeros([2, 5])),
  () => lib.swiglu(Tensor.zeros([2, 8]), Tensor.zeros([2, 8])),
  () => lib.swiglu(Tensor.zeros([2, 16])),
  () => lib.moeRoute(Tensor.from(new Float32Array([0.1, 0.5, -1, 2, 0, 1, 3, -2]), [2, 4]), { k: 2 }),
  () => lib.moeRoute(Tensor.from(new Float32Array(16).fill(0.5), [2, 8]), { k: 2, scoring: 'sigmoid_group', nGroup: 4, topkGroup: 2 }),
  () => lib.moePermute(Tensor.from(new Int32Array([0, 2, 1, 2]), [2, 2]), { E: 4, pad: 2 }),
  () => lib.gather(Tensor.from(ramp(4 * 8), [4, 8]), Tensor.from(new Int32Array([3, 0, 1]), [3])),
  () => lib.argmax(Tensor.from(ramp(3 * 17), [3, 17])),
  () => lib.matmul(Tensor.from(ramp(3 * 64), [3, 64]), lib.quantize(Tensor.from(ramp(5 * 64), [5, 64]), 'q8_0')),
  () => lib.matmul(Tensor.from(ramp(9 * 256), [9, 256]), lib.quantize(Tensor.from(ramp(4 * 256), [4, 256]), 'q4_k')),
  () => lib.dequantize(lib.quantize(Tensor.from(ramp(2 * 32), [2, 32]), 'q4_0')),
  // IQ4_XS / Q3_K / Q2_K (plain GEMV, the int8 GEMM, repacked GEMV, gather)
  () => lib.matmul(Tensor.from(ramp(2 * 256), [2, 256]), lib.quantize(Tensor.from(ramp(3 * 256), [3, 256]), 'iq4_xs')),
  () => lib.matmul(Tensor.from(ramp(9 * 256), [9, 256]), lib.quantize(Tensor.from(ramp(4 * 256), [4, 256]), 'q3_k')),
  () => lib.matmul(Tensor.from(ramp(1 * 256), [1, 256]), lib.repack(lib.quantize(Tensor.from(ramp(16 * 256), [16, 256]), 'q2_k'))),
  () => lib.gather(lib.quantize(Tensor.from(ramp(4 * 256), [4, 256]), 'q3_k'), Tensor.from(new Int32Array([3, 0]), [2])),
  () => lib.matmul(Tensor.from(ramp(2 * 64), [2, 64]), lib.repack(lib.quantize(Tensor.from(ramp(16 * 64), [16, 64]), 'q8_0'))),
  () => lib.dequantize(lib.repack(lib.quantize(Tensor.from(ramp(16 * 32), [16, 32]), 'q4_0'))),
  () => {
    const q = lib.quantizeLut(Tensor.from(ramp(4 * 64), [4, 64]), 'lut4');
    lib.dequantizeLut(q);
    return lib.matmulLut(Tensor.from(ramp(2 * 64), [2, 64]), q);
  },
  () => {
    const cache = new lib.KVCache({ nKvHead: 2, headDim: 64, dtype: 'f32' });
    cache.append(Tensor.from(ramp(3 * 2 * 64), [3, 2, 64]), Tensor.from(ramp(3 * 2 * 64), [3, 2, 64]));
    lib.attention(Tensor.from(ramp(1 * 4 * 64), [1, 4, 64]), cache);
    cache.fork().dispose();
    cache.truncate(1);
    cache.dispose();
  },
];

function ramp(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
}

const MAX_SEEDS = 24;
const primerFailures: string[] = [];
const seeds: Record<string, unknown[][]> = {};
const originals: Record<string, (...a: unknown[]) => unknown> = {};

function installRecorder(): void {
  for (const k of Object.keys(native)) {
    const f = loose[k];
    if (typeof f !== 'function') continue;
    originals[k] = f;
    loose[k] = (...a: unknown[]) => {
      const r = f(...a);
      const list = (seeds[k] ??= []);
      if (list.length < MAX_SEEDS) list.push(a.slice());
      return r;
    };
  }
}
function removeRecorder(): void {
  for (const k of Object.keys(originals)) loose[k] = originals[k];
}

function copyView(a: ArrayBufferView, elems: number): ArrayBufferView {
  const C = a.constructor as new (n: number) => ArrayBufferView & { set(x: ArrayLike<number>): void; length: number };
  const bpe = (a as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const c = new C(Math.max(elems, 0));
  c.set(new (C as unknown as new (b: ArrayBufferLike, o: number, n: number) => ArrayLike<number>)(a.buffer, a.byteOffset, Math.min(Math.max(elems, 0), a.byteLength / bpe)));
  return c;
}

function mutateArg(v: unknown, kind: number, replacement: unknown): unknown {
  try {
    return mutateArgOrThrow(v, kind, replacement);
  } catch {
    return replacement; // e.g. a recorded view whose buffer a later call detached
  }
}

function mutateArgOrThrow(v: unknown, kind: number, replacement: unknown): unknown {
  switch (kind) {
    case 0: return replacement;
    case 1: // nudge a number across an edge
      if (typeof v === 'number') return [v + 1, v - 1, v * 2, -1, 0, v + 0.5, 2 ** 31, 2 ** 53, NaN, -v][Math.abs(Math.round(Number(replacement) || 0)) % 10];
      return replacement;
    case 2: // one element short (or half)
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const len = (v as unknown as { length: number }).length;
        return copyView(v, typeof replacement === 'number' && replacement % 2 ? len >> 1 : len - 1);
      }
      if (v instanceof ArrayBuffer) return v.slice(0, Math.max(v.byteLength - 1, 0));
      return replacement;
    case 3: // a detached copy
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const c = copyView(v, (v as unknown as { length: number }).length);
        structuredClone(c.buffer, { transfer: [c.buffer as ArrayBuffer] });
        return c;
      }
      return replacement;
    case 4: // a misaligned byte view of the same length
      if (ArrayBuffer.isView(v)) {
        const b = new ArrayBuffer(v.byteLength + 1);
        return new Uint8Array(b, 1, v.byteLength);
      }
      return replacement;
    default:
      return v;
  }
}

const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 }), plausible), { minLength: 1, maxLength: 2 });

function mutatedSeeds(list: unknown[][]): fc.Arbitrary<unknown[]> {
  return fc.tuple(fc.constantFrom(...list), mutation, fc.integer({ min: 0, max: 9 })).map(([seed, muts, shape]) => {
    const a = seed.slice();
    for (const [pos, kind, rep] of muts) if (a.length) a[pos % a.length] = mutateArg(a[pos % a.length], kind, rep);
    if (shape === 0) a.pop();
    if (shape === 1) a.push(0);
    return a;
  });
}

// ---- the property -----------------------------------------------------------
function isCleanError(e: unknown): boolean {
  // tags, not instanceof: the addon's errors come from the main realm, jest's from a vm context
  return Object.prototype.toString.call(e) === '[object Error]' && typeof (e as Error).message === 'string' && (e as Error).message.length > 0;
}

function describeArgs(args: unknown[]): string {
  return args.map((a) => {
    if (a instanceof Tensor) return String(a);
    if (ArrayBuffer.isView(a)) return `${a.constructor.name}(${a.byteLength}B)`;
    if (typeof a === 'bigint') return `${a}n`;
    if (typeof a === 'symbol' || typeof a === 'function') return typeof a;
    try { return JSON.stringify(a)?.slice(0, 80) ?? String(a); } catch { return Object.prototype.toString.call(a); }
  }).join(', ');
}

describe('fuzz: every export survives random arguments', () => {
  const cwd = process.cwd();
  let tmp = '';
  let threads = 0, isa = '';
  beforeAll(() => {
    // some exports write files (writeGguf); let them write into a scratch directory
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-fuzz-'));
    process.chdir(tmp);
    const c = native.cpu();
    threads = c.threads;
    isa = c.isa;
    installRecorder();
    PRIMERS.forEach((p, i) => {
      try {
        p();
      } catch (e) {
        primerFailures.push(`PRIMERS[${i}]: ${(e as Error).message}`);
      }
    });
  });
  afterAll(() => {
    removeRecorder();
    process.chdir(cwd);
    fs.rmSync(tmp, { recursive: true, force: true });
    native.setThreads(threads);
    native.setIsa(isa);
    if (process.env.FUSELM_FUZZ_VERBOSE) console.log(`seeds: ${Object.entries(seeds).map(([k, v]) => `${k}:${v.length}`).join(' ')}\nfuzz: ${stats.calls} calls over ${stats.callables} callables, ${stats.ok} returned, ${stats.threw} threw; returned per callable: ${JSON.stringify(per)}`);
  });

  const stats = { calls: 0, ok: 0, threw: 0, callables: 0 };
  const per: Record<string, number> = {};
  // lib first: its successful calls record the native seeds
  const callables = [...libCallables(), ...nativeCallables()].filter((c) => c.name.includes(ONLY));

  (ONLY ? test.skip : test)('every primer (a valid call per op family) still runs', () => {
    expect(primerFailures).toEqual([]);
  });

  (ONLY ? test.skip : test)('the walk finds the exports', () => {
    const names = callables.map((c) => c.name);
    for (const n of ['fuselm.rmsnorm', 'fuselm.cpu', 'new fuselm.Tensor', 'fuselm.Tensor.zeros', 'fuselm.cuda.available', 'Tensor#reshape', 'native.rmsnorm', 'native.roofline', 'native.noop']) {
      expect(names).toContain(n);
    }
  });

  test.each(callables.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    stats.callables++;
    // each promise's outcome is taken at once: a rejection with no handler yet (native async
    // calls settle while earlier ones are awaited) would be an unhandled rejection
    const pending: Array<{ p: Promise<{ e: unknown } | undefined>; args: string }> = [];
    const recorded = c.name.startsWith('native.') ? seeds[c.name.slice(7)] : undefined;
    const arb = recorded?.length ? fc.oneof({ weight: 1, arbitrary: argLists(c.arity) }, { weight: 3, arbitrary: mutatedSeeds(recorded) }) : argLists(c.arity);
    fc.assert(
      fc.property(arb, (args) => {
        let threw: unknown = undefined, result: unknown;
        try {
          result = c.call(args);
        } catch (e) {
          threw = e;
        }
        stats.calls++;
        if (threw === undefined) { stats.ok++; per[c.name] = (per[c.name] ?? 0) + 1; }
        else stats.threw++;
        if (threw === undefined) {
          // state a call that succeeded may have changed (setThreads / setIsa): put it back
          const now = native.cpu();
          if (now.threads !== threads) native.setThreads(threads);
          if (now.isa !== isa) native.setIsa(isa);
        }
        if (threw !== undefined && !isCleanError(threw)) {
          throw new Error(`${c.name}(${describeArgs(args)}) threw a non-Error or an empty message: ${String(threw)}`);
        }
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          pending.push({ p: (result as Promise<unknown>).then(() => undefined, (e) => ({ e })), args: describeArgs(args) });
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    for (const { p, args } of pending) {
      const r = await p;
      if (r && !isCleanError(r.e)) throw new Error(`${c.name}(${args}) rejected with a non-Error: ${String(r.e)}`);
    }
  });
});

// ---- unknown option keys ------------------------------------------------------
// Every export taking an options object (a parameter named opts, options, files or parts) rejects a
// key it does not know with a TypeError naming that key and listing the known ones, before it
// does anything else with the options: a silently dropped option is a wrong answer given without a
// word. Each case makes a call valid in every other argument, so the options check is what answers.
import { runBench } from '../../lib/bench/runner';
import { measureRoofline } from '../../lib/bench/roofline';
import { encodeGgufHeader } from '../../lib/formats/gguf-writer';
import { tokenizerFromHf, tokenizerFromHfJson } from '../../lib/tokenizer/hf';
import { CHATML_TEMPLATE } from '../../lib/tokenizer/chat';

type OptCase = { name: string; call: (opts: Record<string, unknown>) => unknown };

function optionCases(dir: string): OptCase[] {
  const f32 = (shape: number[]) => lib.Tensor.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)), shape);
  const x = f32([2, 32]);
  const w32 = f32([32]);
  const lut = lib.quantizeLut(f32([2, 32]), 'lut3');
  const cache = () => {
    const c = new lib.KVCache({ nKvHead: 1, headDim: 64 });
    c.append(f32([1, 1, 64]), f32([1, 1, 64]), [0]);
    return c;
  };
  const q = f32([1, 1, 64]);
  const routing = lib.moeRoute(f32([2, 4]), { k: 2 });
  const experts = { gate: lib.quantize(f32([4 * 32, 32]), 'q8_0').reshape([4, 32, 32]), up: lib.quantize(f32([4 * 32, 32]), 'q8_0').reshape([4, 32, 32]), down: lib.quantize(f32([4 * 32, 32]), 'q8_0').reshape([4, 32, 32]) };
  const ggufFile = path.join(dir, 'opts.gguf');
  lib.writeGguf(ggufFile, { metadata: { 'general.architecture': 'llama' } });
  const stFile = path.join(dir, 'opts.safetensors');
  lib.writeSafetensors(stFile, [{ name: 't', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]);
  const tok = new lib.Tokenizer({ model: 'llama', tokens: ['<unk>', '<s>', '</s>', '\u2581a', 'a'], types: [2, 3, 3, 1, 1], scores: [0, 0, 0, -1, -2] });
  const o = (extra: Record<string, unknown>, opts: Record<string, unknown>) => ({ ...extra, ...opts });
  return [
    { name: 'new Grammar', call: (opts) => new lib.Grammar('root ::= "a"', opts as never) },
    { name: 'Grammar.parse', call: (opts) => lib.Grammar.parse('root ::= "a"', opts as never) },
    { name: 'rmsnorm', call: (opts) => lib.rmsnorm(x, w32, opts) },
    { name: 'rmsnormAsync', call: (opts) => lib.rmsnormAsync(x, w32, opts) },
    { name: 'softmax', call: (opts) => lib.softmax(x, opts) },
    { name: 'rope', call: (opts) => lib.rope(f32([1, 1, 8]), Int32Array.from([0]), opts) },
    { name: 'ropeAsync', call: (opts) => lib.ropeAsync(f32([1, 1, 8]), Int32Array.from([0]), opts) },
    { name: 'new LutTensor', call: (parts) => new lib.LutTensor('lut3', [1, 32], parts as never) },
    { name: 'quantizeLut', call: (opts) => lib.quantizeLut(x, 'lut3', opts) },
    { name: 'matmulLut', call: (opts) => lib.matmulLut(x, lut, opts) },
    { name: 'quantize(lut3)', call: (opts) => lib.quantize(x, 'lut3', opts) },
    { name: 'quantize(q8_0)', call: (opts) => (lib.quantize as (x: unknown, f: string, o: unknown) => unknown)(x, 'q8_0', opts) },
    { name: 'matmul', call: (opts) => lib.matmul(x, f32([3, 32]), opts) },
    { name: 'matmul(lut)', call: (opts) => lib.matmul(x, lut, opts) },
    { name: 'matmulAsync', call: (opts) => lib.matmulAsync(x, f32([3, 32]), opts) },
    { name: 'new KVCache', call: (opts) => new lib.KVCache(o({ nKvHead: 1, headDim: 64 }, opts) as never) },
    { name: 'attention', call: (opts) => lib.attention(q, cache(), opts) },
    { name: 'attentionAsync', call: (opts) => lib.attentionAsync(q, cache(), opts) },
    { name: 'attentionSelect', call: (opts) => lib.attentionSelect(q, cache(), o({ topKBlocks: 1 }, opts)) },
    { name: 'longGenMask', call: (opts) => lib.longGenMask(64, opts) },
    { name: 'moeRoute', call: (opts) => lib.moeRoute(f32([2, 4]), o({ k: 2 }, opts) as never) },
    { name: 'moeRouteAsync', call: (opts) => lib.moeRouteAsync(f32([2, 4]), o({ k: 2 }, opts) as never) },
    { name: 'moePermute', call: (opts) => lib.moePermute(routing.ids, o({ E: 4 }, opts) as never) },
    { name: 'moeFfn', call: (opts) => lib.moeFfn(x, routing, experts, opts) },
    { name: 'moeFfnAsync', call: (opts) => lib.moeFfnAsync(x, routing, experts, opts) },
    { name: 'readGguf', call: (opts) => lib.readGguf(ggufFile, opts) },
    { name: 'writeGguf', call: (opts) => lib.writeGguf(path.join(dir, 'w.gguf'), opts) },
    { name: 'encodeGguf', call: (opts) => lib.encodeGguf(opts) },
    { name: 'encodeGgufHeader', call: (opts) => encodeGgufHeader(opts) },
    { name: 'readSafetensors', call: (opts) => lib.readSafetensors(stFile, opts) },
    { name: 'readCheckpoint', call: (opts) => lib.readCheckpoint(stFile, opts) },
    { name: 'Tokenizer#encode', call: (opts) => tok.encode('a a', opts) },
    { name: 'Tokenizer#decode', call: (opts) => tok.decode([3, 4], opts) },
    { name: 'Tokenizer#decoder', call: (opts) => tok.decoder(opts) },
    { name: 'renderChat', call: (opts) => lib.renderChat(CHATML_TEMPLATE, [{ role: 'user', content: 'hi' }], opts) },
    { name: 'tokenizerFromHfJson', call: (files) => tokenizerFromHfJson({}, files) },
    { name: 'tokenizerFromHf', call: (opts) => tokenizerFromHf(dir, 'llama', {}, opts as never) },
    { name: 'runBench', call: (opts) => runBench(opts) },
    { name: 'measureRoofline', call: (opts) => measureRoofline(opts) },
  ];
}

// exports whose options the model layer checks (lib/models, another branch): listed so the walk
// below stays complete; give each a case here once its options are checked
// the model API's options are checked in test/models/options.test.ts; the executors' rope/attention/moeRoute
// options go on to the kernels, whose cases are above; Model#layoutFor takes the already checked LoadOptions
const OPTIONS_CHECKED_ELSEWHERE = ['load', 'new Model', 'Model#evaluate', 'Model#generate', 'Model#embed', 'Model#complete', 'Model#chat', 'Model#chatStream', 'readHf',
  'Model#layoutFor', 'Model#chatWithTools', 'Model#chatWithToolsStream', 'chatWithTools', 'chatWithToolsStream',
  ...['InlineExec', 'BudgetedExec', 'RecordingExec'].flatMap((e) => [`${e}#rope`, `${e}#attention`, `${e}#moeRoute`])];

/** parameter names of a function or a class's constructor, from its source */
function paramNames(f: (...a: never[]) => unknown): string[] {
  let src = Function.prototype.toString.call(f);
  if (/^class[\s{]/.test(src)) {
    const at = src.indexOf('constructor(');
    if (at < 0) return [];
    src = src.slice(at);
  }
  const open = src.indexOf('(');
  let depth = 0, end = open;
  for (; end < src.length; end++) {
    if (src[end] === '(') depth++;
    else if (src[end] === ')' && --depth === 0) break;
  }
  const names: string[] = [];
  let cur = '';
  depth = 0;
  for (const ch of src.slice(open + 1, end)) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) { names.push(cur); cur = ''; } else cur += ch;
  }
  if (cur.trim()) names.push(cur);
  return names.map((p) => p.trim().split(/[\s=]/)[0]);
}

/** every export of lib/index.ts (functions, classes' constructors, statics and methods) with an options parameter */
function exportsTakingOptions(): string[] {
  const out: string[] = [];
  const takes = (f: unknown) => typeof f === 'function' && paramNames(f as () => unknown).some((p) => ['opts', 'options', 'files', 'parts'].includes(p));
  for (const [key, v] of Object.entries(lib)) {
    if (typeof v !== 'function') continue;
    if (isClass(v)) {
      if (takes(v)) out.push(`new ${key}`);
      for (const m of Object.getOwnPropertyNames(v.prototype)) {
        const d = Object.getOwnPropertyDescriptor(v.prototype, m)!;
        if (m !== 'constructor' && takes(d.value)) out.push(`${key}#${m}`);
      }
      for (const m of Object.getOwnPropertyNames(v)) if (takes(Object.getOwnPropertyDescriptor(v, m)!.value)) out.push(`${key}.${m}`);
    } else if (takes(v)) out.push(key);
  }
  return out;
}

describe('fuzz: an unknown option key is a TypeError naming it', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-opts-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const cases = optionCases(tmp);
  const OPTION_RUNS = Math.max(20, Math.round(RUNS / 10));

  test('every export taking options has a case', () => {
    const covered = new Set(cases.map((c) => c.name.replace(/\(.*\)$/, '')));
    const missing = exportsTakingOptions().filter((n) => !covered.has(n) && !OPTIONS_CHECKED_ELSEWHERE.includes(n));
    expect(missing).toEqual([]);
    expect(exportsTakingOptions().length).toBeGreaterThan(25);
  });

  /** the error of one call, awaited when it returns a promise */
  async function errorOf(c: OptCase, opts: Record<string, unknown>): Promise<unknown> {
    try {
      const r = c.call(opts);
      if (r && typeof (r as Promise<unknown>).then === 'function') await r;
      return undefined;
    } catch (e) {
      return e;
    }
  }

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    // the known keys, read from the message a surely-unknown key gets
    const probe = await errorOf(c, { zzUnknownOption: 1 });
    expect(probe).toBeInstanceOf(TypeError);
    const m = /Expected (?:one of the options (.*)|no options) for (\w+) but received unknown key 'zzUnknownOption'$/.exec((probe as Error).message);
    expect([(probe as Error).message, m !== null]).toEqual([(probe as Error).message, true]);
    const known = m![1] ? m![1].split(', ') : [];
    const arb = fc.tuple(fc.string({ maxLength: 12 }).filter((k) => !known.includes(k)), fc.oneof(fc.constant(undefined), fc.integer(), fc.string(), fc.boolean(), fc.constant(null)));
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(arb, async ([key, value]) => {
        const e = await errorOf(c, { [key]: value });
        const ok = e instanceof TypeError && e.message.endsWith(`but received unknown key '${key}'`);
        if (!ok) failures.push(`${c.name}({ ${JSON.stringify(key)}: ${String(value)} }): ${e === undefined ? 'no error' : String(e)}`);
        return ok;
      }),
      { numRuns: OPTION_RUNS, seed: SEED, endOnFailure: true },
    );
    expect(failures).toEqual([]);
  });
});
