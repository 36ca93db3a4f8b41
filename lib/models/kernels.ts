// The kernels a forward pass composes, by name, so the forward can wrap each
// one with per-kernel time accounting (the demo's breakdown). Every entry is a
// static import of a real kernel: there is no stand-in for a missing one.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { rmsnorm } from '../ops/norm';
import { matmul, quantize, dequantize } from '../ops/qgemm';
import { add, mul, swiglu, sigmoid } from '../ops/elementwise';
import { rope } from '../ops/rope';
import { gather } from '../ops/embed';
import { attention, KVCache } from '../ops/attention';
import { moeRoute, moeFfn } from '../ops/moe';

type AnyFn = (...args: any[]) => any;

const KERNELS: Readonly<Record<string, AnyFn>> = Object.freeze({
  rmsnorm, matmul, quantize, dequantize, add, mul, swiglu, sigmoid, rope,
  embedding: gather, attention, KVCache: KVCache as unknown as AnyFn, moeRoute, moeFfn,
});

/** The kernel registered under `name`; an unknown name is a programming error. */
export function kernel(name: string): AnyFn {
  const f = KERNELS[name];
  if (!f) throw new Error(`fuselm: no kernel named '${name}'`);
  return f;
}

