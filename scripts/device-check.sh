#!/usr/bin/env bash
# The CUDA path on a lent GPU machine, in one call (issue 7). Builds the native
# test and benchmark binaries there, runs every CUDA test against its CPU /
# float64 reference, runs the CUDA benchmarks against the ceilings measured in
# the same run, and writes $OUT/device-report.json (plus logs). Meant for the
# device tool:
#     run(command="bash scripts/device-check.sh", timeout_s=600)
# Stages have their own time limits so the whole stays well inside 10 minutes.
#
# Build, in order of preference (the device machine has nvcc and cmake, maybe no node):
#   1. cmake (when node is on the PATH: CMakeLists.txt reads scripts/sources.js)
#   2. nvcc + g++ directly over the same directories, sm_90a only (no node needed)
#   3. binaries carried in .device-bin/ (made here by `scripts/device-check.sh --prepare`,
#      then name .device-bin in the tool's carry list)
# Options (env): FL_QUICK=1 smaller benchmarks; FL_SANITIZE=1 also run compute-sanitizer
# memcheck over a few test cases; FL_JOBS=n build parallelism (default: nproc);
# FL_BUILD=cmake|direct|carried forces one build method.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if [ "${1:-}" = "--prepare" ]; then
  # here (no GPU needed): build with cmake and keep the binaries for carrying
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build/cmake -j "${FL_JOBS:-2}" || exit 1
  mkdir -p .device-bin && cp build/cmake/fuselm_tests build/cmake/fuselm_cuda_bench .device-bin/ || exit 1
  grep -qx '/.device-bin/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null ||
    echo '/.device-bin/' >>"$(git rev-parse --git-common-dir)/info/exclude"
  echo "prepared .device-bin/ (carry it: carry=[\".device-bin\"])"
  exit 0
fi

OUT="${OUT:-$ROOT/build/device-out}"
mkdir -p "$OUT"
JOBS="${FL_JOBS:-$(nproc 2>/dev/null || echo 8)}"
T0=$(date +%s)
log() { echo "[device-check +$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/build.log"; }

# ---------------- what is there ----------------
{
  echo "== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1
  echo "== nvcc"; nvcc --version 2>&1 | tail -2
  echo "== cmake"; cmake --version 2>&1 | head -1
  echo "== node"; node --version 2>&1
  echo "== g++"; g++ --version 2>&1 | head -1
  echo "== cpu"; nproc
} >"$OUT/build.log" 2>&1
export PATH="$PATH:/usr/local/cuda/bin"

