{
  "variables": {
    # GCC 12 reports its own unmasked AVX-512 intrinsics as uninitialised once inlined (bug 105593, fixed in 13)
    "fl_avx512_nowarn": ["-Wno-uninitialized", "-Wno-maybe-uninitialized"],
    "fl_common_cflags": ["-O3", "-fno-math-errno", "-fPIC", "-std=c++17", "-Wall", "-Wno-unused-function"]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "csrc/include", "csrc"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
    "cflags_cc": ["<@(fl_common_cflags)"],
    "cflags": ["-O3"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "FUSELM_NO_CUDA"]
  },
  "targets": [
    {
      "target_name": "fuselm_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.js avx2)"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "fuselm_avx512",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.js avx512)"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512bf16", "-mavx512vbmi", "<@(fl_avx512_nowarn)"]
    },
    {
      "target_name": "fuselm",
      "dependencies": ["fuselm_avx2", "fuselm_avx512"],
      "sources": ["<!@(node scripts/sources.js core)", "<!@(node scripts/sources.js napi)"],
      "libraries": ["-lpthread"]
    }
  ]
}
