// Model: a loaded model (Config, Weights, tokenizer, the KV-cache State) with evaluate /
// generate / complete / chat / embed. The forward pass (lib/models/forward.ts) runs its
// kernels through the budgeted executor: every kernel that would hold the event loop past
// its budget (opts.eventLoopBudgetMs) runs as native async work on the addon's executor
// thread, and generation (lib/generate) yields between tokens, so timers and I/O keep
// running during a long prefill as during decode.
import { GgufFile, GgufReadOptions, readGguf } from '../formats/gguf';
import { Tensor } from '../tensor';
import { Tokenizer, TokenizeOptions } from '../tokenizer';
import { ChatMessage, CHATML_TEMPLATE, renderChat } from '../tokenizer/chat';
import { checkOptionKeys } from '../check';
import { ForwardAborted } from '../exec/exec';
import { GenerateOptions, GeneratedPiece, GenerationHost, GenerationStats, checkGenerateOptions, generateTokens } from '../generate/generate';
import { Config, readConfig } from './config';
import { Weights, layoutCopyBytes, layoutWeights, loadWeights } from './weights';
import { availableMemory, formatBytes, parseByteSize } from '../system-memory';
import { State, disposeState, newState, shiftContext, truncateState } from './state';
import { LayerAttention } from './family';
import { decode, forward } from './forward';
import { ToolChatEvent, ToolChatOptions, ToolChatResult, chatWithTools, chatWithToolsStream } from '../grammar/tools';
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
   * Repack Q4_0 / Q8_0 / Q4_K / Q6_K projections for the decode GEMV (default true): faster
   * decode, at the price of copying those weights out of the mmap at load.
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
   * The memory load() may use for its copies of the weights (bytes, or a string such as '6GB').
   * Default: what the system gives this process, read at load: MemAvailable, bounded by the
   * memory cgroup's limit (v1 or v2) less its usage plus reclaimable page cache. When the
   * repacked and fused copies of a memory-mapped model would not fit in it (with 10% and
   * 256 MiB left over for the KV cache and activations), nothing is copied: the model runs
   * zero-copy from the mapping (slower decode, but never OOM-killed), and load() says so in
   * one line (a process warning, code FUSELM_ZERO_COPY). An explicit `repack: true` or
   * `fuse: true` copies regardless.
   */
  memoryLimit?: number | string;
  /**
   * How long (ms) the forward pass may hold the event loop (default 4): a kernel that would
   * take it past this runs as native async work while the event loop runs; shorter ones
   * run inline, which is cheaper (see ForwardOptions.budgetMs). 0: every kernel async.
   * Infinity: every kernel inline (no async round trips; the event loop waits for each
   * forward pass).
   */
  eventLoopBudgetMs?: number;
  /**
   * Record the decode step (one token through every layer) once and replay it for each
   * generated token (default true): one native call a token instead of ~10 a layer, each of
   * which pays its JavaScript wrapper and argument checks. Same logits, bit for bit. false:
   * every token runs the kernels one by one (e.g. to compare).
   */
  decodeReplay?: boolean;
  /** diagnostics: called with each MoE layer's router logits f32 [T, E] and the position of row 0 */
  onRouter?: (layer: number, pos0: number, logits: Tensor) => void;
}

/** Every key LoadOptions has (an options object with another key is a TypeError). */
export const LOAD_OPTIONS: readonly (keyof LoadOptions)[] = [
  'mmap', 'readFallback', 'quantize', 'permute', 'tokenizer', 'tokenizerSpaces', 'kvDtype', 'attention', 'maxBatch',
  'repack', 'fuse', 'memoryLimit', 'eventLoopBudgetMs', 'decodeReplay', 'onRouter',
];

export interface EvaluateOptions {
  logits?: 'all' | 'last';
  /** start from an empty context instead of appending (default true) */
  reset?: boolean;
}

/** Every key EvaluateOptions has. */
export const EVALUATE_OPTIONS: readonly (keyof EvaluateOptions)[] = ['logits', 'reset'];

export type { GenerateOptions, GeneratedPiece, GenerationStats };

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

