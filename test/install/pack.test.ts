// The install path a user takes, from a fresh clone: `npm pack` (its prepack runs prebuildify
// --napi --strip --tag-libc into prebuilds/linux-x64/, its prepare compiles the TypeScript) makes
// the tarball, and the tarball installs into a fresh project
//   (a) with install scripts running and no compiler reachable (PATH holds only node and sh, which
//       the test proves), and
//   (b) with --ignore-scripts (pnpm's default),
// both with no registry at all: the runtime dependencies are packed out of node_modules into local
// tarballs and installed from those files, `--offline`, with a fresh empty npm cache and the
// registry pointed at a closed port. Each consumer then loads the prebuilt binary, runs rmsnorm on
// every ISA path the CPU has (FUSELM_ISA=ref|avx2|avx512: the one binary carries all three, as
// binding.gyp builds them) and compares it with a JavaScript loop, and runs the CLI.
//
// The package is staged in a temporary copy so the repo's build/ is untouched (prebuildify runs
// `node-gyp rebuild` in the directory it packs; other suites load build/Release/fuselm.node).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildEnv, npmCli, packJson, packRuntimeDeps, PREBUILD, run, stageFreshClone, supported } from './helpers';

const d = supported && !process.env.FUSELM_SKIP_INSTALL_TEST ? describe : describe.skip;

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
const cpu = f.cpu();
console.log(JSON.stringify({ binary, isa: cpu.isa, available: f.availableIsas(), rmsnorm: cpu.kernels['norm.rmsnorm'], maxRel }));
`;

d('install from the packed tarball', () => {
  let tmp = '';
  let tarball = '';
  let packedFiles: string[] = [];
  let deps: { name: string; version: string; tarball: string }[] = [];
  let bin = '';
  const npm = supported ? npmCli() : '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-install-'));
    const stage = stageFreshClone(path.join(tmp, 'stage'));
    const env = buildEnv(fs.mkdtempSync(path.join(tmp, 'build-cache-')));

    // npm pack, scripts and all: prepack (prebuildify), prepare (tsc), then the tarball
    const packed = packJson(run(process.execPath, [npm, 'pack', '--json', '--pack-destination', tmp], { cwd: stage, env, stdoutOnly: true }));
    tarball = path.join(tmp, packed[0].filename);
    packedFiles = packed[0].files.map((f) => f.path);
    expect(fs.existsSync(tarball)).toBe(true);

    deps = packRuntimeDeps(stage, path.join(tmp, 'deps'), npm, env);

    // a PATH with node and sh only
    bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(fs.realpathSync('/bin/sh'), path.join(bin, 'sh'));
  }, 1800000);

  afterAll(() => {
    if (tmp && !process.env.FUSELM_KEEP_INSTALL_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** an environment with nothing of the caller's: PATH of node and sh, its own HOME, an empty cache, no registry */
  function cleanEnv(name: string): NodeJS.ProcessEnv {
    const home = fs.mkdtempSync(path.join(tmp, `home-${name}-`));
    return {
      HOME: home,
      PATH: bin,
      TMPDIR: tmp,
      npm_config_cache: fs.mkdtempSync(path.join(tmp, `cache-${name}-`)),
      npm_config_registry: 'http://127.0.0.1:9/', // the discard port: any registry request fails at once
      npm_config_userconfig: path.join(home, '.npmrc'),
      npm_config_update_notifier: 'false',
    };
  }

  test('the tarball ships the prebuilt binary, dist/ with types, and the sources', () => {
    expect(packedFiles).toContain(PREBUILD);
    const list = run('tar', ['tzf', tarball], { cwd: tmp }).split('\n');
    for (const f of [PREBUILD, 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'binding.gyp', 'scripts/sources.js', 'csrc/napi/addon.cpp']) {
      expect(list).toContain(`package/${f}`);
    }
    expect(list.some((f) => f.startsWith('package/test/') || f.startsWith('package/build/'))).toBe(false);
  });

  test('the runtime dependencies are packed from node_modules, one tarball each', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(tmp, 'stage', 'package.json'), 'utf8'));
    for (const name of Object.keys(pkg.dependencies)) expect(deps.map((x) => x.name)).toContain(name);
    for (const x of deps) expect(fs.existsSync(x.tarball)).toBe(true);
  });

  test('no compiler, make, cmake or python is reachable on the stripped PATH', () => {
    const env = cleanEnv('probe');
    for (const tool of ['g++', 'gcc', 'c++', 'cc', 'clang', 'make', 'cmake', 'python3', 'python']) {
      const r = spawnSync('/bin/sh', ['-c', `${tool} --version`], { env, encoding: 'utf8' });
      expect({ tool, status: r.status }).toEqual({ tool, status: 127 });
    }
  });

  function consumer(name: string, installArgs: string[]): { dir: string; env: NodeJS.ProcessEnv; log: string } {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true }));
    const env = cleanEnv(name);
    expect(fs.readdirSync(env.npm_config_cache!)).toEqual([]);
    const args = ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=info', ...installArgs, ...deps.map((x) => x.tarball), tarball];
    const log = run(process.execPath, [npm, ...args], { cwd: dir, env, timeout: 300000 });
    fs.writeFileSync(path.join(dir, 'check.js'), CHECK);
    return { dir, env, log };
  }

  function check(dir: string, env: NodeJS.ProcessEnv): void {
    const installed = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8'));
    const names = Object.keys(installed.packages).map((p) => p.replace(/^node_modules\//, '')).sort();
    expect(names).toEqual(['fuselm', ...deps.map((x) => x.name)].sort());

    const best = JSON.parse(run(process.execPath, ['check.js'], { cwd: dir, env }).trim().split('\n').pop()!);
    expect(best.binary).toBe(path.join(fs.realpathSync(dir), 'node_modules', 'fuselm', ...PREBUILD.split('/')));
    for (const isa of best.available as string[]) {
      const r = JSON.parse(run(process.execPath, ['check.js'], { cwd: dir, env: { ...env, FUSELM_ISA: isa } }).trim().split('\n').pop()!);
      expect({ isa: r.isa, rmsnorm: r.rmsnorm }).toEqual({ isa, rmsnorm: isa });
      expect(r.maxRel).toBeLessThan(1e-5); // float32 sum of 37 squares, one rsqrt: a few ulps
    }
    const help = spawnSync(path.join(dir, 'node_modules', '.bin', 'fuselm'), ['help'], { cwd: dir, env, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: fuselm');
  }

  test('(a) install scripts run, with no compiler: node-gyp-build finds the prebuilt binary', () => {
    const { dir, env, log } = consumer('scripts', []);
    expect(log).toContain('fuselm@0.1.0 install');
    expect(log).toMatch(/install \{ code: 0/);
    check(dir, env);
  }, 600000);

  test('(b) --ignore-scripts: the binary is found at require time', () => {
    const { dir, env, log } = consumer('ignore-scripts', ['--ignore-scripts']);
    expect(log).not.toContain('fuselm@0.1.0 install');
    check(dir, env);
  }, 600000);
});
