#!/usr/bin/env node
// `node scripts/bench-tokenize.js <llama-tokenize> <vocab.gguf> [<vocab.gguf> ...]`: tokenizing a 1 MB
// mixed text (this repository's code and prose, and the multilingual texts of llama.cpp's tokenizer
// suite next to the vocabularies) with fuselm and with llama.cpp's `llama-tokenize`, side by side.
// Each measurement is a fresh process, the two engines alternated (both with special tokens parsed, llama-tokenize's default, and BOS/EOS as the vocabulary adds them); the tokenizer's own time is the
// process time on the 1 MB text less the process time on a one-line text (both load the vocabulary
// the same way), median of --reps (default 5). Prints µs per KB for each, the ratio, and whether the
// ids are identical. Not part of CI. Build llama-tokenize from the llama.cpp source node-llama-cpp
// bundles (cmake --build <dir> --target llama-tokenize).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const pos = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')));
if (pos.length < 2) { console.error('usage: node scripts/bench-tokenize.js <llama-tokenize> <vocab.gguf> [...] [--reps n]'); process.exit(2); }
const [llama, ...vocabs] = pos;
const reps = Number(opt('reps', 5));
const root = path.join(__dirname, '..');

// the 1 MB text: code (lib/, csrc/), prose (README, docs), and every .inp next to the vocabularies
function corpus() {
  const parts = [];
  const walk = (d, ext) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p, ext); else if (ext.some((x) => e.name.endsWith(x))) parts.push(fs.readFileSync(p, 'utf8'));
  } };
  walk(path.join(root, 'lib'), ['.ts']);
  walk(path.join(root, 'csrc', 'ops'), ['.cpp']);
  parts.push(fs.readFileSync(path.join(root, 'README.md'), 'utf8'), fs.readFileSync(path.join(root, 'docs', 'DESIGN.md'), 'utf8'));
  const multi = [];
  for (const v of vocabs) for (const f of fs.readdirSync(path.dirname(v))) if (f.endsWith('.inp')) multi.push(fs.readFileSync(path.join(path.dirname(v), f), 'utf8'));
  let text = '';
  for (let i = 0; Buffer.byteLength(text) < 2 ** 20; i++) text += parts[i % parts.length] + '\n' + multi[i % Math.max(1, multi.length)] + '\n';
  return text.slice(0, 2 ** 20);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-bench-tok-'));
const big = path.join(dir, 'mixed-1mb.txt'), tiny = path.join(dir, 'tiny.txt');
fs.writeFileSync(big, corpus());
fs.writeFileSync(tiny, 'Hello world\n');
const kb = fs.statSync(big).size / 1024;

const FUSELM = `
const [root, vocab, file] = process.argv.slice(1);
const fl = require(root + '/dist/index.js');
const tk = fl.Tokenizer.fromGguf(fl.readGguf(vocab));
const ids = tk.encode(require('fs').readFileSync(file, 'utf8'), { addSpecial: true, parseSpecial: true });
process.stdout.write('[' + ids.join(', ') + ']\\n');`;

function time(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-2000)}`);
  return { ms, out: r.stdout };
}
const run = {
  fuselm: (v, f) => time(process.execPath, ['-e', FUSELM, root, v, f]),
  llama: (v, f) => time(llama, ['-m', v, '-f', f, '--ids', '--log-disable', '--no-escape']),
};
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const ids = (out) => { const l = out.trim().split('\n').filter((x) => x.startsWith('[')).pop(); return l; };

console.log(`bench-tokenize: ${kb.toFixed(0)} KB of mixed text, ${reps} repetitions, ${os.cpus()[0].model}`);
console.log('\n| vocabulary | fuselm µs/KB | llama-tokenize µs/KB | fuselm / llama.cpp speed | ids identical |');
console.log('|---|---|---|---|---|');
for (const v of vocabs) {
  const t = { fuselm: { big: [], tiny: [] }, llama: { big: [], tiny: [] } };
  let same;
  for (let i = 0; i < reps; i++) {
    for (const who of i % 2 ? ['llama', 'fuselm'] : ['fuselm', 'llama']) {
      t[who].tiny.push(run[who](v, tiny).ms);
      const r = run[who](v, big);
      t[who].big.push(r.ms);
      if (i === 0) t[who].ids = ids(r.out);
    }
  }
  same = t.fuselm.ids === t.llama.ids;
  const us = (who) => 1000 * Math.max(0, median(t[who].big) - median(t[who].tiny)) / kb;
  const f = us('fuselm'), l = us('llama');
  console.log(`| ${path.basename(v)} | ${f.toFixed(1)} | ${l.toFixed(1)} | ${(l / f).toFixed(2)}x | ${same ? 'yes' : 'NO'} |`);
}
console.log('(µs per KB: process time on the 1 MB text less that on one line, medians; speed > 1x: fuselm is faster)');
fs.rmSync(dir, { recursive: true, force: true });
