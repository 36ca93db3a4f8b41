// Tokenizers built from GGUF metadata, following llama.cpp's behaviour:
//   tokenizer.ggml.model = "llama": SentencePiece-style (SPM): bigram merges by
//     token score, '▁' for spaces, a space prefix, byte fallback <0xXX>, BOS by default.
//   tokenizer.ggml.model = "gpt2": byte-level BPE: a pre-tokenizer regex chosen by
//     tokenizer.ggml.pre, GPT-2's byte-to-unicode map, merges by rank, no BOS by default.
//   A SentencePiece-style tokenizer.json (lib/tokenizer/hf.ts) is the "llama" model with
//     merges: adjacent pieces merge by the rank of their pair in the merges list (HF's BPE)
//     instead of by the merged token's score; the two agree when the merges were derived from
//     the scores, as HF's SentencePiece converter derives them.
// Special tokens (control, user-defined) are split out of the text first;
// control tokens only when parseSpecial is set, user-defined ones always.
import { GgufFile, GgufType, ggufGet, ggufPlain } from '../formats/gguf';
import { checkOptionKeys, keysOf } from '../check';

export enum TokenType { UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

export interface TokenizeOptions {
  /** add BOS/EOS as the model's flags say (default true) */
  addSpecial?: boolean;
  /** match control tokens written in the text, e.g. "<|im_start|>" (default false) */
  parseSpecial?: boolean;
}
const TOKENIZE_KEYS = keysOf<TokenizeOptions>({ addSpecial: 1, parseSpecial: 1 });
const DECODE_KEYS = ['special', 'stripSpacePrefix'];
const DECODER_KEYS = ['special'];

export interface VocabData {
  model: 'llama' | 'gpt2';
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
  bos?: number; eos?: number; unk?: number; pad?: number; eot?: number;
  addBos?: boolean; addEos?: boolean; addSpacePrefix?: boolean;
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

const GPT2_RE = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const QWEN2_RE = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const LLAMA3_RE = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const DEFAULT_RES = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_RE, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];

/** The pre-tokenizer regexes llama.cpp applies for a tokenizer.ggml.pre value (in sequence). */
export function preTokenizerRegexes(pre: string | undefined): string[] {
  switch (pre) {
    case undefined: case '': case 'default': return DEFAULT_RES;
    case 'gpt-2': case 'gpt2': case 'olmo': case 'mpt': case 'phi-2': case 'jais': case 'trillion': return [GPT2_RE];
    case 'qwen2': case 'deepseek-r1-qwen': case 'stablelm2': case 'megrez': return [QWEN2_RE];
    case 'llama3': case 'llama-v3': case 'llama-bpe': case 'smaug-bpe': case 'dbrx': return [LLAMA3_RE];
    default: throw new RangeError(`tokenizer: unknown pre-tokenizer type '${pre}' (supported: default, gpt-2, olmo, qwen2, llama3)`);
  }
}

/** Splits `pieces` with each regex in turn; text between matches stays as its own piece (llama.cpp's unicode_regex_split). */
function regexSplit(text: string, regexes: RegExp[]): string[] {
  let pieces = [text];
  for (const re of regexes) {
    const next: string[] = [];
    for (const p of pieces) {
      let last = 0;
      re.lastIndex = 0;
      for (let m = re.exec(p); m !== null; m = re.exec(p)) {
        if (m[0].length === 0) { re.lastIndex++; continue; }
        if (m.index > last) next.push(p.slice(last, m.index));
        next.push(m[0]);
        last = m.index + m[0].length;
      }
      if (last < p.length) next.push(p.slice(last));
    }
    pieces = next;
  }
  return pieces;
}

const te = new TextEncoder();

/** A binary min-heap keyed by a compare function. */
class Heap<T> {
  private a: T[] = [];
  constructor(private readonly less: (x: T, y: T) => boolean) {}
  get size(): number { return this.a.length; }
  push(v: T): void {
    const a = this.a; a.push(v);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (!this.less(a[i], a[p])) break; [a[i], a[p]] = [a[p], a[i]]; i = p; }
  }
  pop(): T {
    const a = this.a; const top = a[0]; const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1; let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]]; i = m;
      }
    }
    return top;
  }
}

interface Sym { text: string; prev: number; next: number }

