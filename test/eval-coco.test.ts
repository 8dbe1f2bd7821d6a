// `arsenal eval-coco GT.json RESULTS.json` as a user runs it: on the ground
// truth and results of test/fixtures/detection/coco_reference.json (made by
// `/usr/bin/python3 test/fixtures/detection/make_coco_reference.py`, which runs
// pycocotools' own cocoeval.py), written back as a COCO instances file (xywh,
// the json's category ids, area, iscrowd) and a results list, it prints
// pycocotools' 12-line summary and writes its 12 stats and per-category AP;
// bad input is one named line and exit status 1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/src/commands/main.js'), ...args], { cwd: root, encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'arsenal-eval-coco-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Side { boxes: number[][]; labels: number[]; iscrowd?: number[]; area?: number[]; scores?: number[] }
interface Case { name: string; catIds: number[]; images: { id: number; gt: Side; dt: Side }[]; stats: number[]; perCategoryAP: number[]; summary: string }
const ref = JSON.parse(readFileSync(join(root, 'test/fixtures/detection/coco_reference.json'), 'utf8')) as { cases: Case[] };
const toXywh = ([x1, y1, x2, y2]: number[]) => [x1, y1, x2 - x1, y2 - y1];

test("eval-coco: pycocotools' 12 stats, per-category AP and summary on its reference cases", () => {
  for (const c of ref.cases) {
    const gt = {
      images: c.images.map((im) => ({ id: im.id, file_name: `${im.id}.jpg`, width: 640, height: 480 })),
      annotations: c.images.flatMap((im) => im.gt.boxes.map((b, j) => ({ id: im.id * 1000 + j, image_id: im.id, category_id: c.catIds[im.gt.labels[j]], bbox: toXywh(b), area: im.gt.area![j], iscrowd: im.gt.iscrowd![j] }))),
      categories: c.catIds.map((id) => ({ id, name: `c${id}` })),
    };
    const results = c.images.flatMap((im) => im.dt.boxes.map((b, j) => ({ image_id: im.id, category_id: c.catIds[im.dt.labels[j]], bbox: toXywh(b), score: im.dt.scores![j] })));
    results.push({ image_id: c.images[0].id, category_id: 9999, bbox: [0, 0, 5, 5], score: 0.99 }); // a category the ground truth lacks: left out
    const g = join(dir, `${c.name}-gt.json`), r = join(dir, `${c.name}-res.json`), wd = join(dir, c.name);
    writeFileSync(g, JSON.stringify(gt));
    writeFileSync(r, JSON.stringify(results));
    const p = run('eval-coco', g, r, '--work-dir', wd);
    assert.equal(p.status, 0, p.stderr);
    const out = JSON.parse(readFileSync(join(wd, 'eval_coco.json'), 'utf8'));
    const names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];
    names.forEach((n, i) => assert.ok(Math.abs(out.stats[n] - c.stats[i]) <= 1e-12, `${c.name} ${n}: ${out.stats[n]} vs pycocotools ${c.stats[i]}`));
    out.perCategory.forEach((x: { id: number; AP: number }, k: number) => {
      assert.equal(x.id, c.catIds[k]);
      assert.ok(Math.abs(x.AP - c.perCategoryAP[k]) <= 1e-12, `${c.name} category ${x.id}`);
    });
    assert.ok(p.stdout.includes(c.summary.trimEnd()), `${c.name}: pycocotools' summary lines`);
    assert.match(p.stdout, /1 of a category .* does not have: left out/);
  }
});

test('eval-coco: bad input is named', () => {
  const g = join(dir, 'gt.json');
  writeFileSync(g, JSON.stringify({ images: [{ id: 1 }], annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [0, 0, 4, 4], area: 16 }], categories: [{ id: 3, name: 'a' }] }));
  const cases: [string, unknown, RegExp][] = [
    ['unknown image', [{ image_id: 2, category_id: 3, bbox: [0, 0, 1, 1], score: 1 }], /result 0: image_id 2 is not an image of .*gt\.json/],
    ['bad bbox', [{ image_id: 1, category_id: 3, bbox: [0, 0, -1, 1], score: 1 }], /result 0: bbox must be \[x, y, w, h\] with w, h >= 0/],
    ['not a list', { image_id: 1 }, /expected a list of results/],
  ];
  for (const [what, res, re] of cases) {
    const r = join(dir, 'bad.json');
    writeFileSync(r, JSON.stringify(res));
    const p = run('eval-coco', g, r, '--work-dir', join(dir, 'bad'));
    assert.equal(p.status, 1, `${what}: ${p.stderr}`);
    assert.match(p.stderr, re, what);
    assert.doesNotMatch(p.stderr, /\n\s+at /, 'no stack trace');
  }
  const p = run('eval-coco', g);
  assert.equal(p.status, 1);
  assert.match(p.stderr, /eval-coco: expected GT\.json RESULTS\.json/);
});
