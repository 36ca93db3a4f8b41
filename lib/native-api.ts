// The addon's exports, typed: one declaration per export of csrc/napi/*.cpp, with the
// argument order of its C++ comment. lib/native.ts loads the addon as this type, so tsc
// checks every call from the ops (and through them the model code) down to the binding.
// The addon re-checks every argument (csrc/napi/args.h); these types say what a correct
// call passes. Kernels exported with an async twin (csrc/napi/errors.cpp export_fn with
// with_async) are declared once in NativeKernels and get their `<name>Async` form from it.

/** Bytes the addon reads or writes: a TypedArray, a DataView or an ArrayBuffer (args.h Buf). */
export type NativeBuffer = ArrayBufferView | ArrayBufferLike;

declare const handleKind: unique symbol;
/** An opaque native object (a napi External): only the addon makes and reads them. */
export interface NativeHandle<K extends string> {
  readonly [handleKind]: K;
}
/** A KV cache (csrc/napi/attention.cpp): kvCreate / kvFork make one, kvFree frees it. */
export type KvHandle = NativeHandle<'KVCache'>;
/** A recording of kernel calls for replay (csrc/napi/graph.h). */
export type RecordingHandle = NativeHandle<'recording'>;
/** A mapped file (csrc/napi/mmap.cpp). */
export type MmapHandle = NativeHandle<'mmap'>;

/**
 * A dtype as it crosses the boundary: its id in the traits table (csrc/include/fuselm/blocks.h,
 * lib/dtype.ts DTYPES[d].id), checked by csrc/napi/dtype_arg.h against each argument's allowed list.
 */
export type DTypeId = number;

/**
 * The attention kernels' option tail (csrc/napi/attention.cpp params):
 * scale, softcap, windowed, window, sinks, blockMask | null, maskRows, maskCols, topKBlocks, tokenBudget.
 */
export type AttentionParams = [
  scale: number, softcap: number, windowed: boolean, window: number, sinks: number,
  blockMask: NativeBuffer | null, maskRows: number, maskCols: number, topKBlocks: number, tokenBudget: number,
];

/** What moeFfn returns: the counts of csrc/include/fuselm/ops/moe.h MoeFfnReport. */
export interface NativeMoeReport {
  pairs: number;
  skipped: number;
  experts: number;
  bytes: number;
}

/**
 * The kernels that have an async twin: argument tuples. A kernel's `<name>Async` export
 * takes the same arguments and runs on the executor thread (csrc/napi/async.h).
 */
