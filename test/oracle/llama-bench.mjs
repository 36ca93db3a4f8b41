// llama.cpp side of `npm run bench:peers` (node-llama-cpp is ESM-only and lives in
// test/oracle/node_modules), a child process driven by JSON lines on stdin:
//   {"cmd":"load","model":"x.gguf","threads":2,"ctx":640}   -> {"ok":true}
//   {"cmd":"run","prompt":[...ids],"decode":64}            -> {"prefillMs","decodeMs","decoded"}
//   {"cmd":"quit"}
// A run starts from an empty sequence, feeds the prompt in one batch (P tokens; the
// first sampled token ends the prefill), then samples greedily `decode` more tokens
// one at a time (EOG tokens are yielded and fed back like any other).
import { createInterface } from 'readline';
import { getLlama } from 'node-llama-cpp';

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
let model, ctx, seq;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  try {
    if (req.cmd === 'load') {
      if (ctx) await ctx.dispose();
      if (model) await model.dispose();
      model = await llama.loadModel({ modelPath: req.model, gpuLayers: 0 });
      ctx = await model.createContext({ contextSize: req.ctx, threads: req.threads, batchSize: Math.min(512, req.ctx) });
      seq = ctx.getSequence();
      out({ ok: true, threads: ctx.currentThreads ?? req.threads });
    } else if (req.cmd === 'run') {
      await seq.clearHistory();
      const t0 = performance.now();
      let t1 = 0, n = 0;
      for await (const tok of seq.evaluate(req.prompt, { temperature: 0, yieldEogToken: true })) {
        void tok;
        if (n === 0) t1 = performance.now();
        if (n++ === req.decode) break;
      }
      const t2 = performance.now();
      out({ prefillMs: t1 - t0, decodeMs: t2 - t1, decoded: n - 1 });
    } else if (req.cmd === 'quit') {
      break;
    }
  } catch (e) {
    out({ error: String(e && e.stack || e) });
  }
}
if (ctx) await ctx.dispose();
if (model) await model.dispose();
await llama.dispose();
