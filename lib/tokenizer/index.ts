// Tokenizers built from GGUF metadata, following llama.cpp's src/llama-vocab.cpp (its own test
// suite, test/tokenizer/llama-vocab.test.ts, and seeded random texts against llama_tokenize,
// test/oracle/vocab-random.oracle.ts, check identical ids):
//   tokenizer.ggml.model = "llama": SentencePiece-style BPE (SPM): bigram merges by token
//     score, '▁' for spaces, a space prefix, byte fallback <0xXX>, BOS by default.
//   "gpt2": byte-level BPE: the pre-tokenizer tokenizer.ggml.pre names (./pretokenizer.ts: its
//     regexes and flags), GPT-2's byte-to-unicode map, merges by rank, no BOS by default.
//   "gemma4": BPE on raw UTF-8: '▁' for spaces, newline runs apart, <0xXX> byte fallback, BOS.
//   "bert": WordPiece (./wpm.ts), [CLS] ... [SEP].
//   "t5": Unigram (./ugm.ts), SentencePiece's precompiled charsmap, EOS.
//   A SentencePiece-style tokenizer.json (lib/tokenizer/hf.ts) is the "llama" model with
//     merges: adjacent pieces merge by the rank of their pair in the merges list (HF's BPE)
//     instead of by the merged token's score; the two agree when the merges were derived from
//     the scores, as HF's SentencePiece converter derives them.
// Special tokens (control, user-defined, unknown; llama.cpp's attributes, see tokenAttrs) are
// split out of the text first, longest first; control and unknown ones only when parseSpecial
// is set, user-defined ones always.
import { GgufFile, GgufType, ggufGet, ggufPlain } from '../formats/gguf';
import { checkOptionKeys, keysOf } from '../check';
import { PreTokenizer, preTokenizer, splitCodePoints } from './pretokenizer';
import { codePoints, fromCodePoints } from './unicode';
import { Wpm } from './wpm';
import { Ugm } from './ugm';

export enum TokenType { UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

export interface TokenizeOptions {
  /** add BOS/EOS as the model's flags say (default true) */
  addSpecial?: boolean;
  /** match control tokens written in the text, e.g. "<|im_start|>" (default false) */
  parseSpecial?: boolean;
}
const TOKENIZE_KEYS = keysOf<TokenizeOptions>({ addSpecial: 1, parseSpecial: 1 });
const DECODE_KEYS = ['special', 'removeSpecial', 'stripSpacePrefix'];
const DECODER_KEYS = ['special'];

/** tokenizer.ggml.model values fuselm reads */
export type TokenizerModel = 'llama' | 'gpt2' | 'gemma4' | 'bert' | 't5';
const MODELS: readonly TokenizerModel[] = ['llama', 'gpt2', 'gemma4', 'bert', 't5'];
/** llama.cpp's vocabulary type for each model */
const KIND = { llama: 'spm', gpt2: 'bpe', gemma4: 'bpe', bert: 'wpm', t5: 'ugm' } as const;

export interface VocabData {
  /**
   * 'llama': SentencePiece BPE (SPM); 'gpt2': byte-level BPE; 'gemma4': BPE on raw UTF-8 with '▁'
   * for spaces and <0xXX> byte fallback; 'bert': WordPiece (WPM); 't5': Unigram (UGM).
   */
  model: TokenizerModel;
  pre?: string;
  tokens: string[];
  scores?: ArrayLike<number>;
  types?: ArrayLike<number>;
  /**
   * gpt2: "a b" merge strings, ranked by position. llama: optional [a, b] pairs ranked by
   * position (from a SentencePiece-style tokenizer.json); when given, a pair merges only if it
   * is listed, lowest rank first, instead of by the merged token's score.
   */
  merges?: string[] | [string, string][];
  /** llama: split the escaped text before every '▁' first (an HF Metaspace pre-tokenizer with split: true) */
  splitOnSpace?: boolean;
  /**
   * llama: where the '▁' prefix goes. 'llama' (default; llama.cpp and SentencePiece): on every
   * run of text that starts the input or follows a special token. HF's Metaspace pre-tokenizer:
   * 'always', on every run of text that does not already start with a space; 'first', only on
   * the run at the very start of the input, and not when it starts with a space.
   */
  spacePrefixRule?: 'llama' | 'always' | 'first';
  bos?: number; eos?: number; unk?: number; pad?: number; eot?: number; sep?: number;
  addBos?: boolean; addEos?: boolean; addSep?: boolean; addSpacePrefix?: boolean;
  /** t5: collapse runs of spaces and trim (tokenizer.ggml.remove_extra_whitespaces, default false) */
  removeExtraWhitespaces?: boolean;
  /** t5: SentencePiece's precompiled_charsmap (tokenizer.ggml.precompiled_charsmap) */
  precompiledCharsmap?: Uint8Array;
  /** bert: lowercase the text (tokenizer.ggml.normalizer.lowercase, default true) */
  lowercase?: boolean;
  /** bert: strip accents (tokenizer.ggml.normalizer.strip_accents, default: as lowercase) */
  stripAccents?: boolean;
  /** the model's name (general.name), which selects llama.cpp's per-model token attributes */
  modelName?: string;
  /** general.architecture, likewise */
  arch?: string;
  /** tokenizer.ggml.fim_*_token_id: a given one stops llama.cpp from looking for it by text */
  fim?: Partial<Record<'pre' | 'suf' | 'mid' | 'pad' | 'rep' | 'sep', number>>;
  /** tokenizer.ggml.eom_token_id */
  eom?: number;
  chatTemplate?: string;
}

// GPT-2's reversible byte <-> printable unicode map
const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<string, number>();
{
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const c = keep(b) ? b : 256 + n++;
    BYTE_TO_CHAR[b] = String.fromCodePoint(c);
    CHAR_TO_BYTE.set(BYTE_TO_CHAR[b], b);
  }
}

/**
 * The pre-tokenizer regexes llama.cpp applies for a tokenizer.ggml.pre value (in sequence),
 * in llama.cpp's spelling; an unknown name is a RangeError.
 */
export function preTokenizerRegexes(pre: string | undefined): string[] {
  return preTokenizer(pre).regexes.slice();
}

