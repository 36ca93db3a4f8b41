// Cases from llama.cpp's tokenizer suite (non-ASCII text, digits, whitespace runs, newlines,
// apostrophes) on slices of its vocabularies committed in fixtures/llama-vocab-cases.json (see
// vocab-slice.ts; regenerate with FUSELM_WRITE_VOCAB_FIXTURES=1 and the suite test), so that
// these classes of text are checked without the vocabulary files.
import * as fs from 'fs';
import { FIXTURE_PATH, VocabFixture, tokenizerFromSlice } from './vocab-slice';

const fixtures = JSON.parse(fs.readFileSync(FIXTURE_PATH, 'utf8')) as Record<string, VocabFixture>;

describe.each(Object.keys(fixtures))('%s (slice)', (file) => {
  const fx = fixtures[file];
  const tok = tokenizerFromSlice(fx);
  test.each(fx.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))('%s', (_, c) => {
    expect(tok.encode(c.text, { addSpecial: false, parseSpecial: false })).toEqual(c.ids);
  });
});

test('the fixtures cover the classes fixed', () => {
  expect(fixtures['ggml-vocab-llama-bpe.gguf'].cases.map((c) => c.text)).toContain('Cửa Việt');
  expect(Object.keys(fixtures).length).toBeGreaterThanOrEqual(15);
});
