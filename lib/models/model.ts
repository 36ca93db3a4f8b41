// Model: a loaded GGUF model (mmap'd weights, tokenizer, KV caches) with
// evaluate / generate / complete / chat. The forward pass calls one native
// kernel at a time; every kernel that would hold the event loop past its budget
// (opts.eventLoopBudgetMs) runs as native async work on the addon's executor
// thread, and generation yields between tokens, so timers and I/O keep running
// during a long prefill as during decode.
import { GgufFile, GgufReadOptions, readGguf } from '../formats/gguf';
import { Tensor } from '../tensor';
import { Tokenizer, TokenizeOptions } from '../tokenizer';
import { ChatMessage, CHATML_TEMPLATE, renderChat } from '../tokenizer/chat';
import { Config, readConfig } from './config';
import { Sampler, SamplerOptions } from './sampler';
import { ForwardAborted, LayerAttention, State, Weights, decode, forward, fuseWeights, loadWeights, newState, repackWeights, shiftContext } from './transformer';
import { HfWeightOptions, hfTensorSource, readHf } from './hf';
import { tokenizerFromHf } from '../tokenizer/hf';
import * as fs from 'fs';

export interface LoadOptions extends GgufReadOptions, HfWeightOptions {
  /**
   * the tokenizer, when the model file has none fuselm can read (an HF checkpoint whose
   * tokenizer.json is neither byte-level BPE nor SentencePiece-style BPE with byte fallback),
   * e.g. `Tokenizer.fromGguf(readGguf('same-model.gguf'))`
   */
  tokenizer?: Tokenizer;
  /**
   * an HF checkpoint's SentencePiece-style tokenizer.json with a Metaspace pre-tokenizer: where
   * the '▁' prefix goes. 'llama.cpp' (default): as llama.cpp tokenizes the GGUF converted from it;
   * 'hf': as HF tokenizers does (no second '▁' before a leading space; prepend_scheme "first": none
   * after a special token). See tokenizerFromHfJson.
   */
  tokenizerSpaces?: 'llama.cpp' | 'hf';
  /** KV cache element type (default 'f16') */
  kvDtype?: 'f16' | 'f32' | 'int8';
  /** per-layer attention: dense (undefined) or options for the attention kernel's sparse forms */
  attention?: (layer: number) => LayerAttention;
  /**
   * Most tokens per forward pass (llama.cpp's ubatch; default: all at once). With 8 or fewer,
   * every matmul takes the decode path: activations quantized to the weight format's dot
   * partner (q8_0 / q8_K) and int8 dot products, the same arithmetic as llama.cpp's CPU
   * backend; larger batches run the GEMM (faster prefill; the same int8 arithmetic for
   * quantized weights, up to f32 summation order).
   */
  maxBatch?: number;
  /**
   * Repack Q4_0 / Q8_0 / Q4_K / Q6_K projections for the decode GEMV (default true): 2-3x faster
   * decode on AVX-512, at the price of copying those weights out of the mmap at load.
   * `false` keeps every weight zero-copy in the GGUF layout.
   */
  repack?: boolean;
  /**
   * fuse each layer's q/k/v projections (and a dense FFN's gate/up) into one matrix at load
   * (default true): a decoded token then runs one GEMV for them instead of three (two), which
   * matters most for small models and several threads (fewer native calls and pool hand-offs).
   * Same outputs; weights still in the mmap are copied out once.
   */
  fuse?: boolean;
  /**
   * How long (ms) the forward pass may hold the event loop (default 4): a kernel that would
   * take it past this runs as native async work while the event loop runs; shorter ones
   * run inline, which is cheaper (see ForwardOptions.budgetMs). 0: every kernel async.
   * Infinity: every kernel inline (no async round trips; the event loop waits for each
   * forward pass).
   */
  eventLoopBudgetMs?: number;
  /**
   * Record the decode step (one token through every layer) once as a native graph and replay
   * it for each generated token (default true): one native call a token instead of ~10 a
   * layer, each of which pays its JavaScript wrapper and argument checks. Same logits, bit for
   * bit. false: every token runs the kernels one by one (e.g. to compare).
   */
  decodeGraph?: boolean;
  /** diagnostics: called with each MoE layer's router logits f32 [T, E] and the position of row 0 */
  onRouter?: (layer: number, pos0: number, logits: Tensor) => void;
}

