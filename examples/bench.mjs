// The microbenchmarks from code: this machine's roofline, then kernels timed against it
// (the report `npx fuselm bench` prints, as an object).
// usage: node bench.mjs [filter] [buffer MiB]   (default: the rmsnorm entries, 64 MiB buffers)
import { runBench, formatReport } from 'fuselm/dist/bench/index.js';

const [filter = 'rmsnorm', mib = '64'] = process.argv.slice(2);
const report = runBench({ filter, bufferBytes: Number(mib) * 2 ** 20, reps: 3, roofReps: 3, quick: true });
console.log(formatReport(report));

for (const k of report.kernels) {
  const of = k.fraction === null ? '' : `, ${(100 * k.fraction).toFixed(0)}% of the ${k.bound} roofline`;
  console.log(`${k.name}: ${k.ms.toFixed(3)} ms, ${k.gbs.toFixed(1)} GB/s, ${k.gflops.toFixed(1)} GFLOP/s${of}`);
}
