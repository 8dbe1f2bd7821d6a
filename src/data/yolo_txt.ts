// YOLO txt labels in Ultralytics' layout as a detection Dataset:
// images/{split}/**.jpg and labels/{split}/**.txt, an image and its labels
// matched by path and stem (Ultralytics' img2label_paths: /images/ → /labels/,
// extension → .txt); one object a line, `class cx cy w h`, the box's centre and
// size as shares of the image's width and height (0–1). A line with more
// fields is a polygon `class x1 y1 x2 y2 …` (Ultralytics' segment labels),
// read as its bounding box (segments2boxes). An image without a label file,
// or with an empty one, has no boxes (a background image); a label file
// without an image is not read (Ultralytics ignores it too). Class names come
// from the config (data.yaml's `names`: a list, or a map 0..K−1 → name).
// A line with another number of fields, or a field that is not a number, is
// an error naming the file and line; a class outside 0..K−1 is an unknown
// class (onBadBox).
import { readFile, stat } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { loadSharp, IMAGE_EXTENSIONS } from './image_folder.js';
import { filesUnder } from './files.js';
import {
  BadBoxes, DetectionDataset, checkBox, checkCommonOptions, checkOptionKeys, describeDrops, mapLimit,
  type DetectionRecord, type OnBadBox,
} from './detection_dataset.js';

const WHO = 'yoloDetection';

export interface YoloRecord extends DetectionRecord {
  id: string;
  /** The label file, or null where the image has none. */
  labelFile: string | null;
}

/**
 * Parses one label file's text into normalised xyxy boxes (clipped to 0–1)
 * and class labels; `file` names it in errors. Bad boxes go to `bad`.
 */
export function parseYoloLabels(text: string, file: string, numClasses: number, bad: BadBoxes): { boxes: Float32Array; labels: Int32Array } {
  const lines = text.split(/\r?\n/);
  const boxes = new Float32Array(4 * lines.length), labels = new Int32Array(lines.length);
  let k = 0;
  lines.forEach((line, j) => {
    const t = line.trim();
    if (t === '') return;
    const f = t.split(/\s+/);
    const where = `${file}: line ${j + 1}`;
    if (!(f.length === 5 || (f.length >= 7 && f.length % 2 === 1))) {
      throw new TypeError(`${WHO}: ${where} has ${f.length} fields ('${t}'); expected 5 (class cx cy w h) or a polygon (class x1 y1 x2 y2 x3 y3 …: an odd count of at least 7)`);
    }
    const v = f.map(Number);
    const nan = v.findIndex((x) => !Number.isFinite(x));
    if (nan >= 0) throw new TypeError(`${WHO}: ${where}: field ${nan + 1} ('${f[nan]}') is not a number`);
    const cls = v[0];
    if (!Number.isInteger(cls)) throw new TypeError(`${WHO}: ${where}: the class '${f[0]}' is not an integer`);
    if (cls < 0 || cls >= numClasses) return bad.bad('unknownClass', `${where} ('${t}')`, `class ${cls}; the names are 0..${numClasses - 1}`);
    let x1: number, y1: number, x2: number, y2: number;
    if (f.length === 5) {
      const [, cx, cy, w, h] = v;
      if (w <= 0 || h <= 0) return bad.bad('degenerate', `${where} ('${t}')`);
      [x1, y1, x2, y2] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
    } else {
      const xs = v.filter((_, i) => i % 2 === 1), ys = v.filter((_, i) => i > 0 && i % 2 === 0);
      [x1, y1, x2, y2] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    }
    const reason = checkBox(x1, y1, x2, y2, 1, 1, boxes, k, bad);
    if (reason !== null) return bad.bad(reason, `${where} ('${t}')`, reason === 'outside' ? 'coordinates are shares of the image, 0 to 1' : '');
    labels[k++] = cls;
  });
  return { boxes: boxes.slice(0, 4 * k), labels: labels.slice(0, k) };
}

export interface YoloDetectionOptions {
  /** The split: images/{split} and labels/{split}. */
  split: string;
  /** Class names (data.yaml's `names`): a list, or a map from 0..K−1 to names. */
  names: readonly string[] | Record<number | string, string>;
  /** Output [height, width]: images resized bilinear (aspect ratio not kept), boxes scaled with them. Default: no resize. */
  imageSize?: [number, number];
  /** A degenerate box, one outside its image or of a class outside 0..K−1: 'drop' (default, counted in `dropped`) or 'error'. */
  onBadBox?: OnBadBox;
  /** Only the first N images, in file-name order. */
  limit?: number;
  /** Called once with a line describing the dropped and clipped boxes, if any. */
  log?: (line: string) => void;
}

