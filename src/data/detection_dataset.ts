// An object-detection split as a Dataset, whatever format it came from (COCO
// json: coco_json.ts, Pascal VOC xml: voc_xml.ts, YOLO txt: yolo_txt.ts). A
// parser turns its files into one DetectionRecord per image — typed arrays of
// boxes, labels, ignore flags and areas — and this class decodes the images (sharp,
// as imageFolder) and makes one tensor of each kind per image, never one per box.
//
// Boxes are float xyxy in pixels of the image as stored (docs/architecture.md §4);
// with `imageSize` the image is resized to it (no aspect ratio kept: keep-ratio
// resize + pad is a transform) and its boxes scaled with it. Areas stay in the
// stored image's pixels, as COCO's evaluation reads them (its small/medium/large
// ranges); `sizes` and `imageIds` take predictions back to the stored image.
//
// A bad box — degenerate (w or h ≤ 0), entirely outside its image, of an
// unknown class — is an error naming the file, image and box, or, with
// onBadBox 'drop', dropped and counted per reason (`dropped`). 'drop' is the
// default because the references drop such boxes without a word: mmdet 3.x
// CocoDataset.parse_data_info skips boxes with no overlap with the image, w or
// h < 1, and categories not in cat_ids; torchvision's detection reference
// (ConvertCocoPolysToMask) keeps only boxes with x2 > x1 and y2 > y1; and COCO
// itself has such boxes, so 'error' by default would refuse the sets users
// have. Here the drops are counted and the first ones described instead of
// silent. A box partly outside its image is clipped to it (torchvision's
// clamp; mmdet clips at its first geometric transform) and counted in `clipped`.
import { readdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fromBytes, scope, tensor, type Tensor } from '../torch/index.js';
import { checkIndices, type Batch, type Dataset } from './dataset.js';
import type { Sample, SampleSource } from './sample.js';
import { openImage, type SharpModule } from './image_folder.js';

/** What onBadBox does with a degenerate box, a box outside its image, or a box of an unknown class. */
export type OnBadBox = 'error' | 'drop';
export type BadBoxReason = 'degenerate' | 'outside' | 'unknownClass';
export const BAD_BOX_REASONS: readonly BadBoxReason[] = ['degenerate', 'outside', 'unknownClass'];

const REASON_TEXT: Record<BadBoxReason, string> = {
  degenerate: 'is degenerate (width or height ≤ 0)',
  outside: 'lies outside the image',
  unknownClass: 'has an unknown class',
};

/** One image of a detection split, as parsed: one entry per kept box, in the file's order. */
export interface DetectionRecord {
  /** The image file. */
  file: string;
  /** The image's id in its format (COCO: the json's numeric id; VOC and YOLO: the file stem), for writing results back. */
  id: number | string;
  /** The stored image's [height, width] as the annotations declare it (COCO json, VOC xml; checked when the image is decoded), or null (YOLO: known once decoded). */
  size: [number, number] | null;
  /** xyxy, four per box: pixels of the stored image, or shares of its width and height (0–1) when `normalized` (YOLO). */
  boxes: Float32Array;
  normalized: boolean;
  /** Contiguous class index per box, 0..K−1. */
  labels: Int32Array;
  /** 1 for boxes that count for nothing in training and evaluation (COCO iscrowd, VOC difficult). */
  ignore: Uint8Array;
  /** Per box in the stored image's pixels (COCO's `area`, the segment's), or null: the box's w·h, computed when loaded. */
  area: Float32Array | null;
}

/** Boxes dropped while parsing (onBadBox 'drop'), per reason, with the first few described; and the boxes clipped to their image. */
export interface DropReport {
  counts: Record<BadBoxReason, number>;
  /** Up to three per reason: which file, image and box. */
  examples: string[];
  clipped: number;
}

/** The parsers' bookkeeping of bad boxes: throws in 'error' mode, counts in 'drop' mode. */
export class BadBoxes {
  readonly counts: Record<BadBoxReason, number> = { degenerate: 0, outside: 0, unknownClass: 0 };
  readonly examples: string[] = [];
  clipped = 0;
  constructor(readonly who: string, readonly mode: OnBadBox) {}