BIN=""
BUILD_METHOD=""
build_cmake() {
  command -v node >/dev/null && command -v cmake >/dev/null && command -v nvcc >/dev/null || return 1
  log "build: cmake (sm_80 + sm_90a)"
  timeout 300 cmake -S . -B build/device -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.log" 2>&1 &&
    timeout 300 cmake --build build/device -j "$JOBS" --target fuselm_tests fuselm_cuda_bench >>"$OUT/build.log" 2>&1 || return 1
  BIN="build/device"
  BUILD_METHOD="cmake"
}
build_direct() {
  command -v nvcc >/dev/null && command -v g++ >/dev/null || return 1
  log "build: nvcc + g++ directly (sm_90a)"
  local O=build/device-direct
  rm -rf "$O" && mkdir -p "$O/obj"
  local CXXF="-O3 -std=c++17 -fno-math-errno -fPIC -Icsrc/include -Icsrc -DFUSELM_WITH_CUDA -Wno-unused-function"
  local AVX2="-mavx2 -mfma -mf16c"
  local AVX512="$AVX2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mavx512vbmi"
  local jobs=()
  for f in csrc/core/*.cpp csrc/ops/*.cpp csrc/cpu/ref/*.cpp csrc/tests/*.cpp csrc/cuda/bench/*.cpp; do
    [ -e "$f" ] && jobs+=("g++ $CXXF -c $f -o $O/obj/$(echo "$f" | tr / _).o")
  done
  for f in csrc/cpu/avx2/*.cpp; do [ -e "$f" ] && jobs+=("g++ $CXXF $AVX2 -c $f -o $O/obj/$(echo "$f" | tr / _).o"); done
  for f in csrc/cpu/avx512/*.cpp; do [ -e "$f" ] && jobs+=("g++ $CXXF $AVX512 -c $f -o $O/obj/$(echo "$f" | tr / _).o"); done
  for f in csrc/cuda/*.cu; do
    jobs+=("nvcc -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo -Xcompiler -fPIC -Icsrc/include -Icsrc -gencode=arch=compute_90a,code=sm_90a -c $f -o $O/obj/$(echo "$f" | tr / _).o")
  done
  printf '%s\n' "${jobs[@]}" | timeout 300 xargs -P "$JOBS" -I{} sh -c '{}' >>"$OUT/build.log" 2>&1 || return 1
  # nvcc drives the link: it knows where its static cudart lives
  local common=$(ls $O/obj/*.o | grep -v -e csrc_tests_ -e csrc_cuda_bench_)
  nvcc -o "$O/fuselm_tests" $common $O/obj/csrc_tests_*.o -cudart static -lpthread -ldl -lrt >>"$OUT/build.log" 2>&1 &&
    nvcc -o "$O/fuselm_cuda_bench" $common $O/obj/csrc_cuda_bench_*.o -cudart static -lpthread -ldl -lrt >>"$OUT/build.log" 2>&1 || return 1
  BIN="$O"
  BUILD_METHOD="nvcc-direct"
}
use_carried() {
  [ -x .device-bin/fuselm_tests ] && [ -x .device-bin/fuselm_cuda_bench ] || return 1
  log "build: using the carried binaries in .device-bin/"
  BIN=".device-bin"
  BUILD_METHOD="carried"
}
case "${FL_BUILD:-auto}" in
  cmake) build_cmake ;;
  direct) build_direct ;;
  carried) use_carried ;;
  *) build_cmake || build_direct || use_carried ;;
esac || log "no build method worked (see build.log)"
BUILD_S=$(( $(date +%s) - T0 ))
log "build done in ${BUILD_S}s via ${BUILD_METHOD:-none}"

# ---------------- tests ----------------
TESTS_RC=-1
if [ -n "$BIN" ]; then
  rm -f "$OUT/cuda-tests.jsonl"
  log "tests: $BIN/fuselm_tests cuda"
  FUSELM_CUDA_REPORT="$OUT/cuda-tests.jsonl" timeout 240 "$BIN/fuselm_tests" cuda >"$OUT/tests.log" 2>&1
  TESTS_RC=$?
  log "tests rc=$TESTS_RC ($(grep -c '^FAIL' "$OUT/tests.log") FAIL lines)"
  tail -3 "$OUT/tests.log"
  if [ "${FL_SANITIZE:-0}" = "1" ] && command -v compute-sanitizer >/dev/null; then
    log "compute-sanitizer memcheck over gemv/gemm/moe_ffn/attention_decode"
    for c in cuda_gemv cuda_gemm cuda_moe_ffn cuda_attention_decode; do
      timeout 120 compute-sanitizer --tool memcheck --print-limit 20 "$BIN/fuselm_tests" "$c" >>"$OUT/sanitizer.log" 2>&1
      echo "== $c rc=$?" >>"$OUT/sanitizer.log"
    done
  fi
fi

# ---------------- benchmarks ----------------
BENCH_RC=-1
if [ -n "$BIN" ]; then
  log "bench: $BIN/fuselm_cuda_bench"
  Q=""
  [ "${FL_QUICK:-0}" = "1" ] && Q="--quick"
  timeout 300 "$BIN/fuselm_cuda_bench" "$OUT/bench.json" $Q >"$OUT/bench.log" 2>&1
  BENCH_RC=$?
  log "bench rc=$BENCH_RC"
  cat "$OUT/bench.log"
fi

# ---------------- a second opinion on the ceilings (PyTorch, when there) ----------------
timeout 90 python3 - >"$OUT/torch-ceilings.json" 2>>"$OUT/build.log" <<'PY' || echo '{}' >"$OUT/torch-ceilings.json"
import json, torch
d = torch.device("cuda")
def med(f, n=10):
    for _ in range(3): f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); f(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort(); return ts[len(ts) // 2]
x = torch.empty(2 << 30, dtype=torch.uint8, device=d).random_(0, 255); y = torch.empty_like(x)
ms = med(lambda: y.copy_(x))
A = torch.randn(8192, 8192, device=d, dtype=torch.bfloat16); B = torch.randn(8192, 8192, device=d, dtype=torch.bfloat16)
ms2 = med(lambda: A @ B)
print(json.dumps({"torch": torch.__version__, "copy_gbs": 2 * x.numel() / ms / 1e6, "bf16_matmul_tflops": 2 * 8192**3 / ms2 / 1e9}))
PY

# ---------------- the report ----------------
python3 - "$OUT" "$BUILD_METHOD" "$BUILD_S" "$TESTS_RC" "$BENCH_RC" "$(( $(date +%s) - T0 ))" <<'PY' || echo "report assembly failed (python3?)"
import json, os, sys
out, method, build_s, trc, brc, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def load(name, default):
    try:
        with open(os.path.join(out, name)) as f: return json.load(f)
    except Exception: return default
cases = []
try:
    with open(os.path.join(out, "cuda-tests.jsonl")) as f:
        cases = [json.loads(l) for l in f if l.strip()]
except Exception: pass
tlog = open(os.path.join(out, "tests.log")).read() if os.path.exists(os.path.join(out, "tests.log")) else ""
rep = {
    "build": {"method": method, "seconds": build_s},
    "tests": {"rc": trc, "records": len(cases), "failed_records": [c for c in cases if not c.get("ok")],
              "fail_lines": [l for l in tlog.splitlines() if l.startswith("FAIL")][:50],
              "summary": (tlog.strip().splitlines() or [""])[-1], "max_errors": cases},
    "bench": load("bench.json", {"rc": brc}),
    "torch_ceilings": load("torch-ceilings.json", {}),
    "seconds": total,
}
with open(os.path.join(out, "device-report.json"), "w") as f: json.dump(rep, f, indent=1)
print("device-report.json: tests rc=%d, %d records, %d over tolerance; bench rc=%d; %ds" % (trc, len(cases), len(rep["tests"]["failed_records"]), brc, total))
PY
rm -f "$OUT/cuda-tests.jsonl" "$OUT/bench.json"  # folded into device-report.json (at most 8 files come back)
ls -la "$OUT"
