// Where libtorch lives: $LIBTORCH (an unpacked libtorch distribution, CPU or
// CUDA, as tch-rs and TorchSharp accept it) or Debian's libtorch-dev.
// Used by binding.gyp: `node paths.cjs include|libdirs|ldflags`.
const fs = require('fs');
const path = require('path');
const root = process.env.LIBTORCH;
const what = process.argv[2];
let include, libdir;
if (root) {
  include = [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')];
  libdir = path.join(root, 'lib');
  if (!fs.existsSync(path.join(include[0], 'ATen/ATen.h'))) {
    console.error(`LIBTORCH=${root} does not hold include/ATen/ATen.h: point it at an unpacked libtorch distribution`);
    process.exit(1);
  }
} else {
  include = ['/usr/include', '/usr/include/torch/csrc/api/include'];
  libdir = '/usr/lib/x86_64-linux-gnu';
  if (process.arch === 'arm64') libdir = '/usr/lib/aarch64-linux-gnu';
}
if (what === 'include') console.log(include.join(' '));
else if (what === 'ldflags') {
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (fs.existsSync(path.join(libdir, 'libtorch_cuda.so'))) libs.push('-ltorch_cuda', '-lc10_cuda');
  console.log([`-L${libdir}`, `-Wl,-rpath,${libdir}`, '-Wl,--no-as-needed', ...libs].join(' '));
}
