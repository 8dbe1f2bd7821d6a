// COCO instances json (cocodataset.org/#format-data; pycocotools' COCO, mmdet
// 3.x CocoDataset) as a detection Dataset. `images` (id, file_name, width,
// height) in the json's order, images without annotations kept (mmdet's
// filter_empty_gt is a training choice, not the reader's); `annotations` with
// `bbox` [x, y, w, h] in pixels → xyxy, `iscrowd` → the ignore flag (mmdet 3.x:
// ignore_flag; COCO's evaluation matches crowd boxes without counting them),
// `area` kept for evaluation (w·h where the json has none), `segmentation`
// kept as the json has it — polygons [[x1, y1, x2, y2, …], …] or RLE
// { size: [h, w], counts } with counts a compressed string or uncompressed
// run lengths — for masks later (nothing is rasterised here).
//
// Category ids need not be contiguous (COCO's 80 classes have ids 1..90):
// labels 0..K−1 are the ids in ascending order (mmdet's cat2label over
// get_cat_ids(), which sorts them; detectron2's thing_dataset_id_to_contiguous_id),
// and CocoCategories maps both ways, so results are written with the json's ids.
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { loadSharp, type SharpModule } from './image_folder.js';
import {
  BadBoxes, DetectionDataset, checkBox, checkFilesExist, checkCommonOptions, checkOptionKeys, describeDrops,
  type DetectionDatasetInit, type DetectionRecord, type DropReport, type OnBadBox,
} from './detection_dataset.js';

const WHO = 'cocoDetection';

/** A polygon list: each polygon [x1, y1, x2, y2, …] in pixels. */
export type CocoPolygons = number[][];
/** Run-length encoding: counts as COCO's compressed string, or uncompressed run lengths (column-major, starting with a run of zeros). */
export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}
export type CocoSegmentation = CocoPolygons | CocoRle;

export interface CocoRecord extends DetectionRecord {
  id: number;
  /** The json's file_name. */
  fileName: string;
  /** Per kept box: its annotation id, and its segmentation as the json gives it (null where absent). */
  annotationIds: number[];
  segmentation: (CocoSegmentation | null)[];
}

/** The json's categories and the contiguous labels: label k is the k-th smallest id. */
export class CocoCategories {
  /** Label → category id, ascending. */
  readonly ids: readonly number[];
  /** Label → category name. */
  readonly names: readonly string[];
  private readonly labelOf: Map<number, number>;

  constructor(categories: { id: number; name: string }[]) {
    const sorted = categories.slice().sort((a, b) => a.id - b.id);
    this.ids = Object.freeze(sorted.map((c) => c.id));
    this.names = Object.freeze(sorted.map((c) => c.name));
    this.labelOf = new Map(sorted.map((c, i) => [c.id, i]));
  }

  /** The label of a category id, or −1 for an id the json does not define. */
  label(categoryId: number): number {
    return this.labelOf.get(categoryId) ?? -1;
  }

  /** The category id of a label 0..K−1 (what results are written with). */
  categoryId(label: number): number {
    if (!Number.isInteger(label) || label < 0 || label >= this.ids.length) throw new RangeError(`CocoCategories: label ${label} is not in [0, ${this.ids.length})`);
    return this.ids[label];
  }
}

/** One detection in COCO's results format (what pycocotools' loadRes reads). */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/**
 * One image's detections as COCO results: boxes xyxy in the stored image's
 * pixels (4 per box), scores and labels (0..K−1), written with the json's
 * category ids and [x, y, w, h] boxes.
 */
export function cocoResults(imageId: number, boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>, categories: CocoCategories): CocoResult[] {
  const m = scores.length;
  if (boxes.length !== 4 * m || labels.length !== m) throw new RangeError(`cocoResults: ${boxes.length / 4} boxes, ${m} scores and ${labels.length} labels for image ${imageId}; expected one of each per detection`);
  const out: CocoResult[] = new Array(m);
  for (let k = 0; k < m; k++) {
    const x1 = boxes[4 * k], y1 = boxes[4 * k + 1];
    out[k] = { image_id: imageId, category_id: categories.categoryId(labels[k]), bbox: [x1, y1, boxes[4 * k + 2] - x1, boxes[4 * k + 3] - y1], score: scores[k] };
  }
  return out;
}

export interface ParsedCoco {
  categories: CocoCategories;
  records: CocoRecord[];
  dropped: DropReport;
}

