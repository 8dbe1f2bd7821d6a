// Pascal VOC detection (the VOCdevkit layout: Annotations/<stem>.xml,
// JPEGImages/<stem>.jpg, ImageSets/Main/{train,val,trainval,test}.txt) as a
// detection Dataset; mmdet 3.x VOCDataset / XMLDataset, detectron2's
// load_voc_instances. The XML is parsed by fast-xml-parser (checked first
// by its validator, so a malformed file is an error with its line, not a
// silently partial parse). `difficult` becomes the ignore flag (VOC's
// evaluation, and mmdet's ignore_flag, leave difficult boxes out of both the
// positives and the false positives), `truncated` is kept; a class not in the
// class list is an unknown class (onBadBox; mmdet skips such objects).
//
// Coordinates. VOC boxes are 1-based pixel indices, inclusive: xmin = 1,
// xmax = W covers the whole row. Boxes here are continuous xyxy (a flip maps x
// to W − x), so by default ('min') x1 = xmin − 1, y1 = ymin − 1, x2 = xmax,
// y2 = ymax, exactly detectron2's conversion: (1, W) → (0, W). mmdet 3.x's
// XMLDataset subtracts 1 from all four (and truncates to integers), making
// every box one pixel smaller, which its VOCMetric undoes by computing areas
// and overlaps with +1 (eval_map's use_legacy_coordinate); 'all' gives mmdet's
// boxes (without the truncation) for parity with a model trained there. With
// 'min' a one-pixel box (xmin = xmax) has width 1; with 'all' it is degenerate.
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { loadSharp } from './image_folder.js';
import {
  BadBoxes, DetectionDataset, checkBox, checkCommonOptions, checkFilesExist, checkOptionKeys, describeDrops, mapLimit,
  type DetectionRecord, type OnBadBox,
} from './detection_dataset.js';

const WHO = 'vocDetection';

/** VOC's 20 classes, in the devkit's order (label = position). */
export const VOC_CLASSES: readonly string[] = Object.freeze([
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
]);

export interface VocRecord extends DetectionRecord {
  id: string;
  /** Per kept box: VOC's truncated flag (1 = the object extends beyond the box). */
  truncated: Uint8Array;
}

/** One <object> of a VOC annotation, as written (1-based pixel indices). */
export interface VocObject {
  name: string;
  difficult: boolean;
  truncated: boolean;
  /** xmin, ymin, xmax, ymax as in the file. */
  bndbox: [number, number, number, number];
}

export interface VocXml {
  filename: string | null;
  /** <size>'s [height, width], or null where absent or zero (the image is then asked). */
  size: [number, number] | null;
  objects: VocObject[];
}

// Text values are kept as strings (parseTagValue false) and converted here, so
// "007" stays a file name and a bad number is an error, not NaN.
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true, isArray: (_name, jpath) => jpath === 'annotation.object' });

const str = (x: unknown): string | null => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null);

function flag(x: unknown, where: string, tag: string): boolean {
  if (x === undefined || x === '') return false;
  const v = Number(str(x));
  if (!Number.isInteger(v)) throw new TypeError(`${where}: <${tag}> must be 0 or 1, got ${JSON.stringify(x)}`);
  return v !== 0;
}

