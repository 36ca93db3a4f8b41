// Shared by the install tests: a staged copy of the repository as a fresh clone has it (no build/,
// dist/ or prebuilds/), npm run under a PATH we choose, and the runtime dependencies packed out of
// node_modules into local tarballs, so that a consumer project installs with no registry and an
// empty npm cache.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..', '..');
export const supported = process.platform === 'linux' && process.arch === 'x64';
/** prebuildify --tag-libc names the binary after the C library: fuselm.glibc.node here */
export const PREBUILD = 'prebuilds/linux-x64/fuselm.glibc.node';

/** npm's own entry script, so npm runs under whatever PATH we give it */
export function npmCli(): string {
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
export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number; stdoutOnly?: boolean }): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeout ?? 900000, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${out.slice(-4000)}`);
  return opts.stdoutOnly ? r.stdout : out;
}

/** `npm pack --json` prints the JSON after whatever the lifecycle scripts printed: the last top-level array */
export function packJson(stdout: string): { filename: string; files: { path: string }[] }[] {
  const at = stdout.lastIndexOf('\n[\n');
  return JSON.parse(at >= 0 ? stdout.slice(at + 1) : stdout);
}

/**
 * What a fresh clone holds of the package, copied into `dir`: its sources and build files, and the
 * repository's node_modules linked (the dev dependencies prepack and prepare run). No build/, dist/
 * or prebuilds/: whatever the package ships of those, `npm pack` has to make.
 */
export function stageFreshClone(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'binding.gyp', 'CMakeLists.txt', 'README.md', 'csrc', 'lib', 'scripts']) {
    if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  }
  for (const f of ['build', 'dist', 'prebuilds']) if (fs.existsSync(path.join(dir, f))) throw new Error(`staged ${f}/`);
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

/** the environment npm runs the package's build under: the caller's, with JOBS for node-gyp and a cache of its own */
export function buildEnv(cache: string): NodeJS.ProcessEnv {
  return { ...process.env, JOBS: process.env.FUSELM_JOBS ?? '2', npm_config_cache: cache, npm_config_update_notifier: 'false' };
}

/** the directory a package `name` required from `fromDir` resolves to, as Node looks it up */
function packageDir(name: string, fromDir: string): string {
  for (let d = fromDir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(d) === d) throw new Error(`cannot find ${name} from ${fromDir}`);
  }
}

/**
 * The runtime dependency closure of the package at `root` (dependencies and optionalDependencies,
 * transitively, as installed in node_modules), each packed with `npm pack` into `dest`. Returns the
 * tarball paths, with the package names they hold.
 */
export function packRuntimeDeps(root: string, dest: string, npm: string, env: NodeJS.ProcessEnv): { name: string; version: string; tarball: string }[] {
  fs.mkdirSync(dest, { recursive: true });
  const seen = new Map<string, { name: string; version: string; tarball: string }>();
  const visit = (pkgDir: string): void => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const dir = packageDir(name, pkgDir);
      if (seen.has(dir)) continue;
      const dep = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      // the consumer installs every tarball at its top level: two versions of one name cannot both go there
      if ([...seen.values()].some((s) => s.name === dep.name)) throw new Error(`two versions of ${dep.name} in the runtime closure`);
      const packed = packJson(run(process.execPath, [npm, 'pack', dir, '--json', '--ignore-scripts', '--pack-destination', dest], { cwd: dest, env, stdoutOnly: true }));
      seen.set(dir, { name: dep.name, version: dep.version, tarball: path.join(dest, packed[0].filename) });
      visit(dir);
    }
  };
  visit(root);
  return [...seen.values()];
}
