// The kernels a forward pass composes, by name, each as the synchronous call and,
// where there is one, its native async twin (the forward awaits the async one when
// a kernel would hold the event loop too long; see forward's `budgetMs`). Every
// entry is a static import of a real kernel: there is no stand-in for a missing one.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { rmsnorm, rmsnormAsync } from '../ops/norm';
import { matmul, matmulAsync, quantize, dequantize } from '../ops/qgemm';
import { add, addAsync, mul, swiglu, swigluAsync, sigmoid } from '../ops/elementwise';
import { rope, ropeAsync } from '../ops/rope';
import { gather, gatherAsync } from '../ops/embed';
import { attention, attentionAsync, KVCache } from '../ops/attention';
import { moeRoute, moeRouteAsync, moeFfn, moeFfnAsync } from '../ops/moe';

type AnyFn = (...args: any[]) => any;

const kvAppend = (c: KVCache, k: any, v: any, pos: Int32Array) => c.append(k, v, pos);
const kvAppendAsync = (c: KVCache, k: any, v: any, pos: Int32Array) => c.appendAsync(k, v, pos);

const KERNELS: Readonly<Record<string, AnyFn>> = Object.freeze({
  rmsnorm, matmul, quantize, dequantize, add, mul, swiglu, sigmoid, rope,
  embedding: gather, attention, KVCache: KVCache as unknown as AnyFn, moeRoute, moeFfn, kvAppend,
});

const ASYNC_KERNELS: Readonly<Record<string, AnyFn>> = Object.freeze({
  rmsnorm: rmsnormAsync, matmul: matmulAsync, add: addAsync, swiglu: swigluAsync, rope: ropeAsync,
  embedding: gatherAsync, attention: attentionAsync, moeRoute: moeRouteAsync, moeFfn: moeFfnAsync, kvAppend: kvAppendAsync,
});

/** The kernel registered under `name`; an unknown name is a programming error. */
export function kernel(name: string): AnyFn {
  const f = KERNELS[name];
  if (!f) throw new Error(`fuselm: no kernel named '${name}'`);
  return f;
}

/** The native async twin of kernel `name`, or undefined when it has none. */
export function asyncKernel(name: string): AnyFn | undefined {
  return ASYNC_KERNELS[name];
}