const te = new TextEncoder();
const BPE_CACHE_SIZE = 1 << 16;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** llama.cpp's three clean_spaces passes over detokenized bytes. */
function cleanSpaces(t: Uint8Array): Uint8Array {
  const SP = 0x20, Q = 0x27;
  let n = t.length;
  if (n === 0) return t;
  const x = Uint8Array.from(t);
  // " ?", " !", " .", " ,"
  let m = 1;
  for (let i = 1; i < n; i++) {
    const c = x[i];
    if (x[i - 1] === SP && (c === 0x3f || c === 0x21 || c === 0x2e || c === 0x2c)) m--;
    x[m++] = c;
  }
  n = m;
  // " ' " -> "'"
  m = 1;
  for (let i = 1; i < n; i++) {
    const c = x[i];
    if (c === Q && i + 1 < n && x[i - 1] === SP && x[i + 1] === SP) { m--; x[++i] = 0; }
    x[m++] = c;
  }
  n = m;
  // " 's", " 'm", " 're", " 've"
  m = 1;
  for (let i = 1; i < n; i++) {
    const c = x[i];
    if (x[i - 1] === SP && c === Q && i + 1 < n) {
      const c1 = x[i + 1];
      if (c1 === 0x73 || c1 === 0x6d) m--;
      else if (c1 !== 0x74 && c1 !== 0x64 && i + 2 < n) {
        const c2 = x[i + 2];
        if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65)) m--;
      }
    }
    x[m++] = c;
  }
  return x.subarray(0, m);
}

/** GPT-2's byte-level encoding of a piece: each UTF-8 byte as its printable character. */
function byteEncode(piece: string): string {
  let s = '';
  for (const b of te.encode(piece)) s += BYTE_TO_CHAR[b];
  return s;
}

/**
 * A binary min-heap of candidate merges (key, left, right, size) held in typed arrays, ordered by
 * key, then by left (the leftmost of equal candidates first, as llama.cpp's queues order them).
 */
class PairHeap {
  private key = new Float64Array(64);
  private lr = new Int32Array(192);
  size = 0;
  /** the last pop */
  left = 0; right = 0; span = 0;
  private before(i: number, k: number, l: number): boolean { return this.key[i] < k || (this.key[i] === k && this.lr[3 * i] < l); }
  private put(i: number, k: number, l: number, r: number, n: number): void { this.key[i] = k; this.lr[3 * i] = l; this.lr[3 * i + 1] = r; this.lr[3 * i + 2] = n; }
  private move(to: number, from: number): void { this.key[to] = this.key[from]; this.lr.copyWithin(3 * to, 3 * from, 3 * from + 3); }
  push(k: number, l: number, r: number, n: number): void {
    if (this.size === this.key.length) {
      const key = new Float64Array(this.key.length * 2); key.set(this.key); this.key = key;
      const lr = new Int32Array(this.lr.length * 2); lr.set(this.lr); this.lr = lr;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(k < this.key[p] || (k === this.key[p] && l < this.lr[3 * p]))) break;
      this.move(i, p);
      i = p;
    }
    this.put(i, k, l, r, n);
  }
  pop(): void {
    this.left = this.lr[0]; this.right = this.lr[1]; this.span = this.lr[2];
    const last = --this.size;
    if (last === 0) return;
    const k = this.key[last], l = this.lr[3 * last], r = this.lr[3 * last + 1], n = this.lr[3 * last + 2];
    let i = 0;
    for (;;) {
      const c = 2 * i + 1;
      if (c >= last) break;
      const m = c + 1 < last && this.before(c + 1, this.key[c], this.lr[3 * c]) ? c + 1 : c;
      if (!this.before(m, k, l)) break;
      this.move(i, m);
      i = m;
    }
    this.put(i, k, l, r, n);
  }
}

/**
 * BPE merge rules over symbol ids, so that the merge loop allocates no strings: each string a
 * rule names (its left, its right and what they make) has an id, its token id where the
 * vocabulary has it (the first of equal texts, as the id lookup takes) and one past the
 * vocabulary otherwise, so equal ids are equal strings. A rule is found by its (left, right) ids in
 * an open-addressing hash table; the first rule for a pair wins (its lowest rank), as before.
 */
class MergeTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly made: Int32Array;
  private readonly shift: number;
  /** the symbol id of each single code point a rule or the vocabulary names (-1: none): BMP here, the rest in astral */
  private readonly bmp = new Int32Array(0x10000).fill(-1);
  private readonly astral = new Map<number, number>();
  /** scratch for merge(), grown as needed */
  start = new Int32Array(64); len = new Int32Array(64); next = new Int32Array(64);
  private prev = new Int32Array(64);
  sym = new Int32Array(64);
  private readonly heap = new PairHeap();
  /** when set, the rank of every rule merge() finds is added (the vocabulary slices read them) */
  hits: Set<number> | undefined;

  constructor(ids: ReadonlyMap<string, number>, nVocab: number, rules: [string, string, number][]) {
    const extra = new Map<string, number>();
    const symId = (s: string) => {
      let id = ids.get(s) ?? extra.get(s);
      if (id === undefined) { id = nVocab + extra.size; extra.set(s, id); }
      return id;
    };
    let bits = 4;
    while ((1 << bits) < 2 * rules.length) bits++;
    this.shift = 32 - bits;
    const size = 1 << bits;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.rank = new Int32Array(size);
    this.made = new Int32Array(size);
    for (const [a, b, r] of rules) {
      const x = symId(a), y = symId(b);
      let h = this.hash(x, y);
      while (this.left[h] !== -1 && !(this.left[h] === x && this.right[h] === y)) h = (h + 1) & (size - 1);
      if (this.left[h] !== -1) continue;
      this.left[h] = x; this.right[h] = y; this.rank[h] = r; this.made[h] = symId(a + b);
    }
    const one = (s: string, id: number) => {
      const cp = s.codePointAt(0)!;
      if (s.length !== (cp > 0xffff ? 2 : 1)) return;
      if (cp <= 0xffff) { if (this.bmp[cp] === -1) this.bmp[cp] = id; } else if (!this.astral.has(cp)) this.astral.set(cp, id);
    };
    for (const [s, id] of ids) if (s.length <= 2 && ids.get(s) === id) one(s, id);
    for (const [s, id] of extra) if (s.length <= 2) one(s, id);
  }

  private hash(x: number, y: number): number {
    return Math.imul(Math.imul(x, 0x9e3779b1) ^ y, 0x85ebca6b) >>> this.shift;
  }

  /** the slot of the rule for (x, y), or -1 */
  private find(x: number, y: number): number {
    if (x < 0 || y < 0) return -1;
    const mask = this.left.length - 1;
    for (let h = this.hash(x, y); ; h = (h + 1) & mask) {
      const l = this.left[h];
      if (l === -1) return -1;
      if (l === x && this.right[h] === y) return h;
    }
  }

  private queue(h: number, l: number, r: number): void {
    if (this.hits) this.hits.add(this.rank[h]);
    this.heap.push(this.rank[h], l, r, this.len[l] + this.len[r]);
  }

  /**
   * llama.cpp's BPE bigram merging on w (one symbol per code point at first): the pair with the
   * lowest rank first, then the leftmost; a candidate whose symbols changed since it was queued
   * is skipped (the size check). Leaves the symbols in start / len / next / sym (from 0, next -1
   * ends); sym is a symbol's id (>= the vocabulary size or -1: not a token).
   */
  merge(w: string): void {
    const n = w.length;
    if (this.start.length < n) {
      const c = Math.max(n, 2 * this.start.length);
      this.start = new Int32Array(c); this.len = new Int32Array(c); this.next = new Int32Array(c);
      this.prev = new Int32Array(c); this.sym = new Int32Array(c);
    }
    const { start, len, next, prev, sym } = this;
    let m = 0;
    for (let i = 0; i < n;) {
      const c = w.charCodeAt(i);
      const d = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? w.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        start[m] = i; len[m] = 2; sym[m] = this.astral.get(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000) ?? -1; i += 2;
      } else {
        start[m] = i; len[m] = 1; sym[m] = this.bmp[c]; i += 1;
      }
      m++;
    }
    for (let i = 0; i < m; i++) { prev[i] = i - 1; next[i] = i + 1 < m ? i + 1 : -1; }
    const q = this.heap;
    q.size = 0;
    for (let i = 1; i < m; i++) {
      const h = this.find(sym[i - 1], sym[i]);
      if (h >= 0) this.queue(h, i - 1, i);
    }
    while (q.size > 0) {
      q.pop();
      const l = q.left, r = q.right;
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== q.span) continue;
      const h = this.find(sym[l], sym[r]);
      sym[l] = this.made[h];
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      const p = prev[l];
      if (p >= 0) { const g = this.find(sym[p], sym[l]); if (g >= 0) this.queue(g, p, l); }
      const x = next[l];
      if (x >= 0) { const g = this.find(sym[l], sym[x]); if (g >= 0) this.queue(g, l, x); }
    }
  }
}

/** Symbols over a string: one per code point at first, merged left into right. */
interface Symbols { start: Int32Array; len: Int32Array; next: Int32Array }

/**
 * llama.cpp's bigram merging (its SPM and BPE sessions): adjacent symbols whose pair `key`
 * gives a number merge, lowest key first, then leftmost; a candidate whose symbols changed since
 * it was queued is skipped (llama.cpp's size check, which is its text check here: a left symbol
 * changes only by taking its right one, a right one only grows).
 */
function mergePairs(w: string, key: (l: number, ln: number, r: number, rn: number) => number | undefined): Symbols {
  const n = w.length;
  const start = new Int32Array(n), len = new Int32Array(n), prev = new Int32Array(n), next = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n;) {
    const c = w.charCodeAt(i);
    const d = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? w.charCodeAt(i + 1) : 0;
    const u = d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
    start[m] = i; len[m] = u; m++; i += u;
  }
  for (let i = 0; i < m; i++) { prev[i] = i - 1; next[i] = i + 1 < m ? i + 1 : -1; }
  const q = new PairHeap();
  const add = (l: number, r: number) => {
    if (l < 0 || r < 0) return;
    const k = key(start[l], len[l], start[r], len[r]);
    if (k !== undefined) q.push(k, l, r, len[l] + len[r]);
  };
  for (let i = 1; i < m; i++) add(i - 1, i);
  while (q.size > 0) {
    q.pop();
    const l = q.left, r = q.right;
    if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== q.span) continue;
    len[l] += len[r];
    len[r] = 0;
    next[l] = next[r];
    if (next[r] >= 0) prev[next[r]] = l;
    add(prev[l], l);
    add(l, next[l]);
  }
  return { start, len, next };
}

/** llama.cpp's token attribute bits (llama_token_attr) */
export const enum Attr {
  UNDEFINED = 0, UNKNOWN = 1 << 0, UNUSED = 1 << 1, NORMAL = 1 << 2, CONTROL = 1 << 3, USER_DEFINED = 1 << 4,
  BYTE = 1 << 5, NORMALIZED = 1 << 6, LSTRIP = 1 << 7, RSTRIP = 1 << 8, SINGLE_WORD = 1 << 9,
}
const ATTR_OF_TYPE: Record<number, number> = {
  [TokenType.UNKNOWN]: Attr.UNKNOWN, [TokenType.UNUSED]: Attr.UNUSED, [TokenType.NORMAL]: Attr.NORMAL,
  [TokenType.CONTROL]: Attr.CONTROL, [TokenType.USER_DEFINED]: Attr.USER_DEFINED, [TokenType.BYTE]: Attr.BYTE,
};
// the texts llama.cpp's load recognizes (src/llama-vocab.cpp, "auto-detect special tokens by text")
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '[EOT]',
  '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const FIM_TEXTS: Record<'pre' | 'suf' | 'mid' | 'pad' | 'rep' | 'sep', string[]> = {
  pre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  suf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  mid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};
const EOG_TEXTS = new Set(['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>',
  '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[']);

/**
 * llama.cpp's token attributes: the file's token types, then what its loader infers from the
 * texts (EOT, EOM and FIM tokens, and every end-of-generation token, become CONTROL, so that they
 * are split out only with parse_special and hidden in detokenized text; control tokens named
 * "unused" are UNUSED too; gpt-oss's channel tokens are USER_DEFINED; o200k-harmony's and
 * solar-open's <|end|> is USER_DEFINED; gemma4's </s> is NORMAL), then the strip flags it sets by
 * model name. Where several texts could name one FIM token, the lowest id is taken (llama.cpp
 * takes the first of its hash map). Also the set of end-of-generation tokens.
 */