const OPTION_KEYS = ['split', 'names', 'imageSize', 'onBadBox', 'limit', 'log'];

/** data.yaml's names (a list, or a map 0..K−1 → name) as a list. */
export function yoloNames(names: unknown, who = WHO): string[] {
  let list: unknown[];
  if (Array.isArray(names)) list = names;
  else if (names !== null && typeof names === 'object') {
    const keys = Object.keys(names);
    list = keys.map((_, i) => (names as Record<string, unknown>)[String(i)]);
    if (keys.some((k) => !(String(Number(k)) === k && Number(k) < keys.length))) throw new TypeError(`${who}: names as a map must have the keys 0..${keys.length - 1}, got ${keys.join(', ')}`);
  } else throw new TypeError(`${who}: names must be a list of class names or a map 0..K−1 → name (data.yaml's names)`);
  if (list.length === 0 || !list.every((n) => typeof n === 'string' && n !== '')) throw new TypeError(`${who}: names must be a non-empty list of class names`);
  return list as string[];
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/**
 * A YOLO-format split as a detection Dataset (see DetectionDataset for the
 * batch): images listed and every label file read and checked here; boxes are
 * kept normalised until an image is decoded, then scaled to its size.
 */
export async function yoloDetection(root: string, opts: YoloDetectionOptions): Promise<DetectionDataset<YoloRecord>> {
  if (typeof root !== 'string' || root === '') throw new TypeError(`${WHO}: expected the dataset folder (holding images/ and labels/)`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${WHO}: options must be an object { split, names, imageSize?, onBadBox?, limit?, log? }`);
  checkOptionKeys(opts, OPTION_KEYS, WHO);
  if (typeof opts.split !== 'string' || !/^[\w.-]+$/.test(opts.split)) throw new TypeError(`${WHO}: split must name a folder of images/ and labels/ (train, val, test), got ${JSON.stringify(opts.split)}`);
  const classes = yoloNames(opts.names);
  const o = checkCommonOptions(opts, WHO);
  const dir = resolve(root);
  const imgDir = join(dir, 'images', opts.split), lblDir = join(dir, 'labels', opts.split);
  if (!(await isDir(imgDir))) throw new Error(`${WHO}: ${imgDir} is not a folder (YOLO layout: images/{split} and labels/{split})`);
  const images = await filesUnder(imgDir, IMAGE_EXTENSIONS, { skipHidden: true });
  if (images.length === 0) throw new Error(`${WHO}: the ${opts.split} split is empty: no images (${IMAGE_EXTENSIONS.join(', ')}) in ${imgDir}`);
  const labelSet = new Set((await isDir(lblDir)) ? (await filesUnder(lblDir, ['.txt'], { skipHidden: true })).map((p) => relative(lblDir, p)) : []);
  const stems = images.map((p) => {
    const rel = relative(imgDir, p);
    return rel.slice(0, rel.length - extname(rel).length);
  });
  const seen = new Map<string, string>();
  stems.forEach((s, i) => {
    const other = seen.get(s);
    if (other !== undefined) throw new Error(`${WHO}: two images with the stem '${s}' in ${imgDir}: ${other} and ${images[i]} (labels are matched by stem)`);
    seen.set(s, images[i]);
  });
  const n = Math.min(images.length, o.limit ?? images.length);
  const bad = new BadBoxes(WHO, o.onBadBox);
  const texts = await mapLimit(stems.slice(0, n), 64, async (s) => (labelSet.has(`${s}.txt`) ? readFile(join(lblDir, `${s}.txt`), 'utf8') : null));
  const records: YoloRecord[] = texts.map((text, i) => {
    const labelFile = text === null ? null : join(lblDir, `${stems[i]}.txt`);
    const { boxes, labels } = text === null ? { boxes: new Float32Array(0), labels: new Int32Array(0) } : parseYoloLabels(text, labelFile!, classes.length, bad);
    return { file: images[i], id: stems[i], size: null, normalized: true, boxes, labels, ignore: new Uint8Array(labels.length), area: null, labelFile };
  });
  const dropped = bad.report();
  const line = describeDrops(dropped, WHO);
  if (line !== null) o.log?.(line);
  const sharp = await loadSharp();
  return new DetectionDataset<YoloRecord>(sharp, { who: WHO, format: 'yolo', classes, records, names: stems.slice(0, n), size: o.size, dropped });
}