  /** A bad box at `where` (file, image, box): an error, or one more dropped. `detail` says more (the class found). */
  bad(reason: BadBoxReason, where: string, detail = ''): void {
    const what = `${where} ${REASON_TEXT[reason]}${detail ? ` (${detail})` : ''}`;
    if (this.mode === 'error') throw new RangeError(`${this.who}: ${what}; onBadBox: 'drop' drops such boxes`);
    if (this.counts[reason] < 3) this.examples.push(what);
    this.counts[reason]++;
  }

  report(): DropReport {
    return { counts: { ...this.counts }, examples: this.examples.slice(), clipped: this.clipped };
  }
}

/** The one line a log shows for a drop report, or null when nothing was dropped or clipped. */
export function describeDrops(r: DropReport, who: string): string | null {
  const n = BAD_BOX_REASONS.reduce((s, k) => s + r.counts[k], 0);
  if (n === 0 && r.clipped === 0) return null;
  const parts = BAD_BOX_REASONS.filter((k) => r.counts[k] > 0).map((k) => `${r.counts[k]} ${k}`);
  const dropped = n > 0 ? `dropped ${n} boxes (${parts.join(', ')}; e.g. ${r.examples[0]})` : 'dropped no boxes';
  return `${who}: ${dropped}; ${r.clipped} boxes clipped to their image`;
}

/**
 * Checks one box, xyxy, against an image of w×h (1×1 for normalised boxes) and
 * writes it, clipped to the image, at out[4k..4k+3]. Returns the reason it is
 * bad, or null when it was written. NaN counts as degenerate.
 */
export function checkBox(x1: number, y1: number, x2: number, y2: number, w: number, h: number, out: Float32Array, k: number, bad: BadBoxes): BadBoxReason | null {
  if (!(x2 > x1 && y2 > y1)) return 'degenerate';
  const cx1 = Math.max(x1, 0), cy1 = Math.max(y1, 0), cx2 = Math.min(x2, w), cy2 = Math.min(y2, h);
  if (!(cx2 > cx1 && cy2 > cy1)) return 'outside';
  if (cx1 !== x1 || cy1 !== y1 || cx2 !== x2 || cy2 !== y2) bad.clipped++;
  out[4 * k] = cx1;
  out[4 * k + 1] = cy1;
  out[4 * k + 2] = cx2;
  out[4 * k + 3] = cy2;
  return null;
}

/** Checks and copies the common options (imageSize, onBadBox, limit) of the detection readers. */
export function checkCommonOptions(o: { imageSize?: unknown; onBadBox?: unknown; limit?: unknown; log?: unknown }, who: string): { size: [number, number] | null; onBadBox: OnBadBox; limit: number | null; log: ((line: string) => void) | null } {
  let size: [number, number] | null = null;
  if (o.imageSize !== undefined) {
    const s = o.imageSize;
    if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => Number.isInteger(v) && v > 0)) throw new TypeError(`${who}: imageSize must be [height, width] with positive integers, got ${JSON.stringify(s)}`);
    size = [s[0], s[1]];
  }
  const onBadBox = o.onBadBox ?? 'drop';
  if (onBadBox !== 'error' && onBadBox !== 'drop') throw new TypeError(`${who}: onBadBox must be 'error' or 'drop', got ${JSON.stringify(o.onBadBox)}`);
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && (o.limit as number) >= 1)) throw new TypeError(`${who}: limit must be a positive integer, got ${JSON.stringify(o.limit)}`);
  if (o.log !== undefined && typeof o.log !== 'function') throw new TypeError(`${who}: log must be a function (line: string) => void, got ${typeof o.log}`);
  return { size, onBadBox, limit: (o.limit as number | undefined) ?? null, log: (o.log as ((line: string) => void) | undefined) ?? null };
}

/** Refuses options not in `keys`, naming the one found. */
export function checkOptionKeys(opts: object, keys: readonly string[], who: string): void {
  for (const k of Object.keys(opts)) if (!keys.includes(k)) throw new TypeError(`${who}: unknown option '${k}' (expected ${keys.join(', ')})`);
}

