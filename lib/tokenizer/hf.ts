// A Tokenizer from a Hugging Face checkpoint's tokenizer.json (+ tokenizer_config.json), in
// the two BPE forms llama.cpp's converter reads:
//   byte-level BPE (GPT-2 style: Qwen, OLMoE, Llama 3): the "gpt2" model. Ids from model.vocab and
//     added_tokens, special added tokens CONTROL, other added tokens USER_DEFINED, the vocabulary
//     padded to config.json's vocab_size with [PADn] tokens, and the pre-tokenizer chosen by
//     architecture (llama.cpp picks it by hashing the tokenizer; fuselm by model family).
//   SentencePiece-style BPE (Llama 2, Mistral, Mixtral, TinyLlama): model.type BPE with
//     byte_fallback, <0xNN> byte tokens, spaces written as '▁' by a normalizer (Prepend "▁" +
//     Replace " " -> "▁") or a Metaspace pre-tokenizer, decoder Replace/ByteFallback/Fuse/Strip.
//     It becomes the "llama" (SPM) model: <0xNN> tokens BYTE, unk_token UNKNOWN, and pieces merge
//     by the rank of their pair in model.merges, which is what the SentencePiece scores of the
//     tokenizer.model it came from give when HF's converter derived the merges from them (sorted
//     by the merged piece's score), so ids are identical to the GGUF llama.cpp writes from
//     tokenizer.model. The ▁ prefix follows llama.cpp (and SentencePiece's add_dummy_prefix):
//     added to every run of text that starts the input or follows a special token, even when the
//     text already starts with a space. HF's Metaspace differs there (it skips the prefix when the
//     text starts with a space, and with prepend_scheme "first" it adds none after a special
//     token); fuselm keeps llama.cpp's behaviour so an HF checkpoint and its GGUF tokenize alike,
//     and follows HF's with { spaces: 'hf' } (test/oracle/hf-tokenizer.oracle.ts checks both
//     against HF tokenizers). One more difference of HF's, not followed: a user-defined added token
//     with normalized: true is matched against the normalized text, so after a Prepend normalizer
//     HF finds it only after a space; llama.cpp (and fuselm) split it out wherever it appears.
//   SentencePiece Unigram (T5, XLM-R, mT5): the "t5" (UGM) model, as llama.cpp builds it from
//     the same SentencePiece model (see unigramFromHf).
// Anything else the file asks for (another normalizer, pre-tokenizer, decoder or model type,
// added tokens that strip whitespace) is an error that names it, never a silent mis-tokenization.
import * as fs from 'fs';
import * as path from 'path';
import type { Arch } from '../models/config';
import { TokenType, Tokenizer } from './index';
import { checkKeys, checkOptionKeys, keysOf } from '../check';

const PRE_BY_ARCH: Record<Arch, string> = {
  llama: 'llama3', qwen2: 'qwen2', qwen3: 'qwen2', qwen2moe: 'qwen2', qwen3moe: 'qwen2', olmoe: 'olmo',
};

const META = '\u2581';
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const js = (v: unknown) => JSON.stringify(v);

/** The files next to the weights that shape the tokenizer. */
export interface HfTokenizerFiles {
  /** tokenizer_config.json: bos/eos tokens, add_bos_token / add_eos_token, chat_template */
  tokenizerConfig?: unknown;
  /** config.json: vocab_size (the vocabulary is padded to it), *_token_id fallbacks */
  config?: Record<string, unknown>;
  /** the architecture, which picks a byte-level BPE's pre-tokenizer (required for those) */
  arch?: Arch;
  /** a chat template from chat_template.jinja / chat_template.json, when tokenizer_config.json has none */
  chatTemplate?: string;
  /** the file's name in error messages (default 'tokenizer.json') */
  name?: string;
  /**
   * where a Metaspace pre-tokenizer's '▁' prefix goes: 'llama.cpp' (default) as llama.cpp
   * tokenizes the GGUF converted from the same checkpoint (after every special token, and before
   * a leading space too); 'hf' as HF tokenizers does (not before a leading space; with
   * prepend_scheme "first" only at the start of the input). Files with the Prepend normalizer
   * tokenize the same either way.
   */
  spaces?: 'llama.cpp' | 'hf';
}

