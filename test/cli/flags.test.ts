// A misspelt or unknown CLI flag is a usage error: the command exits 2 with the message and its
// usage on stderr, having done nothing (a flag silently dropped is a run the user did not ask for).
import { main } from '../../lib/cli';
import { COMMANDS, parseArgs, UsageError } from '../../lib/commands';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

// per command: a misspelling of one of its real flags, and the argument that makes the rest valid
const MISSPELT: Record<string, { args: string[]; flag: string }> = {
  bench: { args: ['--quick'], flag: '--thread' },
  run: { args: ['model.gguf', '-p', 'hi'], flag: '--max-token' },
  chat: { args: ['model.gguf'], flag: '--temprature' },
  info: { args: ['model.gguf'], flag: '--tensor' },
  quantize: { args: ['a.gguf', 'b.gguf', 'q8_0'], flag: '--force' },
  demo: { args: [], flag: '--token' },
};

describe('CLI: unknown flags exit 2 with the usage', () => {
  test('every command has a case', () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(Object.keys(MISSPELT).sort());
  });

  const cases: Array<[string, string[], string]> = [];
  for (const c of COMMANDS) {
    const m = MISSPELT[c.name];
    cases.push([c.name, [...m.args, m.flag, '2'], m.flag]);
    cases.push([c.name, [...m.args, `${m.flag}=2`], m.flag]);
    cases.push([c.name, [m.flag, ...m.args], m.flag]);
    cases.push([c.name, [...m.args, '-z'], '-z']);
    cases.push([c.name, [...m.args, '--no-such-flag'], '--no-such-flag']);
  }
  test.each(cases)('fuselm %s %j', async (name, args, flag) => {
    const usage = COMMANDS.find((c) => c.name === name)!.usage;
    const r = await capture([name, ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const shown = flag.startsWith('--') ? flag.replace(/=.*$/, '') : flag;
    expect(r.err).toBe(`fuselm ${name}: unknown option ${shown}\n\n${usage}\n`);
  });

  test('an argument a command does not take is a usage error too', async () => {
    const r = await capture(['demo', 'extra']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("fuselm demo: unexpected argument 'extra'");
    expect(r.err).toContain(COMMANDS.find((c) => c.name === 'demo')!.usage);
  });

  test('a misspelt command exits 2 with the command list', async () => {
    const r = await capture(['benhc']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^fuselm: unknown command 'benhc'\n\nusage: fuselm <command>/);
  });
});

describe('parseArgs', () => {
  const spec = { temperature: 'number', json: 'boolean', name: 'string' } as const;
  test.each<[string[], ReturnType<typeof parseArgs>]>([
    [['--temperature', '-1', 'm.gguf'], { flags: { temperature: -1 }, positional: ['m.gguf'] }],
    [['--name', '-x'], { flags: { name: '-x' }, positional: [] }], // a value, not a flag
    [['--no-json', '-', '-3.5'], { flags: { json: false }, positional: ['-', '-3.5'] }],
    [['--', '-z', '--json'], { flags: {}, positional: ['-z', '--json'] }],
  ])('%j', (argv, want) => {
    expect(parseArgs(argv, spec)).toEqual(want);
  });

  test.each<[string[], string]>([
    [['-z'], 'unknown option -z'],
    [['--jsn'], 'unknown option --jsn'],
    [['--no-name'], 'unknown option --no-name'],
    [['--json=1'], '--json takes no value'],
    [['--temperature'], '--temperature needs a value'],
    [['--temperature', 'hot'], "--temperature expects a number, got 'hot'"],
  ])('%j is a UsageError', (argv, message) => {
    expect(() => parseArgs(argv, spec)).toThrow(new UsageError(message));
  });
});
