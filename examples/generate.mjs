// Load a GGUF model and stream tokens.
// usage: node generate.mjs <model.gguf> ["prompt"]
//   (no model at hand? `npx fuselm demo --keep` writes a small synthetic one and prints its path)
import { load } from 'fuselm';

const [file, prompt = 'The quick brown fox'] = process.argv.slice(2);
if (!file) { console.error('usage: node generate.mjs <model.gguf> ["prompt"]'); process.exit(2); }

const model = await load(file);  // weights mmap'd; Q4_0/Q8_0/K-quant projections repacked for decode
try {
  const c = model.config;
  console.log(`${c.arch}: ${c.nLayer} layers, dim ${c.dim}, vocab ${c.vocabSize}`);
  for await (const piece of model.generate(prompt, { maxTokens: 32, temperature: 0.8, seed: 1 })) {
    process.stdout.write(piece.text);  // each piece: { token, text }
  }
  const s = model.lastStats;
  console.log(`\nprefill ${s.promptTokens} tokens: ${s.prefillTokensPerSec.toFixed(1)} tok/s; `
    + `decode ${s.generatedTokens} tokens: ${s.decodeTokensPerSec.toFixed(1)} tok/s`);

  // the whole text at once; greedy (temperature 0), stopped at a newline
  const text = await model.complete(prompt, { maxTokens: 16, temperature: 0, stop: '\n' });
  console.log(`greedy: ${JSON.stringify(text)}`);
} finally {
  model.dispose();
}
