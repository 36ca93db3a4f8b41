// Family `elementwise`: add, mul, SiLU, GELU, sigmoid, SwiGLU. Inputs f32, f16 or bf16; outputs f32.
import { native } from '../native';
import { checkArgCount, fail } from '../check';
import { DTYPES, DType } from '../dtype';
import { Tensor } from '../tensor';
import { Launch, checkDType, outputLike, runAsync, runNow } from './common';

const ELT: readonly DType[] = ['f32', 'f16', 'bf16'];

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function binary<Op extends 'add' | 'mul'>(op: Op, fn: string, nargs: number, a: Tensor, b: Tensor, out?: Tensor): Launch<Op, Tensor> {
  checkArgCount(nargs, 2, 3, fn);
  checkDType(a, 'a', ELT, fn);
  checkDType(b, 'b', ELT, fn);
  const dim = a.shape[a.ndim - 1];
  let nb: number;
  if (sameShape(a.shape, b.shape)) nb = a.numel;
  else if (b.ndim === 1 && b.shape[0] === dim) nb = dim;
  else fail('range', 'b.shape', `[${a.shape.join(', ')}] or [${dim}]`, b.shape, fn);
  const y = outputLike(out, a.shape, 'f32', fn);
  return { fn: op, args: [y.bytes(), a.bytes(), DTYPES[a.dtype].id, b.bytes(), DTYPES[b.dtype].id, a.numel, nb], result: () => y };
}

/**
 * Elementwise sum `out = a + b`. `b` has `a`'s shape, or is one row `[D]` added to every row of `a [..., D]`
 * (a bias or a residual). Inputs f32, f16 or bf16 (each its own); `out` is f32 and may be `a` itself when
 * `a` is f32 (in place).
 *
 * @example
 *   const h = add(x, attnOut);          // residual
 *   add(h, bias, h);                     // in place, bias [D] broadcast over rows
 */
export function add(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  return runNow(binary('add', 'add', arguments.length, a, b, out));
}

/** {@link add} as native async work: the event loop runs while it does. */
export async function addAsync(a: Tensor, b: Tensor, out?: Tensor): Promise<Tensor> {
  return runAsync(binary('add', 'addAsync', arguments.length, a, b, out));
}

/**
 * Elementwise product `out = a * b`, with the same shapes, dtypes and broadcasting as {@link add}.
 *
 * @example
 *   const y = mul(x, scaleRow);          // scaleRow [D] over x [T, D]
 */
export function mul(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  return runNow(binary('mul', 'mul', arguments.length, a, b, out));
}

function unary(fn: 'silu' | 'gelu' | 'sigmoid', nargs: number, x: Tensor, out?: Tensor): Tensor {
  checkArgCount(nargs, 1, 2, fn);
  checkDType(x, 'x', ELT, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  native[fn](y.bytes(), x.bytes(), DTYPES[x.dtype].id, x.numel);
  return y;
}

/**
 * SiLU (swish): `out = x / (1 + exp(-x))`, elementwise. x f32, f16 or bf16; out f32 (may be x when f32).
 * SIMD paths use a vectorised exp (max relative error 2e-7); every path is within 2e-6 relative of the exact
 * value. silu(-inf) = -0, silu(+inf) = +inf, NaN stays NaN.
 *
 * @example
 *   const y = silu(x);
 */
export function silu(x: Tensor, out?: Tensor): Tensor {
  return unary('silu', arguments.length, x, out);
}

/**
 * GELU, tanh approximation as ggml/llama.cpp's `ggml_gelu` defines it:
 * `out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))`, evaluated in f32 as the identical
 * `x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x³)))` (not ggml's optional f16 lookup table).
 * x f32, f16 or bf16; out f32. gelu(-inf) = -0, NaN stays NaN.
 *
 * @example
 *   const y = gelu(x);
 */
export function gelu(x: Tensor, out?: Tensor): Tensor {
  return unary('gelu', arguments.length, x, out);
}

/**
 * Logistic sigmoid `out = 1 / (1 + exp(-x))`, elementwise (e.g. qwen2moe's shared-expert gate). x f32, f16 or
 * bf16; out f32. sigmoid(-inf) = 0, sigmoid(+inf) = 1, NaN stays NaN.
 *
 * @example
 *   const g = sigmoid(gateLogits);
 */
export function sigmoid(x: Tensor, out?: Tensor): Tensor {
  return unary('sigmoid', arguments.length, x, out);
}

/**
 * SwiGLU, fused: `out = silu(gate) * up`.
 *
 * Two tensors: `gate` and `up` of one shape `[..., F]`. One tensor (`up` null or omitted): `gate` is
 * `[..., 2F]` holding the gate in its first half and up in its second (ggml's `ggml_swiglu` layout);
 * `out` is `[..., F]`. Inputs f32, f16 or bf16; out f32.
 *
 * @example
 *   const h = swiglu(gateProj, upProj);     // [T, F] each
 *   const h2 = swiglu(gateUp);              // [T, 2F] -> [T, F]
 */
export function swiglu(gate: Tensor, up?: Tensor | null, out?: Tensor): Tensor {
  return runNow(swigluLaunch('swiglu', arguments.length, gate, up, out));
}

/** {@link swiglu} as native async work: the event loop runs while it does. */
export async function swigluAsync(gate: Tensor, up?: Tensor | null, out?: Tensor): Promise<Tensor> {
  return runAsync(swigluLaunch('swigluAsync', arguments.length, gate, up, out));
}

function swigluLaunch(fn: string, nargs: number, gate: Tensor, up?: Tensor | null, out?: Tensor): Launch<'swiglu', Tensor> {
  checkArgCount(nargs, 1, 3, fn);
  checkDType(gate, 'gate', ELT, fn);
  const last = gate.shape[gate.ndim - 1];
  if (up === undefined || up === null) {
    if (last % 2 !== 0) fail('range', 'gate.shape', 'an even last dimension (gate and up halves)', gate.shape, fn);
    const f = last / 2;
    const shape = [...gate.shape.slice(0, -1), f];
    const y = outputLike(out, shape, 'f32', fn);
    const rows = f === 0 ? 0 : gate.numel / last;
    const g = gate.bytes();
    const es = gate.dtype === 'f32' ? 4 : 2;
    return { fn: 'swiglu', args: [y.bytes(), g, DTYPES[gate.dtype].id, g.subarray(Math.min(f * es, g.length)), DTYPES[gate.dtype].id, rows, f, last, last], result: () => y };
  }
  checkDType(up, 'up', ELT, fn);
  if (!sameShape(gate.shape, up.shape)) fail('range', 'up.shape', `[${gate.shape.join(', ')}]`, up.shape, fn);
  const y = outputLike(out, gate.shape, 'f32', fn);
  const rows = last === 0 ? 0 : gate.numel / last;
  return { fn: 'swiglu', args: [y.bytes(), gate.bytes(), DTYPES[gate.dtype].id, up.bytes(), DTYPES[up.dtype].id, rows, last, last, last], result: () => y };
}
