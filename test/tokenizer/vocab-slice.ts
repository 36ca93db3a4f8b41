// Slices of llama.cpp's suite vocabularies, small enough to commit: the tokens and merges that
// tokenizing a few cases looks up (every lookup that finds something is recorded while the full
// vocabulary tokenizes them), at their original ids and merge ranks, the rest of the id range
// filled with tokens no text matches. A slice tokenizes those cases exactly as the whole
// vocabulary does, because every lookup the whole one answered is answered the same way and
// every one it missed still misses.
import * as path from 'path';
import { GgufFile, ggufGet } from '../../lib/formats/gguf';
import { Tokenizer, TokenType, VocabData, TokenizerModel } from '../../lib/tokenizer';

export const FIXTURE_PATH = path.join(__dirname, 'fixtures', 'llama-vocab-cases.json');

export interface VocabFixture {
  data: Omit<VocabData, 'tokens' | 'types' | 'scores' | 'merges' | 'precompiledCharsmap'>;
  /** the precompiled charsmap's entries the cases read: XCDA [index, value], replacements [offset, base64] */
  charsmap?: { xcdaSize: number; replacementsSize: number; xcda: [number, number][]; replacements: [number, string][] };
  vocabSize: number;
  nMerges: number;
  /** [id, text, type, score] */
  tokens: [number, string, number, number][];
  /** [rank, "left right"] */
  merges: [number, string][];
  cases: { text: string; ids: number[] }[];
}

class RecordingMap<V> extends Map<string, V> {
  readonly hits = new Set<string>();
  override get(k: string): V | undefined {
    const v = super.get(k);
    if (v !== undefined) this.hits.add(k);
    return v;
  }
}

