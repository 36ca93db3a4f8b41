// Float64 reference forward pass of the transformer family (test-only), written
// from the architecture definitions as llama.cpp builds them. It checks
// fuselm's kernel-composed forward, and the oracle suite checks it against
// llama.cpp directly, so an architecture detail (rope layout, q/k norm, bias,
// routing, shared-expert gate) is pinned down independently of the kernels.
import { GgufFile, ggufTensor, ggufTensorInfo } from '../../lib/formats/gguf';
import { Config } from '../../lib/models/config';
import { RopeScalingRef, ropeAngle } from './rope';

type Mat = { rows: number; cols: number; d: Float64Array };

const memo = new WeakMap<GgufFile, Map<string, Mat | undefined>>();
function mat(f: GgufFile, name: string): Mat | undefined {
  let m = memo.get(f);
  if (!m) { m = new Map(); memo.set(f, m); }
  if (!m.has(name)) m.set(name, load(f, name));
  return m.get(name);
}

function load(f: GgufFile, name: string): Mat | undefined {
  const info = ggufTensorInfo(f, name);
  if (!info) return undefined;
  const t = ggufTensor(f, info);
  if (t.quantized) throw new Error(`reference: ${name} is ${t.dtype}; the reference reads f32/f16/bf16 only`);
  const d = Float64Array.from(t.toArray() as Float32Array);
  const cols = info.shape[info.shape.length - 1];
  return { rows: d.length / cols, cols, d };
}

function matvec(m: Mat, x: Float64Array, rowOffset = 0, rows = m.rows): Float64Array {
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const o = (rowOffset + i) * m.cols;
    for (let j = 0; j < m.cols; j++) s += m.d[o + j] * x[j];
    y[i] = s;
  }
  return y;
}

function rmsnorm(x: Float64Array, w: Float64Array | undefined, eps: number, off = 0, n = x.length): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[off + i] * x[off + i];
  const r = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) x[off + i] = x[off + i] * r * (w ? w[i] : 1);
}

const silu = (v: number) => v / (1 + Math.exp(-v));

// ggml_rope_ext per pair (test/reference/rope.ts): plain, linear, YaRN, llama3's rope_freqs factors
function rope(x: Float64Array, nHeads: number, hd: number, nDims: number, pos: number, base: number, neox: boolean,
  sc: RopeScalingRef): void {
  for (let h = 0; h < nHeads; h++) {
    const o = h * hd;
    for (let i = 0; i < nDims / 2; i++) {
      const { c, s } = ropeAngle(pos, i, nDims, base, sc);
      const a = neox ? o + i : o + 2 * i;
      const b = neox ? o + i + nDims / 2 : o + 2 * i + 1;
      const xa = x[a], xb = x[b];
      x[a] = xa * c - xb * s;
      x[b] = xa * s + xb * c;
    }
  }
}

