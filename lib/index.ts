// fuselm: fused LLM kernels for Node.js.
import { native } from './native';
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

export type Isa = 'ref' | 'avx2' | 'avx512';

export interface CpuInfo {
  features: Record<string, boolean>;
  /** the ISA level kernels dispatch to now */
  isa: Isa;
  /** the best level this CPU supports */
  bestIsa: Isa;
  threads: number;
  physicalCores: number;
  /** family.kernel -> the ISA whose implementation it resolved to */
  kernels: Record<string, Isa>;
}

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
export { load, Model } from './models/model';
export type { LoadOptions, EvaluateOptions, GenerateOptions, GeneratedPiece, GenerationStats } from './models/model';
export { readConfig } from './models/config';
export type { Config, Arch } from './models/config';
export { writeSyntheticModel, syntheticModel } from './models/synthetic';
export type { SyntheticSpec } from './models/synthetic';
export { Sampler } from './models/sampler';
export type { SamplerOptions } from './models/sampler';
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