/** `x` as a list: a Sequence's members flattened, nothing for null. */
function steps(x: unknown, key: string): Record<string, unknown>[] {
  if (x === null || x === undefined) return [];
  if (!isObj(x)) return [{ type: js(x) }];
  if (x.type === 'Sequence' && Array.isArray(x[key])) return (x[key] as unknown[]).flatMap((y) => steps(y, key));
  return [x];
}

/**
 * Builds a Tokenizer from the parsed contents of a tokenizer.json (see the top of this file for
 * the forms it reads). Throws a RangeError naming what it does not implement.
 */
const HF_TOKENIZER_FILES_KEYS = keysOf<HfTokenizerFiles>({ tokenizerConfig: 1, config: 1, arch: 1, chatTemplate: 1, name: 1, spaces: 1 });
export function tokenizerFromHfJson(json: unknown, files: HfTokenizerFiles = {}): Tokenizer {
  if (!isObj(files)) throw new TypeError(`tokenizerFromHfJson: Expected an object for files but received ${files === null ? 'null' : typeof files}`);
  checkKeys(files, HF_TOKENIZER_FILES_KEYS, 'files', 'tokenizerFromHfJson');
  const arch = files.arch as unknown;
  if (arch !== undefined && (typeof arch !== 'string' || !Object.prototype.hasOwnProperty.call(PRE_BY_ARCH, arch))) {
    throw new RangeError(`tokenizerFromHfJson: Expected one of ${Object.keys(PRE_BY_ARCH).join(', ')} for files.arch but received ${String(files.arch)}`);
  }
  const archName = arch as Arch | undefined;
  if (files.spaces !== undefined && files.spaces !== 'llama.cpp' && files.spaces !== 'hf') {
    throw new RangeError(`tokenizerFromHfJson: Expected 'llama.cpp' or 'hf' for files.spaces but received ${String(files.spaces)}`);
  }
  const name = typeof files.name === 'string' ? files.name : 'tokenizer.json';
  const fail = (why: string): never => { throw new RangeError(`tokenizer: '${name}' ${why}`); };
  if (!isObj(json) || !isObj(json.model)) return fail('has no model object');
  const m = json.model;
  const tc = isObj(files.tokenizerConfig) ? files.tokenizerConfig : {};
  const config = isObj(files.config) ? files.config : {};
  if (m.type === 'Unigram') return unigramFromHf(json, m, tc, fail);
  if (m.type !== 'BPE') return fail(`has model.type ${js(m.type)}; fuselm reads BPE tokenizer.json files (byte-level, or SentencePiece-style with byte_fallback)`);
  if (!isObj(m.vocab)) return fail('has no model.vocab object');
  const byteLevel = js(json.pre_tokenizer ?? null).includes('"ByteLevel"');
  const spm = !byteLevel && m.byte_fallback === true;
  if (!byteLevel && !spm) {
    return fail('is a BPE model with neither a ByteLevel pre-tokenizer nor byte_fallback: true; fuselm reads byte-level BPE and SentencePiece-style (byte fallback) tokenizer.json files');
  }

  // ids: model.vocab, then added_tokens over it, padded to config.json's vocab_size
  const byId = new Map<number, [string, TokenType]>();
  for (const [t, id] of Object.entries(m.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 10_000_000) return fail(`gives token ${js(t)} the id ${String(id)}`);
    byId.set(id, [t, spm && /^<0x[0-9A-Fa-f]{2}>$/.test(t) ? TokenType.BYTE : TokenType.NORMAL]);
  }
  const unkText = typeof m.unk_token === 'string' ? m.unk_token : undefined;
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string' || a.id < 0 || a.id > 10_000_000) continue;
    if (spm) {
      for (const k of ['lstrip', 'rstrip', 'single_word'] as const) {
        if (a[k] === true) fail(`gives the added token ${js(a.content)} ${k}: true, which fuselm does not implement`);
      }
    }
    byId.set(a.id, [a.content, a.special ? (spm && a.content === unkText ? TokenType.UNKNOWN : TokenType.CONTROL) : TokenType.USER_DEFINED]);
  }
  if (spm && unkText !== undefined) {
    for (const [id, [t]] of byId) if (t === unkText) byId.set(id, [t, TokenType.UNKNOWN]);
  }
  let maxId = -1;
  for (const k of byId.keys()) if (k > maxId) maxId = k;
  const nVocab = typeof config.vocab_size === 'number' ? config.vocab_size : 0;
  if (!Number.isInteger(nVocab) || nVocab < 0 || nVocab > 10_000_000) fail(`is paired with a config.json vocab_size of ${nVocab}`);
  const n = Math.max(nVocab, maxId + 1);
  const tokens: string[] = [], types: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = byId.get(i);
    tokens.push(e ? e[0] : `[PAD${i}]`);
    types.push(e ? e[1] : TokenType.USER_DEFINED);
  }
  const rawMerges = Array.isArray(m.merges) ? m.merges as unknown[] : [];

  // special tokens and flags from tokenizer_config.json (strings or {content} objects), else config.json's ids
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => { if (!ids.has(t)) ids.set(t, i); });
  const tokText = (k: string): string | undefined => {
    const v = tc[k];
    return typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : undefined;
  };
  const tokId = (k: string): number | undefined => {
    const s = tokText(k);
    if (s !== undefined && ids.has(s)) return ids.get(s);
    const c = config[`${k}_id`];
    return typeof c === 'number' ? c : undefined;
  };
  let bos = tokId('bos_token'), eos = tokId('eos_token');
  const flag = (k: string) => (typeof tc[k] === 'boolean' ? tc[k] as boolean : undefined);
  let chatTemplate: string | undefined;
  if (typeof tc.chat_template === 'string') chatTemplate = tc.chat_template;
  else if (Array.isArray(tc.chat_template)) {
    // [{ name, template }]: the one named "default", as transformers picks it
    const d = tc.chat_template.find((x) => isObj(x) && x.name === 'default');
    if (isObj(d) && typeof d.template === 'string') chatTemplate = d.template;
  }
  if (chatTemplate === undefined && typeof files.chatTemplate === 'string') chatTemplate = files.chatTemplate;

  if (byteLevel) {
    if (!archName) return fail('is a byte-level BPE tokenizer; its pre-tokenizer is chosen by architecture, so pass the arch');
    const merges = rawMerges.map((x: unknown) => (Array.isArray(x) ? x.join(' ') : String(x)));
    return new Tokenizer({
      model: 'gpt2', pre: PRE_BY_ARCH[archName], tokens, types, merges,
      bos, eos, pad: tokId('pad_token'),
      // Llama 3 adds BOS through its post-processor rather than add_bos_token (llama.cpp adds it too)
      addBos: flag('add_bos_token') ?? (archName === 'llama' && bos !== undefined),
      addEos: flag('add_eos_token') ?? false,
      chatTemplate,
    });
  }

  // SentencePiece-style: the model's options
  if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0) fail(`sets model.dropout ${js(m.dropout)} (random merges), which fuselm does not implement`);
  for (const k of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (m[k] !== undefined && m[k] !== null && m[k] !== '') fail(`sets model.${k} ${js(m[k])}, which fuselm does not implement`);
  }
  if (m.ignore_merges === true) fail('sets model.ignore_merges: true, which fuselm does not implement for a SentencePiece-style BPE');
  const merges: [string, string][] = rawMerges.map((x, i) => {
    if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') return [x[0], x[1]];
    const p = typeof x === 'string' ? x.split(' ') : [];
    if (p.length !== 2) fail(`has model.merges[${i}] = ${js(x)}; expected "left right" or [left, right]`);
    return [p[0], p[1]];
  });
  merges.forEach(([a, b], i) => {
    if (!ids.has(a) || !ids.has(b) || !ids.has(a + b)) fail(`has model.merges[${i}] = ${js([a, b])} with a piece that is not in the vocabulary`);
  });

  // spaces to '▁' and the prefix: the normalizer, or the pre-tokenizer
  let replace = false, prepend = false, split = false, metaspace = false;
  let hfRule: 'always' | 'first' | undefined;
  for (const s of steps(json.normalizer, 'normalizers')) {
    const pat = isObj(s.pattern) ? s.pattern.String : undefined;
    if (s.type === 'Prepend' && s.prepend === META) prepend = true;
    else if (s.type === 'Replace' && pat === ' ' && s.content === META) replace = true;
    else fail(`uses the normalizer ${js(s)}, which fuselm does not implement (it reads Prepend "▁" and Replace " " -> "▁")`);
  }
  for (const s of steps(json.pre_tokenizer, 'pretokenizers')) {
    if (s.type !== 'Metaspace' || s.replacement !== META) {
      fail(`uses the pre-tokenizer ${js(s)}, which fuselm does not implement for a SentencePiece-style BPE (it reads Metaspace with replacement "▁")`);
    }
    metaspace = true;
    const scheme = s.prepend_scheme ?? (s.add_prefix_space === false ? 'never' : 'always');
    if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') fail(`has a Metaspace prepend_scheme ${js(scheme)}, which fuselm does not know`);
    if (scheme !== 'never') { prepend = true; hfRule = scheme === 'first' ? 'first' : 'always'; }
    // tokenizers reads a Metaspace without the field as split: true
    split = s.split !== false;
  }
  if (!replace && !metaspace) fail('writes spaces as neither "▁" by a normalizer (Replace) nor by a Metaspace pre-tokenizer, which fuselm does not implement');
  const addSpacePrefix = flag('add_prefix_space') ?? prepend;

  // the decoder must undo exactly that: ▁ -> ' ', <0xNN> -> bytes, strip the prefix's space
  let metaToSpace = false, byteFallback = false, strip = 0;
  const decoder = steps(json.decoder, 'decoders');
  if (decoder.length === 0) fail('has no decoder; fuselm expects Replace "▁" -> " ", ByteFallback, Fuse, Strip');
  for (const s of decoder) {
    const pat = isObj(s.pattern) ? s.pattern.String : undefined;
    if (s.type === 'Replace' && pat === META && s.content === ' ') metaToSpace = true;
    else if (s.type === 'ByteFallback') byteFallback = true;
    else if (s.type === 'Fuse') { /* joins the pieces: decode() returns one string anyway */ }
    else if (s.type === 'Strip' && s.content === ' ' && (s.stop ?? 0) === 0 && Number.isInteger(s.start)) strip = s.start as number;
    else if (s.type === 'Metaspace' && s.replacement === META) {
      metaToSpace = true;
      if ((s.prepend_scheme ?? (s.add_prefix_space === false ? 'never' : 'always')) !== 'never') strip = 1;
    } else fail(`uses the decoder ${js(s)}, which fuselm does not implement (it reads Replace "▁" -> " ", ByteFallback, Fuse, Strip, Metaspace)`);
  }
  if (!metaToSpace || !byteFallback) fail(`has a decoder without ${metaToSpace ? 'ByteFallback' : 'Replace "▁" -> " "'}, which would not undo the encoding`);
  // decode() strips the space of the ▁ prefix when the encoder adds one (tokenizer_config's add_prefix_space rebuilds both)
  if (flag('add_prefix_space') === undefined && strip !== (addSpacePrefix ? 1 : 0)) {
    fail(`strips ${strip} leading space(s) in its decoder but ${addSpacePrefix ? 'adds' : 'adds no'} "▁" prefix when encoding, which fuselm does not implement`);
  }

  // add_bos/add_eos: tokenizer_config.json, else the post-processor's template, else SentencePiece's defaults
  // (a template that opens or closes with a special token also names BOS / EOS when nothing else does)
  let tplBos: boolean | undefined, tplEos: boolean | undefined;
  const pp = json.post_processor;
  if (isObj(pp) && pp.type === 'TemplateProcessing' && Array.isArray(pp.single)) {
    const sp = (x: unknown) => (isObj(x) && isObj(x.SpecialToken) && typeof x.SpecialToken.id === 'string' ? ids.get(x.SpecialToken.id) : undefined);
    const first = sp(pp.single[0]), last = pp.single.length > 1 ? sp(pp.single[pp.single.length - 1]) : undefined;
    bos ??= first;
    eos ??= last;
    tplBos = first !== undefined && first === bos;
    tplEos = last !== undefined && last === eos;
  }
  const scores = new Float32Array(n);
  for (let i = merges.length - 1; i >= 0; i--) scores[ids.get(merges[i][0] + merges[i][1])!] = -i;
  return new Tokenizer({
    model: 'llama', tokens, types, scores, merges, splitOnSpace: split,
    spacePrefixRule: files.spaces === 'hf' && hfRule && !replace ? hfRule : 'llama',
    bos, eos, unk: unkText !== undefined ? ids.get(unkText) : undefined, pad: tokId('pad_token'),
    addBos: flag('add_bos_token') ?? tplBos ?? true,
    addEos: flag('add_eos_token') ?? tplEos ?? false,
    addSpacePrefix,
    chatTemplate,
  });
}