/** fn over items with at most `limit` in flight (thousands of annotation files at once would run out of file descriptors), results in order. */
export async function mapLimit<T, U>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Checks that every image file exists: one readdir per folder, the first missing ones named. */
export async function checkFilesExist(files: { file: string; what: string }[], who: string): Promise<void> {
  const byDir = new Map<string, Set<string> | null>();
  for (const { file } of files) byDir.set(dirname(file), null);
  await Promise.all([...byDir.keys()].map(async (d) => {
    try {
      byDir.set(d, new Set(await readdir(d)));
    } catch {
      byDir.set(d, new Set());
    }
  }));
  const missing = files.filter(({ file }) => !byDir.get(dirname(file))!.has(basename(file)));
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more missing)` : '';
    throw new Error(`${who}: the image of ${missing[0].what} is missing: no file ${missing[0].file}${more}`);
  }
}

/**
 * A batch of a detection set: images uint8 [N,3,H,W]; per image boxes float32
 * [M_i,4] xyxy in output pixels, boxLabels int64 [M_i], ignore bool [M_i]
 * (COCO iscrowd, VOC difficult) and area float32 [M_i] (stored pixels); each
 * image's id and stored [height, width]; labels int64 zeros [N] (a
 * placeholder: the Dataset interface has labels, detection none per image).
 */
export interface DetectionBatch extends Batch {
  boxes: Tensor[];
  boxLabels: Tensor[];
  ignore: Tensor[];
  area: Tensor[];
  imageIds: (number | string)[];
  sizes: [number, number][];
}

interface Loaded {
  rgb: Buffer;
  /** The stored image's size (before any resize). */
  height: number;
  width: number;
}

export interface DetectionDatasetInit<R extends DetectionRecord = DetectionRecord> {
  who: string;
  format: 'coco' | 'voc' | 'yolo';
  classes: string[];
  records: R[];
  /** Each image's name: its path under the split's image folder without extension. */
  names: string[];
  size: [number, number] | null;
  dropped: DropReport;
}

export class DetectionDataset<R extends DetectionRecord = DetectionRecord> implements Dataset, SampleSource {
  readonly length: number;
  readonly classes: string[];
  readonly format: 'coco' | 'voc' | 'yolo';
  /** Output [height, width], or null: no resize (then a batch's images must share one size). */
  readonly size: [number, number] | null;
  readonly names: readonly string[];
  /** Each image's file and id, in order. */
  readonly files: readonly string[];
  readonly ids: readonly (number | string)[];
  /** What parsing dropped and clipped (onBadBox 'drop'). */
  readonly dropped: DropReport;
  protected readonly who: string;
  private readonly records: readonly R[];
  private readonly sharp: SharpModule;
  private _counts: number[] | null = null;

  constructor(sharp: SharpModule, init: DetectionDatasetInit<R>) {
    if (init.names.length !== init.records.length) throw new RangeError(`${init.who}: ${init.names.length} names for ${init.records.length} images`);
    this.sharp = sharp;
    this.who = init.who;
    this.format = init.format;
    this.classes = init.classes.slice();
    this.records = Object.freeze(init.records.slice());
    this.names = Object.freeze(init.names.slice());
    this.files = Object.freeze(init.records.map((r) => r.file));
    this.ids = Object.freeze(init.records.map((r) => r.id));
    this.length = init.records.length;
    this.size = init.size;
    this.dropped = init.dropped;
  }

  /** Image i's annotations as parsed (boxes in the stored image's pixels, or normalised for YOLO). */
  record(i: number): R {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`${this.who}.record: index ${String(i)} is not an integer in [0, ${this.length})`);
    return this.records[i];
  }

  /** Boxes per class over the split (index = class), ignored boxes (crowd, difficult) not counted; from the annotations, no image read. */
  classCounts(): number[] {
    if (this._counts === null) {
      const counts = new Array<number>(this.classes.length).fill(0);
      for (const r of this.records) for (let k = 0; k < r.labels.length; k++) if (r.ignore[k] === 0) counts[r.labels[k]]++;
      this._counts = counts;
    }
    return this._counts.slice();
  }

  /** Decodes image i (RGB HWC uint8, at the output size if one is set); checks its size against the declared one. */
  private async load(i: number): Promise<Loaded> {
    const r = this.records[i];
    try {
      const { img, width, height } = await openImage(this.sharp, r.file);
      if (r.size !== null && (r.size[0] !== height || r.size[1] !== width)) {
        throw new RangeError(`the annotations give image ${JSON.stringify(r.id)} the size ${r.size[1]}x${r.size[0]} (WxH), but the file is ${width}x${height}`);
      }
      const [h, w] = this.size ?? [height, width];
      if (width !== w || height !== h) img.resize(w, h, { fit: 'fill', kernel: 'linear' });
      const { data, info } = await img.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (info.width !== w || info.height !== h || info.channels !== 3 || data.length !== h * w * 3) {
        throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`);
      }
      return { rgb: data, width, height };
    } catch (e) {
      throw new Error(`${this.who}: cannot read ${r.file}: ${(e as Error).message}`);
    }
  }

  /** Image i's targets as tensors: boxes in output pixels (h×w), labels, ignore, area. Call inside a scope. */
  private tensorsOf(i: number, stored: Loaded, h: number, w: number): { boxes: Tensor; labels: Tensor; ignore: Tensor; area: Tensor } {
    const r = this.records[i];
    const m = r.labels.length;
    const raw = tensor(r.boxes, { shape: [m, 4] });
    // Normalised (YOLO) boxes → stored pixels; stored pixels → output pixels.
    const inStored = r.normalized ? raw.mul(tensor(Float32Array.of(stored.width, stored.height, stored.width, stored.height))) : raw;
    const sx = w / stored.width, sy = h / stored.height;
    const boxes = sx === 1 && sy === 1 ? inStored : inStored.mul(tensor(Float32Array.of(sx, sy, sx, sy)));
    let area: Tensor;
    if (r.area !== null) area = tensor(r.area);
    else {
      const [x1, y1, x2, y2] = inStored.unbind(1);
      area = x2.sub(x1).mul(y2.sub(y1));
    }
    return { boxes, labels: tensor(r.labels, { dtype: 'int64' }), ignore: tensor(r.ignore, { dtype: 'bool' }), area };
  }

  /** One image in the sample format (for Mosaic and other multi-sample transforms): image uint8 [3,H,W], boxes and boxLabels without the ignored boxes (the sample format has no ignore flag). */
  async getSample(index: number): Promise<Sample> {
    checkIndices([index], this.length, this.who);
    const l = await this.load(index);
    const [h, w] = this.size ?? [l.height, l.width];
    return scope(() => {
      const image = fromBytes(l.rgb, 'uint8', [h, w, 3]).permute(2, 0, 1).contiguous();
      const t = this.tensorsOf(index, l, h, w);
      const keep = t.ignore.logicalNot().nonzero().reshape(-1);
      return { image, boxes: t.boxes.indexSelect(0, keep), boxLabels: t.labels.indexSelect(0, keep) };
    });
  }

  async getBatch(indices: number[]): Promise<DetectionBatch> {
    checkIndices(indices, this.length, this.who);
    const n = indices.length;
    if (n === 0) throw new RangeError(`${this.who}.getBatch: expected at least one index`);
    const loaded = await Promise.all(indices.map((i) => this.load(i)));
    const [h, w] = this.size ?? [loaded[0].height, loaded[0].width];
    for (let k = 1; k < n && this.size === null; k++) {
      if (loaded[k].height !== h || loaded[k].width !== w) {
        throw new RangeError(`${this.who}: image ${this.files[indices[k]]} is ${loaded[k].width}x${loaded[k].height} (WxH), but ${this.files[indices[0]]} in the same batch is ${w}x${h}; give imageSize to resize them to one size`);
      }
    }
    const per = h * w * 3;
    const all = Buffer.allocUnsafe(per * n);
    loaded.forEach((l, k) => l.rgb.copy(all, k * per));
    return scope(() => {
      const images = fromBytes(all, 'uint8', [n, h, w, 3]).permute(0, 3, 1, 2).contiguous();
      const t = indices.map((i, k) => this.tensorsOf(i, loaded[k], h, w));
      return {
        images,
        labels: tensor(new BigInt64Array(n)),
        boxes: t.map((x) => x.boxes),
        boxLabels: t.map((x) => x.labels),
        ignore: t.map((x) => x.ignore),
        area: t.map((x) => x.area),
        imageIds: indices.map((i) => this.records[i].id),
        sizes: loaded.map((l): [number, number] => [l.height, l.width]),
        indices: indices.slice(),
      };
    });
  }
}