export interface NativeKernelArgs {
  /** rmsnorm(out, x, w | null, rows, dim, eps) */
  rmsnorm: [out: NativeBuffer, x: NativeBuffer, w: NativeBuffer | null, rows: number, dim: number, eps: number];
  /** add(out, a, aDtype, b, bDtype, n, nb): b has n or nb (one row, broadcast) elements */
  add: [out: NativeBuffer, a: NativeBuffer, aDtype: DTypeId, b: NativeBuffer, bDtype: DTypeId, n: number, nb: number];
  mul: [out: NativeBuffer, a: NativeBuffer, aDtype: DTypeId, b: NativeBuffer, bDtype: DTypeId, n: number, nb: number];
  /** swiglu(out, gate, gateDtype, up, upDtype, rows, f, gateStride, upStride) */
  swiglu: [out: NativeBuffer, gate: NativeBuffer, gateDtype: DTypeId, up: NativeBuffer, upDtype: DTypeId,
    rows: number, f: number, gateStride: number, upStride: number];
  /** gather(out, table, tableDtype, vocab, dim, ids, tokens) */
  gather: [out: NativeBuffer, table: NativeBuffer, tableDtype: DTypeId, vocab: number, dim: number, ids: NativeBuffer, tokens: number];
  /** rope(out, x, pos, tokens, heads, headDim, nDims, mode (0 normal, 2 neox), base, freqScale, extFactor, attnFactor, betaFast, betaSlow, origCtx, freqFactors | null) */
  rope: [out: NativeBuffer, x: NativeBuffer, pos: NativeBuffer, tokens: number, heads: number, headDim: number, nDims: number,
    mode: number, base: number, freqScale: number, extFactor: number, attnFactor: number, betaFast: number, betaSlow: number,
    origCtx: number, freqFactors: NativeBuffer | null];
  /** matmul(out, x, xBf16, M, K, W, wtype, N, bias | null) */
  matmul: [out: NativeBuffer, x: NativeBuffer, xBf16: boolean, M: number, K: number, W: NativeBuffer, wtype: DTypeId, N: number,
    bias: NativeBuffer | null];
  /** lutMatmul(out, x, codes, table, rowPtr, col, val, bias | null, m, n, k, bits, nnz) */
  lutMatmul: [out: NativeBuffer, x: NativeBuffer, codes: NativeBuffer, table: NativeBuffer, rowPtr: NativeBuffer, col: NativeBuffer,
    val: NativeBuffer, bias: NativeBuffer | null, m: number, n: number, k: number, bits: number, nnz: number];
  /** kvAppend(cache, k, v, positions, n) */
  kvAppend: [cache: KvHandle, k: NativeBuffer, v: NativeBuffer, positions: NativeBuffer, n: number];
  /** attention(out, q, positions, nQ, nHead, headDim, cache, <params x10>, stats: Float64Array(4) | null) */
  attention: [out: NativeBuffer, q: NativeBuffer, positions: NativeBuffer, nQ: number, nHead: number, headDim: number,
    cache: KvHandle, ...params: AttentionParams, stats: Float64Array | null];
  /** moeRoute(ids, weights, logits, T, E, scoring (index of MoeScoring), k, norm, nGroup, topkGroup, scale, bias | null) */
  moeRoute: [ids: NativeBuffer, weights: NativeBuffer, logits: NativeBuffer, T: number, E: number, scoring: number, k: number,
    norm: boolean, nGroup: number, topkGroup: number, scale: number, bias: NativeBuffer | null];
  /**
   * moeFfn(out, x, ids, weights, T, D, k, E, FF, gate, gateTypes, up, upTypes, down, downTypes,
   *        FFs, shGate, shGateType, shUp, shUpType, shDown, shDownType, shGateInp | null,
   *        skipThreshold, accumulate, stats | null): each projection is one stacked buffer [E, N, K]
   *        with one dtype id, or an Array of E buffers with an Array of E ids; the shared
   *        expert's are read only when FFs > 0
   */
  moeFfn: [out: NativeBuffer, x: NativeBuffer, ids: NativeBuffer, weights: NativeBuffer, T: number, D: number, k: number, E: number,
    FF: number, gate: NativeBuffer | NativeBuffer[], gateTypes: DTypeId | DTypeId[], up: NativeBuffer | NativeBuffer[],
    upTypes: DTypeId | DTypeId[], down: NativeBuffer | NativeBuffer[], downTypes: DTypeId | DTypeId[],
    FFs: number, shGate: NativeBuffer | null, shGateType: DTypeId, shUp: NativeBuffer | null, shUpType: DTypeId,
    shDown: NativeBuffer | null, shDownType: DTypeId, shGateInp: NativeBuffer | null,
    skipThreshold: number, accumulate: boolean, stats: Float64Array | null];
  /** graphRun(recording, timings: Float64Array(ops) | null): replays the recorded ops in order */
  graphRun: [recording: RecordingHandle, timings: Float64Array | null];
}

/** What each kernel of NativeKernelArgs returns (its async twin resolves to the same). */
export interface NativeKernelResults {
  rmsnorm: void; add: void; mul: void; swiglu: void; gather: void; rope: void; matmul: void; lutMatmul: void;
  kvAppend: void; attention: void; moeRoute: void; moeFfn: NativeMoeReport; graphRun: void;
}

export type NativeKernelName = keyof NativeKernelArgs;

