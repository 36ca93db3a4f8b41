// A CLI subcommand. lib/commands/index.ts lists them; lib/cli.ts dispatches.
export interface Command {
  /** the word after `fuselm` */
  name: string;
  /** one line for `fuselm help` */
  summary: string;
  /** the full usage text for `fuselm <name> --help` (and after a usage error) */
  usage: string;
  /** runs with the arguments after the subcommand; resolves to the exit code */
  run(argv: string[]): number | Promise<number>;
}
