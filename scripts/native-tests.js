#!/usr/bin/env node
// Builds the native test binary with CMake (CPU core, plus CUDA compile-and-link
// when nvcc is found) and runs it through ctest. No Node inside the binary.
'use strict';
const { execFileSync } = require('child_process');
const path = require('path');
const root = path.join(__dirname, '..');
const dir = path.join(root, 'build', 'cmake');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const jobs = String(process.env.FUSELM_JOBS || 2);
run('cmake', ['-S', '.', '-B', dir, '-DCMAKE_BUILD_TYPE=Release']);
run('cmake', ['--build', dir, '-j', jobs]);
run('ctest', ['--test-dir', dir, '--output-on-failure']);
