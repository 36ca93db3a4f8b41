// `fuselm bench`: the roofline, the call overhead, and every registered kernel
// entry against them. Families register in ./registry.ts.
export { FAMILIES } from './registry';
export type { BenchEntry, Bound } from './entry';
export { fillRandom } from './entry';
export { measureRoofline, measureCallOverhead, measureAsyncRoundTrip, roofFigure, ROOF_KINDS } from './roofline';
export type { Roofline, RoofFigure, RoofKind, RooflineOptions, CallOverhead } from './roofline';
export { runBench, formatReport } from './runner';
export type { BenchOptions, BenchReport, KernelResult } from './runner';
