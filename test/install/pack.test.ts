// The install path a user takes: `npm run prebuild` (prebuildify, N-API) writes
// prebuilds/linux-x64/, `npm pack` makes the tarball, and the tarball installs
// into a fresh project (a) with no compiler reachable (PATH holds only node and
// sh, which the test proves) with install scripts running, and (b) with
// --ignore-scripts. Each then loads the prebuilt binary, runs rmsnorm and
// compares it with a JavaScript loop. No network: npm installs offline from
// its cache (the runtime dependencies are in it after the repo's own install).
//
// The package is staged in a temporary copy so the repo's build/ is untouched
// (other suites load build/Release/fuselm.node while this one runs).
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const supported = process.platform === 'linux' && process.arch === 'x64';
const d = supported && !process.env.FUSELM_SKIP_INSTALL_TEST ? describe : describe.skip;

/** npm's own entry script, so npm runs under whatever PATH we give it */
function npmCli(): string {
  const candidates = [process.env.npm_execpath ?? ''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) candidates.push(path.join(dir, 'npm'));
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'));
  for (const c of candidates) {
    if (!c || !fs.existsSync(c)) continue;
    const real = fs.realpathSync(c);
    if (real.endsWith('npm-cli.js')) return real;
  }
  throw new Error('cannot find npm-cli.js');
}

/** runs to completion; returns stdout followed by stderr (`stdoutOnly`: stdout alone); throws with the tail on failure */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number; stdoutOnly?: boolean }): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeout ?? 600000, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${out.slice(-4000)}`);
  return opts.stdoutOnly ? r.stdout : out;
}

const CHECK = `
const f = require('fuselm');
const binary = require('node-gyp-build').resolve(require('path').dirname(require.resolve('fuselm/package.json')));
const rows = 3, dim = 37;
const x = new Float32Array(rows * dim).map((_, i) => Math.sin(i) * 2);
const w = new Float32Array(dim).map((_, i) => 1 + i / dim);
const y = f.rmsnorm(f.Tensor.from(x, [rows, dim]), f.Tensor.from(w, [dim]), { eps: 1e-5 }).toArray();
let maxRel = 0;
for (let r = 0; r < rows; r++) {
  let ss = 0;
  for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
  const s = 1 / Math.sqrt(ss / dim + 1e-5);
  for (let i = 0; i < dim; i++) {
    const want = x[r * dim + i] * s * w[i];
    maxRel = Math.max(maxRel, Math.abs(y[r * dim + i] - want) / (Math.abs(want) + 1e-6));
  }
}
console.log(JSON.stringify({ binary, isa: f.cpu().isa, maxRel }));
`;

d('install from the packed tarball', () => {
  let tmp = '';
  let tarball = '';
  let bin = '';
  let cleanEnv: NodeJS.ProcessEnv = {};
  const npm = supported ? npmCli() : '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-install-'));
    // stage the package sources (what `files` ships, plus what building it needs)
    const stage = path.join(tmp, 'stage');
    fs.mkdirSync(stage);
    for (const f of ['package.json', 'tsconfig.json', 'binding.gyp', 'CMakeLists.txt', 'README.md', 'csrc', 'lib', 'scripts']) {
      if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true });
    }
    fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(stage, 'node_modules'), 'dir');

    // npm run prebuild: prebuildify --napi --strip with the node-gyp from node_modules
    run(process.execPath, [npm, 'run', 'prebuild'], { cwd: stage, env: { ...process.env, JOBS: process.env.FUSELM_JOBS ?? '2' } });
    const built = fs.readdirSync(path.join(stage, 'prebuilds', 'linux-x64'));
    expect(built.filter((f) => f.endsWith('.node'))).toHaveLength(1);

    run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: stage });
    const packed = JSON.parse(run(process.execPath, [npm, 'pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: stage, stdoutOnly: true }));
    tarball = path.join(tmp, packed[0].filename);
    expect(fs.existsSync(tarball)).toBe(true);

    // a PATH with node and sh only
    bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(fs.realpathSync('/bin/sh'), path.join(bin, 'sh'));
    const cache = process.env.npm_config_cache || execFileSync(process.execPath, [npm, 'config', 'get', 'cache'], { encoding: 'utf8' }).trim();
    cleanEnv = { HOME: os.homedir(), PATH: bin, TMPDIR: tmp, npm_config_cache: cache, npm_config_update_notifier: 'false' };
  }, 900000);

  afterAll(() => {
    if (tmp && !process.env.FUSELM_KEEP_INSTALL_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the tarball ships the prebuilt binary, dist/ with types, and the sources', () => {
    const list = run('tar', ['tzf', tarball], { cwd: tmp }).split('\n');
    expect(list).toContain('package/prebuilds/linux-x64/fuselm.node');
    for (const f of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/binding.gyp', 'package/scripts/sources.js']) {
      expect(list).toContain(f);
    }
    expect(list.some((f) => f.startsWith('package/test/') || f.startsWith('package/build/'))).toBe(false);
  });

  test('no compiler, make, cmake or python is reachable on the stripped PATH', () => {
    for (const tool of ['g++', 'gcc', 'c++', 'cc', 'clang', 'make', 'cmake', 'python3', 'python']) {
      const r = spawnSync('/bin/sh', ['-c', `${tool} --version`], { env: cleanEnv, encoding: 'utf8' });
      expect({ tool, status: r.status }).toEqual({ tool, status: 127 });
    }
  });

  function consumer(name: string, installArgs: string[]): { dir: string; log: string } {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true }));
    const log = run(process.execPath, [npm, 'install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=info', ...installArgs, tarball], { cwd: dir, env: cleanEnv, timeout: 300000 });
    fs.writeFileSync(path.join(dir, 'check.js'), CHECK);
    return { dir, log };
  }

  function check(dir: string): void {
    const out = run(process.execPath, ['check.js'], { cwd: dir, env: cleanEnv });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.binary).toBe(path.join(fs.realpathSync(dir), 'node_modules', 'fuselm', 'prebuilds', 'linux-x64', 'fuselm.node'));
    expect(r.maxRel).toBeLessThan(1e-5); // float32 sum of 37 squares, one rsqrt: a few ulps
    const help = spawnSync(path.join(dir, 'node_modules', '.bin', 'fuselm'), ['help'], { cwd: dir, env: cleanEnv, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: fuselm');
  }

  test('(a) install scripts run, with no compiler: node-gyp-build finds the prebuilt binary', () => {
    const { dir, log } = consumer('scripts', []);
    expect(log).toContain('fuselm@0.1.0 install');
    expect(log).toMatch(/install \{ code: 0/);
    check(dir);
  }, 600000);

  test('(b) --ignore-scripts: the binary is found at require time', () => {
    const { dir, log } = consumer('ignore-scripts', ['--ignore-scripts']);
    expect(log).not.toContain('fuselm@0.1.0 install');
    check(dir);
  }, 600000);
});