export interface EvaluateOptions {
  logits?: 'all' | 'last';
  /** start from an empty context instead of appending (default true) */
  reset?: boolean;
}

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
}

export interface EmbedOptions {
  /**
   * how the tokens' final hidden states (after the output RMSNorm, llama.cpp's result_norm)
   * become one vector: 'mean' over the tokens, the 'last' token's, or the first token's ('cls').
   * Default: the file's pooling_type when it is one of these, else 'last' (decoder embedding
   * models such as Qwen3-Embedding pool the last token)
   */
  pooling?: 'mean' | 'last' | 'cls';
  /** scale to unit L2 norm (default true) */
  normalize?: boolean;
  /** tokenizer options for a string input */
  tokenize?: TokenizeOptions;
  signal?: AbortSignal;
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
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** A model assembled by a loader other than GGUF's (or by hand, in tests). */
export interface ModelParts {
  config: Config;
  weights: Weights;
  tokenizer: Tokenizer;
  /** where it came from, for messages */
  source?: string;
  /** true when the weights are mmap'd */
  mapped?: boolean;
}

export class Model {
  readonly config: Config;
  readonly tokenizer: Tokenizer;
  /** the GGUF file, when loaded from one */
  readonly file: GgufFile | undefined;
  readonly weights: Weights;
  /** true when the weights are mmap'd from the file */
  readonly mapped: boolean;
  /** stats of the last generate() */
  lastStats: GenerationStats | undefined;
  /** when set, forward passes add per-kernel milliseconds here */
  timings: Record<string, number> | undefined;
  private state: State | undefined;
  private readonly opts: LoadOptions;
  private busy = false;
  #disposed = false;

  constructor(src: GgufFile | ModelParts, opts: LoadOptions = {}) {
    this.opts = opts;
    if (opts.maxBatch !== undefined && (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1)) {
      throw new RangeError(`load: Expected integer >= 1 for opts.maxBatch but received ${String(opts.maxBatch)}`);
    }
    const b = opts.eventLoopBudgetMs;
    if (b !== undefined && (typeof b !== 'number' || Number.isNaN(b) || b < 0)) {
      throw new RangeError(`load: Expected a number >= 0 (or Infinity) for opts.eventLoopBudgetMs but received ${String(b)}`);
    }
    if ('weights' in src) {
      this.file = undefined;
      this.config = src.config;
      this.tokenizer = src.tokenizer;
      this.weights = src.weights;
      this.mapped = src.mapped ?? false;
    } else {
      this.file = src;
      this.config = readConfig(src);
      this.tokenizer = opts.tokenizer ?? Tokenizer.fromGguf(src);
      this.weights = loadWeights(src, this.config);
      this.mapped = src.mapped;
    }
    if (opts.repack !== false) {
      const r = repackWeights(this.weights);
      this.weights = r.weights;
      if (r.count > 0) this.mapped = false;
    }
    if (opts.fuse !== false) {
      const r = fuseWeights(this.weights);
      this.weights = r.weights;
      if (r.count > 0) this.mapped = false;
    }
    if (this.tokenizer.vocabSize !== this.config.vocabSize) {
      throw new RangeError(`model: the tokenizer has ${this.tokenizer.vocabSize} tokens but the model ${this.config.vocabSize}`);
    }
  }

