// `fuselm bench`: the machine's roofline, then every kernel against it.
import { formatReport, measureAsyncRoundTrip, runBench } from '../bench';
import { parseArgs, UsageError } from './args';
import { Command } from './command';

export const bench: Command = {
  name: 'bench',
  summary: "measure this machine's roofline and every kernel's throughput against it",
  usage: `usage: fuselm bench [options]

Measures DRAM read/write/copy bandwidth and the FP32 FMA, int8 dot and BF16 dot
peaks on 1 and N threads, the N-API call overhead, then times every registered
kernel entry and prints GB/s, GFLOP/s and the fraction of the roofline it is
bound by (memory-bound entries against DRAM read bandwidth).

options:
  --json            print the report as JSON on stdout (progress goes nowhere)
  --threads <n>     thread pool size for the run (default: physical cores, or FUSELM_THREADS)
  --filter <s>      only kernel entries whose name or family contains <s>
  --reps <n>        timed samples per kernel entry (default 7)
  --buffer-mb <n>   roofline buffer size in MiB (default 512; keep it far above L3)
  --no-roofline     skip the roofline (fractions are then omitted)
  --quick           a fast smoke run: 64 MiB buffers, 3 reps, smaller stand-ins for the slowest entries
  --quiet           no progress lines on stderr
  -h, --help        this text`,
  async run(argv) {
    const { flags, positional } = parseArgs(argv, {
      json: 'boolean', threads: 'int', filter: 'string', reps: 'int', 'buffer-mb': 'int', roofline: 'boolean',
      quick: 'boolean', quiet: 'boolean', help: 'boolean',
    });
    if (flags.help) { process.stdout.write(bench.usage + '\n'); return 0; }
    if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
    const threads = flags.threads as number | undefined;
    if (threads !== undefined && (threads < 1 || threads > 1024)) throw new UsageError('--threads expects 1..1024');
    const reps = (flags.reps as number | undefined) ?? (flags.quick ? 3 : undefined);
    if (reps !== undefined && (reps < 1 || reps > 1000)) throw new UsageError('--reps expects 1..1000');
    const mb = (flags['buffer-mb'] as number | undefined) ?? (flags.quick ? 64 : 512);
    if (mb < 1 || mb > 65536) throw new UsageError('--buffer-mb expects 1..65536');
    const quiet = Boolean(flags.json || flags.quiet);
    const report = runBench({
      threads,
      filter: flags.filter as string | undefined,
      reps,
      roofReps: flags.quick ? 3 : undefined,
      roofline: flags.roofline !== false,
      bufferBytes: mb * 2 ** 20,
      maxEntryMs: flags.quick ? 500 : undefined,
      quick: Boolean(flags.quick),
      overheadCalls: flags.quick ? 20000 : undefined,
      log: quiet ? undefined : (line) => process.stderr.write(line + '\n'),
    });
    report.overhead.asyncRoundTripNs = await measureAsyncRoundTrip(flags.quick ? 500 : 2000);
    process.stdout.write((flags.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
    return report.kernels.some((k) => k.error) ? 1 : 0;
  },
};
