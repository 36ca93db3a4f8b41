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
    const target = `${process.platform}-${process.arch}`;
    expect(err!.code).toBe('FUSELM_NO_BINARY');
    expect(err!.message).toBe(
      `fuselm has no native binary for ${target} (Node ${process.version}, N-API): ` +
        `${path.join(tmp, 'prebuilds', target)} has no prebuilt binary and ${path.join(tmp, 'build', 'Release')} has no build. ` +
        `The package ships prebuilt binaries for linux-x64 (glibc) only; on ${target} build the addon from source ` +
        'with a C++17 compiler, make and python3 on the PATH: `npm rebuild fuselm` in the project that installed it, ' +
        'or `npm run build:native` in a fuselm checkout.',
    );
    expect(err!.message).not.toMatch(/No native build was found|loaded from/);
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

  test('the repository resolves to a binary that loads', () => {
    const file = resolveBinary(path.join(__dirname, '..', '..'));
    expect(fs.existsSync(file)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(typeof require(file).cpu).toBe('function');
  });
});
