// Model subcommands: `fuselm info`, `run`, `chat`, `quantize`, `demo`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { GgufTensorInfo, ggufPlain, ggufTensor, ggufTensorBytes, readGguf } from '../formats/gguf';
import { GgufMetaInput, GgufTensorInput, gguf, writeGguf } from '../formats/gguf-writer';
import { IMATRIX_PRESETS, QUANT_PRESETS, QuantPlanEntry, quantPlan } from '../formats/quant-plan';
import { DType, DTYPES, isDType } from '../dtype';
import { Tensor, toHalf } from '../tensor';
import { readConfig } from '../models/config';
import { load } from '../models/model';
import { ChatMessage } from '../tokenizer/chat';
import { writeSyntheticModel } from '../models/synthetic';
import { CUDA_MATMUL_DTYPES, MATMUL_WEIGHT_DTYPES, QuantFormat, dequantize, quantize as quantizeTensor, repackSupported } from '../ops/qgemm';
import { parseArgs, UsageError } from './args';
import { Command } from './command';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export const info: Command = {
  name: 'info',
  summary: 'print a GGUF model: architecture, hyperparameters, tensors, formats, memory',
  usage: `usage: fuselm info <model.gguf> [--json] [--tensors]

  --json      print as JSON
  --tensors   list every tensor (default: counts per type)`,
  run(argv) {
    const { flags, positional } = parseArgs(argv, { json: 'boolean', tensors: 'boolean', help: 'boolean' });
    if (flags.help) { process.stdout.write(info.usage + '\n'); return 0; }
    if (positional.length !== 1) throw new UsageError('expected one model path');
    const f = readGguf(positional[0]);
    let config: unknown;
    try { config = readConfig(f); } catch (e) { config = { error: (e as Error).message }; }
    // per GGUF type: how many tensors, their bytes, and what fuselm has for it (a matmul, a repacked GEMV, CUDA)
    const byType: Record<string, { count: number; bytes: number; matmul: boolean; repackedGemv: boolean; cuda: boolean }> = {};
    for (const t of f.tensors) {
      const d = t.dtype as DType | undefined;
      const e = (byType[t.typeName] ??= {
        count: 0, bytes: 0, matmul: d !== undefined && MATMUL_WEIGHT_DTYPES.includes(d),
        repackedGemv: d !== undefined && repackSupported(d), cuda: d !== undefined && CUDA_MATMUL_DTYPES.includes(d),
      });
      e.count++; e.bytes += t.byteSize;
    }
    const total = f.tensors.reduce((a, t) => a + t.byteSize, 0);
    const meta: Record<string, unknown> = {};
    for (const [k, kv] of f.metadata) {
      const v = ggufPlain(kv.value);
      meta[k] = Array.isArray(v) && v.length > 16 ? `[${v.length} items]` : typeof v === 'bigint' ? v.toString() : v;
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify({
        version: f.version, alignment: f.alignment, config, tensorBytes: total, types: byType, metadata: meta,
        tensors: flags.tensors ? f.tensors.map((t) => ({ name: t.name, type: t.typeName, shape: t.shape, bytes: t.byteSize })) : undefined,
      }, null, 2) + '\n');
      return 0;
    }
    const out: string[] = [];
    out.push(`GGUF v${f.version}, ${f.tensors.length} tensors, ${mib(total)} of weights (${f.mapped ? 'mmap' : 'read'}), alignment ${f.alignment}`);
    out.push(`config: ${JSON.stringify(config)}`);
    out.push('weight types (matmul: fuselm has kernels for it; repacked: load() repacks it for the decode GEMV; cuda: the CUDA build has it):');
    for (const [k, v] of Object.entries(byType)) {
      const yes = (b: boolean) => (b ? 'yes' : 'no ');
      out.push(`  ${k.padEnd(8)} x${String(v.count).padEnd(5)} ${mib(v.bytes).padStart(12)}  matmul ${yes(v.matmul)}  repacked ${yes(v.repackedGemv)}  cuda ${yes(v.cuda)}`);
    }
    for (const [k, v] of Object.entries(meta)) out.push(`  ${k} = ${typeof v === 'string' && v.length > 80 ? JSON.stringify(v.slice(0, 77) + '...') : JSON.stringify(v)}`);
    if (flags.tensors) for (const t of f.tensors) out.push(`  ${t.name.padEnd(32)} ${t.typeName.padEnd(6)} [${t.shape.join(', ')}] ${t.byteSize} B`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

export const run: Command = {
  name: 'run',
  summary: 'generate from a GGUF model, streaming tokens; prints prefill/decode tokens/s',
  usage: `usage: fuselm run <model.gguf> -p "prompt" [options]

  -p, --prompt <s>      the prompt
  -n, --max-tokens <n>  tokens to generate (default 64)
  --temperature <x>     0 = greedy (default 0.8)
  --top-k <n>, --top-p <x>, --min-p <x>, --repeat-penalty <x>, --seed <n>
  --chat                the prompt is a user message, rendered with the model's chat template
  --system <s>          with --chat: a system message first
  --json                print {text, tokens, prefillTokensPerSec, decodeTokensPerSec} instead of streaming`,
  async run(argv) {
    const a = argv.map((x) => (x === '-p' ? '--prompt' : x === '-n' ? '--max-tokens' : x));
    const { flags, positional } = parseArgs(a, { prompt: 'string', chat: 'boolean', system: 'string', json: 'boolean', help: 'boolean', ...SAMPLING_FLAGS });
    if (flags.help) { process.stdout.write(run.usage + '\n'); return 0; }
    if (positional.length !== 1) throw new UsageError('expected one model path');
    if (typeof flags.prompt !== 'string') throw new UsageError('-p "prompt" is required');
    if (flags.system !== undefined && !flags.chat) throw new UsageError('--system needs --chat');
    const m = await load(positional[0]);
    try {
      let text = '';
      const opts = samplingOptions(flags);
      const messages = [...(flags.system !== undefined ? [{ role: 'system', content: flags.system as string }] : []), { role: 'user', content: flags.prompt }];
      for await (const p of flags.chat ? m.chatStream(messages, opts) : m.generate(flags.prompt, opts)) {
        text += p.text;
        if (!flags.json) process.stdout.write(p.text);
      }
      const s = m.lastStats!;
      if (flags.json) {
        process.stdout.write(JSON.stringify({
          text, promptTokens: s.promptTokens, tokens: s.generatedTokens,
          prefillTokensPerSec: s.prefillTokensPerSec, decodeTokensPerSec: s.decodeTokensPerSec,
        }) + '\n');
      } else {
        process.stderr.write(`\n\nprefill: ${s.promptTokens} tokens, ${s.prefillTokensPerSec.toFixed(1)} tok/s; decode: ${s.generatedTokens} tokens, ${s.decodeTokensPerSec.toFixed(1)} tok/s\n`);
      }
    } finally {
      m.dispose();
    }
    return 0;
  },
};

export const chat: Command = {
  name: 'chat',
  summary: 'chat with a model: each line read from stdin is a user turn, the reply streams back',
  usage: `usage: fuselm chat <model.gguf | hf-checkpoint-dir> [options]

  Reads user turns, one per line, from stdin (a terminal or a pipe) until end of input,
  renders the conversation with the model's chat template and streams each reply. Earlier
  turns stay in the KV cache: a turn pays only for its new tokens. Per-turn speed on stderr.
  --system <s>          a system message first
  -n, --max-tokens <n>  tokens per reply (default 256)
  --temperature <x>     0 = greedy (default 0.8)
  --top-k <n>, --top-p <x>, --min-p <x>, --repeat-penalty <x>, --seed <n>`,
  async run(argv) {
    return chatLoop(argv, process.stdin, process.stdout, process.stderr);
  },
};

const SAMPLING_FLAGS = {
  'max-tokens': 'int', temperature: 'number', 'top-k': 'int', 'top-p': 'number', 'min-p': 'number', 'repeat-penalty': 'number', seed: 'int',
} as const;

function samplingOptions(flags: Record<string, unknown>, maxTokens = 64) {
  return {
    maxTokens: (flags['max-tokens'] as number) ?? maxTokens, temperature: flags.temperature as number | undefined,
    topK: flags['top-k'] as number | undefined, topP: flags['top-p'] as number | undefined, minP: flags['min-p'] as number | undefined,
    repeatPenalty: flags['repeat-penalty'] as number | undefined, seed: flags.seed as number | undefined,
  };
}

/** `fuselm chat` over any streams (the command passes stdin/stdout/stderr; tests pass their own). */
export async function chatLoop(argv: string[], input: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const a = argv.map((x) => (x === '-n' ? '--max-tokens' : x));
  const { flags, positional } = parseArgs(a, { system: 'string', help: 'boolean', ...SAMPLING_FLAGS });
  if (flags.help) { out.write(chat.usage + '\n'); return 0; }
  if (positional.length !== 1) throw new UsageError('expected one model path');
  const m = await load(positional[0]);
  try {
    const opts = samplingOptions(flags, 256);
    const history: ChatMessage[] = flags.system !== undefined ? [{ role: 'system', content: flags.system as string }] : [];
    const lines = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      history.push({ role: 'user', content: line });
      let reply = '';
      for await (const p of m.chatStream(history, opts)) { reply += p.text; out.write(p.text); }
      out.write('\n');
      history.push({ role: 'assistant', content: reply });
      const s = m.lastStats!;
      err.write(`[${s.promptTokens} prompt tokens, ${s.reusedTokens} from the cache, prefill ${s.prefillTokensPerSec.toFixed(1)} tok/s; `
        + `${s.generatedTokens} tokens, decode ${s.decodeTokensPerSec.toFixed(1)} tok/s]\n`);
    }
  } finally {
    m.dispose();
  }
  return 0;
}

const FORMATS = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4', 'iq4_xs', 'q3_k', 'q2_k'];

export const quantize: Command = {
  name: 'quantize',
  summary: "rewrite a GGUF model with its weights in another format, or by one of llama.cpp's presets",
  usage: `usage: fuselm quantize <in.gguf> <out.gguf> <preset|format> [--dry-run]

  preset: one of ${Object.keys(QUANT_PRESETS).join(', ')}: llama-quantize's presets, each
    tensor getting the type llama.cpp gives it (attn_v/ffn_down/output raised on some layers,
    fallbacks where a row does not fill whole blocks); the output's tensors are byte-identical
    to llama-quantize's for the same F32/F16 input. Presets that need an importance matrix
    (${IMATRIX_PRESETS.join(', ')}) are refused.
  format: one of ${FORMATS.join(', ')}: every 2-D weight in that format. Matrices whose rows do not
    fill whole blocks of the format, norms and biases (1-D) keep their type.
  --dry-run   print the plan (tensor, from -> to, MiB) and the total; write nothing.
  Metadata is copied unchanged (a preset also sets general.file_type).`,
  run(argv) {
    const { flags, positional } = parseArgs(argv, { help: 'boolean', 'dry-run': 'boolean' });
    if (flags.help) { process.stdout.write(quantize.usage + '\n'); return 0; }
    if (positional.length !== 3) throw new UsageError('expected <in.gguf> <out.gguf> <preset|format>');
    const [src, dst, fmt] = positional;
    const isPreset = fmt in QUANT_PRESETS;
    if (IMATRIX_PRESETS.includes(fmt)) throw new UsageError(`preset ${fmt} needs an importance matrix, which fuselm does not compute; presets: ${Object.keys(QUANT_PRESETS).join(', ')}`);
    if (!isPreset && (!isDType(fmt) || !FORMATS.includes(fmt))) {
      throw new UsageError(`expected a preset (${Object.keys(QUANT_PRESETS).join(', ')}) or a format (${FORMATS.join(', ')}), got '${fmt}'`);
    }
    if (path.resolve(src) === path.resolve(dst)) throw new UsageError('the output must be another file than the input');
    const f = readGguf(src);
    const toF32 = (t: GgufTensorInfo): Tensor => {
      const x = ggufTensor(f, t);
      if (x.dtype === 'f32') return x;
      if (x.dtype === 'f16' || x.dtype === 'bf16') return Tensor.from(x.toArray() as Float32Array, x.shape);
      return dequantize(x);
    };
    let plan: QuantPlanEntry[];
    if (isPreset) plan = quantPlan(f, fmt);
    else {
      const target = fmt as DType;
      const blk = DTYPES[target].blockElems;
      plan = f.tensors.map((t) => {
        const convert = !(t.shape.length < 2 || t.ne[0] % blk !== 0 || !t.dtype || t.dtype === target);
        const bytes = convert ? (t.numel / blk) * DTYPES[target].blockBytes : t.byteSize;
        return { name: t.name, from: t.typeName, to: convert ? target : t.dtype ?? t.typeName, convert, bytes };
      });
    }
    if (flags['dry-run']) {
      const w = Math.max(...plan.map((e) => e.name.length));
      for (const e of plan) {
        process.stdout.write(`${e.name.padEnd(w)}  ${e.from.padEnd(6)} -> ${String(e.to).toUpperCase().padEnd(6)}  ${(e.bytes / 2 ** 20).toFixed(3).padStart(10)} MiB\n`);
      }
      const before = f.tensors.reduce((a, t) => a + t.byteSize, 0), after = plan.reduce((a, e) => a + e.bytes, 0);
      process.stdout.write(`total: ${(before / 2 ** 20).toFixed(2)} MiB -> ${(after / 2 ** 20).toFixed(2)} MiB (${plan.filter((e) => e.convert).length} of ${plan.length} tensors converted; nothing written)\n`);
      return 0;
    }
    const byName = new Map(plan.map((e) => [e.name, e]));
    const tensors: GgufTensorInput[] = f.tensors.map((t) => {
      const raw = { name: t.name, shape: t.shape, type: t.ggmlType, data: ggufTensorBytes(f, t) };
      const e = byName.get(t.name)!;
      if (!e.convert) return raw;
      const to = e.to as DType;
      const x = toF32(t);
      if (to === 'f32') return { name: t.name, shape: t.shape, type: to, data: x };
      if (to === 'f16' || to === 'bf16') return { name: t.name, shape: t.shape, type: to, data: toHalf(x.toArray() as Float32Array, t.shape, to) };
      const cols = t.ne[0];
      const y: Tensor = quantizeTensor(x.reshape([x.numel / cols, cols]), to as QuantFormat);
      return { name: t.name, shape: t.shape, type: to, data: y.bytes() };
    });
    const metadata = new Map<string, GgufMetaInput>([...f.metadata].filter(([k]) => k !== 'general.alignment'));
    if (isPreset) {
      metadata.set('general.quantization_version', gguf.u32(2));
      metadata.set('general.file_type', gguf.u32(QUANT_PRESETS[fmt].ftype));
    }
    writeGguf(dst, { metadata, tensors, alignment: f.alignment });
    process.stdout.write(`wrote ${dst}: ${(fs.statSync(dst).size / 2 ** 20).toFixed(1)} MiB\n`);
    return 0;
  },
};

export const demo: Command = {
  name: 'demo',
  summary: 'write a small synthetic MoE model, load it, generate, print speed and a per-kernel time breakdown',
  usage: `usage: fuselm demo [--format q4_0] [--tokens 32] [--keep]

  Writes a random-weight MoE GGUF (llama arch, 8 experts, top-2) to a temp dir,
  loads it (mmap), generates, and prints prefill/decode tokens/s and where the time went.
  --format <f>   weight format (default q4_0; f32/f16 need no quantizer)
  --tokens <n>   tokens to generate (default 32)
  --keep         keep the model file and print its path`,
  async run(argv) {
    const { flags, positional } = parseArgs(argv, { format: 'string', tokens: 'int', keep: 'boolean', help: 'boolean' });
    if (flags.help) { process.stdout.write(demo.usage + '\n'); return 0; }
    if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
    const fmt = (flags.format as string | undefined) ?? 'q4_0';
    if (!FORMATS.includes(fmt)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-demo-'));
    const file = path.join(dir, `demo-moe-${fmt}.gguf`);
    try {
      let t = performance.now();
      const q = ['f32', 'f16', 'bf16'].includes(fmt) ? undefined : (x: Tensor, t: DType) => quantizeTensor(x, t as QuantFormat);
      writeSyntheticModel(file, {
        arch: 'llama', dim: 512, nLayer: 4, nHead: 8, nHeadKv: 2, ffDim: 1024, nExpert: 8, nExpertUsed: 2,
        type: fmt as DType, quantize: q, seed: 1,
      });
      process.stdout.write(`wrote ${mib(fs.statSync(file).size)} synthetic MoE (dim 512, 4 layers, 8 experts top-2, ${fmt}) in ${(performance.now() - t).toFixed(0)} ms\n`);
      t = performance.now();
      const m = await load(file);
      process.stdout.write(`loaded in ${(performance.now() - t).toFixed(1)} ms (${m.mapped ? 'mmap, zero-copy' : 'read'})\n`);
      m.timings = {};
      try {
        const text = await m.complete('The quick brown fox', { maxTokens: (flags.tokens as number) ?? 32, temperature: 0.8, seed: 1 });
        const s = m.lastStats!;
        process.stdout.write(`text: ${JSON.stringify(text)}\n`);
        process.stdout.write(`prefill ${s.promptTokens} tokens: ${s.prefillTokensPerSec.toFixed(1)} tok/s; decode ${s.generatedTokens} tokens: ${s.decodeTokensPerSec.toFixed(1)} tok/s\n`);
        const k = Object.entries(m.timings).sort((a, b) => b[1] - a[1]);
        const tot = k.reduce((a, [, v]) => a + v, 0);
        process.stdout.write('kernel time:\n' + k.map(([n, v]) => `  ${n.padEnd(10)} ${v.toFixed(1).padStart(8)} ms  ${((100 * v) / tot).toFixed(1).padStart(5)}%`).join('\n') + '\n');
      } finally {
        m.dispose();
      }
    } finally {
      if (flags.keep) process.stdout.write(`model: ${file}\n`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
    return 0;
  },
};
