// Loads the addon: a prebuilt binary from prebuilds/ when one fits this
// platform, else the one `npm install` compiled into build/Release.
import * as path from 'path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Native = import('./native-api').NativeApi;

const ISAS = ['ref', 'avx2', 'avx512'];

function load(): Native {
  const root = path.join(__dirname, '..');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build');
  const addon: Native = nodeGypBuild(root);
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
