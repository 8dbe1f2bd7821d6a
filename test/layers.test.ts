// The layers of src/ (docs/architecture.md): each imports only from the
// layers below it, so a task-specific decision cannot leak into the engine by
// an import, and the transforms never reach into the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const ORDER = ['util', 'torch', 'ops', 'nn', 'distributed', 'optim', 'data', 'augment', 'losses', 'models', 'metrics', 'infer', 'config', 'tasks', 'engine', 'commands'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const layerOf = (p: string) => relative(SRC, p).split(sep)[0];

test('every layer of src/ imports only from the layers below it', () => {
  const upward: string[] = [];
  for (const f of files(SRC)) {
    const from = layerOf(f);
    if (!ORDER.includes(from)) continue; // src/index.ts re-exports every layer
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = layerOf(normalize(join(dirname(f), m[1])));
      if (ORDER.includes(to) && ORDER.indexOf(to) > ORDER.indexOf(from)) upward.push(`${relative(SRC, f)} imports ${m[1]} (${from} → ${to})`);
    }
  }
  assert.deepEqual(upward, []);
  // Every folder of src/ has its place in the order.
  const dirs = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());
  assert.deepEqual(dirs.filter((d) => !ORDER.includes(d)), []);
});
