// A small flag parser for the CLI's subcommands: `--name value`, `--name=value`,
// boolean `--name` / `--no-name`, and positionals. Bad input is a UsageError
// (the CLI prints it with the command's usage and exits 2): a flag the spec does not
// name, long or short (`-x`: a command maps its own short flags to long ones first),
// is one, never a positional or a flag silently dropped.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagKind = 'boolean' | 'string' | 'int' | 'number';
export type FlagSpec = Record<string, FlagKind>;
export type Flags = Record<string, boolean | string | number | undefined>;

export function parseArgs(argv: readonly string[], spec: FlagSpec): { flags: Flags; positional: string[] } {
  const flags: Flags = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (/^-[^-]/.test(a) && !Number.isFinite(Number(a))) throw new UsageError(`unknown option ${a}`);
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    let name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    let value: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
    let kind = spec[name];
    if (kind === undefined && name.startsWith('no-') && spec[name.slice(3)] === 'boolean' && value === undefined) {
      flags[name.slice(3)] = false;
      continue;
    }
    if (kind === undefined) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (kind === 'string') { flags[name] = value; continue; }
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
      throw new UsageError(`--${name} expects ${kind === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
    }
    flags[name] = n;
    name = '';
    kind = 'string';
  }
  return { flags, positional };
}
