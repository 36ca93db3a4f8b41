// A kernel call from Node: RMSNorm, then a matmul against a Q4_0-quantized weight.
// usage: node kernels.mjs
import { Tensor, rmsnorm, quantize, matmul, cpu } from 'fuselm';

const K = 256, N = 512;
const x = Tensor.from(Float32Array.from({ length: K }, (_, i) => Math.sin(i)), [1, K]);              // f32 [1, K]
const g = Tensor.from(new Float32Array(K).fill(1));                                                    // norm weight f32 [K]
const w = Tensor.from(Float32Array.from({ length: N * K }, (_, i) => Math.cos(0.37 * i) / 16), [N, K]); // f32 [N, K]

const h = rmsnorm(x, g, { eps: 1e-6 });  // x / sqrt(mean(x²) + eps) * g
const wq = quantize(w, 'q4_0');          // GGUF Q4_0 blocks: 18 bytes per 32 weights
const y = matmul(h, wq);                 // f32 [1, N] = h · wqᵀ (int8 dot products)
const yf = matmul(h, w);                 // the same product with the f32 weight

const a = y.toArray(), b = yf.toArray();
const err = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
console.log(`isa ${cpu().isa}: y[0..3] = ${Array.from(a.slice(0, 4), (v) => v.toFixed(4)).join(', ')}`);
console.log(`q4_0 weight: ${wq.bytes().length} bytes (f32: ${w.bytes().length}); max |q4_0 - f32| = ${err.toFixed(4)}`);

// bad input is a JavaScript error naming the argument, never a crash
try { matmul(Tensor.zeros([1, K + 1]), wq); } catch (e) { console.log(`${e.name}: ${e.message}`); }
