// llama.cpp side of the oracle, run as a child process (node-llama-cpp is ESM-only):
//   node llama-oracle.mjs <request.json> <response.json>
// request: { model, texts: string[], tokens?: number[], embed?: number[][] } -> response:
//   { tokenized: number[][] (no BOS/EOS), tokenizedSpecial: number[][] (with them),
//     logprobs?: number[][] (per position, full vocabulary, teacher-forced),
//     embeddings?: number[][] (one per token sequence of `embed`, the model's pooling) }
import { readFileSync, writeFileSync } from 'fs';
import { getLlama } from 'node-llama-cpp';

const [reqPath, resPath] = process.argv.slice(2);
const req = JSON.parse(readFileSync(reqPath, 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: req.model, gpuLayers: 0 });
const res = {
  tokenized: req.texts.map((t) => Array.from(model.tokenize(t, false))),
  tokenizedSpecial: req.texts.map((t) => Array.from(model.tokenize(t, true))), // parse special tokens (no BOS)
};
if (req.tokens) {
  const ctx = await model.createContext({ contextSize: 256, threads: 2, batchSize: 256 });
  const seq = ctx.getSequence();
  const opt = { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } };
  const out = await seq.controlledEvaluate(req.tokens.map((t) => [t, opt]));
  res.logprobs = out.map((r) => {
    const m = r.next.probabilities;
    const n = req.vocab;
    const lp = new Array(n).fill(Math.log(1e-45));
    for (const [id, p] of m) lp[id] = Math.log(Math.max(p, 1e-45));
    return lp;
  });
  await ctx.dispose();
}
if (req.embed) {
  const ectx = await model.createEmbeddingContext({ contextSize: 256, threads: 2, batchSize: 256 });
  res.embeddings = [];
  for (const toks of req.embed) res.embeddings.push(Array.from((await ectx.getEmbeddingFor(toks)).vector));
  await ectx.dispose();
}
await model.dispose();
await llama.dispose();
writeFileSync(resPath, JSON.stringify(res));