function tokenAttrs(tokens: readonly string[], types: Int32Array, ids: ReadonlyMap<string, number>, v: VocabData, extraEog: (number | undefined)[]): { attrs: Uint16Array; eog: { ids: Set<number>; eot: number | undefined } } {
  const n = tokens.length;
  const attrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) attrs[i] = v.types ? ATTR_OF_TYPE[types[i]] ?? Attr.UNDEFINED : Attr.NORMAL;
  const valid = (x: number | undefined) => x !== undefined && Number.isInteger(x) && x >= 0 && x < n;
  const first = (texts: string[]) => {
    let best: number | undefined;
    for (const t of texts) { const i = ids.get(t); if (i !== undefined && (best === undefined || i < best)) best = i; }
    return best;
  };
  const control = (i: number | undefined) => { if (i !== undefined) attrs[i] |= Attr.CONTROL; };
  let eot: number | undefined;
  if (!valid(v.eot)) { eot = first(EOT_TEXTS); control(eot); }
  let eom = valid(v.eom) ? v.eom : undefined;
  if (eom === undefined) { eom = ids.get('<|eom_id|>'); control(eom); }
  const fim: Record<string, number | undefined> = {};
  for (const k of Object.keys(FIM_TEXTS) as (keyof typeof FIM_TEXTS)[]) {
    const given = v.fim?.[k];
    if (valid(given)) { fim[k] = given; continue; }
    fim[k] = first(FIM_TEXTS[k]);
    control(fim[k]);
  }
  for (let i = 0; i < n; i++) {
    if ((attrs[i] & Attr.CONTROL) && tokens[i].includes('unused')) attrs[i] |= Attr.UNUSED;
  }
  const eog = new Set<number>();
  for (const k of ['pad', 'rep', 'sep']) if (fim[k] !== undefined) eog.add(fim[k]!);
  for (const [t, i] of ids) if (EOG_TEXTS.has(t)) { eog.add(i); attrs[i] |= Attr.CONTROL; }
  for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) { const i = ids.get(t); if (i !== undefined) attrs[i] = Attr.USER_DEFINED; }
  if (eom !== undefined) eog.add(eom);
  if (eot !== undefined) eog.add(eot);
  for (const x of extraEog) if (x !== undefined) eog.add(x);
  const eogText = (t: string) => [...eog].some((i) => tokens[i] === t);
  const end = [...eog].find((i) => tokens[i] === '<|end|>');
  const call = eogText('<|call|>') || eogText('<|calls|>');
  if (end !== undefined && call && (eogText('<|return|>') || eogText('<|flush|>'))) { eog.delete(end); attrs[end] = Attr.USER_DEFINED; }
  const s = ids.get('</s>');
  if (s !== undefined && eog.has(s) && eogText('<|tool_response>')) { eog.delete(s); attrs[s] = Attr.NORMAL; }
  // strip flags by model name (llama.cpp sets them after caching the special tokens)
  const name = (v.modelName ?? '').toLowerCase();
  const set = (t: string, bit: number, on: boolean) => { const i = ids.get(t); if (i !== undefined) attrs[i] = on ? attrs[i] | bit : attrs[i] & ~bit; };
  if (['jina-v2-de', 'jina-v2-es', 'jina-v2-code'].some((x) => (v.pre ?? '').includes(x)) || ['nomic-bert-moe', 'jina-bert-v3'].some((x) => (v.arch ?? '').includes(x))) {
    set('<mask>', Attr.LSTRIP, true);
  } else if (name.includes('phi-3') || name.includes('phi3')) {
    for (let i = 0; i < n; i++) if (attrs[i] & (Attr.CONTROL | Attr.USER_DEFINED | Attr.UNKNOWN)) attrs[i] |= Attr.RSTRIP;
    set('</s>', Attr.RSTRIP, true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, Attr.RSTRIP, false);
  } else if (name.includes('modern-bert')) {
    set('[MASK]', Attr.LSTRIP, true);
  }
  return { attrs, eog: { ids: eog, eot } };
}


/** An unambiguous key for the pair (a, b), whatever characters the pieces hold. */
const pairKey = (a: string, b: string) => `${a.length}:${a}${b}`;

export class Tokenizer {
  readonly model: TokenizerModel;
  readonly pre: string | undefined;
  readonly tokens: readonly string[];
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly unk: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** bert and RoBERTa-style BPE: [SEP] ends the sequence with add_special */
  readonly addSep: boolean;
  readonly sep: number | undefined;
  readonly addSpacePrefix: boolean;
  /** detokenize removes the spaces llama.cpp's clean_spaces removes */
  readonly cleanSpaces: boolean;
  /** the BPE pre-tokenizer (gpt2, gemma4) */
  readonly preTokenizer: PreTokenizer | undefined;
  private readonly kind: 'spm' | 'bpe' | 'wpm' | 'ugm';
  readonly chatTemplate: string | undefined;
  private readonly types: Int32Array;
  /** llama.cpp's token attributes (Attr bits): the file's types plus what it infers by name */
  private readonly attrs: Uint16Array;
  /** the tokens that end generation, as llama.cpp collects them */
  readonly eogIds: ReadonlySet<number>;
  private readonly scores: Float32Array;
  private readonly ids = new Map<string, number>();
  /** BPE: the merge rules */
  private readonly merges: MergeTable | undefined;
  /** llama with merges: rank by pairKey(a, b) */
  private readonly spmRanks: Map<string, number> | undefined;
  private readonly splitOnSpace: boolean;
  private readonly spacePrefixRule: 'llama' | 'always' | 'first';
  /** special tokens to split out, longest first */
  private readonly specials: { id: number; text: string; control: boolean; lstrip: boolean; rstrip: boolean }[] = [];
  /** the special tokens' texts as a trie over UTF-16 code units: each node's children, the text ending at it */
  private readonly specialTrie: Map<number, number>[] = [new Map()];
  private readonly specialTrieText: (string | undefined)[] = [undefined];
  /** the code units a special token's text starts with (1) */
  private readonly specialFirst = new Uint8Array(0x10000);
  private readonly wpm: Wpm | undefined;
  private readonly ugm: Ugm | undefined;
  /** BPE: the ids of pieces already merged; SPM: of words */
  private readonly bpeCache = new Map<string, number[]>();
  /**
   * SPM: no token has a '▁' after another character, so no merge crosses the start of a word
   * ('▁' after a non-'▁'): words merge apart, with the same result, and are cached
   */
  private readonly spmWords: boolean = false;
  private readonly byteTokens = new Int32Array(256).fill(-1);

