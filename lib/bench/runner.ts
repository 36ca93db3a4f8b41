// The bench runner: measures the roofline, the call overhead, then every
// registered entry (warm-up, then samples alternating between the entries of a
// family, median), and reports each as GB/s, GFLOP/s and a fraction of the
// roofline it is bound by.
import * as fs from 'fs';
import * as path from 'path';
import { checkOptionKeys, keysOf } from '../check';
import { native } from '../native';
import { BenchEntry, Bound } from './entry';
import { FAMILIES } from './registry';
import { CallOverhead, measureCallOverhead, measureRoofline, Roofline, roofFigure, RoofKind } from './roofline';

export interface BenchOptions {
  /** pool size for the whole run (default: the current pool) */
  threads?: number;
  /** keep entries whose name or family contains this string */
  filter?: string;
  /** timed samples per entry (default 7) */
  reps?: number;
  /** measure the roofline first (default true); without it, fractions are null */
  roofline?: boolean;
  /** bytes streamed per roofline memory measurement (default 512 MiB) */
  bufferBytes?: number;
  /** roofline reps (default 5) */
  roofReps?: number;
  /** the families to run (default: the registry in lib/bench/index.ts) */
  families?: ReadonlyArray<{ family: string; entries: BenchEntry[] }>;
  /** a sample repeats run() until it lasts at least this long (default 10 ms) */
  minSampleMs?: number;
  /** stop sampling an entry after this long, once it has 3 samples (default 3000 ms) */
  maxEntryMs?: number;
  /** calls per sample when measuring the N-API overhead (default 100000) */
  overheadCalls?: number;
  /** progress lines (default: none) */
  log?: (line: string) => void;
  /** a quick run: entries marked runs: 'full' are left out, those marked 'quick' are kept (default false) */
  quick?: boolean;
}

export interface KernelResult {
  name: string;
  family: string;
  bound: Bound;
  threads: number;
  /** the ISA the kernels dispatched to */
  isa: string;
  /** median ms per run, and the fastest sample */
  ms: number;
  bestMs: number;
  samples: number;
  gbs: number;
  gflops: number;
  /** the roofline figure the entry is judged against (GB/s for 'dram', else GFLOP/s or GOP/s) */
  roof: number | null;
  /** gbs (dram) or gflops (compute) over roof */
  fraction: number | null;
  /** set when setup() or run() threw; the other figures are then 0 */
  error?: string;
  /** when the entry names a baseline: that entry's name and ms / baseline ms (same run, alternating samples) */
  vsBaseline?: { name: string; ratio: number };
}

export interface BenchReport {
  fuselm: string;
  node: string;
  date: string;
  cpu: { isa: string; bestIsa: string; threads: number; physicalCores: number; features: string[] };
  roofline: Roofline | null;
  overhead: CallOverhead;
  kernels: KernelResult[];
}

