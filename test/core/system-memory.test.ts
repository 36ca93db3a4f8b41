import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { availableMemory, cgroupMemory, formatBytes, parseByteSize } from '../../lib/system-memory';

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-mem-'));
  for (const [p, s] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), s);
  }
  return root;
}
const meminfo = (kb: number) => `MemTotal:       24683772 kB\nMemFree:         1000 kB\nMemAvailable:   ${kb} kB\n`;

describe('availableMemory', () => {
  test('cgroup v1: the hierarchical limit less usage plus inactive page cache', () => {
    const r = tree({
      'proc/meminfo': meminfo(20 * 1024 * 1024),
      'proc/self/cgroup': '9:name=systemd:/\n4:memory:/lim/a\n0::/\n',
      'sys/memory/lim/a/memory.limit_in_bytes': '9223372036854771712\n',
      'sys/memory/lim/a/memory.usage_in_bytes': String(300 << 20),
      'sys/memory/lim/a/memory.stat': `cache 1000\nhierarchical_memory_limit ${1100 << 20}\ntotal_inactive_file ${100 << 20}\n`,
    });
    const m = availableMemory({ proc: path.join(r, 'proc'), sys: path.join(r, 'sys') });
    expect(m.boundBy).toBe('cgroup v1');
    expect(m.cgroup).toMatchObject({ version: 1, limit: 1100 << 20, usage: 300 << 20, reclaimable: 100 << 20 });
    expect(m.bytes).toBe((1100 - 300 + 100) << 20);
  });

  test('cgroup v2: the tightest memory.max up the tree', () => {
    const r = tree({
      'proc/meminfo': meminfo(20 * 1024 * 1024),
      'proc/self/cgroup': '0::/outer/inner\n',
      'sys/outer/memory.max': String(2 * 2 ** 30),
      'sys/outer/inner/memory.max': 'max\n',
      'sys/outer/inner/memory.current': String(1 << 30),
      'sys/outer/inner/memory.stat': `anon 5\ninactive_file ${256 << 20}\n`,
    });
    const m = availableMemory({ proc: path.join(r, 'proc'), sys: path.join(r, 'sys') });
    expect(m.boundBy).toBe('cgroup v2');
    expect(m.bytes).toBe((1 << 30) + (256 << 20));
  });

  test('no limit: MemAvailable', () => {
    const r = tree({
      'proc/meminfo': meminfo(1234),
      'proc/self/cgroup': '4:memory:/x\n',
      'sys/memory/x/memory.limit_in_bytes': '9223372036854771712\n',
      'sys/memory/x/memory.usage_in_bytes': '5',
      'sys/memory/x/memory.stat': 'hierarchical_memory_limit 9223372036854771712\n',
    });
    expect(cgroupMemory({ proc: path.join(r, 'proc'), sys: path.join(r, 'sys') })).toBeUndefined();
    const m = availableMemory({ proc: path.join(r, 'proc'), sys: path.join(r, 'sys') });
    expect(m).toEqual({ bytes: 1234 * 1024, memAvailable: 1234 * 1024, boundBy: 'MemAvailable' });
  });

  test('a limit looser than MemAvailable: MemAvailable bounds', () => {
    const r = tree({
      'proc/meminfo': meminfo(1024),
      'proc/self/cgroup': '0::/a\n',
      'sys/a/memory.max': String(8 * 2 ** 30),
      'sys/a/memory.current': '0',
    });
    const m = availableMemory({ proc: path.join(r, 'proc'), sys: path.join(r, 'sys') });
    expect(m.boundBy).toBe('MemAvailable');
    expect(m.bytes).toBe(1024 * 1024);
    expect(m.cgroup?.limit).toBe(8 * 2 ** 30);
  });

  test('unreadable files: Infinity, never a throw', () => {
    const m = availableMemory({ proc: '/nonexistent', sys: '/nonexistent' });
    expect(m.bytes).toBe(Infinity);
  });

  test('this machine: a positive figure no larger than MemAvailable', () => {
    const m = availableMemory();
    expect(m.bytes).toBeGreaterThan(0);
    expect(m.bytes).toBeLessThanOrEqual(m.memAvailable);
  });
});

describe('parseByteSize', () => {
  test.each([
    [4096, 4096], ['6GB', 6e9], ['6GiB', 6 * 2 ** 30], ['6G', 6 * 2 ** 30], ['512MiB', 512 * 2 ** 20],
    ['1.5 GB', 1.5e9], ['100', 100], ['2kb', 2000],
  ])('%p -> %p', (v, want) => expect(parseByteSize(v, 'memoryBudget')).toBe(want));
  test.each([[0], [-5], [1.5], ['6 parsecs'], [''], ['GB'], [null], [{}], [NaN]])('%p is refused', (v) => {
    expect(() => parseByteSize(v, 'memoryBudget', 'load')).toThrow(/load: Expected a byte count.* for memoryBudget but received/);
  });
  test('formatBytes', () => {
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(Infinity)).toBe('unlimited');
  });
});
