#!/usr/bin/env node
// Idempotent set-up, run before `npm start` and `npm test`: installs what is
// missing — Debian packages, node modules, the native addon, the TypeScript
// build — and says what it does. A second run checks timestamps and returns
// in about a second. Plain Node (no dependencies): it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, statSync, readdirSync, mkdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force-build');
const say = (msg) => console.log(`[setup] ${msg}`);
const fail = (msg) => {
  console.error(`[setup] ${msg}`);
  process.exit(1);
};

function run(cmd, args, opts = {}) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) fail(`'${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
}

// ---- 1. system packages --------------------------------------------------------
const LIBTORCH = process.env.LIBTORCH;
const wanted = LIBTORCH ? ['dataset-fashion-mnist'] : ['libtorch-dev', 'libgloo-dev', 'libopenblas0-pthread', 'dataset-fashion-mnist'];

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const isDebian = existsSync('/etc/debian_version');
if (LIBTORCH) {
  if (!existsSync(join(LIBTORCH, 'include/ATen/ATen.h'))) fail(`LIBTORCH=${LIBTORCH} does not hold include/ATen/ATen.h; point it at an unpacked libtorch distribution.`);
  say(`using libtorch from LIBTORCH=${LIBTORCH}`);
}
const missing = isDebian ? wanted.filter((p) => !installed(p)) : [];
if (!isDebian && !LIBTORCH) {
  fail(
    'this is not a Debian system, so I cannot install libtorch for you.\n' +
      '  Install libtorch (PyTorch C++ library, 1.13 or newer) and set LIBTORCH to its folder, e.g.\n' +
      '  LIBTORCH=/opt/libtorch npm test\n' +
      '  (Fashion-MNIST: put the four IDX .gz files under /usr/share/datasets/fashion-mnist or set ARSENAL_FASHION_MNIST.)',
  );
}
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    fail(`missing Debian packages: ${missing.join(' ')}\n  Run as root: apt-get update && apt-get install -y ${missing.join(' ')}\n  or set LIBTORCH to an unpacked libtorch distribution.`);
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
} else if (isDebian) {
  say(`system packages present (${wanted.join(', ')})`);
} else {
  say('not Debian: no system packages checked (libtorch from LIBTORCH; Fashion-MNIST from /usr/share/datasets/fashion-mnist or ARSENAL_FASHION_MNIST)');
}

// ---- 2. node modules ---------------------------------------------------------------
const lockHash = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
const lockStamp = join(root, 'node_modules/.arsenal-lock');
if (!existsSync(lockStamp) || readFileSync(lockStamp, 'utf8') !== lockHash) {
  say('installing node modules (npm ci)');
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  writeFileSync(lockStamp, lockHash);
} else {
  say('node modules up to date');
}

// ---- 3. native addon ------------------------------------------------------------------
function newest(dir, exts) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name === 'build' || e.name === 'dist' || e.name.startsWith('.')) continue;
      t = Math.max(t, newest(p, exts));
    } else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const addon = join(root, 'native/build/Release/arsenal_native.node');
const nativeStamp = join(root, 'native/build/.arsenal-libtorch');
const libtorchKey = LIBTORCH ?? 'system';
const nativeSrc = Math.max(newest(join(root, 'native'), ['.cc', '.h', '.gyp', '.cjs']));
const nativeStale =
  force || !existsSync(addon) || statSync(addon).mtimeMs < nativeSrc || !existsSync(nativeStamp) || readFileSync(nativeStamp, 'utf8') !== libtorchKey;
if (nativeStale) {
  say(`building the native addon against libtorch (${libtorchKey}); this takes about a minute`);
  const args = ['rebuild', '--directory=native', '-j', '2'];
  // Build against the installed Node headers: node-gyp would otherwise download them.
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  run(join(root, 'node_modules/.bin/node-gyp'), args);
  writeFileSync(nativeStamp, libtorchKey);
} else {
  say('native addon up to date');
}

// ---- 4. TypeScript ---------------------------------------------------------------------
const tsStamp = join(root, 'dist/.arsenal-build');
const tsSrc = Math.max(...['src', 'test', 'bench', 'configs'].map((d) => newest(join(root, d), ['.ts'])), statSync(join(root, 'tsconfig.json')).mtimeMs);
const tsStale = force || !existsSync(tsStamp) || Number(readFileSync(tsStamp, 'utf8')) < tsSrc;
if (tsStale) {
  say('compiling TypeScript (tsc)');
  // A fresh output: a source file moved or deleted leaves no compiled copy behind (node --test runs every file in dist/test).
  for (const d of ['src', 'test', 'bench', 'configs']) rmSync(join(root, 'dist', d), { recursive: true, force: true });
  run(join(root, 'node_modules/.bin/tsc'), ['-p', '.']);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(tsStamp, String(tsSrc));
} else {
  say('TypeScript build up to date');
}

// ---- 5. the package can be imported by name -------------------------------------------------
try {
  execFileSync(process.execPath, ['--input-type=module', '-e', "import('arsenal').then(m => { m.torch.info(); })"], { cwd: root, stdio: 'pipe' });
} catch (e) {
  fail(`the build does not load: ${(e.stderr ?? '').toString().trim().split('\n').slice(-3).join('\n')}`);
}
say('ready');