/**
 * A SentencePiece Unigram tokenizer.json (T5, XLM-R, mT5 and the embedding models built on
 * them) as the "t5" (UGM) tokenizer llama.cpp builds from the same SentencePiece model:
 * model.vocab's [piece, score] pairs in id order, unk_id UNKNOWN, special added tokens
 * CONTROL, other added tokens USER_DEFINED, <0xNN> pieces BYTE when byte_fallback; the
 * normalizer's Precompiled charsmap; a Replace of " {2,}" (with or without a Strip), or a
 * WhitespaceSplit pre-tokenizer, as remove_extra_whitespaces; a Metaspace "▁" pre-tokenizer's
 * prepend_scheme as add_space_prefix; add_bos / add_eos from tokenizer_config.json, else the
 * post-processor's template. llama.cpp's UGM has no byte fallback (a character no piece covers
 * is the unknown token), so neither has this reader, whatever byte_fallback says.
 */
function unigramFromHf(json: Record<string, unknown>, m: Record<string, unknown>, tc: Record<string, unknown>, fail: (why: string) => never): Tokenizer {
  if (!Array.isArray(m.vocab)) return fail('is a Unigram model without a model.vocab list of [piece, score] pairs');
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  (m.vocab as unknown[]).forEach((e, i) => {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'number' || !Number.isFinite(e[1])) {
      fail(`has model.vocab[${i}] = ${js(e)}; expected [piece, score]`);
    }
    tokens.push(e[0] as string); scores.push(e[1] as number);
    types.push(m.byte_fallback === true && /^<0x[0-9A-Fa-f]{2}>$/.test(e[0] as string) ? TokenType.BYTE : TokenType.NORMAL);
  });
  if (tokens.length === 0) return fail('has an empty model.vocab');
  const unkId = m.unk_id;
  if (unkId !== undefined && unkId !== null) {
    if (typeof unkId !== 'number' || !Number.isInteger(unkId) || unkId < 0 || unkId >= tokens.length) fail(`has model.unk_id ${js(unkId)} outside the vocabulary of ${tokens.length}`);
    types[unkId as number] = TokenType.UNKNOWN;
  }
  for (const a of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string' || a.id < 0 || a.id >= tokens.length) continue;
    for (const k of ['lstrip', 'rstrip', 'single_word'] as const) {
      if (a[k] === true) fail(`gives the added token ${js(a.content)} ${k}: true, which fuselm does not implement`);
    }
    if (tokens[a.id] !== a.content) fail(`adds token ${js(a.content)} at id ${a.id}, where model.vocab has ${js(tokens[a.id])}`);
    if (types[a.id] !== TokenType.UNKNOWN) types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  let charsmap: Uint8Array | undefined, collapse = false;
  for (const s of steps(json.normalizer, 'normalizers')) {
    const re = isObj(s.pattern) ? s.pattern.Regex : undefined;
    if (s.type === 'Precompiled' && typeof s.precompiled_charsmap === 'string') charsmap = new Uint8Array(Buffer.from(s.precompiled_charsmap, 'base64'));
    else if (s.type === 'Precompiled' && (s.precompiled_charsmap === null || s.precompiled_charsmap === '')) { /* none */ }
    else if (s.type === 'Replace' && re === ' {2,}' && (s.content === ' ' || s.content === META)) collapse = true;
    else if (s.type === 'Strip') { /* the trim that goes with remove_extra_whitespaces */ }
    else fail(`uses the normalizer ${js(s)}, which fuselm does not implement for a Unigram model (it reads Precompiled, Replace " {2,}", Strip)`);
  }
  let prefix: boolean | undefined;
  for (const s of steps(json.pre_tokenizer, 'pretokenizers')) {
    if (s.type === 'WhitespaceSplit') { collapse = true; continue; }
    if (s.type !== 'Metaspace' || s.replacement !== META) {
      fail(`uses the pre-tokenizer ${js(s)}, which fuselm does not implement for a Unigram model (it reads Metaspace with replacement "▁", WhitespaceSplit)`);
    }
    const scheme = s.prepend_scheme ?? (s.add_prefix_space === false ? 'never' : 'always');
    if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') fail(`has a Metaspace prepend_scheme ${js(scheme)}, which fuselm does not know`);
    prefix = scheme !== 'never';
  }
  if (prefix === undefined) fail('has no Metaspace pre-tokenizer; fuselm reads Unigram models that write spaces as "▁" that way');
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => { if (!ids.has(t)) ids.set(t, i); });
  const tokText = (k: string): string | undefined => {
    const v = tc[k];
    return typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : undefined;
  };
  const tokId = (k: string) => { const t = tokText(k); return t !== undefined ? ids.get(t) : undefined; };
  const flag = (k: string) => (typeof tc[k] === 'boolean' ? tc[k] as boolean : undefined);
  let bos = tokId('bos_token'), eos = tokId('eos_token');
  let tplBos: boolean | undefined, tplEos: boolean | undefined;
  const pp = json.post_processor;
  if (isObj(pp) && pp.type === 'TemplateProcessing' && Array.isArray(pp.single)) {
    const sp = (x: unknown) => (isObj(x) && isObj(x.SpecialToken) && typeof x.SpecialToken.id === 'string' ? ids.get(x.SpecialToken.id) : undefined);
    const first = sp(pp.single[0]), last = pp.single.length > 1 ? sp(pp.single[pp.single.length - 1]) : sp(pp.single[0]);
    const firstIsSeq = isObj(pp.single[0]) && isObj(pp.single[0].Sequence);
    if (!firstIsSeq) { bos ??= first; tplBos = first !== undefined && first === bos; } else tplBos = false;
    eos ??= last;
    tplEos = last !== undefined && last === eos;
  }
  const chat = typeof tc.chat_template === 'string' ? tc.chat_template : undefined;
  return new Tokenizer({
    model: 't5', tokens, types, scores, bos, eos, unk: typeof unkId === 'number' ? unkId : undefined, pad: tokId('pad_token'),
    addBos: flag('add_bos_token') ?? tplBos ?? false, addEos: flag('add_eos_token') ?? tplEos ?? true,
    addSpacePrefix: prefix, removeExtraWhitespaces: collapse, precompiledCharsmap: charsmap, chatTemplate: chat,
  });
}

