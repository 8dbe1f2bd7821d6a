{
  "targets": [{
    "target_name": "arsenal_native",
    "sources": ["src/addon.cc", "src/table.cc", "src/ops.cc", "src/tensor_io.cc", "src/autograd.cc", "src/runtime.cc", "src/memory.cc", "src/detection.cc", "src/distributed.cc"],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node paths.cjs include)",
      "include-fallback"
    ],
    "libraries": ["<!@(node paths.cjs ldflags)"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations", "-Wno-sign-compare", "-Wno-missing-field-initializers"]
  }]
}