/** Logits [T][vocab] for `tokens` from position 0, teacher-forced. */
export function referenceForward(f: GgufFile, c: Config, tokens: readonly number[],
  o: { unscaledRope?: boolean; ropeOverride?: Partial<RopeScalingRef> } = {}): Float64Array[] {
  const emb = mat(f, 'token_embd.weight')!;
  const out = mat(f, 'output.weight') ?? emb;
  const vec = (n: string) => mat(f, n)?.d;
  const T = tokens.length, D = c.dim, hd = c.headDim, H = c.nHead, HK = c.nHeadKv, grp = H / HK;
  const xs = tokens.map((t) => emb.d.slice(t * D, (t + 1) * D));
  // o.unscaledRope: plain RoPE whatever the file says; o.ropeOverride: fields replaced (the oracle shows that its
  // scaled cases need the scaling, and YaRN its ramp and magnitude)
  const rs = o.unscaledRope ? undefined : c.ropeScaling;
  const sc: RopeScalingRef = o.unscaledRope ? {} : {
    ...(rs ? { freqScale: rs.freqScale, extFactor: rs.extFactor, attnFactor: rs.attnFactor, betaFast: rs.betaFast, betaSlow: rs.betaSlow, origCtx: rs.origCtx } : {}),
    ...(c.arch === 'llama' && mat(f, 'rope_freqs.weight') ? { freqFactors: mat(f, 'rope_freqs.weight')!.d } : {}),
    ...(o.ropeOverride ?? {}),
  };
  for (let l = 0; l < c.nLayer; l++) {
    const p = `blk.${l}.`;
    const wq = mat(f, p + 'attn_q.weight')!, wk = mat(f, p + 'attn_k.weight')!, wv = mat(f, p + 'attn_v.weight')!;
    const wo = mat(f, p + 'attn_output.weight')!;
    const bq = vec(p + 'attn_q.bias'), bk = vec(p + 'attn_k.bias'), bv = vec(p + 'attn_v.bias');
    const qn = vec(p + 'attn_q_norm.weight'), kn = vec(p + 'attn_k_norm.weight');
    const an = vec(p + 'attn_norm.weight')!, fn = vec(p + 'ffn_norm.weight')!;
    const Q: Float64Array[] = [], K: Float64Array[] = [], V: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const h = xs[t].slice();
      rmsnorm(h, an, c.rmsEps);
      const q = matvec(wq, h), k = matvec(wk, h), v = matvec(wv, h);
      if (bq) for (let i = 0; i < q.length; i++) q[i] += bq[i];
      if (bk) for (let i = 0; i < k.length; i++) k[i] += bk[i];
      if (bv) for (let i = 0; i < v.length; i++) v[i] += bv[i];
      if (qn) { if (qn.length === hd) for (let h2 = 0; h2 < H; h2++) rmsnorm(q, qn, c.rmsEps, h2 * hd, hd); else rmsnorm(q, qn, c.rmsEps); }
      if (kn) { if (kn.length === hd) for (let h2 = 0; h2 < HK; h2++) rmsnorm(k, kn, c.rmsEps, h2 * hd, hd); else rmsnorm(k, kn, c.rmsEps); }
      rope(q, H, hd, c.ropeDim, t, c.ropeBase, c.ropeType === 'neox', sc);
      rope(k, HK, hd, c.ropeDim, t, c.ropeBase, c.ropeType === 'neox', sc);
      Q.push(q); K.push(k); V.push(v);
    }
    const scale = 1 / Math.sqrt(hd);
    for (let t = 0; t < T; t++) {
      const a = new Float64Array(H * c.headDimV);
      for (let h2 = 0; h2 < H; h2++) {
        const kh = Math.floor(h2 / grp);
        const s = new Float64Array(t + 1);
        let m = -Infinity;
        for (let u = 0; u <= t; u++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += Q[t][h2 * hd + i] * K[u][kh * hd + i];
          s[u] = dot * scale;
          m = Math.max(m, s[u]);
        }
        let z = 0;
        for (let u = 0; u <= t; u++) { s[u] = Math.exp(s[u] - m); z += s[u]; }
        for (let u = 0; u <= t; u++) for (let i = 0; i < c.headDimV; i++) a[h2 * c.headDimV + i] += (s[u] / z) * V[u][kh * c.headDimV + i];
      }
      const o = matvec(wo, a);
      for (let i = 0; i < D; i++) xs[t][i] += o[i];
    }
    for (let t = 0; t < T; t++) {
      const h = xs[t].slice();
      rmsnorm(h, fn, c.rmsEps);
      const y = new Float64Array(D);
      const ffn = (g: Mat, u: Mat, d: Mat, e: number, ff: number, w: number) => {
        const gv = matvec(g, h, e * ff, ff), uv = matvec(u, h, e * ff, ff);
        const act = gv.map((v, i) => silu(v) * uv[i]);
        const dv = new Float64Array(D);
        for (let i = 0; i < D; i++) {
          let s = 0;
          const o = (e * D + i) * ff;
          for (let j = 0; j < ff; j++) s += d.d[o + j] * act[j];
          dv[i] = s;
        }
        for (let i = 0; i < D; i++) y[i] += w * dv[i];
      };
      if (c.nExpert === 0) {
        ffn(mat(f, p + 'ffn_gate.weight')!, mat(f, p + 'ffn_up.weight')!, mat(f, p + 'ffn_down.weight')!, 0, c.ffDim, 1);
      } else {
        const r = matvec(mat(f, p + 'ffn_gate_inp.weight')!, h);
        const m = Math.max(...r);
        const pr = r.map((v) => Math.exp(v - m));
        const z = pr.reduce((x, y2) => x + y2, 0);
        const order = Array.from(pr.keys()).sort((x, y2) => pr[y2] - pr[x] || x - y2).slice(0, c.nExpertUsed);
        const sel = order.map((e) => pr[e] / z);
        const norm = c.normTopkProb ? sel.reduce((x, y2) => x + y2, 0) : 1;
        const g = mat(f, p + 'ffn_gate_exps.weight')!, u = mat(f, p + 'ffn_up_exps.weight')!, d = mat(f, p + 'ffn_down_exps.weight')!;
        order.forEach((e, j) => ffn(g, u, d, e, c.expertFf, sel[j] / norm));
        const su = mat(f, p + 'ffn_up_shexp.weight');
        if (su) {
          const gi = vec(p + 'ffn_gate_inp_shexp.weight');
          let gate = 1;
          if (gi) { let s = 0; for (let i = 0; i < D; i++) s += gi[i] * h[i]; gate = 1 / (1 + Math.exp(-s)); }
          ffn(mat(f, p + 'ffn_gate_shexp.weight')!, su, mat(f, p + 'ffn_down_shexp.weight')!, 0, su.rows, gate);
        }
      }
      for (let i = 0; i < D; i++) xs[t][i] += y[i];
    }
  }
  const on = vec('output_norm.weight')!;
  return xs.map((x) => { const h = x.slice(); rmsnorm(h, on, c.rmsEps); return matvec(out, h); });
}
