// llama.cpp's ids for texts on a vocabulary-only GGUF, through node-llama-cpp (add_special and
// parse_special false, as tests/test-tokenizer-0.cpp): the expected ids for the suite's
// vocabularies that ship without an .inp/.out pair.
//   node test/oracle/vocab-ids.mjs <ggml-vocab-x.gguf> <texts.json> <out.json>
// writes { source, texts, ids, idsSpecial, decoded, decodedSpecial } (see
// test/tokenizer/fixtures/llama-cpp-ids/; idsSpecial: with parse_special true; decoded:
// llama_detokenize of ids, decodedSpecial: of idsSpecial with unparse_special).
import { readFileSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';
import { getLlama } from 'node-llama-cpp';

const [vocab, textsPath, outPath] = process.argv.slice(2);
if (!outPath) { process.stderr.write('usage: node test/oracle/vocab-ids.mjs <vocab.gguf> <texts.json> <out.json>\n'); process.exit(2); }
const texts = JSON.parse(readFileSync(textsPath, 'utf8'));
const here = dirname(fileURLToPath(import.meta.url));
const version = JSON.parse(readFileSync(join(here, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version;
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: vocab, gpuLayers: 0, vocabOnly: true });
const ids = texts.map((t) => Array.from(model.tokenize(t, false)));
// parse_special true as well
const idsSpecial = texts.map((t) => Array.from(model.tokenize(t, true)));
// llama_detokenize(remove_special false, unparse_special false / true) of those ids
const decoded = ids.map((x) => model.detokenize(x, false));
const decodedSpecial = idsSpecial.map((x) => model.detokenize(x, true));
await model.dispose();
await llama.dispose();
writeFileSync(outPath, JSON.stringify({ source: `node-llama-cpp ${version} model.tokenize(text, false) on ${vocab.split('/').pop()}`, texts, ids, idsSpecial, decoded, decodedSpecial }) + '\n');
