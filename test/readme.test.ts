// README.md's "Fine-tune from code" example runs as written: its ```js block,
// unchanged, in a plain `node` child process (no flags), from a folder inside
// the package so that `import … from 'arsenal'` resolves by the package's
// self-reference, as it does for a user's script beside an installed Arsenal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { torch } from 'arsenal';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The first ```js block after the heading `## <heading>`. */
function codeBlock(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(at >= 0, `README.md has no '## ${heading}' section`);
  const next = markdown.indexOf('\n## ', at + 1);
  const section = markdown.slice(at, next < 0 ? undefined : next);
  const m = /\n```js\n([\s\S]*?)\n```\n/.exec(section);
  assert.ok(m, `README.md's '${heading}' section has no \`\`\`js block`);
  return m[1] + '\n';
}

test("README's fine-tune example runs as written and writes what it says", () => {
  const code = codeBlock(readFileSync(join(root, 'README.md'), 'utf8'), 'Fine-tune from code');
  assert.ok(code.split('\n').length <= 30, 'the example stays short');
  mkdirSync(join(root, 'dist'), { recursive: true });
  const dir = mkdtempSync(join(root, 'dist', 'readme-'));
  try {
    writeFileSync(join(dir, 'fine-tune.mjs'), code);
    // Two 1-epoch runs on 128 images at width 8: seconds; the limit allows for a busy 2-core machine.
    const r = spawnSync(process.execPath, ['fine-tune.mjs'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `the example failed (${r.signal ?? r.status}):\n${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /accuracy/);
    assert.match(r.stdout, /work_dirs\/tuned\/epoch_1\.safetensors/);
    for (const f of ['base/metrics.json', 'tuned/metrics.json', 'tuned/epoch_1.safetensors']) assert.ok(existsSync(join(dir, 'work_dirs', f)), f);
    const tv = torch.safetensors.loadFile(join(dir, 'work_dirs/tuned/torchvision.safetensors'));
    const keys = Object.keys(tv);
    assert.ok(keys.includes('conv1.weight') && keys.includes('layer4.1.bn2.running_var') && keys.includes('fc.weight'));
    assert.ok(keys.every((k) => !/^(backbone|head)\./.test(k)), 'torchvision keys carry no Arsenal prefixes');
    torch.dispose(tv);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