const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function checkSegmentation(seg: unknown, at: () => string, h: number, w: number): CocoSegmentation | null {
  if (seg === undefined || seg === null || (Array.isArray(seg) && seg.length === 0)) return null;
  if (Array.isArray(seg)) {
    seg.forEach((p, j) => {
      if (!Array.isArray(p) || p.length % 2 !== 0 || !p.every(finite)) throw new TypeError(`${at()}: segmentation polygon ${j} must be [x1, y1, x2, y2, …] (an even count of numbers)`);
    });
    return seg as CocoPolygons;
  }
  if (isObj(seg)) {
    const { size, counts } = seg;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v))) throw new TypeError(`${at()}: segmentation RLE size must be [height, width], got ${JSON.stringify(size)}`);
    if (size[0] !== h || size[1] !== w) throw new RangeError(`${at()}: segmentation RLE size [${size}] is not the image's [${h}, ${w}] (height, width)`);
    if (!(typeof counts === 'string' || (Array.isArray(counts) && counts.every((c) => Number.isInteger(c) && c >= 0)))) {
      throw new TypeError(`${at()}: segmentation RLE counts must be a compressed string or an array of run lengths`);
    }
    return seg as unknown as CocoRle;
  }
  throw new TypeError(`${at()}: segmentation must be a list of polygons or an RLE { size, counts }, got ${typeof seg}`);
}

/**
 * Parses a COCO instances json (already JSON.parse'd). `file` names the json in
 * errors; file_name is resolved against `imageDir`. Structure errors (a field
 * of the wrong type, an annotation of an unknown image, a repeated id) always
 * throw; bad boxes follow onBadBox.
 */
export function parseCocoJson(json: unknown, opts: { file: string; imageDir: string; onBadBox?: OnBadBox }): ParsedCoco {
  const file = opts.file;
  const at = `${WHO}: ${file}`;
  if (!isObj(json)) throw new TypeError(`${at}: expected a COCO instances object { images, annotations, categories }`);
  const { images, annotations = [], categories } = json;
  if (!Array.isArray(images)) throw new TypeError(`${at}: 'images' must be an array`);
  if (!Array.isArray(annotations)) throw new TypeError(`${at}: 'annotations' must be an array`);
  if (!Array.isArray(categories) || categories.length === 0) throw new TypeError(`${at}: 'categories' must be a non-empty array of { id, name }`);

  const cats = categories.map((c, j) => {
    if (!isObj(c) || !Number.isInteger(c.id) || typeof c.name !== 'string') throw new TypeError(`${at}: categories[${j}] must be { id: integer, name: string }, got ${JSON.stringify(c)}`);
    return { id: c.id as number, name: c.name };
  });
  const seenCat = new Set<number>();
  for (const c of cats) {
    if (seenCat.has(c.id)) throw new RangeError(`${at}: category id ${c.id} is given twice`);
    seenCat.add(c.id);
  }
  const cm = new CocoCategories(cats);

  const slot = new Map<number, number>();
  const imgs = images.map((im, j) => {
    if (!isObj(im) || !Number.isInteger(im.id) || typeof im.file_name !== 'string' || im.file_name === '' || !(Number.isInteger(im.width) && (im.width as number) > 0) || !(Number.isInteger(im.height) && (im.height as number) > 0)) {
      throw new TypeError(`${at}: images[${j}] must be { id: integer, file_name: string, width, height: positive integers }, got ${JSON.stringify(im)}`);
    }
    if (slot.has(im.id as number)) throw new RangeError(`${at}: image id ${im.id} is given twice (images[${slot.get(im.id as number)}] and images[${j}])`);
    slot.set(im.id as number, j);
    return { id: im.id as number, fileName: im.file_name, width: im.width as number, height: im.height as number };
  });

  // Two passes: count each image's annotations, then fill its typed arrays.
  const count = new Int32Array(imgs.length);
  annotations.forEach((a, j) => {
    if (!isObj(a)) throw new TypeError(`${at}: annotations[${j}] must be an object`);
    const s = slot.get(a.image_id as number);
    if (s === undefined) throw new RangeError(`${at}: annotation ${JSON.stringify(a.id ?? `[${j}]`)} refers to image ${JSON.stringify(a.image_id)}, which is not in 'images'`);
    count[s]++;
  });
  const bad = new BadBoxes(WHO, opts.onBadBox ?? 'drop');
  const records: CocoRecord[] = imgs.map((im, s) => ({
    file: join(opts.imageDir, im.fileName),
    id: im.id,
    fileName: im.fileName,
    size: [im.height, im.width],
    boxes: new Float32Array(4 * count[s]),
    normalized: false,
    labels: new Int32Array(count[s]),
    ignore: new Uint8Array(count[s]),
    area: new Float32Array(count[s]),
    annotationIds: [],
    segmentation: [],
  }));
  const kept = new Int32Array(imgs.length);
  annotations.forEach((a0, j) => {
    const a = a0 as Record<string, unknown>;
    const s = slot.get(a.image_id as number)!;
    const im = imgs[s], r = records[s];
    const annId = a.id === undefined ? j : a.id;
    if (!Number.isInteger(annId)) throw new TypeError(`${at}: annotations[${j}].id must be an integer, got ${JSON.stringify(a.id)}`);
    // Messages are built only when something is wrong (COCO train2017 has 860k annotations).
    const name = (): string => `annotation ${annId} (image ${im.id}, ${im.fileName})`;
    const bbox = a.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(finite)) throw new TypeError(`${at}: ${name()}: bbox must be [x, y, w, h] (4 numbers), got ${JSON.stringify(bbox)}`);
    const iscrowd = a.iscrowd ?? 0;
    if (iscrowd !== 0 && iscrowd !== 1 && iscrowd !== false && iscrowd !== true) throw new TypeError(`${at}: ${name()}: iscrowd must be 0 or 1, got ${JSON.stringify(a.iscrowd)}`);
    if (a.area !== undefined && !finite(a.area)) throw new TypeError(`${at}: ${name()}: area must be a number, got ${JSON.stringify(a.area)}`);
    const seg = checkSegmentation(a.segmentation, () => `${at}: ${name()}`, im.height, im.width);
    const [x, y, w, h] = bbox as number[];
    const where = (): string => `${file}: ${name()}, bbox [${bbox.join(', ')}] (x, y, w, h)`;
    const label = cm.label(a.category_id as number);
    if (label < 0) return bad.bad('unknownClass', where(), `category_id ${JSON.stringify(a.category_id)}; the categories are ${cm.ids.join(', ')}`);
    const k = kept[s];
    const reason = w <= 0 || h <= 0 ? 'degenerate' : checkBox(x, y, x + w, y + h, im.width, im.height, r.boxes, k, bad);
    if (reason !== null) return bad.bad(reason, where(), reason === 'outside' ? `the image is ${im.width}x${im.height}` : '');
    r.labels[k] = label;
    r.ignore[k] = iscrowd ? 1 : 0;
    r.area![k] = a.area === undefined ? w * h : (a.area as number);
    r.annotationIds.push(annId as number);
    r.segmentation.push(seg);
    kept[s] = k + 1;
  });
  for (let s = 0; s < records.length; s++) {
    const r = records[s], k = kept[s];
    if (k === count[s]) continue;
    r.boxes = r.boxes.slice(0, 4 * k);
    r.labels = r.labels.slice(0, k);
    r.ignore = r.ignore.slice(0, k);
    r.area = r.area!.slice(0, k);
  }
  return { categories: cm, records, dropped: bad.report() };
}