/** The kernels with an async twin, as functions. */
export type NativeKernels = { [K in NativeKernelName]: (...args: NativeKernelArgs[K]) => NativeKernelResults[K] };
/** Their `<name>Async` twins. */
export type NativeAsyncKernels = {
  [K in NativeKernelName as `${K}Async`]: (...args: NativeKernelArgs[K]) => Promise<NativeKernelResults[K]>
};

export type NativeIsa = 'ref' | 'avx2' | 'avx512';

/** cpu(): csrc/napi/addon.cpp Cpu. */
export interface NativeCpuReport {
  /** the CPU's features (avx2, fma, f16c, avx512f, ..., avxvnni) */
  features: Record<string, boolean>;
  /** the ISA level kernels dispatch to now */
  isa: NativeIsa;
  /** the best level this CPU supports */
  bestIsa: NativeIsa;
  /** the thread pool's size, the caller included */
  threads: number;
  physicalCores: number;
  /** family.kernel -> the ISA whose implementation it resolved to */
  kernels: Record<string, NativeIsa>;
}

/** One row of dtypeTraits() (csrc/include/fuselm/blocks.h kDTypeTraits). */
export interface NativeDTypeTraits {
  id: number;
  name: string;
  blockElems: number;
  blockBytes: number;
  quantized: boolean;
}

/** roofline(): csrc/napi/bench.cpp. */
export interface NativeRoofFigure {
  kind: string;
  median: number;
  best: number;
  unit: 'GB/s' | 'GOP/s' | 'GFLOP/s';
  threads: number;
  reps: number;
  isa: string;
  instr: string;
}

