#!/usr/bin/env node
// `npm run bench:peers`: fuselm against llama.cpp (node-llama-cpp 3.21.1 from
// test/oracle/node_modules, and a native llama-bench when one is on PATH or in
// $LLAMA_BENCH) on the same GGUF files, which this script writes with fuselm's
// writer (uniform random weights, cached in the temp dir between runs):
//   dense TinyLlama-1.1B shape (dim 2048, 22 layers, 32 heads, 4 KV heads, FF 5632,
//   vocab 32000) in Q4_0 and Q8_0, and a Mixtral shape scaled down (dim 2048,
//   16 layers, 8 experts top-2, expert FF 5632) in Q4_0.
// Each engine prefills P = 512 tokens in one batch and then decodes 64 tokens
// greedily (native llama-bench: its pp P test, and its tg test at depth P, -d, so the
// decode reads as much KV as the others'); the engines (fuselm, node-llama-cpp, native) take
// turns in every repetition, the order rotated each time, and the table reports
// medians, with the same thread count for all (default 2).
// Not part of CI: it takes minutes. Options:
//   --quick       4-layer versions of the same shapes, P = 128, 2 repetitions
//   --reps N      repetitions per engine and model (default 3)
//   --threads N   threads for both engines (default 2)
//   --only a,b    model names to run (dense-q4_0, dense-q8_0, moe-q4_0, moe-q8_0)
//   --json        print the results as JSON too
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const readline = require('readline');

const root = path.join(__dirname, '..');
const oracleDir = path.join(root, 'test', 'oracle');
if (!fs.existsSync(path.join(oracleDir, 'node_modules', 'node-llama-cpp', 'package.json'))) {
  console.log('bench:peers: skipped: the llama.cpp side needs test/oracle\'s dependencies (node-llama-cpp 3.21.1, ~730 MB); '
    + 'install them with `npm install --prefix test/oracle` and run again.');
  process.exit(0);
}
if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
  console.error('bench:peers: dist/ is missing: run `npm run build:ts` first (npm run bench:peers does)');
  process.exit(1);
}
const fl = require(path.join(root, 'dist', 'index.js'));
const { argmax } = require(path.join(root, 'dist', 'models', 'sampler.js'));

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const quick = argv.includes('--quick');
const reps = Number(opt('reps', quick ? 2 : 3));
const threads = Number(opt('threads', 2));
const P = quick ? 128 : 512;
const DECODE = 64;
const only = opt('only', 'dense-q4_0,dense-q8_0,moe-q4_0').split(',');

const dense = { arch: 'llama', dim: 2048, nLayer: quick ? 4 : 22, nHead: 32, nHeadKv: 4, ffDim: 5632, ctxLen: 2048 };
const moe = { arch: 'llama', dim: 2048, nLayer: quick ? 4 : 16, nHead: 32, nHeadKv: 8, ffDim: 5632, nExpert: 8, nExpertUsed: 2, ctxLen: 2048 };
const MODELS = {
  'dense-q4_0': { ...dense, type: 'q4_0', label: `dense ${dense.nLayer}L TinyLlama-shape Q4_0` },
  'dense-q8_0': { ...dense, type: 'q8_0', label: `dense ${dense.nLayer}L TinyLlama-shape Q8_0` },
  'moe-q4_0': { ...moe, type: 'q4_0', label: `MoE ${moe.nLayer}L 8x top-2 Q4_0` },
  'moe-q8_0': { ...moe, type: 'q8_0', label: `MoE ${moe.nLayer}L 8x top-2 Q8_0` },
};
for (const n of only) if (!MODELS[n]) { console.error(`bench:peers: unknown model '${n}' (known: ${Object.keys(MODELS).join(', ')})`); process.exit(1); }

// a vocabulary of 32000: the synthetic SPM tokenizer plus filler pieces
const baseVocab = fl.syntheticModel({ arch: 'llama', dim: 32, nLayer: 1, nHead: 1, nHeadKv: 1, ffDim: 32 })
  .metadata['tokenizer.ggml.tokens'].value.items.length;
const extraTokens = 32000 - baseVocab;

const cacheDir = path.join(os.tmpdir(), 'fuselm-bench-peers');
fs.mkdirSync(cacheDir, { recursive: true });

