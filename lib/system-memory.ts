// How much memory this process may still use: the kernel's MemAvailable, bounded by the
// memory cgroup's limit (v1 or v2, every ancestor's limit counted) less what the cgroup
// already uses, plus the page cache it could reclaim. load() reads it before copying
// weights out of a mapping (repack, fuse), so a model that would not fit is run
// zero-copy instead of being OOM-killed.
import * as fs from 'fs';
import * as path from 'path';
import { fail } from './check';

export interface CgroupMemory {
  version: 1 | 2;
  /** the cgroup's directory under the memory controller's mount */
  dir: string;
  /** the tightest limit of the cgroup and its ancestors, bytes */
  limit: number;
  /** bytes charged to the cgroup now */
  usage: number;
  /** inactive page cache charged to the cgroup (reclaimable under pressure), bytes */
  reclaimable: number;
}

export interface AvailableMemory {
  /** min(MemAvailable, cgroup limit - usage + reclaimable), bytes */
  bytes: number;
  /** /proc/meminfo's MemAvailable, bytes (Infinity when unreadable) */
  memAvailable: number;
  /** the memory cgroup's figures, when the process is in one with a limit */
  cgroup?: CgroupMemory;
  /** which bound gave `bytes`: 'MemAvailable', 'cgroup v1' or 'cgroup v2' */
  boundBy: string;
}

/** Where to read from (tests point these at a fake tree). */
export interface MemoryRoots {
  proc?: string;   // default '/proc'
  sys?: string;    // default '/sys/fs/cgroup'
}

const UNLIMITED = 2 ** 62; // v1 reports "no limit" as a page-rounded 2^63 - 1

function read(p: string): string | undefined {
  try { return fs.readFileSync(p, 'utf8'); } catch { return undefined; }
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === 'max') return Infinity;
  const v = Number(t);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

function statField(stat: string | undefined, key: string): number | undefined {
  if (!stat) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(stat);
  return m ? Number(m[1]) : undefined;
}

function memAvailable(proc: string): number {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(read(path.join(proc, 'meminfo')) ?? '');
  return m ? Number(m[1]) * 1024 : Infinity;
}

/** The process's memory cgroup and its limit, or undefined when it has none (or no limit). */
export function cgroupMemory(roots: MemoryRoots = {}): CgroupMemory | undefined {
  const proc = roots.proc ?? '/proc', sys = roots.sys ?? '/sys/fs/cgroup';
  const lines = (read(path.join(proc, 'self', 'cgroup')) ?? '').split('\n').filter(Boolean);
  // v1: "4:memory:/a/b"; v2 (unified): "0::/a/b"
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1].split(',').includes('memory'));
  if (v1) {
    const dir = path.join(sys, 'memory', v1.slice(2).join(':'));
    const stat = read(path.join(dir, 'memory.stat'));
    // hierarchical_memory_limit is the tightest limit up the tree (with use_hierarchy)
    let limit = statField(stat, 'hierarchical_memory_limit') ?? num(read(path.join(dir, 'memory.limit_in_bytes')));
    if (limit === undefined || limit >= UNLIMITED) limit = Infinity;
    const usage = num(read(path.join(dir, 'memory.usage_in_bytes')));
    if (limit === Infinity || usage === undefined) return undefined;
    const reclaimable = statField(stat, 'total_inactive_file') ?? statField(stat, 'inactive_file') ?? 0;
    return { version: 1, dir, limit, usage, reclaimable };
  }
  const v2 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[0] === '0' && f[1] === '');
  if (v2) {
    const rel = v2.slice(2).join(':');
    const dir = path.join(sys, rel);
    // the tightest memory.max of the cgroup and its ancestors (the root has none)
    let limit = Infinity;
    for (let d = rel; ; d = path.posix.dirname(d)) {
      const m = num(read(path.join(sys, d, 'memory.max')));
      if (m !== undefined) limit = Math.min(limit, m);
      if (d === '/' || d === '.' || d === '') break;
    }
    const usage = num(read(path.join(dir, 'memory.current')));
    if (limit === Infinity || usage === undefined) return undefined;
    const reclaimable = statField(read(path.join(dir, 'memory.stat')), 'inactive_file') ?? 0;
    return { version: 2, dir, limit, usage, reclaimable };
  }
  return undefined;
}

/** The memory this process may still use (see AvailableMemory). */
export function availableMemory(roots: MemoryRoots = {}): AvailableMemory {
  const avail = memAvailable(roots.proc ?? '/proc');
  const cg = cgroupMemory(roots);
  const inCg = cg ? Math.max(0, cg.limit - cg.usage + cg.reclaimable) : Infinity;
  if (cg && inCg < avail) return { bytes: inCg, memAvailable: avail, cgroup: cg, boundBy: `cgroup v${cg.version}` };
  return { bytes: avail, memAvailable: avail, ...(cg ? { cgroup: cg } : {}), boundBy: 'MemAvailable' };
}

const UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/**
 * A byte count from a number or a string such as '6GB' (10^9), '6GiB' or '6G' (2^30), '512MiB', '1.5 GB'.
 * `arg` names the argument in the error.
 */
export function parseByteSize(v: unknown, arg: string, fn?: string): number {
  const what = "a byte count: a positive integer or a string such as '6GB', '6GiB', '512MiB'";
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v <= 0) fail('range', arg, what, v, fn);
    return v;
  }
  if (typeof v !== 'string') fail('type', arg, what, v, fn);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) fail('range', arg, what, v, fn);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) fail('range', arg, what, v, fn);
  return bytes;
}

/** '1.23 GiB' */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return 'unlimited';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(2)} ${u[i]}`;
}
