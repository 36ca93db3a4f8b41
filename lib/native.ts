// Loads the addon: a prebuilt binary from prebuilds/ when one fits this
// platform, else the one `npm install` compiled into build/Release.
import * as fs from 'fs';
import * as path from 'path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Native = import('./native-api').NativeApi;

const ISAS = ['ref', 'avx2', 'avx512'];

/**
 * The addon binary that fits this platform under package root `root`, as node-gyp-build finds it:
 * build/Release when the addon was compiled there, else the prebuilt binary in
 * prebuilds/<platform>-<arch>/ whose tags (N-API, libc) fit. With neither, an Error naming the
 * platform and how to build from source (node-gyp-build's own message is a target string and a stack).
 */
export function resolveBinary(root: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build');
  try {
    return nodeGypBuild.resolve(root);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith('No native build was found')) throw e;
    const target = `${process.platform}-${process.arch}`;
    // node-gyp-build's own libc test: a prebuild tagged glibc is not taken on musl (Alpine)
    const libc = process.platform !== 'linux' ? '' : process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
    const where = `${target}${libc ? ` (${libc})` : ''}`;
    const how = process.arch === 'x64'
      ? `on ${where} build the addon from source with a C++17 compiler, make and python3 on the PATH: ` +
        '`npm rebuild fuselm` in the project that installed it, or `npm run build:native` in a fuselm checkout.'
      : `its kernels are written for x86-64 CPUs (cpuid dispatch over scalar, AVX2 and AVX-512 code), so ${process.arch} ` +
        'is not supported, from source either.';
    const err = new Error(
      `fuselm has no native binary for ${where} (Node ${process.version}, N-API): ` +
        `${path.join(root, 'prebuilds', target)} has no prebuilt binary that fits and ${path.join(root, 'build', 'Release')} has no build. ` +
        `The package ships a prebuilt binary for linux-x64 (glibc) only; ${how}`,
    );
    (err as Error & { code: string }).code = 'FUSELM_NO_BINARY';
    throw err;
  }
}

function load(root = path.join(__dirname, '..')): Native {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon: Native = require(resolveBinary(root));
  const want = process.env.FUSELM_ISA;
  if (want !== undefined && want !== '') {
    if (!ISAS.includes(want)) {
      throw new RangeError(`Expected one of ${ISAS.map((s) => `'${s}'`).join(', ')} for FUSELM_ISA but received '${want}'`);
    }
    addon.setIsa(want); // throws a RangeError naming the best level when the CPU lacks it
  }
  return addon;
}

export const native: Native = load();