  constructor(v: VocabData) {
    if (!MODELS.includes(v.model)) {
      throw new RangeError(`tokenizer: Expected one of ${MODELS.map((m) => `'${m}'`).join(', ')} for tokenizer.ggml.model but received '${String(v.model)}'`);
    }
    const n = v.tokens.length;
    if (n === 0) throw new RangeError('tokenizer: the vocabulary (tokenizer.ggml.tokens) is empty');
    this.model = v.model;
    const kind = this.kind = KIND[v.model];
    // gemma4 is llama.cpp's BPE with the gemma4 pre-tokenizer, whatever tokenizer.ggml.pre says
    this.pre = v.model === 'gemma4' ? 'gemma4' : v.pre;
    // llama.cpp names an empty token "[EMPTY_<id>]"
    this.tokens = v.tokens.map((t, i) => (t.length === 0 ? `[EMPTY_${i}]` : t));
    this.types = Int32Array.from({ length: n }, (_, i) => (v.types ? v.types[i] : TokenType.NORMAL));
    this.scores = Float32Array.from({ length: n }, (_, i) => (v.scores ? v.scores[i] : 0));
    for (let i = 0; i < n; i++) {
      if (!this.ids.has(this.tokens[i])) this.ids.set(this.tokens[i], i);
    }
    const pre = this.preTokenizer = kind === 'bpe' ? preTokenizer(this.pre) : undefined;
    // as llama.cpp: a default out of range is no token; a file's id out of range keeps the default
    const ok = (x: number | undefined) => x !== undefined && Number.isInteger(x) && x >= 0 && x < n;
    const id = (x: number | undefined, dflt: number | undefined) => (ok(x) ? x : ok(dflt) ? dflt : undefined);
    // llama.cpp's defaults by vocabulary type (the file's *_token_id keys override them)
    const d = {
      spm: { bos: 1, eos: 2, unk: 0, sep: undefined },
      bpe: v.model === 'gemma4' ? { bos: undefined, eos: undefined, unk: undefined, sep: undefined } : { bos: pre?.noBos ? undefined : 11, eos: 11, unk: undefined, sep: undefined },
      wpm: { bos: 101, eos: undefined, unk: 100, sep: 102 },
      ugm: { bos: undefined, eos: 1, unk: 2, sep: undefined },
    }[kind];
    this.bos = id(v.bos, d.bos);
    this.eos = id(v.eos, d.eos);
    this.unk = id(v.unk, d.unk);
    this.sep = id(v.sep, d.sep);
    this.eot = id(v.eot, undefined);
    const { attrs, eog } = tokenAttrs(this.tokens, this.types, this.ids, v, [this.eos, this.eot]);
    this.attrs = attrs;
    this.eot ??= eog.eot;
    this.eogIds = eog.ids;
    const dflt = {
      spm: { addBos: true, addEos: false, addSep: false, prefix: true, clean: false },
      bpe: { addBos: pre?.addBos ?? false, addEos: false, addSep: pre?.addSep ?? false, prefix: false, clean: pre?.cleanSpaces ?? true },
      wpm: { addBos: true, addEos: false, addSep: true, prefix: false, clean: true },
      ugm: { addBos: false, addEos: true, addSep: false, prefix: false, clean: false },
    }[kind];
    this.addBos = v.addBos ?? dflt.addBos;
    // llama.cpp turns add_bos on for Gemma 4 whatever the file says
    if (pre?.type === 'GEMMA4') this.addBos = true;
    this.addEos = v.addEos ?? dflt.addEos;
    this.addSep = v.addSep ?? dflt.addSep;
    this.addSpacePrefix = v.addSpacePrefix ?? dflt.prefix;
    this.cleanSpaces = dflt.clean;
    this.chatTemplate = v.chatTemplate;
    if (kind === 'wpm') {
      // WPM adds [CLS] and [SEP] with add_special, whatever add_bos says
      if (this.bos === undefined) throw new RangeError('tokenizer: a bert vocabulary needs a valid bos_token_id ([CLS])');
      if (this.sep === undefined) throw new RangeError('tokenizer: a bert vocabulary needs a valid seperator_token_id ([SEP])');
    }
    if (this.addBos && this.bos === undefined) throw new RangeError('tokenizer: add_bos_token is true but there is no valid bos_token_id');
    if (this.addEos && this.eos === undefined) throw new RangeError('tokenizer: add_eos_token is true but there is no valid eos_token_id');
    this.splitOnSpace = kind === 'spm' && (v.splitOnSpace ?? false);
    this.spacePrefixRule = v.spacePrefixRule ?? 'llama';
    if (!['llama', 'always', 'first'].includes(this.spacePrefixRule)) {
      throw new RangeError(`tokenizer: Expected 'llama', 'always' or 'first' for spacePrefixRule but received ${String(v.spacePrefixRule)}`);
    }
    for (let b = 0; b < 256; b++) {
      const t = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (t !== undefined) this.byteTokens[b] = t;
    }
    if (kind === 'spm') {
      this.spmWords = !this.tokens.some((t) => /[^\u2581]\u2581/u.test(t));
      if (v.merges) {
        const r = new Map<string, number>();
        v.merges.forEach((m, i) => {
          if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') {
            throw new TypeError(`tokenizer: Expected a [left, right] pair of strings for merges[${i}] but received ${JSON.stringify(m)}`);
          }
          if (!this.ids.has(m[0] + m[1])) throw new RangeError(`tokenizer: merges[${i}] makes ${JSON.stringify(m[0] + m[1])}, which is not in the vocabulary`);
          const k = pairKey(m[0], m[1]);
          if (!r.has(k)) r.set(k, i);
        });
        this.spmRanks = r;
      }
    } else if (kind === 'bpe') {
      if (!v.merges) throw new RangeError(`tokenizer: a ${v.model} tokenizer needs tokenizer.ggml.merges`);
      const rules: [string, string, number][] = [];
      (v.merges as unknown[]).forEach((m, i) => {
        if (typeof m !== 'string') throw new TypeError(`tokenizer: Expected a string for tokenizer.ggml.merges[${i}] but received ${JSON.stringify(m)}`);
        // as llama.cpp: split at the first space after the first character
        const sp = m.indexOf(' ', 1);
        if (sp < 0) return;
        rules.push([m.slice(0, sp), m.slice(sp + 1), i]);
      });
      this.merges = new MergeTable(this.ids, n, rules);
    } else if (kind === 'wpm') {
      this.wpm = new Wpm(this.ids, v.lowercase ?? true, v.stripAccents ?? v.lowercase ?? true, this.unk);
    } else {
      this.ugm = new Ugm(this.tokens, this.attrs, this.scores, this.unk, {
        charsmap: v.precompiledCharsmap, addSpacePrefix: this.addSpacePrefix, removeExtraWhitespaces: v.removeExtraWhitespaces ?? false,
      });
    }
    for (let i = 0; i < n; i++) {
      const at = this.attrs[i];
      if (at & (Attr.CONTROL | Attr.USER_DEFINED | Attr.UNKNOWN)) {
        this.specials.push({ id: i, text: this.tokens[i], control: (at & (Attr.CONTROL | Attr.UNKNOWN)) !== 0, lstrip: (at & Attr.LSTRIP) !== 0, rstrip: (at & Attr.RSTRIP) !== 0 });
      }
    }
    // longest first, in UTF-8 bytes as llama.cpp sorts them
    const bytes = new Map(this.specials.map((s) => [s.id, te.encode(s.text).length]));
    this.specials.sort((a, b) => bytes.get(b.id)! - bytes.get(a.id)! || a.id - b.id);
    for (const sp of this.specials) {
      let node = 0;
      for (let k = 0; k < sp.text.length; k++) {
        const c = sp.text.charCodeAt(k);
        let nx = this.specialTrie[node].get(c);
        if (nx === undefined) { nx = this.specialTrie.length; this.specialTrie.push(new Map()); this.specialTrieText.push(undefined); this.specialTrie[node].set(c, nx); }
        node = nx;
      }
      this.specialTrieText[node] = sp.text;
      this.specialFirst[sp.text.charCodeAt(0)] = 1;
    }
  }

  /** The texts of the special tokens that occur in text, in one pass over it (the trie). */
  private specialsIn(text: string): Set<string> {
    const found = new Set<string>();
    const trie = this.specialTrie, ends = this.specialTrieText, first = this.specialFirst;
    for (let i = 0; i < text.length; i++) {
      if (first[text.charCodeAt(i)] === 0) continue;
      let node = 0;
      for (let k = i; k < text.length; k++) {
        const nx = trie[node].get(text.charCodeAt(k));
        if (nx === undefined) break;
        node = nx;
        const t = ends[node];
        if (t !== undefined) found.add(t);
      }
    }
    return found;
  }

  /** Builds the tokenizer from a GGUF file's tokenizer.* metadata. */
  static fromGguf(f: GgufFile): Tokenizer {
    const get = (k: string) => ggufGet(f, `tokenizer.ggml.${k}`);
    const model = get('model');
    if (typeof model !== 'string') throw new RangeError('tokenizer: the file has no tokenizer.ggml.model string');
    const arr = (k: string, itemTypes: GgufType[]) => {
      const kv = f.metadata.get(`tokenizer.ggml.${k}`);
      if (!kv) return undefined;
      if (kv.type !== GgufType.ARRAY || !itemTypes.includes((kv.value as { itemType: GgufType }).itemType)) {
        throw new TypeError(`tokenizer: tokenizer.ggml.${k} has the wrong type`);
      }
      return (kv.value as { items: unknown }).items;
    };
    const tokens = arr('tokens', [GgufType.STRING]) as string[] | undefined;
    if (!tokens) throw new RangeError('tokenizer: the file has no tokenizer.ggml.tokens');
    const scores = arr('scores', [GgufType.FLOAT32, GgufType.INT32]) as ArrayLike<number> | undefined;
    const types = arr('token_type', [GgufType.INT32, GgufType.UINT32]) as ArrayLike<number> | undefined;
    if (scores && scores.length < tokens.length) throw new RangeError(`tokenizer: ${scores.length} scores for ${tokens.length} tokens`);
    if (types && types.length < tokens.length) throw new RangeError(`tokenizer: ${types.length} token types for ${tokens.length} tokens`);
    const num = (k: string) => { const v = get(k); return v === undefined ? undefined : Number(ggufPlain(v)); };
    const bool = (k: string) => { const v = get(k); return typeof v === 'boolean' ? v : undefined; };
    const tmpl = ggufGet(f, 'tokenizer.chat_template');
    const pre = get('pre');
    const str = (k: string) => { const v = ggufGet(f, k); return typeof v === 'string' ? v : undefined; };
    const charsmap = arr('precompiled_charsmap', [GgufType.UINT8, GgufType.INT8]) as Uint8Array | Int8Array | undefined;
    return new Tokenizer({
      model: model as TokenizerModel, pre: typeof pre === 'string' ? pre : undefined, tokens, scores, types,
      merges: arr('merges', [GgufType.STRING]) as string[] | undefined,
      bos: num('bos_token_id'), eos: num('eos_token_id'), unk: num('unknown_token_id'), pad: num('padding_token_id'),
      eot: num('eot_token_id'), sep: num('seperator_token_id'), eom: num('eom_token_id'),
      fim: {
        pre: num('fim_pre_token_id') ?? num('prefix_token_id'), suf: num('fim_suf_token_id') ?? num('suffix_token_id'),
        mid: num('fim_mid_token_id') ?? num('middle_token_id'), pad: num('fim_pad_token_id'), rep: num('fim_rep_token_id'), sep: num('fim_sep_token_id'),
      },
      addBos: bool('add_bos_token'), addEos: bool('add_eos_token'), addSep: bool('add_sep_token'), addSpacePrefix: bool('add_space_prefix'),
      removeExtraWhitespaces: bool('remove_extra_whitespaces'),
      precompiledCharsmap: charsmap ? new Uint8Array(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength) : undefined,
      lowercase: bool('normalizer.lowercase'), stripAccents: bool('normalizer.strip_accents'),
      modelName: str('general.name'), arch: str('general.architecture'),
      chatTemplate: typeof tmpl === 'string' ? tmpl : undefined,
    });
  }

  get vocabSize(): number { return this.tokens.length; }
  tokenType(id: number): TokenType { return this.types[id]; }

  /** true for tokens that end generation (EOS, EOT) */
  isEog(id: number): boolean { return this.eogIds.has(id); }

  /** llama.cpp's attribute bits of a token (see Attr) */
  tokenAttr(id: number): number { return this.attrs[id]; }

  /** Text to token ids, as llama.cpp's llama_tokenize(text, add_special, parse_special). */
  encode(text: string, opts: TokenizeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`tokenize: Expected a string for text but received ${typeof text}`);
    opts = checkOptionKeys(opts, TOKENIZE_KEYS, 'opts', 'encode');
    const addSpecial = opts.addSpecial ?? true;
    // llama.cpp reads UTF-8: a lone surrogate arrives as U+FFFD
    text = text.replace(LONE_SURROGATE, '\ufffd');
    const frags = text.length === 0 ? [] : this.partition(text, opts.parseSpecial ?? false);
    const out: number[] = [];
    switch (this.kind) {
      case 'spm': {
        if (addSpecial && this.addBos) out.push(this.bos!);
        let prevSpecial = true, atStart = true;
        for (const frag of frags) {
          const first = atStart;
          atStart = false;
          if (typeof frag === 'number') { out.push(frag); prevSpecial = true; continue; }
          const rule = this.spacePrefixRule;
          const prefix = this.addSpacePrefix && (rule === 'llama' ? prevSpecial : !/^[ \u2581]/.test(frag) && (rule === 'always' || first));
          const t = ((prefix ? ' ' : '') + frag).replace(/ /g, '\u2581');
          if (this.splitOnSpace) for (const w of t.split(/(?=\u2581)/u)) this.spm(w, out);
          else if (this.spmWords) for (const w of t.split(/(?<=[^\u2581])(?=\u2581)/u)) this.spmCached(w, out);
          else this.spm(t, out);
          prevSpecial = false;
        }
        if (addSpecial && this.addEos) out.push(this.eos!);
        break;
      }
      case 'bpe': {
        if (addSpecial && this.addBos) out.push(this.bos!);
        const escape = this.preTokenizer!.escapeWhitespaces;
        for (const frag of frags) {
          if (typeof frag === 'number') out.push(frag);
          else this.bpe(escape ? frag.replace(/ /g, '\u2581') : frag, out);
        }
        if (addSpecial && this.addEos) out.push(this.eos!);
        break;
      }
      case 'wpm': {
        // [CLS] ... [SEP] with add_special, whatever add_bos says (llama.cpp)
        if (addSpecial) out.push(this.bos!);
        for (const frag of frags) {
          if (typeof frag === 'number') out.push(frag);
          else this.wpm!.tokenize(frag, out);
        }
        if (addSpecial) out.push(this.sep!);
        break;
      }
      case 'ugm': {
        if (addSpecial && this.addBos) out.push(this.bos!);
        for (const frag of frags) {
          if (typeof frag === 'number') out.push(frag);
          else this.ugm!.tokenize(frag, out);
        }
        if (addSpecial && this.addEos) out.push(this.eos!);
        break;
      }
    }
    return out;
  }

  /**
   * Splits text around special tokens, longest first (llama.cpp's tokenizer_st_partition):
   * strings for raw text, numbers for tokens. Control and unknown tokens only with
   * parseSpecial; user-defined ones always. A token with lstrip / rstrip (llama.cpp sets them
   * by model name) eats the ASCII whitespace before / after it.
   */
  private partition(text: string, parseSpecial: boolean): (string | number)[] {
    let frags: (string | number)[] = [text];
    // every fragment is a piece of text: a token whose text is not in it splits nothing
    // (an empty text goes through every pass, which leaves no fragment, as before)
    const found = text.length > 0 ? this.specialsIn(text) : undefined;
    for (const s of this.specials) {
      if (s.control && !parseSpecial) continue;
      if (found !== undefined && !found.has(s.text)) continue;
      const next: (string | number)[] = [];
      for (const f of frags) {
        if (typeof f === 'number') { next.push(f); continue; }
        let rest = f;
        for (;;) {
          const i = rest.indexOf(s.text);
          if (i < 0) { if (rest.length > 0) next.push(rest); break; }
          let left = rest.slice(0, i);
          if (s.lstrip) left = left.replace(/[ \t\n\v\f\r]+$/, '');
          if (left.length > 0) next.push(left);
          next.push(s.id);
          rest = rest.slice(i + s.text.length);
          if (s.rstrip) rest = rest.replace(/^[ \t\n\v\f\r]+/, '');
        }
      }
      frags = next;
    }
    return frags;
  }

  private spmCached(word: string, out: number[]): void {
    const hit = this.bpeCache.get(word);
    if (hit !== undefined) { for (const x of hit) out.push(x); return; }
    const start = out.length;
    this.spm(word, out);
    if (this.bpeCache.size >= BPE_CACHE_SIZE) this.bpeCache.clear();
    this.bpeCache.set(word, out.slice(start));
  }

  private spm(text: string, out: number[]): void {
    if (text.length === 0) return;
    const ranks = this.spmRanks;
    // highest score first (the key is its negation), then leftmost
    const sy = mergePairs(text, ranks
      ? (l, ln, r, rn) => ranks.get(pairKey(text.slice(l, l + ln), text.slice(r, r + rn)))
      : (l, ln, r, rn) => { const id = this.ids.get(text.slice(l, l + ln + rn)); return id === undefined ? undefined : -this.scores[id]; });
    for (let i = 0; i !== -1; i = sy.next[i]) {
      const t = text.slice(sy.start[i], sy.start[i] + sy.len[i]);
      const id = this.ids.get(t);
      if (id !== undefined) { out.push(id); continue; }
      // merged symbols are always tokens; an unknown single character falls back to bytes
      for (const b of te.encode(t)) {
        const bt = this.byteTokens[b];
        if (bt >= 0) out.push(bt);
        else if (this.ids.has(String.fromCharCode(b))) out.push(this.ids.get(String.fromCharCode(b))!);
        else if (this.unk !== undefined) out.push(this.unk);
      }
    }
  }

  /** llama.cpp's llm_tokenizer_bpe_session::tokenize on one run of text. */
  private bpe(text: string, out: number[]): void {
    const pre = this.preTokenizer!;
    const cps = codePoints(text);
    let at = 0;
    for (const len of splitCodePoints(cps, pre.regexes)) {
      const raw = fromCodePoints(cps, at, at + len);
      at += len;
      if (len === 0) continue;
      // a piece always gives the same ids: pieces repeat in text, so they are cached
      const hit = this.bpeCache.get(raw);
      if (hit !== undefined) { for (const x of hit) out.push(x); continue; }
      const start = out.length;
      this.bpeWord(raw, out);
      if (this.bpeCache.size >= BPE_CACHE_SIZE) this.bpeCache.clear();
      this.bpeCache.set(raw, out.slice(start));
    }
  }

  /** One piece of the split, merged. */
  private bpeWord(raw: string, out: number[]): void {
    const pre = this.preTokenizer!;
    const word = pre.byteEncode ? byteEncode(raw) : raw;
    if (pre.ignoreMerges || (pre.type === 'GEMMA4' && /^\n+$/.test(word))) {
      const whole = this.ids.get(word);
      if (whole !== undefined) { out.push(whole); return; }
    }
    const mt = this.merges!;
    mt.merge(word);
    const nVocab = this.tokens.length;
    for (let i = 0; i !== -1; i = mt.next[i]) {
      const id = mt.sym[i];
      if (id >= 0 && id < nVocab) { out.push(id); continue; }
      const t = word.slice(mt.start[i], mt.start[i] + mt.len[i]);
      // as llama.cpp: each byte alone (a one-byte string, or <0xXX> on raw UTF-8); what is
      // not in the vocabulary is dropped
      for (const b of te.encode(t)) {
        const bid = pre.byteEncode ? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined) : this.byteTokens[b];
        if (bid !== undefined && bid >= 0) out.push(bid);
      }
    }
  }

  /**
   * The bytes a token stands for, as llama.cpp's token_to_piece: control and unknown tokens are
   * empty unless `special`, user-defined ones their text, byte tokens their byte, normal tokens
   * their text with '▁' read as a space (SPM, WPM, UGM, gemma4) or GPT-2's byte characters
   * read back as bytes; unused and undefined tokens are empty.
   */
  tokenBytes(id: number, special = false): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new RangeError(`detokenize: Expected integer in [0, ${this.tokens.length - 1}] for token but received ${id}`);
    }
    const at = this.attrs[id];
    const text = this.tokens[id];
    if (at & (Attr.CONTROL | Attr.UNKNOWN)) return special ? te.encode(text) : new Uint8Array(0);
    if (at & Attr.USER_DEFINED) return te.encode(text);
    if (!(at & Attr.NORMAL)) {
      if (!(at & Attr.BYTE)) return new Uint8Array(0);
      const b = parseInt(text.slice(3, 5), 16);
      return Number.isNaN(b) ? new Uint8Array(0) : Uint8Array.of(b);
    }
    if (this.kind !== 'bpe' || this.preTokenizer!.escapeWhitespaces) return te.encode(text.replace(/\u2581/g, ' '));
    const bytes: number[] = [];
    for (const c of text) {
      const b = CHAR_TO_BYTE.get(c);
      if (b !== undefined) { bytes.push(b); continue; }
      // llama.cpp's llama_decode_text writes what is not a byte character this way
      const hex = Array.from(te.encode(c), (x) => x.toString(16).padStart(2, '0')).join('');
      bytes.push(...te.encode(`[UNK_BYTE_0x${hex}${text}]`));
    }
    return Uint8Array.from(bytes);
  }

  /**
   * Token ids to text, byte tokens reassembled into UTF-8 across tokens. As llama.cpp's
   * detokenize, then its clean_spaces passes where the vocabulary has them (" ." -> ".", " 's"
   * -> "'s", ...). Options: `special` shows control tokens' text; `removeSpecial` drops a
   * leading BOS and a trailing EOS the model adds; `stripSpacePrefix` removes the space an
   * SPM-style prefix (add_space_prefix) put before the text: true (default) from the first text
   * token, past any control tokens before it (as HF does); 'llama.cpp' only from the very first
   * token, as llama_detokenize does (so [BOS, '▁hi'] is ' hi' there); false never.
   */
  decode(ids: readonly number[], opts: { special?: boolean; removeSpecial?: boolean; stripSpacePrefix?: boolean | 'llama.cpp' } = {}): string {
    opts = checkOptionKeys(opts, DECODE_KEYS, 'opts', 'decode');
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TypeError(`detokenize: Expected an array of token ids for ids but received ${typeof ids}`);
    let list = Array.from(ids as ArrayLike<number>);
    const strip = opts.stripSpacePrefix ?? true;
    let first = strip !== false && this.addSpacePrefix;
    if (opts.removeSpecial) {
      // llama_detokenize keeps the space after a BOS it removes
      if (this.addBos && list.length > 0 && list[0] === this.bos) { list = list.slice(1); if (strip === 'llama.cpp') first = false; }
      if (this.addEos && list.length > 0 && list[list.length - 1] === this.eos) list = list.slice(0, -1);
    }
    const parts: Uint8Array[] = [];
    for (const id of list) {
      let b = this.tokenBytes(id, opts.special ?? false);
      // the space the SPM prefix added
      if (first && b.length > 0 && b[0] === 0x20) b = b.subarray(1);
      if (strip === 'llama.cpp' || !(this.attrs[id] & (Attr.CONTROL | Attr.UNKNOWN))) first = false;
      parts.push(b);
    }
    const total = parts.reduce((a, p) => a + p.length, 0);
    let all: Uint8Array = new Uint8Array(total);
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    if (this.cleanSpaces) all = cleanSpaces(all);
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /** A streaming decoder: push token ids, get the text completed so far (partial UTF-8 held back). */
  decoder(opts: { special?: boolean } = {}): { push(id: number): string; flush(): string } {
    opts = checkOptionKeys(opts, DECODER_KEYS, 'opts', 'decoder');
    const td = new TextDecoder('utf-8', { ignoreBOM: true });
    return {
      push: (id: number) => td.decode(this.tokenBytes(id, opts.special ?? false), { stream: true }),
      flush: () => td.decode(),
    };
  }
}

export { renderChat } from './chat';
export type { ChatMessage } from './chat';
export { BYTE_TO_CHAR as GPT2_BYTE_TO_CHAR };
