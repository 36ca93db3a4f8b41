// Generation: the loop from a prompt to streamed pieces of text. Prefill (reusing the KV
// cache of the prefix shared with the previous call), then one token at a time: sample from
// the logits, decode its text, hold back what could begin a stop string, make room by a
// context shift when the context is full, and feed the token back.
import { Tensor } from '../tensor';
import { Tokenizer, TokenizeOptions } from '../tokenizer';
import { checkKeys } from '../check';
import { ForwardAborted } from '../exec/exec';
import { SAMPLER_OPTIONS, Sampler, SamplerOptions } from './sampler';
import { resolveGrammar } from '../grammar/constraint';

export interface GenerateOptions extends SamplerOptions {
  /** default 128 */
  maxTokens?: number;
  /** stop strings: generation ends before the first occurrence */
  stop?: string | readonly string[];
  signal?: AbortSignal;
  /** tokenizer options for a string prompt */
  tokenize?: TokenizeOptions;
  /** keep the KV cache of the longest common prefix with the previous call (default true) */
  reuseCache?: boolean;
  /**
   * When the context fills up while generating (default true): drop half of the cached tokens after
   * the first `keepTokens`, as llama.cpp's context shift does (the later keys are rotated to their
   * new positions; see shiftContext), and go on. false: a RangeError at the context length.
   */
  contextShift?: boolean;
  /** tokens at the start a context shift never drops (default: 1 when the sequence starts with BOS, else 0) */
  keepTokens?: number;
  /**
   * the output must be a JSON document this JSON Schema accepts (compiled to a grammar; a
   * keyword it cannot enforce is an error naming it). At most one of grammar, jsonSchema, json.
   */
  jsonSchema?: unknown;
  /** true: the output is a JSON object */
  json?: boolean;
}

/** Every key GenerateOptions has (an options object with another key is a TypeError). */
export const GENERATE_OPTIONS: readonly (keyof GenerateOptions)[] = [
  ...SAMPLER_OPTIONS, 'maxTokens', 'stop', 'signal', 'tokenize', 'reuseCache', 'contextShift', 'keepTokens', 'jsonSchema', 'json',
];

/** checkKeys of a GenerateOptions, for `fn` (generate, complete, chat, chatStream). */
export function checkGenerateOptions(opts: GenerateOptions | undefined, fn: string): void {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null)) throw new TypeError(`${fn}: Expected an options object for opts but received ${String(opts)}`);
  checkKeys(opts, GENERATE_OPTIONS, 'opts', fn);
}

export interface GeneratedPiece {
  token: number;
  text: string;
}

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  /** tokens of the prompt served from the KV cache */
  reusedTokens: number;
  /** tokens dropped from the context by context shifts */
  shiftedTokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  /** per-kernel milliseconds, when load() was given { profile: true } or generate() recorded them */
  kernels?: Record<string, number>;
  /**
   * why generation ended: an end-of-generation token, a stop string, maxTokens, the grammar
   * complete (nothing more could follow), or the signal. With a grammar, 'maxTokens' means
   * the output is cut short of it.
   */
  stopReason?: 'eog' | 'stop' | 'maxTokens' | 'grammar' | 'abort';
}

