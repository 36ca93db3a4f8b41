#!/usr/bin/env node
// `node scripts/bench-ab.js <rootA> <rootB>`: two builds of fuselm (two checkouts with dist/ and
// build/ made) on the same GGUF files, prefill and decode tokens/s, alternated. Each measurement is a
// fresh process (the model loaded anew), the order A/B rotated every repetition; the table gives
// medians and B / A. For "the change is no slower than before": A = the old build, B = the new one.
//   --reps N      repetitions per build and model (default 5)
//   --layers N    layers of the TinyLlama-shaped models (default 22)
//   --only a,b    dense-q4_0, dense-q8_0, moe-q4_0 (default all three)
//   --threads N   (default 2)
// Prefill: P = 512 tokens in one evaluate; decode: 64 greedy tokens after it, one evaluate each (the
// decode replay where the build has one). Not part of CI.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const roots = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
if (roots.length !== 2) { console.error('usage: node scripts/bench-ab.js <rootA> <rootB> [--reps n] [--layers n] [--only a,b] [--threads n]'); process.exit(2); }
for (const r of roots) if (!fs.existsSync(path.join(r, 'dist', 'index.js'))) { console.error(`bench-ab: ${r}/dist/index.js is missing: build it first`); process.exit(1); }
const reps = Number(opt('reps', 5)), layers = Number(opt('layers', 22)), threads = Number(opt('threads', 2));
const only = opt('only', 'dense-q4_0,dense-q8_0,moe-q4_0').split(',');
const P = 512, DECODE = 64;
const dense = { arch: 'llama', dim: 2048, nLayer: layers, nHead: 32, nHeadKv: 4, ffDim: 5632, ctxLen: 2048 };
const MODELS = {
  'dense-q4_0': { ...dense, type: 'q4_0' },
  'dense-q8_0': { ...dense, type: 'q8_0' },
  'moe-q4_0': { ...dense, nHeadKv: 8, nLayer: Math.max(1, Math.round(layers * 16 / 22)), nExpert: 8, nExpertUsed: 2, type: 'q4_0' },
};
for (const n of only) if (!MODELS[n]) { console.error(`bench-ab: unknown model '${n}' (known: ${Object.keys(MODELS).join(', ')})`); process.exit(2); }

const fl = require(path.join(path.resolve(roots[1]), 'dist', 'index.js'));
const dir = path.join(os.tmpdir(), 'fuselm-bench-ab');
fs.mkdirSync(dir, { recursive: true });
function modelFile(name) {
  const file = path.join(dir, `${name}-${layers}L.gguf`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`writing ${file} ...\n`);
    fl.writeGguf(file + '.part', fl.syntheticModel({ ...MODELS[name], seed: 1, fastWeights: true, quantize: fl.quantize }));
    fs.renameSync(file + '.part', file);
  }
  return file;
}

// one measurement in a fresh process: load, warm up, prefill P, decode DECODE greedily
const CHILD = `
const [root, file, P, D, threads] = process.argv.slice(1);
const fl = require(root + '/dist/index.js');
fl.setThreads(Number(threads));
const last = (lg) => Array.isArray(lg) ? lg[lg.length - 1] : lg.toArray().subarray(lg.numel - lg.shape[lg.shape.length - 1]);
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
(async () => {
  const m = await fl.load(file);
  const V = m.config.vocabSize;
  const prompt = Array.from({ length: Number(P) }, (_, i) => 1 + ((i * 7919) % (V - 1)));
  const run = async (toks, n) => {
    let t = performance.now();
    let lg = await m.evaluate(toks, { logits: 'last', reset: true });
    const prefill = toks.length * 1000 / (performance.now() - t);
    t = performance.now();
    for (let i = 0; i < n; i++) lg = await m.evaluate([argmax(last(lg))], { logits: 'last', reset: false });
    return { prefill, decode: n * 1000 / (performance.now() - t) };
  };
  await run(prompt.slice(0, 32), 4);
  console.log(JSON.stringify(await run(prompt, Number(D))));
  m.dispose();
})().catch((e) => { console.error(e); process.exit(1); });`;

function measure(root, file) {
  const r = spawnSync(process.execPath, ['-e', CHILD, path.resolve(root), file, String(P), String(DECODE), String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench-ab: ${root} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
console.log(`bench-ab: A = ${roots[0]}, B = ${roots[1]}; ${reps} repetitions, ${threads} threads, P = ${P}, decode ${DECODE}; ${os.cpus()[0].model}`);
const rows = [];
for (const name of only) {
  const file = modelFile(name);
  const got = { A: [], B: [] };
  for (let i = 0; i < reps; i++) {
    const order = i % 2 ? ['B', 'A'] : ['A', 'B'];
    for (const who of order) got[who].push(measure(roots[who === 'A' ? 0 : 1], file));
    process.stderr.write(`${name} rep ${i + 1}/${reps}\n`);
  }
  const m = (who, k) => median(got[who].map((x) => x[k]));
  rows.push({ name, A: { prefill: m('A', 'prefill'), decode: m('A', 'decode') }, B: { prefill: m('B', 'prefill'), decode: m('B', 'decode') },
    raw: got });
}
console.log('\n| model | A prefill | B prefill | B / A | A decode | B decode | B / A |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.name} ${MODELS[r.name].nLayer}L | ${r.A.prefill.toFixed(1)} | ${r.B.prefill.toFixed(1)} | ${(r.B.prefill / r.A.prefill).toFixed(3)} `
    + `| ${r.A.decode.toFixed(2)} | ${r.B.decode.toFixed(2)} | ${(r.B.decode / r.A.decode).toFixed(3)} |`);
}
console.log('(tokens/s, medians; B / A > 1: B is faster)');
if (argv.includes('--json')) console.log(JSON.stringify(rows));
