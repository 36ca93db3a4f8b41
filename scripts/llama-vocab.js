#!/usr/bin/env node
// Extracts llama.cpp's tokenizer test suite (models/ggml-vocab-*.gguf with their .inp/.out
// pairs) from the llama.cpp source bundled with test/oracle's node-llama-cpp into a cache
// directory, and prints that directory. test/tokenizer/llama-vocab.test.ts reads it through
// FUSELM_LLAMA_VOCAB_DIR; CI runs: FUSELM_LLAMA_VOCAB_DIR=$(node scripts/llama-vocab.js) npx jest test/tokenizer
//
//   node scripts/llama-vocab.js [--bundle <gitRelease.bundle>] [--out <dir>]
// Default bundle: test/oracle/node_modules/node-llama-cpp/llama/gitRelease.bundle; default
// out: $FUSELM_CACHE or ~/.cache/fuselm, then llama-vocab-<commit>. Exits 1 with a message when
// the bundle is absent.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE = 'usage: node scripts/llama-vocab.js [--bundle <gitRelease.bundle>] [--out <dir>]';
const args = process.argv.slice(2);
const opt = { bundle: path.join(__dirname, '..', 'test', 'oracle', 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'), out: undefined };
for (let i = 0; i < args.length; i++) {
  const k = args[i];
  if ((k === '--bundle' || k === '--out') && i + 1 < args.length) opt[k.slice(2)] = args[++i];
  else { process.stderr.write(`unknown argument ${k}\n${USAGE}\n`); process.exit(2); }
}
if (!fs.existsSync(opt.bundle)) {
  process.stderr.write(`llama-vocab: no llama.cpp bundle at ${opt.bundle} (run npm install in test/oracle, or pass --bundle)\n`);
  process.exit(1);
}
const git = (cwd, ...a) => execFileSync('git', a, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }).toString();
const head = git(path.dirname(opt.bundle), 'bundle', 'list-heads', opt.bundle).split('\n').find((l) => l.trim())?.split(' ')[0];
if (!head || !/^[0-9a-f]{40}$/.test(head)) { process.stderr.write(`llama-vocab: ${opt.bundle} lists no head\n`); process.exit(1); }
const out = opt.out ?? path.join(process.env.FUSELM_CACHE || path.join(os.homedir(), '.cache', 'fuselm'), `llama-vocab-${head.slice(0, 12)}`);
const done = path.join(out, '.complete');
if (!fs.existsSync(done)) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-llama-vocab-'));
  try {
    git(tmp, 'init', '-q', '--bare', 'repo.git');
    const repo = path.join(tmp, 'repo.git');
    git(repo, 'fetch', '-q', opt.bundle, `${head}`);
    const names = git(repo, 'ls-tree', '--name-only', head, 'models/').split('\n').filter((n) => /^models\/ggml-vocab-[^/]+$/.test(n));
    fs.mkdirSync(out, { recursive: true });
    for (const n of names) {
      const blob = execFileSync('git', ['cat-file', 'blob', `${head}:${n}`], { cwd: repo, maxBuffer: 1 << 28 });
      fs.writeFileSync(path.join(out, path.basename(n)), blob);
    }
    fs.writeFileSync(done, `${head}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
process.stdout.write(`${out}\n`);