/** What the loop needs of a model: its sequence state and a forward pass. */
export interface GenerationHost {
  readonly tokenizer: Tokenizer;
  readonly ctxLen: number;
  /** tokens the KV cache holds */
  cached(): readonly number[];
  /** drops the cached tokens beyond the first n */
  truncate(n: number): void;
  /** context shift: drops cached tokens [keep, keep + discard) */
  shift(keep: number, discard: number): void;
  /** appends `tokens`; the last position's logits f32 [1, vocab], valid until the next call */
  run(tokens: readonly number[], signal?: AbortSignal): Promise<Tensor>;
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** The last row of logits [rows, V] as a view (no copy: the sampler reads it at once). */
function lastRow(t: Tensor): Float32Array {
  const V = t.shape[t.ndim - 1];
  return new Float32Array(t.buffer, t.byteOffset + 4 * (t.numel - V), V);
}

/** The generation loop over `tokens` (the prompt's ids); fills `stats` as it goes. */
export async function* generateTokens(host: GenerationHost, tokens: readonly number[], opts: GenerateOptions, stats: GenerationStats): AsyncGenerator<GeneratedPiece, void, void> {
  const maxTokens = opts.maxTokens ?? 128;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`generate: Expected integer >= 0 for opts.maxTokens but received ${maxTokens}`);
  const so: SamplerOptions = {};
  for (const k of SAMPLER_OPTIONS) if (k !== 'grammar' && opts[k] !== undefined) so[k] = opts[k];
  so.grammar = resolveGrammar(opts, host.tokenizer, 'generate');
  const sampler = new Sampler(so, host.tokenizer);
  const stops = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : [...opts.stop];
  const keepOpt = opts.keepTokens;
  if (keepOpt !== undefined && (!Number.isInteger(keepOpt) || keepOpt < 0)) throw new RangeError(`generate: Expected integer >= 0 for opts.keepTokens but received ${keepOpt}`);
  const tk = host.tokenizer, ctx = host.ctxLen;
  // reuse the longest common prefix (at least one token must be evaluated to get logits)
  const cached = host.cached();
  let common = 0;
  if (opts.reuseCache ?? true) {
    while (common < cached.length && common < tokens.length - 1 && cached[common] === tokens[common]) common++;
  }
  host.truncate(common);
  stats.reusedTokens = common;
  const history = [...tokens];
  // an abort stops a pass between kernels (a long prefill too); the tokens it had not finished are dropped
  const step = async (toks: readonly number[]): Promise<Tensor | undefined> => {
    const seq = host.cached(), n = seq.length;
    if (n + toks.length > ctx && (opts.contextShift ?? true) && toks.length < ctx) {
      const keep = Math.min(keepOpt ?? (tk.bos !== undefined && seq[0] === tk.bos ? 1 : 0), n);
      const discard = Math.min(n - keep, Math.max(n + toks.length - ctx, Math.floor((n - keep) / 2)));
      if (discard > 0 && n + toks.length - discard <= ctx) {
        host.shift(keep, discard);
        stats.shiftedTokens += discard;
      }
    }
    try {
      return await host.run(toks, opts.signal);
    } catch (e) {
      if (e instanceof ForwardAborted) return undefined;
      throw e;
    }
  };
  let t0 = performance.now();
  let lg = await step(tokens.slice(common));
  stats.prefillMs = performance.now() - t0;
  if (!lg) return;
  const dec = tk.decoder();
  let text = '';
  let emitted = 0;
  t0 = performance.now();
  stats.stopReason = 'maxTokens';
  try {
    for (let i = 0; i < maxTokens; i++) {
      if (opts.signal?.aborted) { stats.stopReason = 'abort'; break; }
      const next = sampler.sample(lastRow(lg), history);
      if (tk.isEog(next)) { stats.stopReason = 'eog'; break; }
      history.push(next);
      stats.generatedTokens++;
      text += dec.push(next);
      // hold back text that could be the start of a stop string
      const hit = stops.map((st) => text.indexOf(st, Math.max(0, emitted - st.length))).filter((x) => x >= 0);
      if (hit.length) {
        const cut = Math.min(...hit);
        if (cut > emitted) yield { token: next, text: text.slice(emitted, cut) };
        stats.stopReason = 'stop';
        break;
      }
      let safe = text.length;
      for (const st of stops) for (let k = Math.min(st.length - 1, text.length); k > 0; k--) {
        if (st.startsWith(text.slice(text.length - k))) { safe = Math.min(safe, text.length - k); break; }
      }
      const piece = text.slice(emitted, Math.max(emitted, safe));
      emitted += piece.length;
      yield { token: next, text: piece };
      // the grammar is complete: nothing but an end of generation could follow
      if (sampler.grammarComplete) { stats.stopReason = 'grammar'; break; }
      if (i + 1 >= maxTokens) break;
      await yieldNow();
      if (opts.signal?.aborted) { stats.stopReason = 'abort'; break; }
      lg = await step([next]);
      if (!lg) { stats.stopReason = 'abort'; break; }
    }
  } finally {
    stats.decodeMs = performance.now() - t0;
  }
}