/** The suite cases of the classes this work fixed: non-ASCII text, digits, whitespace runs, newlines, apostrophes. */
export function pickFixtureCases<T extends { text: string }>(cases: T[]): T[] {
  return cases.filter((c) => c.text.length <= 400 && /[^\x00-\x7f]|\d|\s\s|\n|'/.test(c.text));
}

function arr(f: GgufFile, k: string): unknown[] | undefined {
  const kv = f.metadata.get(`tokenizer.ggml.${k}`);
  return kv ? Array.from((kv.value as { items: ArrayLike<unknown> }).items) : undefined;
}

export function sliceVocab(f: GgufFile, cases: { text: string; ids: number[] }[]): VocabFixture {
  const tok = Tokenizer.fromGguf(f);
  type UgmInside = { matcher: Map<string, number>; node(i: number): number; xcdaSize: number; replacements?: Uint8Array };
  const t = tok as unknown as { ids: Map<string, number>; merges?: { hits?: Set<number> }; wpm?: { ids: Map<string, number> }; ugm?: UgmInside };
  const ids = new RecordingMap<number>(t.ids);
  // BPE merges by symbol ids: the ranks of the rules it finds are recorded, and the ids it gives are kept
  const rankHits = new Set<number>();
  if (t.merges) t.merges.hits = rankHits;
  t.ids = ids;
  if (t.wpm) t.wpm.ids = ids;
  const ugmIds = new RecordingMap<number>(t.ugm?.matcher);
  const nodes = new Map<number, number>();
  if (t.ugm) {
    const u = t.ugm;
    u.matcher = ugmIds;
    const node = u.node.bind(u);
    u.node = (i: number) => { const v = node(i); nodes.set(i, v); return v; };
  }
  const given = new Set<number>();
  for (const c of cases) for (const x of tok.encode(c.text, { addSpecial: false, parseSpecial: false })) given.add(x);

  const tokens = arr(f, 'tokens') as string[];
  const types = arr(f, 'token_type') as number[] | undefined;
  const scores = arr(f, 'scores') as number[] | undefined;
  const merges = arr(f, 'merges') as string[] | undefined;
  const keep = new Set<number>();
  for (const k of ids.hits) keep.add(ids.get(k)!);
  for (const x of given) keep.add(x);
  for (const k of ugmIds.hits) keep.add(ugmIds.get(k)!);
  for (const x of [tok.bos, tok.eos, tok.unk, tok.sep, tok.eot]) if (x !== undefined) keep.add(x);
  tokens.forEach((text, i) => {
    const ty = types ? types[i] : TokenType.NORMAL;
    if (/^<0x[0-9A-F]{2}>$/.test(text)) keep.add(i);
    if ((ty === TokenType.CONTROL || ty === TokenType.USER_DEFINED || ty === TokenType.UNKNOWN) && cases.some((c) => c.text.includes(text))) keep.add(i);
  });
  const rankList = [...rankHits].sort((a, b) => a - b);
  const num = (k: string) => { const v = ggufGet(f, `tokenizer.ggml.${k}`); return v === undefined ? undefined : Number(v); };
  const bool = (k: string) => { const v = ggufGet(f, `tokenizer.ggml.${k}`); return typeof v === 'boolean' ? v : undefined; };
  const str = (k: string) => { const v = ggufGet(f, k); return typeof v === 'string' ? v : undefined; };
  let charsmap: VocabFixture['charsmap'];
  if (t.ugm?.replacements) {
    const r = t.ugm.replacements;
    const reps: [number, string][] = [];
    for (const v of new Set([...nodes.values()].map((x) => x & 0x7fffffff))) {
      if (v >= r.length) continue;
      const end = r.indexOf(0, v);
      if (end >= 0) reps.push([v, Buffer.from(r.subarray(v, end + 1)).toString('base64')]);
    }
    charsmap = { xcdaSize: t.ugm.xcdaSize, replacementsSize: r.length, xcda: [...nodes].sort((a, b) => a[0] - b[0]), replacements: reps.sort((a, b) => a[0] - b[0]) };
  }
  return {
    data: {
      model: tok.model as TokenizerModel, pre: tok.pre, bos: num('bos_token_id'), eos: num('eos_token_id'), unk: num('unknown_token_id'),
      sep: num('seperator_token_id'), eot: num('eot_token_id'), addBos: bool('add_bos_token'), addEos: bool('add_eos_token'),
      addSpacePrefix: bool('add_space_prefix'), removeExtraWhitespaces: bool('remove_extra_whitespaces'),
      lowercase: bool('normalizer.lowercase'), stripAccents: bool('normalizer.strip_accents'),
      modelName: str('general.name'), arch: str('general.architecture'),
    },
    charsmap,
    vocabSize: tokens.length,
    nMerges: merges?.length ?? 0,
    tokens: [...keep].sort((a, b) => a - b).map((i) => [i, tokens[i], types ? types[i] : TokenType.NORMAL, scores ? scores[i] : 0]),
    merges: rankList.map((r) => [r, merges![r]]),
    cases,
  };
}

/** The tokenizer of a slice. */
export function tokenizerFromSlice(fx: VocabFixture): Tokenizer {
  const tokens = Array.from({ length: fx.vocabSize }, (_, i) => `\u0001unused-${i}\u0001`);
  const types = new Int32Array(fx.vocabSize).fill(TokenType.UNUSED);
  const scores = new Float32Array(fx.vocabSize);
  for (const [i, text, type, score] of fx.tokens) { tokens[i] = text; types[i] = type; scores[i] = score; }
  const merges = new Array<string>(fx.nMerges).fill('');
  for (const [r, m] of fx.merges) merges[r] = m;
  return new Tokenizer({ ...fx.data, tokens, types, scores, merges: fx.nMerges > 0 ? merges : undefined, precompiledCharsmap: sliceCharsmap(fx) });
}

/** The slice's precompiled charsmap: the entries read, zeros elsewhere. */
export function sliceCharsmap(fx: VocabFixture): Uint8Array | undefined {
  let precompiledCharsmap: Uint8Array | undefined;
  if (fx.charsmap) {
    const c = fx.charsmap;
    precompiledCharsmap = new Uint8Array(4 + 4 * c.xcdaSize + c.replacementsSize);
    const dv = new DataView(precompiledCharsmap.buffer);
    dv.setUint32(0, 4 * c.xcdaSize, true);
    for (const [i, v] of c.xcda) dv.setUint32(4 + 4 * i, v, true);
    for (const [o, b64] of c.replacements) precompiledCharsmap.set(Buffer.from(b64, 'base64'), 4 + 4 * c.xcdaSize + o);
  }
  return precompiledCharsmap;
}
