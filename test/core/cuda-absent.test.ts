// A build without CUDA (the npm addon: binding.gyp never runs nvcc) says so:
// cuda.built() and cuda.available() are false, and every CUDA-only entry, in
// lib's `cuda` namespace or among the raw addon exports named cuda*, throws an
// Error saying "built without CUDA" instead of failing in some other way.
// Entries added later are covered by the same walk.
import { cuda } from '../../lib';
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;

const QUERIES = new Set(['available', 'built', 'cudaAvailable', 'cudaBuilt']);

function thrownBy(fn: () => unknown): { name: string; message: string } | undefined {
  try {
    fn();
  } catch (e) {
    return { name: (e as Error).name, message: String((e as Error).message) };
  }
  return undefined;
}

const d = cuda.built() ? describe.skip : describe;

d('without CUDA', () => {
  test('built() and available() are false, and never throw', () => {
    expect(cuda.built()).toBe(false);
    expect(cuda.available()).toBe(false);
    expect(native.cudaBuilt).toBe(false);
    if (typeof native.cudaAvailable === 'function') expect(native.cudaAvailable()).toBe(false);
  });

  const libEntries = Object.keys(cuda).filter((k) => typeof (cuda as Record<string, unknown>)[k] === 'function' && !QUERIES.has(k));
  const nativeEntries = Object.keys(native).filter((k) => /^cuda/i.test(k) && typeof loose[k] === 'function' && !QUERIES.has(k));

  const entries = [...libEntries.map((k) => ['cuda.' + k]), ...nativeEntries.map((k) => ['native.' + k])];
  (entries.length ? test.each(entries) : test.skip.each([['(no CUDA-only entry yet)']]))(
    '%s says "built without CUDA"', (name) => {
      const [where, key] = name.split('.');
      const f = where === 'cuda' ? (cuda as unknown as Record<string, (...a: unknown[]) => unknown>)[key] : loose[key];
      for (const args of [[], [0], [new Float32Array(4), new Float32Array(4), 4]]) {
        const e = thrownBy(() => f(...args));
        expect(e?.message ?? 'returned without throwing').toContain('built without CUDA');
      }
    });
});