  get disposed(): boolean { return this.#disposed; }

  private check(fn: string): void {
    if (this.#disposed) throw new Error(`Model.${fn}: the model is disposed`);
    if (this.busy) throw new Error(`Model.${fn}: another evaluate/generate is running on this model; await it first`);
  }

  private ensureState(): State {
    if (!this.state) this.state = newState(this.config, this.opts.kvDtype ?? 'f16');
    return this.state;
  }

  /** Drops cached tokens beyond the first `n`. */
  private truncate(n: number): void {
    const s = this.ensureState();
    if (n >= s.tokens.length) return;
    for (const c of s.caches) c.truncate(n);
    s.tokens.length = n;
  }

  private async run(tokens: readonly number[], logits: 'all' | 'last', signal?: AbortSignal): Promise<Tensor> {
    const s = this.ensureState();
    if (s.tokens.length + tokens.length > this.config.ctxLen) {
      throw new RangeError(`Model: ${s.tokens.length + tokens.length} tokens exceed the context length ${this.config.ctxLen}`);
    }
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) {
        throw new RangeError(`Model: Expected token ids in [0, ${this.config.vocabSize - 1}] for tokens but received ${t}`);
      }
    }
    const fo = {
      attention: this.opts.attention, timings: this.timings, onRouter: this.opts.onRouter,
      budgetMs: this.opts.eventLoopBudgetMs ?? 4, signal, graph: this.opts.decodeGraph ?? true,
    };
    const pass = async (chunk: readonly number[], mode: 'all' | 'last'): Promise<Tensor> => {
      try {
        if (chunk.length === 1) return await decode(this.config, this.weights, s, chunk[0], { logits: mode, ...fo });
        return await forward(this.config, this.weights, s, chunk, { logits: mode, ...fo });
      } catch (e) {
        // a pass that failed part way (e.g. the model was disposed meanwhile) leaves no half-appended token
        if (!this.#disposed) for (const c of s.caches) if (c.length > s.tokens.length) c.truncate(s.tokens.length);
        if (this.#disposed) throw new Error('Model: the model was disposed during evaluate/generate');
        throw e;
      }
    };
    const mb = this.opts.maxBatch ?? tokens.length;
    if (tokens.length <= mb) return pass(tokens, logits);
    const parts: Tensor[] = [];
    for (let i = 0; i < tokens.length; i += mb) {
      const chunk = tokens.slice(i, i + mb);
      const lastChunk = i + mb >= tokens.length;
      const lg = await pass(chunk, logits === 'all' ? 'all' : 'last');
      if (logits === 'all' || lastChunk) parts.push(lg);
      if (!lastChunk) await yieldNow();
    }
    if (parts.length === 1) return parts[0];
    const V = this.config.vocabSize;
    const rows = parts.reduce((a, p) => a + p.shape[0], 0);
    const out = Tensor.zeros([rows, V]);
    const dst = new Float32Array(out.buffer, out.byteOffset, rows * V);
    let r = 0;
    for (const p of parts) { dst.set(new Float32Array(p.buffer, p.byteOffset, p.shape[0] * V), r * V); r += p.shape[0]; }
    return out;
  }

  /**
   * Runs the model over `tokens` (teacher forcing) and returns logits: one
   * Float32Array per position ('all') or the last position's ('last').
   */
  async evaluate(tokens: readonly number[], opts: EvaluateOptions = {}): Promise<Float32Array[]> {
    this.check('evaluate');
    if (!Array.isArray(tokens) || tokens.length === 0) throw new TypeError('Model.evaluate: Expected a non-empty array of token ids for tokens');
    const mode = opts.logits ?? 'last';
    if (mode !== 'all' && mode !== 'last') throw new TypeError(`Model.evaluate: Expected 'all' or 'last' for opts.logits but received ${String(mode)}`);
    this.busy = true;
    try {
      if (opts.reset ?? true) this.truncate(0);
      const lg = await this.run(tokens, mode);
      const V = this.config.vocabSize;
      const all = lg.toArray() as Float32Array;
      const rows = all.length / V;
      return Array.from({ length: rows }, (_, i) => all.slice(i * V, (i + 1) * V));
    } finally {
      this.busy = false;
    }
  }

  /** Streams generated pieces. The KV cache of the common prefix with the previous call is reused. */
  async *generate(prompt: string | readonly number[], opts: GenerateOptions = {}): AsyncGenerator<GeneratedPiece, void, void> {
    this.check('generate');
    const maxTokens = opts.maxTokens ?? 128;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`generate: Expected integer >= 0 for opts.maxTokens but received ${maxTokens}`);
    const sampler = new Sampler(opts);
    const stops = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : [...opts.stop];
    const tokens = typeof prompt === 'string' ? this.tokenizer.encode(prompt, opts.tokenize) : [...prompt];
    if (tokens.length === 0) throw new RangeError('generate: the prompt has no tokens');
    if (tokens.length > this.config.ctxLen) throw new RangeError(`generate: the prompt's ${tokens.length} tokens exceed the context length ${this.config.ctxLen}`);
    this.busy = true;
    const stats: GenerationStats = {
      promptTokens: tokens.length, generatedTokens: 0, reusedTokens: 0, shiftedTokens: 0, prefillMs: 0, decodeMs: 0,
      prefillTokensPerSec: 0, decodeTokensPerSec: 0,
    };
    this.lastStats = stats;
    try {
      const s = this.ensureState();
      // reuse the longest common prefix (at least one token must be evaluated to get logits)
      let common = 0;
      if (opts.reuseCache ?? true) {
        while (common < s.tokens.length && common < tokens.length - 1 && s.tokens[common] === tokens[common]) common++;
      }
      this.truncate(common);
      stats.reusedTokens = common;
      const history = [...tokens];
      // an abort stops a pass between kernels (a long prefill too); the tokens it had not finished are dropped
      const keepOpt = opts.keepTokens;
      if (keepOpt !== undefined && (!Number.isInteger(keepOpt) || keepOpt < 0)) throw new RangeError(`generate: Expected integer >= 0 for opts.keepTokens but received ${keepOpt}`);
      const step = async (toks: readonly number[]): Promise<Tensor | undefined> => {
        const n = s.tokens.length, ctx = this.config.ctxLen;
        if (n + toks.length > ctx && (opts.contextShift ?? true) && toks.length < ctx) {
          const keep = Math.min(keepOpt ?? (this.tokenizer.bos !== undefined && s.tokens[0] === this.tokenizer.bos ? 1 : 0), n);
          const discard = Math.min(n - keep, Math.max(n + toks.length - ctx, Math.floor((n - keep) / 2)));
          if (discard > 0 && n + toks.length - discard <= ctx) {
            shiftContext(this.config, this.weights, s, keep, discard);
            stats.shiftedTokens += discard;
          }
        }
        try {
          return await this.run(toks, 'last', opts.signal);
        } catch (e) {
          if (e instanceof ForwardAborted) return undefined;
          throw e;
        }
      };
      let t0 = performance.now();
      let lg = await step(tokens.slice(common));
      stats.prefillMs = performance.now() - t0;
      if (!lg) return;
      const dec = this.tokenizer.decoder();
      let text = '';
      let emitted = 0;
      t0 = performance.now();
      for (let i = 0; i < maxTokens; i++) {
        if (opts.signal?.aborted) break;
        const logits = lg.toArray() as Float32Array;
        const next = sampler.sample(logits, history);
        if (this.tokenizer.isEog(next)) break;
        history.push(next);
        stats.generatedTokens++;
        text += dec.push(next);
        // hold back text that could be the start of a stop string
        const hit = stops.map((st) => text.indexOf(st, Math.max(0, emitted - st.length))).filter((x) => x >= 0);
        if (hit.length) {
          const cut = Math.min(...hit);
          if (cut > emitted) yield { token: next, text: text.slice(emitted, cut) };
          break;
        }
        let safe = text.length;
        for (const st of stops) for (let k = Math.min(st.length - 1, text.length); k > 0; k--) {
          if (st.startsWith(text.slice(text.length - k))) { safe = Math.min(safe, text.length - k); break; }
        }
        const piece = text.slice(emitted, Math.max(emitted, safe));
        emitted += piece.length;
        yield { token: next, text: piece };
        if (i + 1 >= maxTokens) break;
        await yieldNow();
        if (opts.signal?.aborted) break;
        lg = await step([next]);
        if (!lg) break;
      }
      stats.decodeMs = performance.now() - t0;
    } finally {
      stats.prefillTokensPerSec = stats.prefillMs > 0 ? ((stats.promptTokens - stats.reusedTokens) * 1000) / stats.prefillMs : 0;
      stats.decodeTokensPerSec = stats.decodeMs > 0 ? (stats.generatedTokens * 1000) / stats.decodeMs : 0;
      if (this.timings) stats.kernels = { ...this.timings };
      this.busy = false;
    }
  }

  /**
   * An embedding of `input`: the final hidden states pooled (opts.pooling) and L2-normalized.
   * Runs on its own KV cache, so the generation cache (and its reuse) is untouched.
   * @example
   *   const [a, b] = [await model.embed('cats purr'), await model.embed('kittens meow')];
   *   const cos = a.reduce((s, x, i) => s + x * b[i], 0);
   */
  async embed(input: string | readonly number[], opts: EmbedOptions = {}): Promise<Float32Array> {
    this.check('embed');
    const fn = 'Model.embed';
    const pooling = opts.pooling ?? (this.config.pooling === 'mean' || this.config.pooling === 'cls' ? this.config.pooling : 'last');
    if (!['mean', 'last', 'cls'].includes(pooling)) throw new TypeError(`${fn}: Expected 'mean', 'last' or 'cls' for opts.pooling but received ${String(pooling)}`);
    if (opts.normalize !== undefined && typeof opts.normalize !== 'boolean') throw new TypeError(`${fn}: Expected a boolean for opts.normalize but received ${String(opts.normalize)}`);
    const tokens = typeof input === 'string' ? this.tokenizer.encode(input, opts.tokenize) : [...input];
    if (tokens.length === 0) throw new RangeError(`${fn}: the input has no tokens`);
    if (tokens.length > this.config.ctxLen) throw new RangeError(`${fn}: ${tokens.length} tokens exceed the context length ${this.config.ctxLen}`);
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) {
        throw new RangeError(`${fn}: Expected token ids in [0, ${this.config.vocabSize - 1}] for input but received ${t}`);
      }
    }
    const D = this.config.dim;
    const acc = new Float64Array(D);
    const s = newState(this.config, this.opts.kvDtype ?? 'f16');
    this.busy = true;
    try {
      // causal attention: the first token's state depends on it alone, so 'cls' runs one token
      const toks = pooling === 'cls' ? tokens.slice(0, 1) : tokens;
      const mb = this.opts.maxBatch ?? toks.length;
      const fo = { output: 'hidden' as const, budgetMs: this.opts.eventLoopBudgetMs ?? 4, signal: opts.signal, attention: this.opts.attention };
      for (let i = 0; i < toks.length; i += mb) {
        const chunk = toks.slice(i, i + mb);
        const h = await forward(this.config, this.weights, s, chunk, { ...fo, logits: pooling === 'mean' ? 'all' : 'last' });
        const v = h.toArray() as Float32Array;
        if (pooling === 'mean') {
          for (let r = 0; r < chunk.length; r++) for (let d = 0; d < D; d++) acc[d] += v[r * D + d];
        } else {
          for (let d = 0; d < D; d++) acc[d] = v[d]; // the chunk's last row: the last chunk's is the last token's
        }
        if (i + mb < toks.length) await yieldNow();
      }
    } catch (e) {
      if (e instanceof ForwardAborted) throw new Error(`${fn}: aborted`);
      throw e;
    } finally {
      for (const c of s.caches) c.dispose?.();
      this.busy = false;
    }
    if (pooling === 'mean') for (let d = 0; d < D; d++) acc[d] /= tokens.length;
    let scale = 1;
    if (opts.normalize ?? true) {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += acc[d] * acc[d];
      scale = ss > 0 ? 1 / Math.sqrt(ss) : 1;
    }
    return Float32Array.from(acc, (x) => x * scale);
  }

