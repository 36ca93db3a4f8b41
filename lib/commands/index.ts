// The CLI's subcommands, in the order `fuselm help` lists them. A new command
// is a file in lib/commands/ exporting a Command, plus one line here.
import { bench } from './bench';
import { Command } from './command';
import { chat, demo, info, quantize, run } from './models';

export const COMMANDS: readonly Command[] = [
  bench,
  run,
  chat,
  info,
  quantize,
  demo,
];

export type { Command } from './command';
export { parseArgs, UsageError } from './args';
