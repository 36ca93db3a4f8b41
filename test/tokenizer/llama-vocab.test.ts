// llama.cpp's own tokenizer suite: every models/ggml-vocab-*.gguf with its .inp/.out pair, every
// case, tokenized as tests/test-tokenizer-0.cpp does (add_special = false, parse_special =
// false), must give llama.cpp's ids. The vocabularies (a few MB each) are not in this
// repository: FUSELM_LLAMA_VOCAB_DIR names a directory holding them; without it the test
// extracts them from the llama.cpp source bundled with test/oracle's node-llama-cpp
// (scripts/llama-vocab.js), and skips, saying so, when neither is there. Vocabularies without
// an .inp/.out pair are loaded and checked to tokenize the other suites' texts without error.
//
// FUSELM_WRITE_VOCAB_FIXTURES=1 also rewrites test/tokenizer/fixtures/llama-vocab-cases.json:
// for each vocabulary the cases of the classes fixed here, with the slice of the vocabulary
// they touch, so that test/tokenizer/vocab-fixtures.test.ts checks them without the files.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readGguf } from '../../lib/formats/gguf';
import { Tokenizer } from '../../lib/tokenizer';
import { sliceVocab, VocabFixture, FIXTURE_PATH, pickFixtureCases } from './vocab-slice';

interface SuiteCase { text: string; ids: number[] }

/** test-tokenizer-0's reading of a .inp/.out pair */
export function readSuite(inpPath: string, outPath: string): SuiteCase[] {
  const raw = fs.readFileSync(inpPath, 'utf8');
  const sep = '\n__ggml_vocab_test__\n';
  const inp: string[] = [];
  // a separator at the very end starts no case (test-tokenizer-0's loop)
  for (let pos = 0; pos < raw.length;) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) { inp.push(raw.slice(pos)); break; }
    inp.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  const out = fs.readFileSync(outPath, 'utf8').split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  if (inp.length !== out.length) throw new Error(`${inpPath}: ${inp.length} inputs but ${out.length} outputs`);
  return inp.map((text, i) => {
    const o = out[i].trim();
    return { text, ids: o === '' ? [] : o.split(' ').map(Number) };
  });
}

function vocabDir(): { dir?: string; why?: string } {
  const env = process.env.FUSELM_LLAMA_VOCAB_DIR;
  if (env) return fs.existsSync(env) ? { dir: env } : { why: `FUSELM_LLAMA_VOCAB_DIR=${env} does not exist` };
  const script = path.join(__dirname, '..', '..', 'scripts', 'llama-vocab.js');
  try {
    return { dir: execFileSync(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim() };
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return { why: err || (e as Error).message };
  }
}

const { dir, why } = vocabDir();
const vocabs = dir ? fs.readdirSync(dir).filter((f) => /^ggml-vocab-.*\.gguf$/.test(f)).sort() : [];
const withSuite = vocabs.filter((f) => fs.existsSync(path.join(dir!, `${f}.inp`)) && fs.existsSync(path.join(dir!, `${f}.out`)));
const withoutSuite = vocabs.filter((f) => !withSuite.includes(f));

if (!dir || vocabs.length === 0) {
  console.warn(`llama-vocab.test: llama.cpp's vocab suite skipped: ${why ?? `no ggml-vocab-*.gguf in ${dir}`} (set FUSELM_LLAMA_VOCAB_DIR, or npm install in test/oracle)`);
  test.skip(`llama.cpp's vocab suite: skipped (${why ?? `no ggml-vocab-*.gguf in ${dir}`}; set FUSELM_LLAMA_VOCAB_DIR)`, () => undefined);
} else {
  const tally: string[] = [];
  const fixtures: Record<string, VocabFixture> = {};
  afterAll(() => {
    // the per-vocabulary tally
    console.log(`llama.cpp vocab suite (${dir}):\n${tally.join('\n')}`);
    if (process.env.FUSELM_WRITE_VOCAB_FIXTURES === '1') {
      fs.mkdirSync(path.dirname(FIXTURE_PATH), { recursive: true });
      fs.writeFileSync(FIXTURE_PATH, JSON.stringify(fixtures) + '\n');
    }
  });

  describe.each(withSuite)("llama.cpp's suite: %s", (file) => {
    const cases = readSuite(path.join(dir, `${file}.inp`), path.join(dir, `${file}.out`));
    const tok = Tokenizer.fromGguf(readGguf(path.join(dir, file)));
    test(`every case gives llama.cpp's ids (${cases.length} cases)`, () => {
      const failed: string[] = [];
      for (const c of cases) {
        const got = tok.encode(c.text, { addSpecial: false, parseSpecial: false });
        if (JSON.stringify(got) !== JSON.stringify(c.ids)) failed.push(`${JSON.stringify(c.text)}: got [${got}] expected [${c.ids}]`);
      }
      tally.push(`  ${file.padEnd(34)} ${cases.length - failed.length}/${cases.length}`);
      if (process.env.FUSELM_WRITE_VOCAB_FIXTURES === '1') {
        fixtures[file] = sliceVocab(readGguf(path.join(dir, file)), pickFixtureCases(cases));
      }
      expect(failed).toEqual([]);
    });
  });

  // the vocabularies llama.cpp ships without an .inp/.out pair: llama.cpp's ids for the suite's
  // texts, taken once through node-llama-cpp (test/oracle/vocab-ids.mjs), are committed
  const idsDir = path.join(__dirname, 'fixtures', 'llama-cpp-ids');
  describe.each(withoutSuite)('vocabularies without a suite: %s', (file) => {
    const known = path.join(idsDir, `${file}.json`);
    test(fs.existsSync(known) ? "gives llama.cpp's ids (node-llama-cpp's, committed)" : 'loads and tokenizes the suite texts', () => {
      const tok = Tokenizer.fromGguf(readGguf(path.join(dir, file)));
      if (!fs.existsSync(known)) {
        for (const f of withSuite) {
          for (const c of readSuite(path.join(dir, `${f}.inp`), path.join(dir, `${f}.out`))) {
            const ids = tok.encode(c.text, { addSpecial: false });
            expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)).toBe(true);
          }
        }
        tally.push(`  ${file.padEnd(34)} loads (no expected ids)`);
        return;
      }
      const k = JSON.parse(fs.readFileSync(known, 'utf8')) as { texts: string[]; ids: number[][] };
      const cases = k.texts.map((text, i) => ({ text, ids: k.ids[i] }));
      const failed: string[] = [];
      for (const c of cases) {
        const got = tok.encode(c.text, { addSpecial: false, parseSpecial: false });
        if (JSON.stringify(got) !== JSON.stringify(c.ids)) failed.push(`${JSON.stringify(c.text)}: got [${got}] expected [${c.ids}]`);
      }
      tally.push(`  ${file.padEnd(34)} ${cases.length - failed.length}/${cases.length} (ids from node-llama-cpp)`);
      if (process.env.FUSELM_WRITE_VOCAB_FIXTURES === '1') fixtures[file] = sliceVocab(readGguf(path.join(dir, file)), pickFixtureCases(cases));
      expect(failed).toEqual([]);
    });
  });
}
