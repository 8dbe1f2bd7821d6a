// `arsenal eval-coco GT.json RESULTS.json`: COCO bbox mAP of any detector's
// results file, as pycocotools' COCOeval computes it (src/metrics/coco_eval.ts,
// checked against pycocotools' own code in test/metrics-detection.test.ts), so
// it stands in for pycocotools where Python is not at hand. Prints
// pycocotools' 12-line summary; writes eval_coco.json (the 12 stats by name,
// per-category AP) and eval_coco.md (the per-category table).
//
// The ground truth is read as pycocotools reads it, not as training reads it
// (src/data/coco_json.ts clips and drops bad boxes): each annotation's bbox
// [x, y, w, h], `area` (pycocotools needs it; w·h where absent), `iscrowd`;
// every image of `images` counts, with or without annotations. The results as
// pycocotools' loadRes: every image_id must be one of the ground truth's
// (an error otherwise, as its assertion), a result's area is w·h, and results
// of a category the ground truth does not have are left out (pycocotools
// evaluates the ground truth's catIds only; counted and said).
import { readFileSync } from 'node:fs';
import { CocoMeter, COCO_STAT_NAMES, formatCocoSummary } from '../metrics/coco_eval.js';
import { CocoCategories } from '../data/coco_json.js';
import { markdownTable } from '../util/table.js';
import { writeReport } from './report.js';

export interface EvalCocoOptions {
  workDir?: string;
  quiet?: boolean;
}

const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`eval-coco: cannot read the ${what} '${file}': ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`eval-coco: the ${what} '${file}' is not JSON: ${(e as Error).message}`);
  }
}

/** [x, y, w, h] with w, h ≥ 0, or an error naming where. */
function xywh(b: unknown, at: string): [number, number, number, number] {
  if (!Array.isArray(b) || b.length !== 4 || !b.every(finite) || b[2] < 0 || b[3] < 0) throw new TypeError(`${at}: bbox must be [x, y, w, h] with w, h >= 0, got ${JSON.stringify(b)}`);
  return b as [number, number, number, number];
}

interface ImageEntry { gt: number[]; gtLabels: number[]; crowd: number[]; area: number[]; dt: number[]; scores: number[]; dtLabels: number[] }

/** Scores a results file against a ground truth; returns the 12 stats by name and per-category AP. */
export function evalCoco(gtFile: string, resFile: string, o: EvalCocoOptions = {}): { stats: Record<string, number>; perCategory: { id: number; name: string; AP: number }[] } {
  const log = o.quiet ? () => {} : (l: string) => console.log(l);
  const gt = readJson(gtFile, 'ground truth');
  if (!isObj(gt) || !Array.isArray(gt.images) || !Array.isArray(gt.categories)) throw new TypeError(`eval-coco: ${gtFile}: expected a COCO instances object { images, annotations, categories }`);
  const cats = gt.categories.map((c, i) => {
    if (!isObj(c) || !Number.isInteger(c.id)) throw new TypeError(`eval-coco: ${gtFile}: categories[${i}] must have an integer id`);
    return { id: c.id as number, name: typeof c.name === 'string' ? c.name : String(c.id) };
  });
  if (cats.length === 0) throw new TypeError(`eval-coco: ${gtFile}: no categories`);
  const categories = new CocoCategories(cats);
  const images = new Map<number, ImageEntry>();
  gt.images.forEach((im, i) => {
    if (!isObj(im) || !Number.isInteger(im.id)) throw new TypeError(`eval-coco: ${gtFile}: images[${i}] must have an integer id`);
    if (images.has(im.id as number)) throw new TypeError(`eval-coco: ${gtFile}: image id ${im.id} appears twice`);
    images.set(im.id as number, { gt: [], gtLabels: [], crowd: [], area: [], dt: [], scores: [], dtLabels: [] });
  });
  const anns = gt.annotations ?? [];
  if (!Array.isArray(anns)) throw new TypeError(`eval-coco: ${gtFile}: annotations must be a list`);
  anns.forEach((a, i) => {
    const at = `eval-coco: ${gtFile}: annotations[${i}]`;
    if (!isObj(a)) throw new TypeError(`${at} must be an object`);
    const im = images.get(a.image_id as number);
    if (!im) throw new TypeError(`${at}: image_id ${JSON.stringify(a.image_id)} is not in images`);
    const label = categories.label(a.category_id as number);
    if (label < 0) throw new TypeError(`${at}: category_id ${JSON.stringify(a.category_id)} is not in categories`);
    const [x, y, w, h] = xywh(a.bbox, at);
    if (a.area !== undefined && !finite(a.area)) throw new TypeError(`${at}: area must be a number, got ${JSON.stringify(a.area)}`);
    im.gt.push(x, y, x + w, y + h);
    im.gtLabels.push(label);
    im.crowd.push(a.iscrowd ? 1 : 0);
    im.area.push(a.area === undefined ? w * h : (a.area as number));
  });
  const res = readJson(resFile, 'results');
  if (!Array.isArray(res)) throw new TypeError(`eval-coco: ${resFile}: expected a list of results [{ image_id, category_id, bbox, score }, ...]`);
  let otherCategory = 0;
  res.forEach((r, i) => {
    const at = `eval-coco: ${resFile}: result ${i}`;
    if (!isObj(r)) throw new TypeError(`${at} must be an object`);
    const im = images.get(r.image_id as number);
    if (!im) throw new TypeError(`${at}: image_id ${JSON.stringify(r.image_id)} is not an image of ${gtFile} (pycocotools: "Results do not correspond to current coco set")`);
    if (!finite(r.score)) throw new TypeError(`${at}: score must be a number, got ${JSON.stringify(r.score)}`);
    const [x, y, w, h] = xywh(r.bbox, at);
    const label = categories.label(r.category_id as number);
    if (label < 0) { otherCategory++; return; }
    im.dt.push(x, y, x + w, y + h);
    im.scores.push(r.score);
    im.dtLabels.push(label);
  });
  const meter = new CocoMeter(cats.length);
  for (const [id, im] of [...images].sort((a, b) => a[0] - b[0])) {
    meter.add({ boxes: Float64Array.from(im.dt), scores: im.scores, labels: im.dtLabels }, { boxes: Float64Array.from(im.gt), labels: im.gtLabels, iscrowd: im.crowd, area: im.area, imageId: id });
  }
  const acc = meter.accumulate();
  const st = meter.stats(acc);
  const stats = Object.fromEntries(COCO_STAT_NAMES.map((n, i) => [n, st[i]]));
  const perCategory = meter.perClassAP(acc).map((AP, k) => ({ id: categories.ids[k], name: categories.names[k], AP }));
  log(`${images.size} images, ${anns.length} annotations, ${res.length} results${otherCategory ? ` (${otherCategory} of a category ${gtFile} does not have: left out, as pycocotools)` : ''}`);
  log(formatCocoSummary(st));
  const md = markdownTable(['category', 'id', 'AP'], perCategory.map((c) => [c.name, String(c.id), c.AP < 0 ? '—' : (100 * c.AP).toFixed(1)]));
  writeReport(o.workDir ?? '.', 'eval_coco', md, { gt: gtFile, results: resFile, stats, perCategory }, log);
  return { stats, perCategory };
}
