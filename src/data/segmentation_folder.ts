// A semantic-segmentation dataset on disk, in mmsegmentation's two common layouts:
//   mmseg: root/img_dir/{split}/**.{jpg,jpeg,png} and root/ann_dir/{split}/**.png,
//          an image and its mask matched by path and file stem (mmseg's
//          BaseSegDataset with img_suffix / seg_map_suffix, the ADE20K layout);
//   voc:   root/JPEGImages/<stem>.jpg, root/SegmentationClass/<stem>.png (palette
//          PNGs, border 255 = ignore), root/ImageSets/Segmentation/{split}.txt
//          listing the split's stems (mmseg's PascalVOCDataset).
// Images are decoded by sharp (as imageFolder), masks by readMaskPng (palette
// index or grey value, never colour), the files of a batch in parallel; a batch
// is uint8 images [N,3,H,W] and int64 masks [N,H,W] (docs/architecture.md §4).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, extname, relative } from 'node:path';
import { fromBytes, scope, stack, tensor, zeros, ops, type Tensor } from '../torch/index.js';
import { checkIndices, type Batch, type Dataset } from './dataset.js';
import { IGNORE_INDEX } from './sample.js';
import { loadSharp, openImage, type SharpModule } from './image_folder.js';
import { decodeMaskPng, readMaskPng, type MaskPng } from './mask_png.js';
import { byName, filesUnder } from './files.js';

const WHO = 'segmentationFolder';
/** Image extensions of the mmseg layout (mmseg's img_suffix is '.jpg' by default; '.png' for e.g. Cityscapes-like sets). */
export const SEG_IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export interface SegmentationFolderOptions {
  split: 'train' | 'val';
  /** 'mmseg': img_dir/{split} + ann_dir/{split}; 'voc': JPEGImages + SegmentationClass + ImageSets/Segmentation/{split}.txt. */
  layout: 'mmseg' | 'voc';
  /** Class names; a mask value must be < classes.length or 255 (ignore). At most 255 classes. */
  classes: string[];
  /** mmseg's reduce_zero_label (ADE20K): 0 → 255 (ignore), every other value − 1 (255 stays 255). Default false. */
  reduceZeroLabel?: boolean;
  /** Output [height, width]: images resized bilinear, masks nearest (cv2's INTER_NEAREST / PyTorch's 'nearest': src = floor(dst · in/out)). Default: no resize (then a batch's images must share one size). */
  imageSize?: [number, number];
  /** Only the first N images of the split, in its order (mmseg: file names sorted; VOC: the ImageSets list), for quick runs and small studies; the others' masks are never read. */
  limit?: number;
}

const OPTION_KEYS = ['split', 'layout', 'classes', 'reduceZeroLabel', 'imageSize', 'limit'];

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}


const stem = (rel: string): string => rel.slice(0, rel.length - extname(rel).length);

/** Value → label table (256 entries): identity, or mmseg's reduce_zero_label (0 → 255, v → v − 1, 255 stays 255). */
function labelTable(reduceZeroLabel: boolean): Int32Array {
  const lut = Int32Array.from({ length: 256 }, (_, v) => v);
  if (reduceZeroLabel) for (let v = 0; v < 256; v++) lut[v] = v === 0 || v === IGNORE_INDEX ? IGNORE_INDEX : v - 1;
  return lut;
}

/** Pixel counts of each raw mask value (256 entries), by one bincount. */
function valueCounts(m: MaskPng): Float64Array {
  return scope(() => {
    const flat = fromBytes(m.data, 'uint8', [m.data.length]);
    const c: Tensor = ops.callOp('aten::bincount', flat, null, 256);
    return Float64Array.from(c.to('float64').dataSync() as Float64Array);
  });
}

/** Row (or column) sources of a nearest resize from n to m: floor(i · n / m), exact in integers. */
function nearestIndex(n: number, m: number): Tensor {
  return tensor(BigInt64Array.from({ length: m }, (_, i) => BigInt(Math.min(n - 1, Math.floor((i * n) / m)))));
}

interface Loaded {
  rgb: Buffer;
  /** The image's own size (before any resize). */
  height: number;
  width: number;
  mask: MaskPng;
}

