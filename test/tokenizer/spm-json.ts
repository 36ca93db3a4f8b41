// Writes a SentencePiece-style tokenizer.json from a SentencePiece vocabulary (pieces, scores,
// types), the way HF's slow-to-fast converter does for Llama: every piece in model.vocab, the
// merges derived from the scores (each piece's splits into two pieces of the vocabulary, ordered
// by the merged piece's score, best first), control tokens repeated in added_tokens. Written
// here independently of lib/tokenizer/hf.ts, so the tests check one against the other.
import { TokenType } from '../../lib/tokenizer';

export interface SpmVocab { tokens: string[]; scores: number[]; types: number[] }

export type SpmJsonForm =
  | 'normalizer' // Llama-2-era: normalizer Prepend "▁" + Replace " " -> "▁", no pre-tokenizer
  | 'metaspace-first' // newer: pre_tokenizer Metaspace prepend_scheme "first", split false
  | 'metaspace-always'
  | 'metaspace-legacy' // tokenizers < 0.15: { add_prefix_space: true }, split by default
  | 'metaspace-never';

const META = '\u2581';

/** merges in HF's order: by the merged piece's score (best first), then by the pieces' ids */
export function spmMerges(v: SpmVocab, stringForm = false): (string | [string, string])[] {
  const id = new Map<string, number>();
  v.tokens.forEach((t, i) => { if (!id.has(t)) id.set(t, i); });
  const all: { l: string; r: string; score: number }[] = [];
  v.tokens.forEach((t, i) => {
    if (v.types[i] !== TokenType.NORMAL) return;
    const chars = Array.from(t);
    const local: { l: string; r: string; score: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join(''), r = chars.slice(k).join('');
      if (id.has(l) && id.has(r)) local.push({ l, r, score: v.scores[i] });
    }
    local.sort((a, b) => id.get(a.l)! - id.get(b.l)! || id.get(a.r)! - id.get(b.r)!);
    all.push(...local);
  });
  all.sort((a, b) => b.score - a.score); // stable: ties keep the order above
  return all.map(({ l, r }) => (stringForm ? `${l} ${r}` : [l, r]));
}

export function spmTokenizerJson(v: SpmVocab, form: SpmJsonForm, o: { stringMerges?: boolean; added?: object[]; userNormalized?: boolean } = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  const added: object[] = [];
  v.tokens.forEach((t, i) => {
    const special = v.types[i] === TokenType.CONTROL || v.types[i] === TokenType.UNKNOWN;
    if (v.types[i] === TokenType.USER_DEFINED) added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: o.userNormalized ?? true, special: false });
    else vocab[t] = i;
    if (special) added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  });
  const prepend = form !== 'metaspace-never';
  const metaspace = form.startsWith('metaspace')
    ? form === 'metaspace-legacy' ? { type: 'Metaspace', replacement: META, add_prefix_space: true }
      : { type: 'Metaspace', replacement: META, prepend_scheme: form.slice(10), split: false }
    : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added, ...(o.added ?? [])],
    normalizer: metaspace ? null : {
      type: 'Sequence',
      normalizers: [{ type: 'Prepend', prepend: META }, { type: 'Replace', pattern: { String: ' ' }, content: META }],
    },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: META }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
        ...(prepend ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: spmMerges(v, o.stringMerges),
    },
  };
}

const WORDS = ['hello', 'world', 'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'hell', 'low', 'hi', 'héllo', 'user'];

/** pieces with distinct scores, byte tokens, control and user-defined tokens */
export function spmTestVocab(): SpmVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(TokenType.BYTE); scores.push(0); }
  const pieces = new Set<string>(['▁', '▁▁', '▁▁▁▁']);
  for (const c of 'abcdefghijklmnopqrstuvwxyzé.,!?') pieces.add(c);
  for (const w of WORDS) {
    // prefixes and suffixes, so several merge orders compete
    for (let i = 2; i <= w.length; i++) { pieces.add(w.slice(0, i)); pieces.add('▁' + w.slice(0, i)); }
    for (let i = 1; i < w.length - 1; i++) pieces.add(w.slice(i));
    pieces.add('▁' + w[0]);
  }
  let s = -1;
  for (const p of pieces) { tokens.push(p); types.push(TokenType.NORMAL); scores.push(s); s -= 0.25 + (p.length % 3) * 0.01 + ((p.charCodeAt(p.length - 1) * 7) % 13) * 0.001; }
  tokens.push('<|im_end|>'); types.push(TokenType.CONTROL); scores.push(0);
  tokens.push('<tool>'); types.push(TokenType.USER_DEFINED); scores.push(0);
  return { tokens, types, scores };
}