export interface CocoDetectionOptions {
  /** The folder file_name is relative to (mmdet's data_prefix img; COCO: <root>/train2017). */
  imageDir: string;
  /** Output [height, width]: images resized bilinear (aspect ratio not kept), boxes scaled with them. Default: no resize. */
  imageSize?: [number, number];
  /** A degenerate box, one outside its image or of an unknown category: 'drop' (default, counted in `dropped`; mmdet and torchvision drop them silently) or 'error'. */
  onBadBox?: OnBadBox;
  /** Only the first N images, in the json's order. */
  limit?: number;
  /** Called once with a line describing the dropped and clipped boxes, if any (the data layer prints nothing itself). */
  log?: (line: string) => void;
}

const OPTION_KEYS = ['imageDir', 'imageSize', 'onBadBox', 'limit', 'log'];

export class CocoDetectionDataset extends DetectionDataset<CocoRecord> {
  /** The json's categories, label ↔ category id. */
  readonly categories: CocoCategories;
  constructor(sharp: SharpModule, init: DetectionDatasetInit<CocoRecord>, categories: CocoCategories) {
    super(sharp, init);
    this.categories = categories;
  }
}


/**
 * A COCO instances json and its image folder as a detection Dataset (see
 * DetectionDataset for the batch): the json is read and checked here, every
 * image file checked to exist; image sizes are checked against the json as
 * images are decoded.
 */
export async function cocoDetection(annFile: string, opts: CocoDetectionOptions): Promise<CocoDetectionDataset> {
  if (typeof annFile !== 'string' || annFile === '') throw new TypeError(`${WHO}: expected the path of a COCO instances json`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${WHO}: options must be an object { imageDir, imageSize?, onBadBox?, limit?, log? }`);
  checkOptionKeys(opts, OPTION_KEYS, WHO);
  if (typeof opts.imageDir !== 'string' || opts.imageDir === '') throw new TypeError(`${WHO}: imageDir must be the folder of the images (file_name is relative to it)`);
  const o = checkCommonOptions(opts, WHO);
  let text: string;
  try {
    text = await readFile(annFile, 'utf8');
  } catch (e) {
    throw new Error(`${WHO}: cannot read ${annFile}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${WHO}: ${annFile} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = parseCocoJson(json, { file: annFile, imageDir: resolve(opts.imageDir), onBadBox: o.onBadBox });
  const records = parsed.records.slice(0, o.limit ?? parsed.records.length);
  await checkFilesExist(records.map((r) => ({ file: r.file, what: `image ${r.id} (${r.fileName}) in ${annFile}` })), WHO);
  const line = describeDrops(parsed.dropped, WHO);
  if (line !== null) o.log?.(line);
  const sharp = await loadSharp();
  return new CocoDetectionDataset(sharp, {
    who: WHO, format: 'coco', classes: parsed.categories.names.slice(), records, size: o.size, dropped: parsed.dropped,
    names: records.map((r) => r.fileName.slice(0, r.fileName.length - extname(r.fileName).length)),
  }, parsed.categories);
}