export class SegmentationFolderDataset implements Dataset {
  readonly length: number;
  readonly classes: string[];
  readonly split: 'train' | 'val';
  readonly layout: 'mmseg' | 'voc';
  readonly reduceZeroLabel: boolean;
  /** Output [height, width], or null: no resize. */
  readonly size: [number, number] | null;
  /** Image files of the split, in order, and their masks. */
  readonly images: readonly string[];
  readonly masks: readonly string[];
  /** Each sample's name: its mask's path under the split's annotation folder without '.png' (mmseg: the image's relative path and stem; VOC: the stem). */
  readonly names: readonly string[];
  private readonly sharp: SharpModule;
  private readonly lut: Int32Array;
  private _counts: number[] | null = null;

  constructor(sharp: SharpModule, images: string[], masks: string[], names: string[], opts: { split: 'train' | 'val'; layout: 'mmseg' | 'voc'; classes: string[]; reduceZeroLabel: boolean; size: [number, number] | null }) {
    this.sharp = sharp;
    this.images = Object.freeze(images.slice());
    this.masks = Object.freeze(masks.slice());
    if (names.length !== images.length) throw new RangeError(`${WHO}: ${names.length} names for ${images.length} images`);
    this.names = Object.freeze(names.slice());
    this.length = images.length;
    this.classes = opts.classes.slice();
    this.split = opts.split;
    this.layout = opts.layout;
    this.reduceZeroLabel = opts.reduceZeroLabel;
    this.size = opts.size;
    this.lut = labelTable(opts.reduceZeroLabel);
  }

  /**
   * Pixels per class over the whole split (index = class; ignored pixels not
   * counted), for class weights — not samples per class as in classification.
   * Computed on first call by reading every mask of the split (synchronously,
   * at the mask files' own resolution, i.e. before any imageSize resize, after
   * reduceZeroLabel), then cached. A split of thousands of masks takes seconds.
   */
  classCounts(): number[] {
    if (this._counts === null) {
      const k = this.classes.length;
      const counts = new Array<number>(k).fill(0);
      for (const file of this.masks) {
        const raw = valueCounts(readMaskPng(file));
        this.checkValues(raw, file);
        for (let v = 0; v < 256; v++) {
          const c = this.lut[v];
          if (c < k) counts[c] += raw[v];
        }
      }
      this._counts = counts;
    }
    return this._counts.slice();
  }

  /** Throws, naming the file, if a mask holds a label ≥ classes.length that is not 255. */
  private checkValues(raw: Float64Array, file: string): void {
    const k = this.classes.length;
    for (let v = 0; v < 256; v++) {
      const c = this.lut[v];
      if (raw[v] > 0 && c >= k && c !== IGNORE_INDEX) {
        const via = this.reduceZeroLabel ? ` (raw value ${v}, after reduceZeroLabel)` : '';
        throw new RangeError(`${WHO}: mask ${file} has label ${c}${via} in ${raw[v]} pixels, but there are ${k} classes (expected 0..${k - 1}, or 255 = ignore)`);
      }
    }
  }

