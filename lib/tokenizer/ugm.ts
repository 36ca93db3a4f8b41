// Unigram as llama.cpp's UGM tokenizer (tokenizer.ggml.model = "t5"), on UTF-8 bytes:
//   normalize: at each position the longest user-defined token is kept as is, else the longest
//     match in SentencePiece's precompiled_charsmap (an XOR-compressed compact double array over
//     bytes whose leaves point at NUL-terminated replacement strings) is replaced, else one
//     character is copied (an invalid byte becomes U+FFFD); spaces are written '▁', with one
//     '▁' before the first word when add_space_prefix, and runs of spaces collapsed to one (and
//     none at the end) when remove_extra_whitespaces;
//   Viterbi: the best-scoring segmentation into normal, user-defined (score 0) and unused tokens,
//     a character no token covers costing (lowest normal score - 10) as the unknown token,
//     consecutive unknowns one token.
const te = new TextEncoder();
const SPACE = 0x20;
const ESCAPED_SPACE = [0xe2, 0x96, 0x81];

/** one byte per char: the map key of a byte string */
function bin(bytes: ArrayLike<number>, begin = 0, end = bytes.length): string {
  let s = '';
  for (let i = begin; i < end; i += 8192) s += String.fromCharCode(...Array.prototype.slice.call(bytes, i, Math.min(end, i + 8192)) as number[]);
  return s;
}

/** the length of the UTF-8 sequence a lead byte starts (llama.cpp's unicode_len_utf8) */
const utf8Len = (b: number) => [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][b >> 4];

export interface UgmOptions { charsmap?: Uint8Array; addSpacePrefix: boolean; removeExtraWhitespaces: boolean }

export class Ugm {
  /** token ids by bin(UTF-8 bytes): normal, user-defined and unused tokens */
  private readonly matcher = new Map<string, number>();
  private readonly userDefined = new Set<string>();
  private maxTokenBytes = 0;
  /** the longest token (bytes, 255 meaning longer) starting with each pair of bytes, at b0 * 256 + b1 */
  private readonly maxLenByPair = new Uint8Array(65536);
  private maxUserBytes = 0;
  private readonly unknownScore: number;
  private readonly xcda: DataView | undefined;
  private readonly xcdaSize: number = 0;
  private readonly replacements: Uint8Array | undefined;

  constructor(
    tokens: readonly string[], private readonly attrs: Uint16Array, private readonly scores: Float32Array,
    private readonly unk: number | undefined, private readonly opts: UgmOptions,
  ) {
    if (unk === undefined) throw new RangeError('tokenizer: a t5 vocabulary needs a valid unknown_token_id');
    let min = Infinity;
    // llama.cpp's attribute bits: NORMAL 4, USER_DEFINED 16, UNUSED 2
    for (let i = 0; i < tokens.length; i++) {
      const a = attrs[i];
      if (a & 4) min = Math.min(min, scores[i]);
      if (a & (4 | 16 | 2)) {
        const b = te.encode(tokens[i]);
        const k = bin(b);
        this.matcher.set(k, i); // a later token with the same text replaces it (llama.cpp's trie)
        this.maxTokenBytes = Math.max(this.maxTokenBytes, b.length);
        if (b.length >= 2) { const k2 = b[0] * 256 + b[1]; this.maxLenByPair[k2] = Math.max(this.maxLenByPair[k2], Math.min(255, b.length)); }
        if (a & 16) { this.userDefined.add(k); this.maxUserBytes = Math.max(this.maxUserBytes, b.length); }
      }
    }
    // llama.cpp starts min_score at FLT_MAX
    this.unknownScore = (min === Infinity ? 3.4028234663852886e38 : min) - 10;
    const cm = opts.charsmap;
    if (cm && cm.length > 0) {
      if (cm.length < 4) throw new RangeError('tokenizer: tokenizer.ggml.precompiled_charsmap is too small for its xcda_blob_size header');
      const dv = new DataView(cm.buffer, cm.byteOffset, cm.byteLength);
      const blob = dv.getUint32(0, true);
      if (blob + 4 >= cm.length) throw new RangeError(`tokenizer: tokenizer.ggml.precompiled_charsmap's XCDA blob (${blob} bytes) runs past its end (${cm.length} bytes)`);
      this.xcda = new DataView(cm.buffer, cm.byteOffset + 4, blob);
      this.xcdaSize = blob >>> 2;
      this.replacements = cm.subarray(4 + blob);
    }
  }

  private node(i: number): number {
    if (i >= this.xcdaSize) throw new RangeError('tokenizer: index out of the precompiled charsmap\'s XCDA array');
    return this.xcda!.getUint32(i * 4, true);
  }
  private base(i: number): number { const n = this.node(i); return ((n >>> 10) << ((n & 0x200) >>> 6)) >>> 0; }