/** Parses one VOC annotation file's text; `file` names it in errors. A malformed file or a missing field throws. */
export function parseVocXml(text: string, file: string): VocXml {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new SyntaxError(`${WHO}: ${file} is malformed XML: ${valid.err.msg} (line ${valid.err.line}${valid.err.col ? `, column ${valid.err.col}` : ''})`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const ann = doc.annotation as Record<string, unknown> | undefined;
  if (ann === undefined || ann === null || typeof ann !== 'object') throw new SyntaxError(`${WHO}: ${file} has no <annotation> element`);
  let size: [number, number] | null = null;
  const sz = ann.size as Record<string, unknown> | undefined;
  if (sz !== undefined && typeof sz === 'object' && sz !== null) {
    const w = Number(str(sz.width)), h = Number(str(sz.height));
    if (!Number.isInteger(w) || !Number.isInteger(h) || w < 0 || h < 0) throw new TypeError(`${file}: <size> must hold integer <width> and <height>, got ${JSON.stringify(sz)}`);
    if (w > 0 && h > 0) size = [h, w];
  }
  const objects = ((ann.object as unknown[] | undefined) ?? []).map((o0, j) => {
    const o = o0 as Record<string, unknown>;
    const where = `${WHO}: ${file}: object ${j + 1}`;
    const name = str(o?.name);
    if (name === null || name === '') throw new TypeError(`${where} has no <name>`);
    const b = o.bndbox as Record<string, unknown> | undefined;
    if (b === undefined || b === null || typeof b !== 'object') throw new TypeError(`${where} ('${name}') has no <bndbox>`);
    const bndbox = (['xmin', 'ymin', 'xmax', 'ymax'] as const).map((k) => {
      const v = str(b[k]);
      const n = v === null || v === '' ? NaN : Number(v);
      if (!Number.isFinite(n)) throw new TypeError(`${where} ('${name}'): <bndbox><${k}> must be a number, got ${JSON.stringify(b[k])}`);
      return n;
    }) as [number, number, number, number];
    return { name, difficult: flag(o.difficult, where, 'difficult'), truncated: flag(o.truncated, where, 'truncated'), bndbox };
  });
  return { filename: str(ann.filename), size, objects };
}

export interface VocDetectionOptions {
  /** The split: ImageSets/Main/{split}.txt lists its image stems (train, val, trainval, test). */
  split: string;
  /** Class names (label = position); default VOC's 20 (VOC_CLASSES). */
  classes?: readonly string[];
  /** 'min' (default; detectron2): xmin − 1, ymin − 1, xmax, ymax → continuous xyxy; 'all' (mmdet 3.x XMLDataset): all four − 1. See the file comment. */
  minusOne?: 'min' | 'all';
  /** Output [height, width]: images resized bilinear (aspect ratio not kept), boxes scaled with them. Default: no resize. */
  imageSize?: [number, number];
  /** A degenerate box, one outside its image or of a class not in `classes`: 'drop' (default, counted in `dropped`) or 'error'. */
  onBadBox?: OnBadBox;
  /** Only the first N images of the split list. */
  limit?: number;
  /** Called once with a line describing the dropped and clipped boxes, if any. */
  log?: (line: string) => void;
}

const OPTION_KEYS = ['split', 'classes', 'minusOne', 'imageSize', 'onBadBox', 'limit', 'log'];

/**
 * A Pascal VOC split as a detection Dataset (see DetectionDataset for the
 * batch): the split list, every annotation file and the images' presence are
 * read and checked here (an annotation without <size> has its image's header
 * read); image sizes are checked against the annotations as images are decoded.
 */
export async function vocDetection(root: string, opts: VocDetectionOptions): Promise<DetectionDataset<VocRecord>> {
  if (typeof root !== 'string' || root === '') throw new TypeError(`${WHO}: expected the VOC folder (holding Annotations, JPEGImages, ImageSets)`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${WHO}: options must be an object { split, classes?, minusOne?, imageSize?, onBadBox?, limit?, log? }`);
  checkOptionKeys(opts, OPTION_KEYS, WHO);
  if (typeof opts.split !== 'string' || !/^[\w.-]+$/.test(opts.split)) throw new TypeError(`${WHO}: split must name a list in ImageSets/Main (train, val, trainval, test), got ${JSON.stringify(opts.split)}`);
  const classes = opts.classes ?? VOC_CLASSES;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c !== '') || new Set(classes).size !== classes.length) {
    throw new TypeError(`${WHO}: classes must be a non-empty array of distinct class names`);
  }
  const minusOne = opts.minusOne ?? 'min';
  if (minusOne !== 'min' && minusOne !== 'all') throw new TypeError(`${WHO}: minusOne must be 'min' or 'all', got ${JSON.stringify(opts.minusOne)}`);
  const o = checkCommonOptions(opts, WHO);
  const dir = resolve(root);

  const list = join(dir, 'ImageSets', 'Main', `${opts.split}.txt`);
  let text: string;
  try {
    text = await readFile(list, 'utf8');
  } catch (e) {
    throw new Error(`${WHO}: cannot read the split list ${list} (VOC layout: ImageSets/Main/{train,val,trainval,test}.txt, one image stem a line): ${(e as Error).message}`);
  }
  let stems = text.split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((s) => s !== '');
  if (stems.length === 0) throw new Error(`${WHO}: the ${opts.split} split is empty: ${list} lists no images`);
  stems = stems.slice(0, o.limit ?? stems.length);
  const files = stems.map((s) => join(dir, 'JPEGImages', `${s}.jpg`));
  await checkFilesExist(stems.map((s, i) => ({ file: files[i], what: `'${s}' (listed in ${list})` })), WHO);
  const annDir = join(dir, 'Annotations');
  const present = new Set(await readdir(annDir).catch(() => [] as string[]));
  const lacking = stems.filter((s) => !present.has(`${s}.xml`));
  if (lacking.length > 0) throw new Error(`${WHO}: no annotation for '${lacking[0]}' (listed in ${list}): expected ${join(annDir, `${lacking[0]}.xml`)}${lacking.length > 1 ? ` (and ${lacking.length - 1} more missing)` : ''}`);

  const parsed = await mapLimit(stems, 64, async (s) => parseVocXml(await readFile(join(annDir, `${s}.xml`), 'utf8'), join(annDir, `${s}.xml`)));
  const sharp = await loadSharp();
  const sizes = await mapLimit(parsed, 64, async (p, i): Promise<[number, number]> => {
    if (p.size !== null) return p.size;
    const m = await sharp(files[i]).metadata().catch((e: Error) => { throw new Error(`${WHO}: ${join(annDir, `${stems[i]}.xml`)} has no <size> and the image ${files[i]} cannot be read: ${e.message}`); });
    return [m.height!, m.width!];
  });

  const labelOf = new Map(classes.map((c, i) => [c, i]));
  const bad = new BadBoxes(WHO, o.onBadBox);
  const d = minusOne === 'all' ? 1 : 0;
  const records: VocRecord[] = parsed.map((p, i) => {
    const m = p.objects.length;
    const boxes = new Float32Array(4 * m), labels = new Int32Array(m), ignore = new Uint8Array(m), truncated = new Uint8Array(m);
    const [h, w] = sizes[i];
    const xml = join(annDir, `${stems[i]}.xml`);
    let k = 0;
    p.objects.forEach((ob, j) => {
      const [xmin, ymin, xmax, ymax] = ob.bndbox;
      const where = `${xml}: object ${j + 1} ('${ob.name}'), bndbox [${ob.bndbox.join(', ')}] (xmin, ymin, xmax, ymax)`;
      const label = labelOf.get(ob.name);
      if (label === undefined) return bad.bad('unknownClass', where, `the classes are ${classes.join(', ')}`);
      const reason = checkBox(xmin - 1, ymin - 1, xmax - d, ymax - d, w, h, boxes, k, bad);
      if (reason !== null) return bad.bad(reason, where, reason === 'outside' ? `the image is ${w}x${h}` : '');
      labels[k] = label;
      ignore[k] = ob.difficult ? 1 : 0;
      truncated[k] = ob.truncated ? 1 : 0;
      k++;
    });
    return {
      file: files[i], id: stems[i], size: sizes[i], normalized: false, area: null,
      boxes: boxes.slice(0, 4 * k), labels: labels.slice(0, k), ignore: ignore.slice(0, k), truncated: truncated.slice(0, k),
    };
  });
  const dropped = bad.report();
  const line = describeDrops(dropped, WHO);
  if (line !== null) o.log?.(line);
  return new DetectionDataset<VocRecord>(sharp, { who: WHO, format: 'voc', classes: classes.slice(), records, names: stems, size: o.size, dropped });
}