function modelFile(name) {
  const { label, ...spec } = MODELS[name];
  void label;
  const key = Object.entries(spec).map(([k, v]) => `${k}${v}`).join('-');
  const file = path.join(cacheDir, `${key}.gguf`);
  if (fs.existsSync(file)) return file;
  const t = performance.now();
  process.stdout.write(`writing ${file} ... `);
  const m = fl.syntheticModel({ ...spec, extraTokens, seed: 1, fastWeights: true, quantize: fl.quantize });
  fs.mkdirSync(cacheDir, { recursive: true });
  fl.writeGguf(file + '.part', m);
  fs.renameSync(file + '.part', file);
  console.log(`${(fs.statSync(file).size / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return file;
}

/** the llama.cpp child: JSON lines in, JSON lines out */
function startLlama() {
  const child = spawn(process.execPath, [path.join(oracleDir, 'llama-bench.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (l) => { const w = waiting.shift(); if (w) w(JSON.parse(l)); });
  const ask = (req) => new Promise((resolve, reject) => {
    waiting.push((r) => (r.error ? reject(new Error(`llama.cpp: ${r.error}`)) : resolve(r)));
    child.stdin.write(JSON.stringify(req) + '\n');
  });
  return { ask, quit: () => { child.stdin.write('{"cmd":"quit"}\n'); child.stdin.end(); } };
}

async function fuselmRun(m, prompt) {
  const t0 = performance.now();
  let lg = await m.evaluate(prompt, { logits: 'last', reset: true });
  let tok = argmax(lg[0]);
  const t1 = performance.now();
  for (let i = 0; i < DECODE; i++) {
    lg = await m.evaluate([tok], { logits: 'last', reset: false });
    tok = argmax(lg[0]);
  }
  const t2 = performance.now();
  return { prefillMs: t1 - t0, decodeMs: t2 - t1, decoded: DECODE };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

const nativeBin = process.env.LLAMA_BENCH || (spawnSync('sh', ['-c', 'command -v llama-bench'], { encoding: 'utf8' }).stdout || '').trim();

/**
 * One native llama-bench repetition: tokens/s of a P-token prefill into an empty cache, and of
 * DECODE tokens decoded at depth P (-d: after P cached tokens, where the other two engines
 * decode, so each step's attention reads the same KV), or { error }.
 */
function nativeLlamaBench(file) {
  const one = (args) => {
    const r = spawnSync(nativeBin, ['-m', file, '-t', String(threads), ...args, '-r', '1', '-o', 'json'], { encoding: 'utf8', timeout: 1800000 });
    if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}` };
    try {
      const row = JSON.parse(r.stdout)[0];
      return { ts: row.avg_ts };
    } catch (e) { return { error: String(e) }; }
  };
  const pp = one(['-p', String(P), '-n', '0']);
  if (pp.error) return pp;
  const tg = one(['-p', '0', '-n', String(DECODE), '-d', String(P)]);
  if (tg.error) return tg;
  return { prefill: pp.ts, decode: tg.ts };
}

(async () => {
  fl.setThreads(threads);
  console.log(`bench:peers: ${threads} threads, P = ${P}, decode ${DECODE}, ${reps} alternating repetitions (median); ${os.cpus().length} CPUs (${os.cpus()[0].model})`);
  const llama = startLlama();
  const results = [];
  try {
    for (const name of only) {
      const file = modelFile(name);
      const m = await fl.load(file);
      const V = m.config.vocabSize;
      let s = 12345;
      const prompt = Array.from({ length: P }, () => { s = (s * 1103515245 + 12345) >>> 0; return 3 + (s % (V - 3)); });
      await llama.ask({ cmd: 'load', model: file, threads, ctx: P + DECODE + 64 });
      // one warm-up each (page cache, thread pools), not counted
      await fuselmRun(m, prompt.slice(0, 32));
      await llama.ask({ cmd: 'run', prompt: prompt.slice(0, 32), decode: 4 });
      // the engines take turns in every repetition, the order rotated each time, so that a
      // change in what the shared machine gives (bandwidth, a busy core) hits them alike
      const engines = nativeBin ? ['fuselm', 'llama', 'native'] : ['fuselm', 'llama'];
      const runs = { fuselm: [], llama: [], native: [] };
      let nativeError;
      for (let r = 0; r < reps; r++) {
        const order = engines.map((_, i) => engines[(i + r) % engines.length]);
        for (const who of order) {
          if (who === 'native') {
            if (nativeError) continue;
            const x = nativeLlamaBench(file);
            if (x.error) { nativeError = x.error; continue; }
            runs.native.push(x);
          } else {
            const x = who === 'fuselm' ? await fuselmRun(m, prompt) : await llama.ask({ cmd: 'run', prompt, decode: DECODE });
            runs[who].push({ prefill: (P * 1000) / x.prefillMs, decode: (x.decoded * 1000) / x.decodeMs });
          }
          process.stdout.write(`  ${name} ${who.padEnd(6)} prefill ${runs[who].at(-1).prefill.toFixed(1)} tok/s, decode ${runs[who].at(-1).decode.toFixed(1)} tok/s\n`);
        }
      }
      m.dispose();
      const med = (who, k) => median(runs[who].map((x) => x[k]));
      results.push({
        name, label: MODELS[name].label, bytes: fs.statSync(file).size,
        fuselm: { prefill: med('fuselm', 'prefill'), decode: med('fuselm', 'decode') },
        llama: { prefill: med('llama', 'prefill'), decode: med('llama', 'decode') },
        native: !nativeBin ? undefined : nativeError ? { error: nativeError } : { prefill: med('native', 'prefill'), decode: med('native', 'decode') },
      });
    }
  } finally {
    llama.quit();
  }
  const f1 = (x) => (x === undefined ? '—' : x.toFixed(1));
  const f2 = (x) => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}x`);
  console.log(`\n| model | GiB | fuselm prefill | node-llama-cpp prefill | ratio | fuselm decode | node-llama-cpp decode | ratio | native llama-bench pp / tg | ratio vs native pp / tg |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const n = r.native;
    const nat = !n ? 'not found (set LLAMA_BENCH)' : n.error ? `failed: ${n.error}` : `${f1(n.prefill)} / ${f1(n.decode)}`;
    const natR = !n || n.error ? '—' : `${f2(r.fuselm.prefill / n.prefill)} / ${f2(r.fuselm.decode / n.decode)}`;
    console.log(`| ${r.label} | ${(r.bytes / 2 ** 30).toFixed(2)} | ${f1(r.fuselm.prefill)} | ${f1(r.llama.prefill)} | ${f2(r.fuselm.prefill / r.llama.prefill)} `
      + `| ${f1(r.fuselm.decode)} | ${f1(r.llama.decode)} | ${f2(r.fuselm.decode / r.llama.decode)} | ${nat} | ${natR} |`);
  }
  console.log('(tokens/s; ratio = fuselm / peer, > 1 means fuselm is faster)');
  if (argv.includes('--json')) console.log(JSON.stringify({ threads, P, decode: DECODE, reps, results }, null, 2));
})().catch((e) => { console.error(e); process.exit(1); });