/** An unambiguous key for the pair (a, b), whatever characters the pieces hold. */
const pairKey = (a: string, b: string) => `${a.length}:${a}${b}`;

export class Tokenizer {
  readonly model: 'llama' | 'gpt2';
  readonly pre: string | undefined;
  readonly tokens: readonly string[];
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly unk: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly chatTemplate: string | undefined;
  private readonly types: Int32Array;
  private readonly scores: Float32Array;
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  /** llama with merges: rank by pairKey(a, b) */
  private readonly spmRanks: Map<string, number> | undefined;
  private readonly splitOnSpace: boolean;
  private readonly spacePrefixRule: 'llama' | 'always' | 'first';
  private readonly regexes: RegExp[] = [];
  /** special tokens to split out, longest first */
  private readonly specials: { id: number; text: string; control: boolean }[] = [];
  private readonly byteTokens = new Int32Array(256).fill(-1);

  constructor(v: VocabData) {
    if (v.model !== 'llama' && v.model !== 'gpt2') {
      throw new RangeError(`tokenizer: Expected 'llama' or 'gpt2' for tokenizer.ggml.model but received '${String(v.model)}'`);
    }
    const n = v.tokens.length;
    if (n === 0) throw new RangeError('tokenizer: the vocabulary (tokenizer.ggml.tokens) is empty');
    this.model = v.model;
    this.pre = v.pre;
    this.tokens = v.tokens;
    this.types = Int32Array.from({ length: n }, (_, i) => (v.types ? v.types[i] : TokenType.NORMAL));
    this.scores = Float32Array.from({ length: n }, (_, i) => (v.scores ? v.scores[i] : 0));
    for (let i = 0; i < n; i++) if (!this.ids.has(v.tokens[i])) this.ids.set(v.tokens[i], i);
    const spm = v.model === 'llama';
    const id = (x: number | undefined, dflt: number | undefined) => {
      const r = x ?? dflt;
      return r !== undefined && r >= 0 && r < n ? r : undefined;
    };
    this.bos = id(v.bos, spm ? 1 : 11);
    this.eos = id(v.eos, spm ? 2 : 11);
    this.unk = id(v.unk, spm ? 0 : undefined);
    this.eot = id(v.eot, undefined);
    this.addBos = v.addBos ?? spm;
    this.addEos = v.addEos ?? false;
    this.addSpacePrefix = v.addSpacePrefix ?? spm;
    this.chatTemplate = v.chatTemplate;
    if (this.addBos && this.bos === undefined) throw new RangeError('tokenizer: add_bos_token is true but there is no valid bos_token_id');
    if (this.addEos && this.eos === undefined) throw new RangeError('tokenizer: add_eos_token is true but there is no valid eos_token_id');
    this.splitOnSpace = spm && (v.splitOnSpace ?? false);
    this.spacePrefixRule = v.spacePrefixRule ?? 'llama';
    if (!['llama', 'always', 'first'].includes(this.spacePrefixRule)) {
      throw new RangeError(`tokenizer: Expected 'llama', 'always' or 'first' for spacePrefixRule but received ${String(v.spacePrefixRule)}`);
    }
    if (spm) {
      for (let b = 0; b < 256; b++) {
        const t = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
        if (t !== undefined) this.byteTokens[b] = t;
      }
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
    } else {
      if (!v.merges) throw new RangeError('tokenizer: a gpt2 tokenizer needs tokenizer.ggml.merges');
      (v.merges as string[]).forEach((m, i) => {
        const sp = m.indexOf(' ', 1);
        if (sp >= 0 && !this.ranks.has(m)) this.ranks.set(m.slice(0, sp) + ' ' + m.slice(sp + 1), i);
      });
      for (const re of preTokenizerRegexes(v.pre)) this.regexes.push(new RegExp(re, 'gu'));
    }
    for (let i = 0; i < n; i++) {
      const t = this.types[i];
      if ((t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) && v.tokens[i].length > 0) {
        this.specials.push({ id: i, text: v.tokens[i], control: t !== TokenType.USER_DEFINED });
      }
    }
    this.specials.sort((a, b) => b.text.length - a.text.length || a.id - b.id);
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
    return new Tokenizer({
      model: model as 'llama' | 'gpt2', pre: typeof pre === 'string' ? pre : undefined, tokens, scores, types,
      merges: arr('merges', [GgufType.STRING]) as string[] | undefined,
      bos: num('bos_token_id'), eos: num('eos_token_id'), unk: num('unknown_token_id'), pad: num('padding_token_id'),
      eot: num('eot_token_id'),
      addBos: bool('add_bos_token'), addEos: bool('add_eos_token'), addSpacePrefix: bool('add_space_prefix'),
      chatTemplate: typeof tmpl === 'string' ? tmpl : undefined,
    });
  }

