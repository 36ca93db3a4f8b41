#!/usr/bin/env node
// Dumps the logits a set of synthetic models give, for bit-for-bit comparisons of the model
// layer across a refactor: `node scripts/logit-dump.js DIR` writes, per model, evaluate()'s
// logits at every position of a prompt, then the logits of 8 single-token evaluate() steps
// (decode), and 16 greedy generate() tokens, each with the decode replay on and off. Run it
// on the old build and the new build and compare the files (`cmp`, or --compare A B).
const fs = require('fs');
const path = require('path');
const os = require('os');
const crypto = require('crypto');
const root = path.join(__dirname, '..');
const { writeSyntheticModel, load, quantize, LOAD_OPTIONS } = require(path.join(root, 'dist', 'index.js'));
// the replay switch's name: decodeGraph before the model-layer refactor, decodeReplay after
const REPLAY = LOAD_OPTIONS && LOAD_OPTIONS.includes('decodeReplay') ? 'decodeReplay' : 'decodeGraph';

const q = (x, t) => quantize(x, t);
const base = { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 11 };
const moe = { nExpert: 4, nExpertUsed: 2, expertFf: 128 };
const CASES = [
  ['llama-f32', {}],
  ['llama-q4_0', { type: 'q4_0', quantize: q }],
  ['llama-q8_0', { type: 'q8_0', quantize: q }],
  ['llama-q4_k', { type: 'q4_k', quantize: q, dim: 256, ffDim: 512 }],
  ['llama-tied-f16', { type: 'f16', untied: false }],
  ['llama-moe-q8_0', { ...moe, type: 'q8_0', quantize: q }],
  ['qwen2-q8_0', { arch: 'qwen2', type: 'q8_0', quantize: q }],
  ['qwen3-f32', { arch: 'qwen3' }],
  ['qwen2moe-shared', { arch: 'qwen2moe', ...moe, sharedExpertFf: 128 }],
  ['qwen3moe-q4_0', { arch: 'qwen3moe', ...moe, type: 'q4_0', quantize: q }],
  ['olmoe-f32', { arch: 'olmoe', ...moe, nHeadKv: 2 }],
];

async function dump(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logit-dump-'));
  try {
    for (const [name, extra] of CASES) {
      const f = path.join(tmp, `${name}.gguf`);
      writeSyntheticModel(f, { ...base, ...extra });
      for (const graph of [true, false]) {
        for (const opts of [{}, { repack: false, fuse: false }, { eventLoopBudgetMs: 0, maxBatch: 4 }]) {
          const tag = `${name}.${graph ? 'replay' : 'kernels'}${opts.repack === false ? '.plain' : ''}${opts.eventLoopBudgetMs === 0 ? '.async' : ''}`;
          const m = await load(f, { [REPLAY]: graph, ...opts });
          const rows = await m.evaluate([3, 9, 27, 81, 40, 12, 7], { logits: 'all' });
          for (let i = 0; i < 8; i++) rows.push(...(await m.evaluate([(i * 37 + 5) % 200], { reset: false })));
          const buf = Buffer.concat(rows.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)));
          fs.writeFileSync(path.join(dir, `${tag}.logits.f32`), buf);
          const toks = [];
          for await (const p of m.generate([1, 5, 9, 13], { temperature: 0, maxTokens: 16, repeatPenalty: 1 })) toks.push(p.token);
          fs.writeFileSync(path.join(dir, `${tag}.tokens.json`), JSON.stringify(toks) + '\n');
          m.dispose();
          console.log(tag, crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16), toks.join(','));
        }
      }
      // a context shift: 40 tokens generated in a context of 24
      const fs2 = path.join(tmp, `${name}.ctx.gguf`);
      writeSyntheticModel(fs2, { ...base, ...extra, ctxLen: 24 });
      for (const graph of [true, false]) {
        const m = await load(fs2, { [REPLAY]: graph });
        const toks = [];
        for await (const p of m.generate([1, 5, 9, 13], { temperature: 0, maxTokens: 40, repeatPenalty: 1 })) toks.push(p.token);
        const tag = `${name}.${graph ? 'replay' : 'kernels'}.shift`;
        fs.writeFileSync(path.join(dir, `${tag}.tokens.json`), JSON.stringify({ toks, shifted: m.lastStats.shiftedTokens }) + '\n');
        console.log(tag, m.lastStats.shiftedTokens, toks.join(','));
        m.dispose();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function compare(a, b) {
  const names = fs.readdirSync(a).sort();
  let bad = 0;
  for (const n of names) {
    const x = fs.readFileSync(path.join(a, n)), y = fs.existsSync(path.join(b, n)) ? fs.readFileSync(path.join(b, n)) : null;
    const same = y !== null && x.equals(y);
    if (!same) bad++;
    console.log(same ? 'same' : 'DIFFERENT', n);
  }
  console.log(`${names.length - bad} of ${names.length} files bit-identical`);
  process.exitCode = bad ? 1 : 0;
}

if (process.argv[2] === '--compare') compare(process.argv[3], process.argv[4]);
else dump(process.argv[2] || '/tmp/logit-dump').catch((e) => { console.error(e); process.exit(1); });
