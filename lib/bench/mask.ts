// Bench entries for family `mask`: the native kernel that sets disallowed logits to -inf over a
// 151936-entry row (Qwen's vocabulary), and the grammar's allowed-token mask itself (one walk of
// the vocabulary trie a step) along a JSON document of a schema with nested objects, on a
// synthetic 151936-token byte-level vocabulary. The walk's `bytes` are the masks it writes;
// its time over `steps` (per-step mask cost) against a decode step's time is the figure the
// grammar issue asks for (<= 10% on the TinyLlama shape).
import { maskLogits } from '../ops/mask';
import { Grammar } from '../grammar/grammar';
import { TokenVocab } from '../grammar/vocab';
import { jsonSchemaToGbnf } from '../grammar/json-schema';
import { BenchEntry, fillRandom } from './entry';

const V = 151936;

function maskLogitsEntry(n: number): BenchEntry {
  let x: Float32Array | undefined, m: Uint32Array | undefined;
  return {
    name: `maskLogits(f32,1x${n},half allowed)`,
    bytes: n * 8 + Math.ceil(n / 32) * 4, // read and write the row, read the mask
    flops: n,
    bound: 'dram',
    setup() {
      x = fillRandom(new Float32Array(n), 5);
      m = new Uint32Array(Math.ceil(n / 32)).fill(0x5a5a5a5a);
    },
    run() {
      maskLogits(x!, m!, x!);
    },
    teardown() { x = m = undefined; },
  };
}

/** A deterministic byte-level vocabulary of `n` tokens: the 256 bytes, then words and JSON pieces. */
function syntheticVocab(n: number): TokenVocab {
  const bytes: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) bytes.push(Uint8Array.of(b));
  const te = new TextEncoder();
  const pieces = ['{"', '":', '",', '"}', '},', '],', '":"', '": "', ', "', '[{', '}]', ' {', ' [', 'true', 'false', 'null'];
  let s = 7;
  const r = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; };
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  while (bytes.length < n - 1) {
    const k = r();
    if (k < 0.05) bytes.push(te.encode(pieces[Math.floor(r() * pieces.length)] + (r() < 0.5 ? letters[Math.floor(r() * 26)] : '')));
    else if (k < 0.12) bytes.push(te.encode(String(Math.floor(r() * 1000))));
    else {
      let w = r() < 0.6 ? ' ' : '';
      const len = 2 + Math.floor(r() * 8);
      for (let i = 0; i < len; i++) w += letters[Math.floor(Math.pow(r(), 1.5) * 26)];
      bytes.push(te.encode(r() < 0.1 ? w[0].toUpperCase() + w.slice(1) : w));
    }
  }
  bytes.push(new Uint8Array(0)); // the end-of-generation token (no text)
  return new TokenVocab(bytes.map((b, i) => (i === n - 1 ? null : b)), [n - 1]);
}

const SCHEMA = {
  type: 'object',
  properties: {
    user: {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 24 }, age: { type: 'integer', minimum: 0, maximum: 150 },
        email: { type: 'string', format: 'email' }, tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 5 },
      },
      required: ['name', 'age'],
    },
    items: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'integer' }, price: { type: 'number', minimum: 0, maximum: 1000 }, note: { type: 'string' } }, required: ['id', 'price'] },
      maxItems: 4,
    },
  },
  required: ['user', 'items'],
};
const DOC = '{"user": {"name": "Ada Lovelace", "age": 36, "email": "ada@analytical.org", "tags": ["math", "poetry"]}, "items": [{"id": 1, "price": 12.5, "note": "first engine notes"}, {"id": 2, "price": 999}]}';

function grammarMaskEntry(): BenchEntry {
  let vocab: TokenVocab | undefined, grammar: Grammar | undefined;
  const doc = new TextEncoder().encode(DOC);
  return {
    name: `grammarMask(json schema nested,V=${V},steps=${doc.length})`,
    bytes: Math.ceil(V / 32) * 4 * doc.length, // the masks written, one a step (the trie walk reads more)
    flops: 0,
    bound: 'dram',
    setup() {
      vocab = syntheticVocab(V);
      grammar = new Grammar(jsonSchemaToGbnf(SCHEMA));
    },
    run() {
      // the masks of every step of the document, none cached (the DFA's transitions are)
      grammar!.clearMaskCache();
      const m = grammar!.matcher();
      for (let i = 0; i < doc.length; i++) {
        vocab!.allowed(grammar!, m.state);
        m.acceptToken(doc[i], vocab!); // ids 0..255 are the single bytes
      }
    },
    teardown() { vocab = grammar = undefined; },
  };
}

export const entries: BenchEntry[] = [maskLogitsEntry(V), grammarMaskEntry()];
