// The kernels a forward pass composes, resolved from lib/ops/ when first used.
// Several kernel families land from separate work in progress; until one has,
// the model that needs it throws naming it. There is no TypeScript stand-in for
// a missing kernel: a model runs on the real kernels or not at all.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */

type AnyFn = (...args: any[]) => any;

/** kernel name -> [candidate modules under lib/ops, export name] */
const WHERE: Record<string, [string[], string]> = {
  rmsnorm: [['norm'], 'rmsnorm'],
  matmul: [['qgemm'], 'matmul'],
  quantize: [['qgemm'], 'quantize'],
  dequantize: [['qgemm'], 'dequantize'],
  add: [['elementwise'], 'add'],
  mul: [['elementwise'], 'mul'],
  swiglu: [['elementwise'], 'swiglu'],
  sigmoid: [['elementwise'], 'sigmoid'],
  rope: [['rope', 'elementwise'], 'rope'],
  embedding: [['embed'], 'gather'],
  attention: [['attention'], 'attention'],
  KVCache: [['attention'], 'KVCache'],
  moeRoute: [['moe'], 'moeRoute'],
  moeFfn: [['moe'], 'moeFfn'],
};

const cache = new Map<string, AnyFn>();

function tryResolve(name: string): AnyFn | undefined {
  const hit = cache.get(name);
  if (hit) return hit;
  return resolveFrom(name);
}

function resolveFrom(name: string): AnyFn | undefined {
  const [mods, exp] = WHERE[name];
  for (const m of mods) {
    let mod: Record<string, unknown>;
    try {
      mod = require(`../ops/${m}`);
    } catch (e) {
      if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(`ops/${m}`)) continue;
      throw e;
    }
    const f = mod[exp];
    if (typeof f === 'function') {
      cache.set(name, f as AnyFn);
      return f as AnyFn;
    }
  }
  return undefined;
}

/** The kernel, or an Error naming it and where it is expected. */
export function kernel(name: keyof typeof WHERE | string): AnyFn {
  if (!(name in WHERE)) throw new Error(`fuselm: no kernel named '${name}'`);
  const f = tryResolve(name);
  if (!f) {
    const [mods, exp] = WHERE[name];
    throw new Error(`fuselm: the model forward needs the '${exp}' kernel (lib/ops/${mods[0]}.ts), which is not in this build yet`);
  }
  return f;
}

/** Names of the kernels in `names` that are not available. */
export function missingKernels(names: readonly string[]): string[] {
  return names.filter((n) => !tryResolve(n));
}
