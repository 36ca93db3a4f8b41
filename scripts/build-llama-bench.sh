#!/usr/bin/env bash
# Builds llama.cpp's native llama-bench (CPU only) from the llama.cpp source that
# node-llama-cpp bundles (test/oracle's devDependency: npm install --prefix test/oracle),
# so `npm run bench:peers` can report native figures without a download:
#   bash scripts/build-llama-bench.sh && LLAMA_BENCH=$HOME/.cache/fuselm/llama.cpp/build/bin/llama-bench npm run bench:peers
# Not part of CI (a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=test/oracle/node_modules/node-llama-cpp/llama/gitRelease.bundle
if [ ! -f "$bundle" ]; then
  echo "no $bundle: run 'npm install --prefix test/oracle' first" >&2
  exit 2
fi
dest="${FUSELM_LLAMA_CPP_DIR:-$HOME/.cache/fuselm/llama.cpp}"
if [ ! -d "$dest/.git" ]; then
  mkdir -p "$(dirname "$dest")"
  git clone -q "$bundle" "$dest"
fi
cmake -S "$dest" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build "$dest/build" --target llama-bench -j "${FUSELM_JOBS:-2}" >/dev/null
echo "$dest/build/bin/llama-bench"
