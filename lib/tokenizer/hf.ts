// A Tokenizer from a Hugging Face checkpoint's tokenizer.json (+ tokenizer_config.json),
// for byte-level BPE vocabularies (GPT-2 style: Qwen, OLMoE, Llama 3), mapped the way
// llama.cpp's convert_hf_to_gguf.py maps them: ids from model.vocab and added_tokens,
// special added tokens as CONTROL, other added tokens USER_DEFINED, the vocabulary padded
// to config.json's vocab_size with [PADn] tokens, and the pre-tokenizer chosen by
// architecture (llama.cpp picks it by hashing the tokenizer; fuselm by model family).
import * as fs from 'fs';
import * as path from 'path';
import type { Arch } from '../models/config';
import { TokenType, Tokenizer } from './index';

const PRE_BY_ARCH: Record<Arch, string> = {
  llama: 'llama3', qwen2: 'qwen2', qwen3: 'qwen2', qwen2moe: 'qwen2', qwen3moe: 'qwen2', olmoe: 'olmo',
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Builds the tokenizer from tokenizer.json in `dir`; throws saying what to pass instead when it cannot. */
export function tokenizerFromHf(dir: string, arch: Arch, config: Record<string, unknown>): Tokenizer {
  const p = path.join(dir, 'tokenizer.json');
  const fail = (why: string): never => {
    throw new RangeError(`model: ${why}; pass { tokenizer } to load() (e.g. Tokenizer.fromGguf(readGguf(<a GGUF of the same model>)))`);
  };
  if (!fs.existsSync(p)) return fail(`'${dir}' has no tokenizer.json`);
  let j: unknown;
  try { j = JSON.parse(fs.readFileSync(p, 'utf8')); } catch (e) { return fail(`'${p}' is not valid JSON (${(e as Error).message})`); }
  if (!isObj(j) || !isObj(j.model)) return fail(`'${p}' has no model object`);
  const m = j.model;
  const byteLevel = JSON.stringify(j.pre_tokenizer ?? null).includes('"ByteLevel"');
  if (m.type !== 'BPE' || !byteLevel || !isObj(m.vocab)) {
    return fail(`'${p}' is a ${String(m.type)} tokenizer${byteLevel ? '' : ' without a ByteLevel pre-tokenizer'}; fuselm reads byte-level BPE tokenizer.json files`);
  }
  const nVocab = typeof config.vocab_size === 'number' ? config.vocab_size : 0;
  const byId = new Map<number, [string, TokenType]>();
  for (const [t, id] of Object.entries(m.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 10_000_000) return fail(`'${p}': token ${JSON.stringify(t)} has id ${String(id)}`);
    byId.set(id, [t, TokenType.NORMAL]);
  }
  for (const a of Array.isArray(j.added_tokens) ? j.added_tokens : []) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string' || a.id < 0 || a.id > 10_000_000) continue;
    byId.set(a.id, [a.content, a.special ? TokenType.CONTROL : TokenType.USER_DEFINED]);
  }
  let maxId = -1;
  for (const k of byId.keys()) if (k > maxId) maxId = k;
  const n = Math.max(nVocab, maxId + 1);
  const tokens: string[] = [], types: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = byId.get(i);
    tokens.push(e ? e[0] : `[PAD${i}]`);
    types.push(e ? e[1] : TokenType.USER_DEFINED);
  }
  const merges = (Array.isArray(m.merges) ? m.merges : []).map((x: unknown) => (Array.isArray(x) ? x.join(' ') : String(x)));
  let tc: Record<string, unknown> = {};
  const tcp = path.join(dir, 'tokenizer_config.json');
  if (fs.existsSync(tcp)) { try { const v = JSON.parse(fs.readFileSync(tcp, 'utf8')); if (isObj(v)) tc = v; } catch { /* optional file */ } }
  const ids = new Map(tokens.map((t, i) => [t, i] as const));
  const tokId = (k: string): number | undefined => {
    const v = tc[k];
    const s = typeof v === 'string' ? v : isObj(v) && typeof v.content === 'string' ? v.content : undefined;
    if (s !== undefined && ids.has(s)) return ids.get(s);
    const c = config[`${k}_id`];
    return typeof c === 'number' ? c : undefined;
  };
  return new Tokenizer({
    model: 'gpt2', pre: PRE_BY_ARCH[arch], tokens, types, merges,
    bos: tokId('bos_token'), eos: tokId('eos_token'), pad: tokId('pad_token'),
    // Llama 3 adds BOS through its post-processor rather than add_bos_token (llama.cpp adds it too)
    addBos: typeof tc.add_bos_token === 'boolean' ? tc.add_bos_token : arch === 'llama' && tokId('bos_token') !== undefined,
    addEos: typeof tc.add_eos_token === 'boolean' ? tc.add_eos_token : false,
    chatTemplate: typeof tc.chat_template === 'string' ? tc.chat_template : undefined,
  });
}
