// The one list of native sources. binding.gyp and CMakeLists.txt both read it
// (`node scripts/sources.js <group>`), so the two builds compile the same core.
// Groups are directories: adding a file to a directory adds it to both builds.
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const list = (dir, ext = '.cpp') => {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs).filter((f) => f.endsWith(ext)).sort().map((f) => `${dir}/${f}`);
};
const groups = {
  // portable core: compiled with the baseline x86-64 flags
  core: [...list('csrc/core'), ...list('csrc/ops'), ...list('csrc/cpu/ref')],
  avx2: list('csrc/cpu/avx2'),
  avx512: list('csrc/cpu/avx512'),
  napi: list('csrc/napi'),
  cuda: list('csrc/cuda', '.cu'),
  cuda_bench: list('csrc/cuda/bench'),
  tests: list('csrc/tests'),
  bench: list('csrc/bench'),
};
module.exports = groups;
if (require.main === module) {
  const g = process.argv[2];
  if (!groups[g]) { console.error(`unknown group ${g}; one of ${Object.keys(groups).join(', ')}`); process.exit(2); }
  // gyp's <!@() splits on whitespace; cmake reads ';'-separated lists
  process.stdout.write(groups[g].join(process.argv[3] === '--cmake' ? ';' : ' '));
}