  /** the normalized form of one prefix of input at `at`: [bytes, consumed] */
  private prefix(input: Uint8Array, key: string, at: number): [ArrayLike<number>, number] {
    for (let len = Math.min(this.maxUserBytes, input.length - at); len > 0; len--) {
      if (this.userDefined.has(key.slice(at, at + len))) return [input.subarray(at, at + len), len];
    }
    if (this.xcda && this.xcdaSize > 0) {
      let longest = 0, value = 0;
      let idx = this.base(0);
      for (let p = at; p < input.length; p++) {
        const c = input[p];
        if (c === 0) break;
        idx = (idx ^ c) >>> 0;
        if (((this.node(idx) & 0x800000ff) >>> 0) !== c) break;
        const leaf = (this.node(idx) >>> 8) & 1;
        idx = (idx ^ this.base(idx)) >>> 0;
        if (leaf) { longest = p - at + 1; value = this.node(idx) & 0x7fffffff; }
      }
      if (longest > 0) {
        const r = this.replacements!;
        if (value >= r.length) throw new RangeError('tokenizer: index out of the precompiled charsmap\'s replacements');
        const end = r.indexOf(0, value);
        if (end < 0) throw new RangeError('tokenizer: unterminated string in the precompiled charsmap');
        return [r.subarray(value, end), longest];
      }
    }
    // one character; an invalid sequence is U+FFFD for one byte
    const b = input[at], n = utf8Len(b);
    let ok = (b & 0xc0) !== 0x80 && b < 0xf8 && at + n <= input.length;
    for (let k = 1; ok && k < n; k++) ok = (input[at + k] & 0xc0) === 0x80;
    return ok ? [input.subarray(at, at + n), n] : [[0xef, 0xbf, 0xbd], 1];
  }

  normalize(text: string): Uint8Array {
    const input = te.encode(text);
    const key = bin(input);
    const out: number[] = [];
    const prepend = this.opts.addSpacePrefix, merge = this.opts.removeExtraWhitespaces;
    let prepended = false, inWord = false;
    for (let at = 0; at < input.length;) {
      const [norm, used] = this.prefix(input, key, at);
      for (let i = 0; i < norm.length; i++) {
        const c = norm[i];
        if (c !== SPACE) {
          if (!inWord) {
            inWord = true;
            if ((prepend && !prepended) || merge) { out.push(...ESCAPED_SPACE); prepended = true; }
          }
          out.push(c);
        } else {
          inWord = false;
          if (!merge) out.push(...ESCAPED_SPACE);
        }
      }
      at += used;
    }
    return Uint8Array.from(out);
  }

  tokenize(text: string, output: number[]): void {
    const s = this.normalize(text);
    const n = s.length;
    if (n === 0) return;
    const key = bin(s);
    const tok = new Int32Array(n + 1).fill(this.unk!);
    const from = new Int32Array(n + 1);
    const score = new Float64Array(n + 1).fill(-Number.MAX_VALUE);
    score[0] = 0;
    for (let at = 0; at < n;) {
      const units = Math.min(utf8Len(s[at]), n - at);
      let single = false;
      const best = score[at];
      // tokens longer than one byte start with a pair of bytes that bounds their length
      const maxLen = at + 1 < n ? Math.max(1, this.maxLenByPair[s[at] * 256 + s[at + 1]] === 255 ? this.maxTokenBytes : this.maxLenByPair[s[at] * 256 + s[at + 1]]) : 1;
      for (let len = 1; len <= maxLen && at + len <= n; len++) {
        const id = this.matcher.get(key.slice(at, at + len));
        if (id === undefined) continue;
        if (len === units) single = true;
        const sc = best + (this.attrs[id] & 16 ? 0 : this.scores[id]);
        if (sc > score[at + len]) { score[at + len] = sc; tok[at + len] = id; from[at + len] = at; }
      }
      if (!single) {
        const sc = best + this.unknownScore;
        if (sc > score[at + units]) { score[at + units] = sc; tok[at + units] = this.unk!; from[at + units] = at; }
      }
      at += units;
    }
    const rev: number[] = [];
    let prevUnknown = false;
    for (let at = n; ;) {
      const isUnknown = tok[at] === this.unk;
      if (!(prevUnknown && isUnknown)) rev.push(tok[at]);
      if (from[at] === 0) break;
      prevUnknown = isUnknown;
      at = from[at];
    }
    for (let i = rev.length - 1; i >= 0; i--) output.push(rev[i]);
  }
}