  /** One sample's image (RGB HWC uint8, at the output size if one is set) and mask (at its own size), read in parallel. */
  private async load(i: number): Promise<Loaded> {
    const imageFile = this.images[i];
    const maskFile = this.masks[i];
    const image = (async () => {
      try {
        const { img, width, height } = await openImage(this.sharp, imageFile);
        const [h, w] = this.size ?? [height, width];
        if (width !== w || height !== h) img.resize(w, h, { fit: 'fill', kernel: 'linear' });
        const { data, info } = await img.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
        if (info.width !== w || info.height !== h || info.channels !== 3 || data.length !== h * w * 3) {
          throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`);
        }
        return { rgb: data, width, height };
      } catch (e) {
        throw new Error(`${WHO}: cannot decode ${imageFile}: ${(e as Error).message}`);
      }
    })();
    const mask = (async () => {
      let bytes: Buffer;
      try {
        bytes = await readFile(maskFile);
      } catch (e) {
        throw new Error(`${WHO}: cannot read the mask ${maskFile} of ${imageFile}: ${(e as Error).message}`);
      }
      return decodeMaskPng(bytes, maskFile);
    })();
    const [im, m] = await Promise.all([image, mask]);
    if (m.height !== im.height || m.width !== im.width) {
      throw new RangeError(`${WHO}: mask ${maskFile} is ${m.width}x${m.height} (WxH) but its image ${imageFile} is ${im.width}x${im.height}`);
    }
    return { rgb: im.rgb, height: im.height, width: im.width, mask: m };
  }

  /**
   * images uint8 [N,3,H,W], masks int64 [N,H,W] (255 = ignore), labels int64
   * zeros [N] (a placeholder: the Dataset interface has labels; segmentation
   * has none per image), indices; with imageSize, also each image's stored [H, W] (`sizes`).
   */
  async getBatch(indices: number[]): Promise<Batch> {
    checkIndices(indices, this.length, WHO);
    const n = indices.length;
    if (n === 0) throw new RangeError(`${WHO}.getBatch: expected at least one index`);
    const loaded = await Promise.all(indices.map((i) => this.load(i)));
    for (let k = 0; k < n; k++) this.checkValues(valueCounts(loaded[k].mask), this.masks[indices[k]]);
    const [h, w] = this.size ?? [loaded[0].height, loaded[0].width];
    for (let k = 1; k < n && this.size === null; k++) {
      if (loaded[k].height !== h || loaded[k].width !== w) {
        throw new RangeError(`${WHO}: image ${this.images[indices[k]]} is ${loaded[k].width}x${loaded[k].height} (WxH), but ${this.images[indices[0]]} in the same batch is ${w}x${h}; give imageSize to resize them to one size`);
      }
    }
    const per = h * w * 3;
    const all = Buffer.allocUnsafe(per * n);
    loaded.forEach((l, k) => l.rgb.copy(all, k * per));
    return scope(() => {
      const images = fromBytes(all, 'uint8', [n, h, w, 3]).permute(0, 3, 1, 2).contiguous();
      const maps = loaded.map(({ mask: m }) => {
        const t = fromBytes(m.data, 'uint8', [m.height, m.width]);
        if (m.height === h && m.width === w) return t;
        return t.indexSelect(0, nearestIndex(m.height, h)).indexSelect(1, nearestIndex(m.width, w));
      });
      let masks = stack(maps, 0).to('int64');
      if (this.reduceZeroLabel) masks = tensor(BigInt64Array.from(this.lut, (v) => BigInt(v))).indexSelect(0, masks.flatten()).view(n, h, w);
      const labels = zeros([n], { dtype: 'int64' });
      const sizes = this.size ? { sizes: loaded.map((l): [number, number] => [l.height, l.width]) } : {};
      return { images, masks, labels, ...sizes, indices: indices.slice() };
    });
  }
}

function checkOptions(opts: SegmentationFolderOptions): { split: 'train' | 'val'; layout: 'mmseg' | 'voc'; classes: string[]; reduceZeroLabel: boolean; size: [number, number] | null; limit: number | null } {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${WHO}: options must be an object { split, layout, classes, reduceZeroLabel?, imageSize? }`);
  for (const k of Object.keys(opts)) {
    if (!OPTION_KEYS.includes(k)) throw new TypeError(`${WHO}: unknown option '${k}' (expected ${OPTION_KEYS.join(', ')})`);
  }
  const { split, layout, classes, reduceZeroLabel = false, imageSize, limit } = opts;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new TypeError(`${WHO}: limit must be a positive integer, got ${JSON.stringify(limit)}`);
  if (split !== 'train' && split !== 'val') throw new TypeError(`${WHO}: split must be 'train' or 'val', got ${JSON.stringify(split)}`);
  if (layout !== 'mmseg' && layout !== 'voc') throw new TypeError(`${WHO}: layout must be 'mmseg' or 'voc', got ${JSON.stringify(layout)}`);
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) {
    throw new TypeError(`${WHO}: classes must be a non-empty array of class names`);
  }
  if (classes.length > IGNORE_INDEX) throw new RangeError(`${WHO}: at most ${IGNORE_INDEX} classes (mask value 255 is ignore), got ${classes.length}`);
  if (typeof reduceZeroLabel !== 'boolean') throw new TypeError(`${WHO}: reduceZeroLabel must be a boolean, got ${typeof reduceZeroLabel}`);
  let size: [number, number] | null = null;
  if (imageSize !== undefined) {
    if (!Array.isArray(imageSize) || imageSize.length !== 2 || !imageSize.every((s) => Number.isInteger(s) && s > 0)) {
      throw new TypeError(`${WHO}: imageSize must be [height, width] with positive integers, got ${JSON.stringify(imageSize)}`);
    }
    size = [imageSize[0], imageSize[1]];
  }
  return { split, layout, classes, reduceZeroLabel, size, limit: limit ?? null };
}

async function mmsegFiles(root: string, split: string): Promise<{ images: string[]; masks: string[]; names: string[] }> {
  const imgDir = join(root, 'img_dir', split);
  const annDir = join(root, 'ann_dir', split);
  if (!(await isDir(imgDir))) throw new Error(`${WHO}: ${imgDir} is not a folder (mmseg layout: ${join(root, 'img_dir', '{train,val}')} and ${join(root, 'ann_dir', '{train,val}')})`);
  if (!(await isDir(annDir))) throw new Error(`${WHO}: ${annDir} is not a folder (mmseg layout: masks in ${join(root, 'ann_dir', split)}, one <stem>.png per image)`);
  const rels = (await filesUnder(imgDir, SEG_IMAGE_EXTENSIONS, { skipHidden: true })).map((p) => relative(imgDir, p));
  if (rels.length === 0) throw new Error(`${WHO}: the ${split} split is empty: no images (${SEG_IMAGE_EXTENSIONS.join(', ')}) in ${imgDir}`);
  const maskSet = new Set((await filesUnder(annDir, ['.png'], { skipHidden: true })).map((p) => relative(annDir, p)));
  const seen = new Map<string, string>();
  const images: string[] = [];
  const masks: string[] = [];
  const names: string[] = [];
  for (const rel of rels) {
    const s = stem(rel);
    const other = seen.get(s);
    if (other !== undefined) throw new Error(`${WHO}: two images with the stem '${s}' in ${imgDir}: ${other} and ${rel} (a mask is matched by stem)`);
    seen.set(s, rel);
    const m = `${s}.png`;
    if (!maskSet.has(m)) throw new Error(`${WHO}: no mask for ${join(imgDir, rel)}: expected ${join(annDir, m)}`);
    images.push(join(imgDir, rel));
    masks.push(join(annDir, m));
    names.push(s);
  }
  return { images, masks, names };
}

async function vocFiles(root: string, split: string): Promise<{ images: string[]; masks: string[]; names: string[] }> {
  const list = join(root, 'ImageSets', 'Segmentation', `${split}.txt`);
  let text: string;
  try {
    text = await readFile(list, 'utf8');
  } catch (e) {
    throw new Error(`${WHO}: cannot read the split list ${list} (VOC layout: ImageSets/Segmentation/{train,val}.txt, one image stem a line): ${(e as Error).message}`);
  }
  const stems = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (stems.length === 0) throw new Error(`${WHO}: the ${split} split is empty: ${list} lists no images`);
  const jpegDir = join(root, 'JPEGImages');
  const segDir = join(root, 'SegmentationClass');
  const dirFiles = async (d: string): Promise<Set<string>> => {
    try {
      return new Set(await readdir(d));
    } catch (e) {
      throw new Error(`${WHO}: cannot list ${d} (VOC layout: JPEGImages/<stem>.jpg, SegmentationClass/<stem>.png): ${(e as Error).message}`);
    }
  };
  const [jpegs, segs] = await Promise.all([dirFiles(jpegDir), dirFiles(segDir)]);
  const images: string[] = [];
  const masks: string[] = [];
  for (const s of stems) {
    if (!jpegs.has(`${s}.jpg`)) throw new Error(`${WHO}: ${list} lists '${s}' but there is no image ${join(jpegDir, `${s}.jpg`)}`);
    if (!segs.has(`${s}.png`)) throw new Error(`${WHO}: no mask for ${join(jpegDir, `${s}.jpg`)}: expected ${join(segDir, `${s}.png`)}`);
    images.push(join(jpegDir, `${s}.jpg`));
    masks.push(join(segDir, `${s}.png`));
  }
  return { images, masks, names: stems };
}

/**
 * A semantic-segmentation split on disk ('mmseg' or 'voc' layout, see the file
 * comment) as a Dataset: getBatch gives images uint8 [N,3,H,W], masks int64
 * [N,H,W] (class index, 255 = ignore), labels int64 zeros [N] (a placeholder
 * so the Dataset interface holds) and indices. Files are listed and every
 * image's mask is checked to exist here; sizes and mask values are checked as
 * batches are read (errors name the file). classCounts() is pixels per class.
 */
export async function segmentationFolder(root: string, opts: SegmentationFolderOptions): Promise<SegmentationFolderDataset> {
  if (typeof root !== 'string' || root === '') throw new TypeError(`${WHO}: expected the dataset root folder path`);
  const o = checkOptions(opts);
  if (!(await isDir(root))) throw new Error(`${WHO}: ${root} is not a folder`);
  const { images, masks, names } = o.layout === 'mmseg' ? await mmsegFiles(root, o.split) : await vocFiles(root, o.split);
  const sharp = await loadSharp();
  const n = Math.min(images.length, o.limit ?? images.length);
  return new SegmentationFolderDataset(sharp, images.slice(0, n), masks.slice(0, n), names.slice(0, n), o);
}