/** Every key EmbedOptions has. */
export const EMBED_OPTIONS: readonly (keyof EmbedOptions)[] = ['pooling', 'normalize', 'tokenize', 'signal'];

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
    checkOptionKeys(opts, LOAD_OPTIONS, 'opts', 'load');
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
    const laid = layoutWeights(this.weights, this.layoutFor(opts));
    this.weights = laid.weights;
    if (laid.copied > 0) this.mapped = false;
    if (this.tokenizer.vocabSize !== this.config.vocabSize) {
      throw new RangeError(`model: the tokenizer has ${this.tokenizer.vocabSize} tokens but the model ${this.config.vocabSize}`);
    }
  }

  /**
   * The layout options load() uses: the caller's, except that a mapped model whose copies would
   * not fit in the memory this process may use stays zero-copy (see LoadOptions.memoryLimit).
   */
  private layoutFor(opts: LoadOptions): { repack?: boolean; fuse?: boolean } {
    const want = { repack: opts.repack, fuse: opts.fuse };
    const limit = opts.memoryLimit === undefined ? undefined : parseByteSize(opts.memoryLimit, 'opts.memoryLimit', 'load');
    if (!this.mapped || (opts.repack !== undefined && opts.fuse !== undefined)) return want;
    const copy = layoutCopyBytes(this.weights, want);
    if (copy === 0) return want;
    const avail = limit !== undefined ? { bytes: limit, boundBy: 'memoryLimit' } : availableMemory();
    const room = avail.bytes - Math.max(0.1 * avail.bytes, 256 * 2 ** 20);
    if (copy <= room) return want;
    const kept = { repack: opts.repack ?? false, fuse: opts.fuse ?? false };
    const left = layoutCopyBytes(this.weights, kept);
    process.emitWarning(`load: ${this.file?.source ?? 'the model'}: repacking and fusing would copy ${formatBytes(copy)} but ${formatBytes(avail.bytes)} `
      + `is available (${avail.boundBy}): running zero-copy from the mapping${left ? ` (copying ${formatBytes(left)} as asked)` : ''}`, { code: 'FUSELM_ZERO_COPY' });
    return kept;
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
    truncateState(this.ensureState(), n);
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
      budgetMs: this.opts.eventLoopBudgetMs ?? 4, signal, replay: this.opts.decodeReplay ?? true,
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
    // chunks of maxBatch; with 'all', each chunk's rows are copied out as they come (a one-token
    // chunk's logits are a view of the decode replay's output, which the next one overwrites)
    const V = this.config.vocabSize;
    const out = logits === 'all' ? Tensor.zeros([tokens.length, V]) : undefined;
    let last: Tensor | undefined;
    for (let i = 0; i < tokens.length; i += mb) {
      const chunk = tokens.slice(i, i + mb);
      const lastChunk = i + mb >= tokens.length;
      last = await pass(chunk, logits);
      if (out) new Float32Array(out.buffer, out.byteOffset + 4 * i * V, chunk.length * V).set(new Float32Array(last.buffer, last.byteOffset, chunk.length * V));
      if (!lastChunk) await yieldNow();
    }
    return out ?? last!;
  }

  /**
   * Runs the model over `tokens` (teacher forcing) and returns logits: one
   * Float32Array per position ('all') or the last position's ('last').
   */
  async evaluate(tokens: readonly number[], opts: EvaluateOptions = {}): Promise<Float32Array[]> {
    this.check('evaluate');
    checkOptionKeys(opts, EVALUATE_OPTIONS, 'opts', 'Model.evaluate');
    if (!Array.isArray(tokens) || tokens.length === 0) throw new TypeError('Model.evaluate: Expected a non-empty array of token ids for tokens');
    const mode = opts.logits ?? 'last';
    if (mode !== 'all' && mode !== 'last') throw new TypeError(`Model.evaluate: Expected 'all' or 'last' for opts.logits but received ${String(mode)}`);
    this.busy = true;
    try {
      if (opts.reset ?? true) this.truncate(0);
      const lg = await this.run(tokens, mode);
      // one copy per row, out of the logits (possibly a view of the decode replay's output)
      const V = this.config.vocabSize;
      const all = new Float32Array(lg.buffer, lg.byteOffset, lg.numel);
      return Array.from({ length: lg.numel / V }, (_, i) => all.slice(i * V, (i + 1) * V));
    } finally {
      this.busy = false;
    }
  }

  /** Streams generated pieces. The KV cache of the common prefix with the previous call is reused. */
  async *generate(prompt: string | readonly number[], opts: GenerateOptions = {}): AsyncGenerator<GeneratedPiece, void, void> {
    this.check('generate');
    checkGenerateOptions(opts, 'generate');
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
      yield* generateTokens(this.host(), tokens, opts, stats);
    } finally {
      stats.prefillTokensPerSec = stats.prefillMs > 0 ? ((stats.promptTokens - stats.reusedTokens) * 1000) / stats.prefillMs : 0;
      stats.decodeTokensPerSec = stats.decodeMs > 0 ? (stats.generatedTokens * 1000) / stats.decodeMs : 0;
      if (this.timings) stats.kernels = { ...this.timings };
      this.busy = false;
    }
  }

  /** The model as the generation loop sees it. */
  private host(): GenerationHost {
    const s = this.ensureState();
    return {
      tokenizer: this.tokenizer,
      ctxLen: this.config.ctxLen,
      cached: () => s.tokens,
      truncate: (n) => truncateState(s, n),
      shift: (keep, discard) => shiftContext(this.config, this.weights, s, keep, discard),
      run: (tokens, signal) => this.run(tokens, 'last', signal),
    };
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
    checkOptionKeys(opts, EMBED_OPTIONS, 'opts', fn);
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
        const v = new Float32Array(h.buffer, h.byteOffset, h.numel); // read at once: no copy
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
      disposeState(s);
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
    checkGenerateOptions(opts, 'complete');
    let out = '';
    for await (const p of this.generate(prompt, opts)) out += p.text;
    return out;
  }

  /** Renders the chat template and completes the assistant's turn; the KV cache of earlier turns is reused. */
  async chat(messages: readonly ChatMessage[], opts: GenerateOptions = {}): Promise<string> {
    checkGenerateOptions(opts, 'chat');
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
    checkGenerateOptions(opts, 'chatStream');
    yield* this.generate(this.chatTokens(messages), opts);
  }

  /**
   * One assistant turn with tools (the Qwen / Hermes <tool_call> format): its text and the
   * parsed calls; toolChoice 'required' / { name } forces well-formed calls by a grammar.
   * Feed results back as { role: 'tool', content } after toolCallMessage(calls).
   */
  chatWithTools(messages: readonly ChatMessage[], opts: ToolChatOptions): Promise<ToolChatResult> {
    this.check('chatWithTools');
    return chatWithTools(this, messages, opts);
  }

  /** chatWithTools streamed: content deltas, each call's JSON deltas, then each call parsed. */
  chatWithToolsStream(messages: readonly ChatMessage[], opts: ToolChatOptions): AsyncGenerator<ToolChatEvent, void, void> {
    this.check('chatWithToolsStream');
    return chatWithToolsStream(this, messages, opts);
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
    if (this.state) disposeState(this.state);
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
  checkOptionKeys(opts, LOAD_OPTIONS, 'opts', 'load');
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
