// fuselm: fused LLM kernels for Node.js.
import { native } from './native';
import type { NativeCpuReport, NativeIsa } from './native-api';
import { checkInt, fail } from './check';

export { Tensor, toHalf, f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, byteSize } from './tensor';
export { DTYPES, dtypeInfo } from './dtype';
export type { DType, DTypeInfo, PlainDType, QuantDType } from './dtype';
export { rmsnorm, rmsnormAsync } from './ops/norm';
export type { RmsNormOptions } from './ops/norm';
export { add, addAsync, mul, silu, gelu, sigmoid, swiglu, swigluAsync } from './ops/elementwise';
export { LutTensor, quantizeLut, dequantizeLut, matmulLut } from './ops/lut';
export type { LutFormat, LutParts, LutQuantizeOptions, MatmulLutOptions } from './ops/lut';
export { KVCache, attention, attentionAsync, attentionSelect, longGenMask, KV_BLOCK, ATTENTION_HEAD_DIMS } from './ops/attention';
export type { KVCacheOptions, KVCacheDType, AttentionOptions, AttentionStats, LongGenMaskOptions } from './ops/attention';
export { softmax } from './ops/norm';
export type { SoftmaxOptions } from './ops/norm';
export { rope, ropeAsync } from './ops/rope';
export type { RopeMode, RopeOptions } from './ops/rope';
export { gather, gatherAsync, argmax, GATHER_DTYPES } from './ops/embed';
export { quantize, dequantize, matmul, matmulAsync, repack, QUANT_FORMATS, MATMUL_WEIGHT_DTYPES, REPACKED_FORMATS } from './ops/qgemm';
export { LEGACY_FORMATS, REPACKABLE_DTYPES, repackSupported } from './ops/qgemm';
export type { QuantFormat, MatmulOptions, RepackedFormat } from './ops/qgemm';
export { moeRoute, moeRouteAsync, moePermute, moeFfn, moeFfnAsync, MoeStats, MOE_WEIGHT_DTYPES } from './ops/moe';
export type { MoeRouteOptions, MoeRouting, MoeScoring, MoePlan, MoePermuteOptions, MoeExperts, MoeSharedExpert, MoeFfnOptions, MoeFfnReport } from './ops/moe';

/** An ISA level the kernels dispatch to. */
export type Isa = NativeIsa;
/** What cpu() reports. */
export type CpuInfo = NativeCpuReport;

/** What this CPU has, which path each kernel resolved to, and the thread count. */
export function cpu(): CpuInfo {
  return native.cpu();
}

/** Resizes the persistent thread pool (1..1024 threads, the caller included). */
export function setThreads(n: number): void {
  checkInt(n, 'n', 1, 1024, 'setThreads');
  native.setThreads(n);
}

/** Forces an ISA level for every kernel (as FUSELM_ISA does at load). */
export function setIsa(isa: Isa): void {
  if (typeof isa !== 'string') fail('type', 'isa', "one of 'ref', 'avx2', 'avx512'", isa, 'setIsa');
  native.setIsa(isa);
}

/** The ISA levels this CPU can run, lowest first. */
export function availableIsas(): Isa[] {
  const all: Isa[] = ['ref', 'avx2', 'avx512'];
  return all.slice(0, all.indexOf(native.cpu().bestIsa) + 1);
}

/**
 * CUDA status of this binary. The npm addon is built CPU-only (it links csrc/core/cuda_stub.cpp), so both
 * are false there; the CUDA kernels are used by the native binaries CMake builds when nvcc is found.
 */
export const cuda = {
  /** true when this binary was built with CUDA and a device is present */
  available(): boolean {
    return typeof native.cudaAvailable === 'function' ? Boolean(native.cudaAvailable()) : false;
  },
  /** true when this binary was built with CUDA */
  built(): boolean {
    return Boolean(native.cudaBuilt);
  },
};
export { readGguf, parseGguf, ggufTensor, ggufTensorBytes, ggufTensorInfo, ggufGet, ggufPlain, GgufError, GgufType, GGML_TYPES } from './formats/gguf';
export type { GgufFile, GgufTensorInfo, GgufKV, GgufValue, GgufArray, GgufReadOptions } from './formats/gguf';
export { writeGguf, encodeGguf, gguf } from './formats/gguf-writer';
export type { GgufWriteOptions, GgufTensorInput, GgufMetaInput } from './formats/gguf-writer';
export { Tokenizer, TokenType, renderChat } from './tokenizer';
export type { TokenizeOptions, ChatMessage } from './tokenizer';
export { load, Model, LOAD_OPTIONS, EVALUATE_OPTIONS, EMBED_OPTIONS } from './models/model';
export type { LoadOptions, EvaluateOptions, EmbedOptions } from './models/model';
export { GENERATE_OPTIONS } from './generate/generate';
export type { GenerateOptions, GeneratedPiece, GenerationStats } from './generate/generate';
export { readConfig } from './models/config';
export type { Config, Arch } from './models/config';
export { writeSyntheticModel, syntheticModel } from './models/synthetic';
export type { SyntheticSpec } from './models/synthetic';
export { Sampler, SAMPLER_OPTIONS } from './generate/sampler';
export type { SamplerOptions } from './generate/sampler';
export { InlineExec, inline, ForwardAborted } from './exec/exec';
export type { Exec, OpName, Maybe } from './exec/exec';
export { BudgetedExec } from './exec/budgeted';
export type { BudgetOptions } from './exec/budgeted';
export { Replay, RecordingExec } from './exec/replay';
export { forward, decode } from './models/forward';
export type { ForwardOptions } from './models/forward';
export { loadWeights, layoutWeights } from './models/weights';
export type { Weights, LayerWeights, TensorSource } from './models/weights';
export { newState, shiftContext } from './models/state';
export type { State } from './models/state';
export { familyOf } from './models/families';
export type { Family, Layer, Step, LayerAttention } from './models/family';
export type { NativeApi } from './native-api';
export { parseSafetensors, readSafetensors, readCheckpoint, safetensorsTensor, checkpointTensor, encodeSafetensors, writeSafetensors, SafetensorsError } from './formats/safetensors';
export type { SafetensorsFile, SafetensorsTensorInfo, SafetensorsCheckpoint, SafetensorsReadOptions, SafetensorsInput } from './formats/safetensors';
export { hfConfig, readHf, HF_MODEL_TYPES } from './models/hf';
export type { HfWeightOptions, QuantizeSpec } from './models/hf';
export type { ModelParts } from './models/model';
export { MAX_WINDOW_BYTES } from './formats/window';
export type { FileWindow } from './formats/window';
export { encodeGgufHeader } from './formats/gguf-writer';
export type { GgufTensorSpec } from './formats/gguf-writer';
export type { GgufWindow } from './formats/gguf';
export { tokenizerFromHfJson } from './tokenizer/hf';
export type { HfTokenizerFiles } from './tokenizer/hf';
export { maskLogits } from './ops/mask';
export { Grammar, GrammarMatcher, GrammarState, GrammarError, JsonSchemaError, TokenVocab, parseGbnf, jsonSchemaToGbnf, JSON_SCHEMA_FORMATS } from './grammar';
export type { GrammarOptions } from './grammar';
export type { GrammarInput, GrammarChoice } from './grammar/constraint';
export { chatWithTools, chatWithToolsStream, parseToolCalls, toolCallGbnf, autoToolGbnf, toolCallMessage, toolFormat } from './grammar';
export type { ToolDefinition, ToolCall, ToolChoice, ToolChatOptions, ToolChatResult, ToolChatEvent, ToolFormat } from './grammar';