/** Builds the tokenizer from tokenizer.json in `dir`; throws saying what to pass instead when it cannot. */
export function tokenizerFromHf(dir: string, arch: Arch, config: Record<string, unknown>, opts: { spaces?: 'llama.cpp' | 'hf' } = {}): Tokenizer {
  checkOptionKeys(opts, ['spaces'], 'opts', 'tokenizerFromHf');
  const p = path.join(dir, 'tokenizer.json');
  const fail = (why: string): never => {
    throw new RangeError(`model: ${why}; pass { tokenizer } to load() (e.g. Tokenizer.fromGguf(readGguf(<a GGUF of the same model>)))`);
  };
  if (!fs.existsSync(p)) return fail(`'${dir}' has no tokenizer.json`);
  let j: unknown;
  try { j = JSON.parse(fs.readFileSync(p, 'utf8')); } catch (e) { return fail(`'${p}' is not valid JSON (${(e as Error).message})`); }
  const readJson = (f: string): unknown => {
    const q = path.join(dir, f);
    if (!fs.existsSync(q)) return undefined;
    try { return JSON.parse(fs.readFileSync(q, 'utf8')); } catch { return undefined; /* optional file */ }
  };
  // newer checkpoints keep the chat template in its own file
  let chatTemplate: string | undefined;
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) chatTemplate = fs.readFileSync(jinja, 'utf8');
  else {
    const ct = readJson('chat_template.json');
    if (isObj(ct) && typeof ct.chat_template === 'string') chatTemplate = ct.chat_template;
  }
  try {
    return tokenizerFromHfJson(j, { tokenizerConfig: readJson('tokenizer_config.json'), config, arch, chatTemplate, name: p, spaces: opts.spaces });
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) return fail((e.message).replace(/^tokenizer: /, ''));
    throw e;
  }
}