  get vocabSize(): number { return this.tokens.length; }
  tokenType(id: number): TokenType { return this.types[id]; }

  /** true for tokens that end generation (EOS, EOT) */
  isEog(id: number): boolean { return id === this.eos || id === this.eot; }

  /** Text to token ids, as llama.cpp's llama_tokenize(text, add_special, parse_special). */
  encode(text: string, opts: TokenizeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`tokenize: Expected a string for text but received ${typeof text}`);
    opts = checkOptionKeys(opts, TOKENIZE_KEYS, 'opts', 'encode');
    const addSpecial = opts.addSpecial ?? true;
    const out: number[] = [];
    if (addSpecial && this.addBos) out.push(this.bos!);
    let prevSpecial = true, atStart = true;
    for (const frag of this.partition(text, opts.parseSpecial ?? false)) {
      const first = atStart;
      atStart = false;
      if (typeof frag === 'number') { out.push(frag); prevSpecial = true; continue; }
      if (frag.length === 0) continue; // llama.cpp makes no fragment of empty text (so no space prefix either)
      if (this.model === 'llama') {
        const rule = this.spacePrefixRule;
        const prefix = this.addSpacePrefix && (rule === 'llama' ? prevSpecial : !/^[ \u2581]/.test(frag) && (rule === 'always' || first));
        const t = ((prefix ? ' ' : '') + frag).replace(/ /g, '\u2581');
        if (this.splitOnSpace) for (const w of t.split(/(?=\u2581)/u)) this.spm(w, out);
        else this.spm(t, out);
      } else {
        this.bpe(frag, out);
      }
      prevSpecial = false;
    }
    if (addSpecial && this.addEos) out.push(this.eos!);
    return out;
  }

  /** Splits text around special tokens: strings for raw text, numbers for tokens. */
  private partition(text: string, parseSpecial: boolean): (string | number)[] {
    let frags: (string | number)[] = [text];
    for (const s of this.specials) {
      if (s.control && !parseSpecial) continue;
      const next: (string | number)[] = [];
      for (const f of frags) {
        if (typeof f === 'number') { next.push(f); continue; }
        let at = 0;
        for (let i = f.indexOf(s.text); i >= 0; i = f.indexOf(s.text, at)) {
          if (i > at) next.push(f.slice(at, i));
          next.push(s.id);
          at = i + s.text.length;
        }
        if (at < f.length) next.push(f.slice(at));
      }
      frags = next;
    }
    return frags;
  }

  private spm(text: string, out: number[]): void {
    const chars = Array.from(text);
    if (chars.length === 0) return;
    const syms: Sym[] = chars.map((c, i) => ({ text: c, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 }));
    type Bigram = { left: number; right: number; score: number; size: number };
    // highest score first, then leftmost
    const q = new Heap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const ranks = this.spmRanks;
    const tryAdd = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const t = syms[l].text + syms[r].text;
      let score: number;
      if (ranks) {
        const rank = ranks.get(pairKey(syms[l].text, syms[r].text));
        if (rank === undefined) return;
        score = -rank;
      } else {
        const id = this.ids.get(t);
        if (id === undefined) return;
        score = this.scores[id];
      }
      q.push({ left: l, right: r, score, size: t.length });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    while (q.size > 0) {
      const b = q.pop();
      const L = syms[b.left], R = syms[b.right];
      if (L.text.length === 0 || R.text.length === 0 || L.text.length + R.text.length !== b.size) continue;
      L.text += R.text;
      R.text = '';
      L.next = R.next;
      if (R.next >= 0) syms[R.next].prev = b.left;
      tryAdd(L.prev, b.left);
      tryAdd(b.left, L.next);
    }
    for (let i = 0; i !== -1; i = syms[i].next) {
      const t = syms[i].text;
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

  private bpe(text: string, out: number[]): void {
    for (const word of regexSplit(text, this.regexes)) {
      const mapped = Array.from(te.encode(word), (b) => BYTE_TO_CHAR[b]);
      const syms: Sym[] = mapped.map((c, i) => ({ text: c, prev: i - 1, next: i + 1 < mapped.length ? i + 1 : -1 }));
      type Bigram = { left: number; right: number; rank: number; text: string };
      const q = new Heap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
      const add = (l: number, r: number) => {
        if (l < 0 || r < 0) return;
        const rank = this.ranks.get(syms[l].text + ' ' + syms[r].text);
        if (rank === undefined) return;
        q.push({ left: l, right: r, rank, text: syms[l].text + syms[r].text });
      };
      for (let i = 1; i < syms.length; i++) add(i - 1, i);
      while (q.size > 0) {
        const b = q.pop();
        const L = syms[b.left], R = syms[b.right];
        if (L.text.length === 0 || R.text.length === 0 || L.text + R.text !== b.text) continue;
        L.text += R.text;
        R.text = '';
        L.next = R.next;
        if (R.next >= 0) syms[R.next].prev = b.left;
        add(L.prev, b.left);
        add(b.left, L.next);
      }
      for (let i = 0; i !== -1 && syms.length > 0; i = syms[i].next) {
        const id = this.ids.get(syms[i].text);
        if (id !== undefined) { out.push(id); continue; }
        // as llama.cpp: try each character alone, drop what is not in the vocabulary
        for (const c of syms[i].text) { const cid = this.ids.get(c); if (cid !== undefined) out.push(cid); }
      }
    }
  }

  /** The bytes a token stands for (empty for control tokens unless `special`). */
  tokenBytes(id: number, special = false): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new RangeError(`detokenize: Expected integer in [0, ${this.tokens.length - 1}] for token but received ${id}`);
    }
    const type = this.types[id];
    const text = this.tokens[id];
    if (type === TokenType.CONTROL || type === TokenType.UNKNOWN) return special ? te.encode(text) : new Uint8Array(0);
    if (type === TokenType.USER_DEFINED) return te.encode(text);
    if (this.model === 'llama') {
      if (type === TokenType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
        return m ? Uint8Array.of(parseInt(m[1], 16)) : te.encode(text);
      }
      return te.encode(text.replace(/\u2581/g, ' '));
    }
    const bytes: number[] = [];
    for (const c of text) {
      const b = CHAR_TO_BYTE.get(c);
      if (b !== undefined) bytes.push(b); else bytes.push(...te.encode(c));
    }
    return Uint8Array.from(bytes);
  }

  /** Token ids to text; byte tokens are reassembled into UTF-8 across tokens. */
  decode(ids: readonly number[], opts: { special?: boolean; stripSpacePrefix?: boolean } = {}): string {
    opts = checkOptionKeys(opts, DECODE_KEYS, 'opts', 'decode');
    const parts: Uint8Array[] = [];
    let first = true;
    for (const id of ids) {
      let b = this.tokenBytes(id, opts.special ?? false);
      // llama.cpp removes the space the SPM prefix added, on the first text token
      if (first && b.length > 0 && (opts.stripSpacePrefix ?? true) && this.model === 'llama' && this.addSpacePrefix && b[0] === 0x20) {
        b = b.subarray(1);
      }
      if (this.types[id] !== TokenType.CONTROL && this.types[id] !== TokenType.UNKNOWN) first = false;
      parts.push(b);
    }
    const total = parts.reduce((a, p) => a + p.length, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return new TextDecoder().decode(all);
  }

  /** A streaming decoder: push token ids, get the text completed so far (partial UTF-8 held back). */
  decoder(opts: { special?: boolean } = {}): { push(id: number): string; flush(): string } {
    opts = checkOptionKeys(opts, DECODER_KEYS, 'opts', 'decoder');
    const td = new TextDecoder('utf-8');
    return {
      push: (id: number) => td.decode(this.tokenBytes(id, opts.special ?? false), { stream: true }),
      flush: () => td.decode(),
    };
  }
}

export { renderChat } from './chat';
export type { ChatMessage } from './chat';
export { BYTE_TO_CHAR as GPT2_BYTE_TO_CHAR };