  /** The whole generated text. */
  async complete(prompt: string | readonly number[], opts: GenerateOptions = {}): Promise<string> {
    let out = '';
    for await (const p of this.generate(prompt, opts)) out += p.text;
    return out;
  }

  /** Renders the chat template and completes the assistant's turn; the KV cache of earlier turns is reused. */
  async chat(messages: readonly ChatMessage[], opts: GenerateOptions = {}): Promise<string> {
    let out = '';
    for await (const p of this.chatStream(messages, opts)) out += p.text;
    return out;
  }

  /**
   * The assistant's turn, streamed: the chat template rendered over `messages` (with the
   * generation prompt), then generate(). Earlier turns' KV cache is reused, so a conversation
   * pays only for its new tokens.
   * @example
   *   const history = [{ role: 'user', content: 'Hi' }];
   *   for await (const p of model.chatStream(history)) process.stdout.write(p.text);
   */
  async *chatStream(messages: readonly ChatMessage[], opts: GenerateOptions = {}): AsyncGenerator<GeneratedPiece, void, void> {
    this.check('chatStream');
    yield* this.generate(this.chatTokens(messages), opts);
  }

  /** The token ids of `messages` rendered with the model's chat template (ChatML when it has none). */
  chatTokens(messages: readonly ChatMessage[]): number[] {
    const tk = this.tokenizer;
    const tmpl = tk.chatTemplate ?? CHATML_TEMPLATE;
    const text = renderChat(tmpl, messages, {
      bosToken: tk.bos !== undefined ? tk.tokens[tk.bos] : '', eosToken: tk.eos !== undefined ? tk.tokens[tk.eos] : '',
    });
    return tk.encode(text, { addSpecial: !text.startsWith(tk.bos !== undefined ? tk.tokens[tk.bos] : '\u0000'), parseSpecial: true });
  }