function version(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const ROOF_OF: Record<Bound, RoofKind> = { dram: 'read', fma: 'fma', int8: 'int8', bf16: 'bf16' };

interface Live {
  e: BenchEntry;
  family: string;
  inner: number;
  samples: number[];
  spentMs: number;
  error?: string;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function timeFamily(family: string, entries: BenchEntry[], o: Required<Pick<BenchOptions, 'reps' | 'minSampleMs' | 'maxEntryMs'>>, log: (s: string) => void): Live[] {
  const live: Live[] = [];
  for (const e of entries) {
    const l: Live = { e, family, inner: 1, samples: [], spentMs: 0 };
    live.push(l);
    try {
      e.setup();
      e.run(); // first touch of outputs, JIT
      const t0 = nowMs();
      e.run();
      const t = Math.max(nowMs() - t0, 1e-4);
      l.inner = Math.max(1, Math.ceil(o.minSampleMs / t));
    } catch (err) {
      l.error = err instanceof Error ? err.message : String(err);
    }
  }
  // alternate between the family's entries so slow drifts (other load, clocks) spread over all of them
  for (let r = 0; r < o.reps; r++) {
    for (const l of live) {
      if (l.error || (l.samples.length >= 3 && l.spentMs > o.maxEntryMs)) continue;
      try {
        const t0 = nowMs();
        for (let i = 0; i < l.inner; i++) l.e.run();
        const dt = nowMs() - t0;
        l.spentMs += dt;
        l.samples.push(dt / l.inner);
      } catch (err) {
        l.error = err instanceof Error ? err.message : String(err);
      }
    }
  }
  for (const l of live) {
    try {
      l.e.teardown?.();
    } catch {
      /* a failing teardown does not hide the figures */
    }
    log(`  ${l.e.name}: ${l.error ? 'error: ' + l.error : median(l.samples).toFixed(3) + ' ms'}`);
  }
  return live;
}

function median(v: number[]): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const BENCH_KEYS = keysOf<BenchOptions>({
  threads: 1, filter: 1, reps: 1, roofline: 1, bufferBytes: 1, roofReps: 1, families: 1, minSampleMs: 1, maxEntryMs: 1, overheadCalls: 1, log: 1, quick: 1,
});

export function runBench(opts: BenchOptions = {}): BenchReport {
  opts = checkOptionKeys(opts, BENCH_KEYS, 'opts', 'runBench');
  const log = opts.log ?? ((): void => undefined);
  if (opts.threads !== undefined) native.setThreads(opts.threads);
  const info = native.cpu();
  const threads: number = info.threads;
  let roofline: Roofline | null = null;
  if (opts.roofline !== false) {
    log(`roofline: ${threads > 1 ? `1 and ${threads} threads` : '1 thread'}, ${((opts.bufferBytes ?? 512 * 2 ** 20) / 2 ** 20).toFixed(0)} MiB buffers`);
    roofline = measureRoofline({ threads: threads > 1 ? [1, threads] : [1], bufferBytes: opts.bufferBytes, reps: opts.roofReps });
  }
  log('N-API call overhead');
  const overhead = measureCallOverhead(opts.overheadCalls);
  const filter = opts.filter ?? '';
  const o = { reps: opts.reps ?? 7, minSampleMs: opts.minSampleMs ?? 10, maxEntryMs: opts.maxEntryMs ?? 3000 };
  const kernels: KernelResult[] = [];
  for (const fam of opts.families ?? FAMILIES) {
    const entries = fam.entries.filter((e) => (filter === '' || e.name.includes(filter) || fam.family.includes(filter)) &&
      e.runs !== (opts.quick ? 'full' : 'quick'));
    if (entries.length === 0) continue;
    log(`family ${fam.family}`);
    const live = timeFamily(fam.family, entries, o, log);
    for (const l of live) {
      const bound: Bound = l.e.bound ?? 'dram';
      const ms = median(l.samples);
      const ok = !l.error && l.samples.length > 0 && ms > 0;
      const gbs = ok ? l.e.bytes / (ms * 1e6) : 0;
      const gflops = ok ? l.e.flops / (ms * 1e6) : 0;
      const fig = roofline ? roofFigure(roofline, ROOF_OF[bound], threads) : undefined;
      const roof = fig && fig.median > 0 ? fig.median : null;
      kernels.push({
        name: l.e.name, family: fam.family, bound, threads, isa: info.isa,
        ms, bestMs: l.samples.length ? Math.min(...l.samples) : 0, samples: l.samples.length,
        gbs, gflops, roof,
        fraction: ok && roof !== null ? (bound === 'dram' ? gbs : gflops) / roof : null,
        ...(l.error ? { error: l.error } : {}),
      });
    }
    for (const l of live) {
      if (l.e.baseline === undefined) continue;
      const mine = kernels.find((k) => k.family === fam.family && k.name === l.e.name);
      const base = kernels.find((k) => k.family === fam.family && k.name === l.e.baseline);
      if (mine && base && !mine.error && !base.error && mine.ms > 0 && base.ms > 0) mine.vsBaseline = { name: base.name, ratio: mine.ms / base.ms };
    }
  }
  return {
    fuselm: version(),
    node: process.version,
    date: new Date().toISOString(),
    cpu: {
      isa: info.isa, bestIsa: info.bestIsa, threads, physicalCores: info.physicalCores,
      features: Object.keys(info.features).filter((k) => info.features[k]),
    },
    roofline,
    overhead,
    kernels,
  };
}

// ---- the table ----------------------------------------------------------
function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v) || v === 0) return '-';
  return v >= 100 ? v.toFixed(0) : v.toFixed(digits);
}
function fmtMs(ms: number): string {
  if (!(ms > 0)) return '-';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} us`;
}
function table(rows: string[][], right: boolean[]): string {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((s, c) => (right[c] ? s.padStart(w[c]) : s.padEnd(w[c]))).join('  ').trimEnd()).join('\n');
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`fuselm ${r.fuselm} on node ${r.node}: isa ${r.cpu.isa} (best ${r.cpu.bestIsa}), ${r.cpu.threads} threads, ${r.cpu.physicalCores} physical cores`);
  if (r.roofline) {
    const rf = r.roofline;
    out.push('', `roofline (median of ${rf.figures[0]?.reps ?? 0} runs; memory: ${(rf.bufferBytes / 2 ** 20).toFixed(0)} MiB per buffer)`);
    const head = ['', ...rf.threads.map((t) => `${t} thread${t > 1 ? 's' : ''}`), 'unit', 'measured with'];
    const rows = [head];
    const labels: Record<string, string> = {
      read: 'DRAM read', write: 'DRAM write (nt)', copy: 'DRAM copy (r+w)', fma: 'FP32 FMA', int8: 'int8 dot', bf16: 'BF16 dot',
    };
    for (const kind of Object.keys(labels)) {
      const figs = rf.threads.map((t) => rf.figures.find((f) => f.kind === kind && f.threads === t));
      if (figs.every((f) => f === undefined)) continue;
      const any = figs.find((f) => f !== undefined)!;
      rows.push([labels[kind], ...figs.map((f) => (f && f.median > 0 ? fmt(f.median) : 'n/a')), any.unit,
        any.isa === 'none' ? 'not on this CPU' : `${any.isa}${any.instr ? ' ' + any.instr : ''}`]);
    }
    out.push(table(rows, [false, ...rf.threads.map(() => true), false, false]));
  }
  out.push('', `N-API call overhead: ${r.overhead.noopNs.toFixed(0)} ns per call (noop), ${r.overhead.tinyKernelNs.toFixed(0)} ns per tiny kernel call (rmsnorm 1x16 through lib/)`
    + `, ${r.overhead.graphOpNs.toFixed(0)} ns per op of a recorded graph replayed (the same call, as decode replays its kernels)`
    + (r.overhead.asyncRoundTripNs !== undefined ? `, ${(r.overhead.asyncRoundTripNs / 1000).toFixed(1)} us per awaited async call (rmsnormAsync 1x16: executor thread and back)` : ''));
  if (r.kernels.length) {
    out.push('', `kernels (${r.kernels[0].threads} threads, isa ${r.kernels[0].isa}; fraction: GB/s of DRAM read for dram-bound, GFLOP/s of the peak for compute-bound)`);
    const rows = [['kernel', 'time', 'GB/s', 'GFLOP/s', 'bound', 'of roofline']];
    for (const k of r.kernels) {
      if (k.error) { rows.push([k.name, 'error', '', '', k.bound, k.error]); continue; }
      rows.push([k.name, fmtMs(k.ms), fmt(k.gbs), fmt(k.gflops), k.bound, k.fraction === null ? '-' : `${(k.fraction * 100).toFixed(0)}%`]);
    }
    out.push(table(rows, [false, true, true, true, false, true]));
    const ratios = r.kernels.filter((k) => k.vsBaseline);
    if (ratios.length) {
      out.push('', 'against a baseline doing the same work (time ratio, samples alternated in this run; 1.00x = no overhead)');
      for (const k of ratios) out.push(`  ${k.name}: ${k.vsBaseline!.ratio.toFixed(2)}x the time of ${k.vsBaseline!.name}`);
    }
  }
  return out.join('\n');
}
