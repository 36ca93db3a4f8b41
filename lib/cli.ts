#!/usr/bin/env node
// The `fuselm` command: dispatches to a subcommand from lib/commands/index.ts.
// Exit codes: 0 ok, 1 the command failed, 2 usage error.
import { COMMANDS, UsageError } from './commands';

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: fuselm <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    `  ${'help'.padEnd(w)}  this text (fuselm <command> --help for a command's options)`,
    '',
    'environment: FUSELM_ISA=ref|avx2|avx512 forces a kernel path, FUSELM_THREADS=n sizes the pool',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    process.stdout.write(require('../package.json').version + '\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write((name === undefined ? '' : `fuselm: unknown command '${name}'\n\n`) + usage() + '\n');
    return 2;
  }
  const args = rest.map((a) => (a === '-h' ? '--help' : a));
  try {
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fuselm ${cmd.name}: ${err.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    process.stderr.write(`fuselm ${cmd.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.stderr.write(String(err && err.stack ? err.stack : err) + '\n'); process.exitCode = 1; },
  );
}