  /**
   * Frees the KV caches and drops the mapping's references. Idempotent. During an evaluate or
   * generate, that call ends with an error, and caches in use by a kernel are freed when it ends.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.state) {
      this.state.graph?.dispose();
      for (const c of this.state.caches) c.dispose?.();
    }
    this.state = undefined;
  }

  [Symbol.dispose](): void { this.dispose(); }
}

/** true when `p` names a Hugging Face checkpoint (a directory, config.json, an index .json or a .safetensors file). */
function isHfPath(p: string): boolean {
  if (/\.(safetensors|json)$/i.test(p)) return true;
  try { return fs.statSync(p).isDirectory(); } catch { return false; }
}

/**
 * Loads a model: a GGUF file (weights mmap'd, zero-copy), or a Hugging Face checkpoint
 * (directory with config.json and safetensors, single or sharded), F32/F16/BF16 weights
 * mmap'd where they can be used as they are, or quantized on load with `opts.quantize`.
 */
export async function load(path: string, opts: LoadOptions = {}): Promise<Model> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`load: Expected a file path for path but received ${typeof path}`);
  if (!isHfPath(path)) {
    if (opts.quantize !== undefined) throw new RangeError('load: opts.quantize applies to safetensors checkpoints; quantize a GGUF with `fuselm quantize`');
    return new Model(readGguf(path, { mmap: opts.mmap, readFallback: opts.readFallback }), opts);
  }
  if (opts.tokenizerSpaces !== undefined && opts.tokenizerSpaces !== 'llama.cpp' && opts.tokenizerSpaces !== 'hf') {
    throw new RangeError(`load: Expected 'llama.cpp' or 'hf' for opts.tokenizerSpaces but received ${String(opts.tokenizerSpaces)}`);
  }
  const hf = readHf(path, opts);
  const tokenizer = opts.tokenizer ?? tokenizerFromHf(hf.dir, hf.config.arch, hf.json, { spaces: opts.tokenizerSpaces });
  const weights = loadWeights(hfTensorSource(hf.checkpoint, hf.config, hf.modelType, opts), hf.config);
  return new Model({
    config: hf.config, weights, tokenizer, source: hf.checkpoint.source, mapped: hf.checkpoint.files.every((f) => f.mapped),
  }, opts);
}
