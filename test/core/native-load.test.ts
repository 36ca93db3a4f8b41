// Where the addon comes from: prebuilds/<platform>-<arch>/ first, then build/Release. With
// neither (a platform the package has no prebuilt binary for, installed without a compiler),
// loading fails with one Error naming the platform and how to build from source, not
// node-gyp-build's target string and stack.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveBinary } from '../../lib/native';

describe('resolveBinary', () => {
  let tmp = '';
  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-load-')); });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('a package root with no binary: a clear Error naming the platform and the way to build', () => {
    fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'fuselm', version: '0.0.0' }));
    let err: (Error & { code?: string }) | undefined;
    try {
      resolveBinary(tmp);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe('FUSELM_NO_BINARY');
    const target = `${process.platform}-${process.arch}`;
    expect(err!.message).toContain(`fuselm has no native binary for ${target}`);
    expect(err!.message).toContain(`(Node ${process.version}, N-API)`);
    expect(err!.message).toContain(`${path.join(tmp, 'prebuilds', target)} has no prebuilt binary that fits and ${path.join(tmp, 'build', 'Release')} has no build.`);
    expect(err!.message).toContain('The package ships a prebuilt binary for linux-x64 (glibc) only;');
    if (process.arch === 'x64') {
      expect(err!.message).toMatch(/build the addon from source with a C\+\+17 compiler, make and python3 on the PATH: `npm rebuild fuselm` in the project that installed it, or `npm run build:native` in a fuselm checkout\.$/);
    }
    expect(err!.message).not.toMatch(/No native build was found|loaded from/);
  });

  test.each([['linux', 'x64', 'LIBC=musl', 'linux-x64 (musl)', /on linux-x64 \(musl\) build the addon from source .*`npm rebuild fuselm`/],
    ['darwin', 'x64', '', 'darwin-x64 (', /on darwin-x64 build the addon from source/],
    ['darwin', 'arm64', '', 'darwin-arm64 (', /written for x86-64 CPUs .*, so arm64 is not supported, from source either\.$/],
    ['linux', 'arm64', '', 'linux-arm64 (glibc)', /so arm64 is not supported/]])('on %s-%s %s: names %s and what to do', (platform, arch, env, where, how) => {
    const saved = { platform: process.platform, arch: process.arch, libc: process.env.LIBC };
    Object.defineProperty(process, 'platform', { value: platform });
    Object.defineProperty(process, 'arch', { value: arch });
    if (env) process.env.LIBC = env.split('=')[1];
    else delete process.env.LIBC;
    try {
      expect(() => resolveBinary(path.join(tmp, 'empty-' + platform + arch))).toThrow(expect.objectContaining({ message: expect.stringContaining(`no native binary for ${where}`) }));
      expect(() => resolveBinary(path.join(tmp, 'empty-' + platform + arch))).toThrow(how);
    } finally {
      Object.defineProperty(process, 'platform', { value: saved.platform });
      Object.defineProperty(process, 'arch', { value: saved.arch });
      if (saved.libc === undefined) delete process.env.LIBC;
      else process.env.LIBC = saved.libc;
    }
  });

  test("a prebuilt binary for another platform is not this platform's", () => {
    const other = process.platform === 'linux' ? 'darwin-arm64' : 'linux-x64';
    fs.mkdirSync(path.join(tmp, 'prebuilds', other), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'prebuilds', other, 'fuselm.node'), '');
    expect(() => resolveBinary(tmp)).toThrow(/fuselm has no native binary for/);
  });

  test('a prebuilt binary for this platform is found first, build/Release otherwise', () => {
    const here = path.join(tmp, 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(path.join(tmp, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'build', 'Release', 'fuselm.node'), '');
    expect(resolveBinary(tmp)).toBe(path.join(tmp, 'build', 'Release', 'fuselm.node'));
    fs.mkdirSync(here, { recursive: true });
    fs.writeFileSync(path.join(here, 'fuselm.node'), '');
    // node-gyp-build prefers build/Release when present (a local build beats a shipped one)
    expect(resolveBinary(tmp)).toBe(path.join(tmp, 'build', 'Release', 'fuselm.node'));
    fs.rmSync(path.join(tmp, 'build'), { recursive: true });
    expect(resolveBinary(tmp)).toBe(path.join(here, 'fuselm.node'));
  });

  test('the prebuild is tagged glibc (prebuildify --tag-libc): node-gyp-build takes it on glibc, not on musl', () => {
    const dir = path.join(tmp, 'tagged');
    const file = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'fuselm.glibc.node');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    const saved = process.env.LIBC;
    try {
      for (const [libc, found] of [['glibc', true], ['musl', false]] as const) {
        process.env.LIBC = libc; // node-gyp-build reads it when it loads: load a fresh copy
        jest.isolateModules(() => {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const ngb = require('node-gyp-build');
          if (found) expect(ngb.resolve(dir)).toBe(file);
          else expect(() => ngb.resolve(dir)).toThrow(/No native build was found/);
        });
      }
    } finally {
      if (saved === undefined) delete process.env.LIBC;
      else process.env.LIBC = saved;
    }
  });

  test('the repository resolves to a binary that loads', () => {
    const file = resolveBinary(path.join(__dirname, '..', '..'));
    expect(fs.existsSync(file)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(typeof require(file).cpu).toBe('function');
  });
});