/** Every other export: the synchronous-only calls. */
export interface NativeCalls {
  // addon.cpp
  cpu(): NativeCpuReport;
  setThreads(n: number): void;
  setIsa(isa: string): void;
  dtypeTraits(): NativeDTypeTraits[];
  // cuda.cpp
  readonly cudaBuilt: boolean;
  cudaAvailable(): boolean;
  // norm.cpp
  /** maskLogits(out, x, mask, rows, n): out = x where mask bit i of row r is set, else -Infinity */
  maskLogits(out: NativeBuffer, x: NativeBuffer, mask: Uint32Array, rows: number, n: number): void;
  /** softmax(out, x, rows, dim, scale) */
  softmax(out: NativeBuffer, x: NativeBuffer, rows: number, dim: number, scale: number): void;
  // elementwise.cpp: silu|gelu|sigmoid(out, x, xDtype, n)
  silu(out: NativeBuffer, x: NativeBuffer, xDtype: DTypeId, n: number): void;
  gelu(out: NativeBuffer, x: NativeBuffer, xDtype: DTypeId, n: number): void;
  sigmoid(out: NativeBuffer, x: NativeBuffer, xDtype: DTypeId, n: number): void;
  // embed.cpp
  /** argmax(out, x, rows, dim) */
  argmax(out: NativeBuffer, x: NativeBuffer, rows: number, dim: number): void;
  // qgemm.cpp
  /** quantize(dst, format, src, rows, cols) */
  quantize(dst: NativeBuffer, format: DTypeId, src: NativeBuffer, rows: number, cols: number): void;
  /** dequantize(dst, format, src, rows, cols) */
  dequantize(dst: NativeBuffer, format: DTypeId, src: NativeBuffer, rows: number, cols: number): void;
  /** repack(dst, to, src, from, rows, cols) */
  repack(dst: NativeBuffer, to: DTypeId, src: NativeBuffer, from: DTypeId, rows: number, cols: number): void;
  // lut.cpp
  /** lutDequantize(out, codes, table, rowPtr, col, val, n, k, bits, nnz) */
  lutDequantize(out: NativeBuffer, codes: NativeBuffer, table: NativeBuffer, rowPtr: NativeBuffer, col: NativeBuffer, val: NativeBuffer,
    n: number, k: number, bits: number, nnz: number): void;
  /** lutQuantize(codes, table, rowPtr, col, val, w, weights | null, n, k, bits, nnz, iters, seed, init) */
  lutQuantize(codes: NativeBuffer, table: NativeBuffer, rowPtr: NativeBuffer, col: NativeBuffer, val: NativeBuffer, w: NativeBuffer,
    weights: NativeBuffer | null, n: number, k: number, bits: number, nnz: number, iters: number, seed: number, init: number): void;
  // attention.cpp: the KV cache and the sparse plan
  /** kvCreate(nKvHead, headDim, dtype: the id of f32, f16 or i8) */
  kvCreate(nKvHead: number, headDim: number, dtype: DTypeId): KvHandle;
  kvTruncate(cache: KvHandle, n: number): void;
  /**
   * kvShift(cache, keep, discard, nDims, mode, base, freqScale, extFactor, attnFactor, betaFast, betaSlow, origCtx,
   * freqFactors | null): the context shift in place, keys rotated back by `discard` positions (attnFactor has no effect)
   */
  kvShift(cache: KvHandle, keep: number, discard: number, nDims: number, mode: number, base: number, freqScale: number,
    extFactor: number, attnFactor: number, betaFast: number, betaSlow: number, origCtx: number, freqFactors: NativeBuffer | null): void;
  kvFork(cache: KvHandle): KvHandle;
  kvFree(cache: KvHandle): void;
  /** kvInfo(cache) -> [length, bytes, lastPosition] */
  kvInfo(cache: KvHandle): [length: number, bytes: number, lastPosition: number];
  /** kvRead(cache, k | null, v | null, positions | null): dequantized f32 copies */
  kvRead(cache: KvHandle, k: NativeBuffer | null, v: NativeBuffer | null, positions: NativeBuffer | null): void;
  /** attentionSelectK(cache, <params x10>) -> k */
  attentionSelectK(cache: KvHandle, ...params: AttentionParams): number;
  /** attentionSelect(sel [nQ, nKv, k], k, q, positions, nQ, nHead, headDim, cache, <params x10>) */
  attentionSelect(sel: NativeBuffer, k: number, q: NativeBuffer, positions: NativeBuffer, nQ: number, nHead: number, headDim: number,
    cache: KvHandle, ...params: AttentionParams): void;
  // moe.cpp
  /** moePermute(counts, offsets, pairs, inverse, ids, T, k, E, pad) -> total rows */
  moePermute(counts: NativeBuffer, offsets: NativeBuffer, pairs: NativeBuffer, inverse: NativeBuffer, ids: NativeBuffer,
    T: number, k: number, E: number, pad: number): number;
  // graph.cpp: recordings of kernel calls (lib/exec/replay.ts)
  graphCreate(): RecordingHandle;
  /** graphCapture(recording, label, fn) -> fn's result; the kernel calls fn makes are recorded under `label` */
  graphCapture<T>(recording: RecordingHandle, label: string, fn: () => T): T;
  /** graphSeal(recording) -> number of ops; throws when the recording is unusable */
  graphSeal(recording: RecordingHandle): number;
  /** graphLabels(recording) -> the label of each op, in order */
  graphLabels(recording: RecordingHandle): string[];
  graphFree(recording: RecordingHandle): void;
  // mmap.cpp
  mmapFile(path: string): ArrayBuffer;
  mmapOpen(path: string): MmapHandle;
  mmapSize(file: MmapHandle): number;
  mmapWindow(file: MmapHandle, offset: number, length: number): ArrayBuffer;
  mmapClose(file: MmapHandle): void;
  // memory.cpp
  /** allocPages(bytes) -> zeroed, 2 MiB-aligned, huge-page-advised external memory */
  allocPages(bytes: number): ArrayBuffer;
  // bench.cpp
  /** roofline(kind, threads, bufferBytes, reps, targetMs) */
  roofline(kind: string, threads: number, bufferBytes: number, reps: number, targetMs: number): NativeRoofFigure;
  /** noop(buffer): the cheapest call through Args (the bench's per-call overhead) */
  noop(buffer: NativeBuffer): void;
}

/** The addon, as lib/native.ts loads it. */
export type NativeApi = NativeKernels & NativeAsyncKernels & NativeCalls;
