// Argument checks shared by every TypeScript op. One message shape everywhere:
//   RangeError: Expected integer in [1, E=8] for k but received 9
import { describe } from './dtype';

export function fail(kind: 'type' | 'range', arg: string, expected: string, got: unknown, fn?: string): never {
  const msg = `${fn ? fn + ': ' : ''}Expected ${expected} for ${arg} but received ${typeof got === 'string' && got.startsWith('#') ? got.slice(1) : describe(got)}`;
  throw kind === 'type' ? new TypeError(msg) : new RangeError(msg);
}

export function checkInt(v: unknown, arg: string, lo: number, hi: number, fn?: string): number {
  if (typeof v !== 'number') fail('type', arg, `integer in [${lo}, ${hi}]`, v, fn);
  if (!Number.isInteger(v) || v < lo || v > hi) fail('range', arg, `integer in [${lo}, ${hi}]`, v, fn);
  return v;
}

export function checkNumber(v: unknown, arg: string, lo = -Infinity, hi = Infinity, fn?: string): number {
  const what = lo === -Infinity && hi === Infinity ? 'a finite number' : `a finite number in [${lo}, ${hi}]`;
  if (typeof v !== 'number') fail('type', arg, what, v, fn);
  if (!Number.isFinite(v) || v < lo || v > hi) fail('range', arg, what, v, fn);
  return v;
}

export function checkOptions(v: unknown, arg: string, fn?: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) fail('type', arg, 'an options object', v, fn);
  return v as Record<string, unknown>;
}

export function checkArgCount(n: number, lo: number, hi: number, fn: string): void {
  if (n < lo || n > hi) {
    throw new TypeError(`${fn}: Expected ${lo === hi ? lo : `${lo} to ${hi}`} arguments for arguments but received ${n}`);
  }
}

/**
 * Every key of options object `o` must be one of `known`: an unknown key is a TypeError naming it and
 * listing the known ones (a silently dropped `jsonSchema` or `memoryBudget` is a wrong answer given
 * without a word). Keys whose value is undefined are checked too: a misspelt key is misspelt either way.
 *   TypeError: generate: Expected one of the options maxTokens, stop, ... for options but received unknown key 'jsonSchma'
 */
export function checkKeys(o: object | undefined | null, known: readonly string[], arg: string, fn?: string): void {
  if (o === undefined || o === null) return;
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      const list = known.length ? `one of the options ${known.join(', ')}` : 'no options';
      fail('type', arg, list, `#unknown key '${key}'`, fn);
    }
  }
}

/** checkOptions, then checkKeys: the options object, with no key outside `known`. */
export function checkOptionKeys(v: unknown, known: readonly string[], arg: string, fn?: string): Record<string, unknown> {
  const o = checkOptions(v, arg, fn);
  checkKeys(o, known, arg, fn);
  return o;
}

/**
 * The keys of options type `T` as the list checkKeys takes, written as an object literal so that tsc
 * rejects a list that misses a key of `T` or names one `T` lacks (the list cannot drift from the type):
 *   const RMSNORM_KEYS = keysOf<RmsNormOptions>({ eps: 1 });
 */
export function keysOf<T extends object>(keys: { readonly [K in keyof Required<T>]: 1 }): readonly string[] {
  return Object.keys(keys);
}
