// An image-classification dataset laid out as root/<class>/<image> —
// torchvision's ImageFolder: classes are the sub-folders of root, sorted, and
// the class index of an image is its folder's place in that order. Images are
// decoded by sharp (libvips) when a batch is asked for, the files of a batch
// in parallel on libuv's thread pool, into one uint8 [N,C,H,W] tensor.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { fromBytes, scope, tensor, type Tensor } from '../torch/index.js';
import { checkIndices, type Batch, type Dataset } from './dataset.js';
import { decodeBmp, isBmp } from './bmp.js';
import { byName, filesUnder } from './files.js';

export type SharpModule = typeof import('sharp').default;
type Sharp = ReturnType<SharpModule>;

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.webp'];

export interface ImageFolderOptions {
  /** Output [height, width]; default: the first image's size. Images of another size are resized (bilinear, aspect ratio not kept). */
  size?: [number, number];
  /** 3 = RGB (default; greyscale images are repeated, alpha dropped), 1 = greyscale (luma of the RGB image, as PIL's convert('L')). */
  channels?: 1 | 3;
}

let sharpPromise: Promise<SharpModule> | null = null;
/** sharp, loaded on first use so that the rest of Arsenal loads without it. */
export function loadSharp(): Promise<SharpModule> {
  sharpPromise ??= import('sharp').then(
    (m) => m.default,
    (e) => {
      sharpPromise = null;
      throw new Error(`imageFolder: cannot load 'sharp' (the image decoder; \`npm install\` installs it): ${(e as Error).message}`);
    },
  );
  return sharpPromise;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}


/** A sharp pipeline over a file's pixels, with the image's size. BMP (which sharp's libvips cannot read) is decoded here. */
export async function openImage(sharp: SharpModule, file: string): Promise<{ img: Sharp; width: number; height: number }> {
  const bytes = await readFile(file);
  if (isBmp(bytes)) {
    const { width, height, rgb } = decodeBmp(bytes);
    return { img: sharp(rgb, { raw: { width, height, channels: 3 } }), width, height };
  }
  const img = sharp(bytes, { failOn: 'warning' });
  const meta = await img.metadata();
  if (!meta.width || !meta.height) throw new Error('the image has no size');
  return { img, width: meta.width, height: meta.height };
}

// PIL's convert('L') (ITU-R 601-2 luma, in 16-bit fixed point), which torchvision's Grayscale also uses.
const LUMA = Int32Array.from([19595, 38470, 7471]);

/** uint8 [N,H,W,3] -> uint8 [N,C,H,W]; C = 1 is the luma, computed on the whole batch. */
function toNCHW(hwc: Tensor, channels: 1 | 3): Tensor {
  if (channels === 3) return hwc.permute(0, 3, 1, 2).contiguous();
  const y = hwc.to('int32').mul(tensor(LUMA)).sum(3, true).add(0x8000).div(65536, 'floor');
  return y.to('uint8').permute(0, 3, 1, 2).contiguous();
}

class ImageFolderDataset implements Dataset {
  readonly length: number;
  readonly classes: string[];
  readonly files: readonly string[];
  readonly targets: Int32Array;
  /** [height, width] of every decoded image. */
  readonly size: [number, number];
  readonly channels: 1 | 3;
  private readonly sharp: SharpModule;

  constructor(sharp: SharpModule, files: string[], targets: Int32Array, classes: string[], size: [number, number], channels: 1 | 3) {
    this.sharp = sharp;
    this.files = Object.freeze(files);
    this.targets = targets;
    this.classes = classes;
    this.size = size;
    this.channels = channels;
    this.length = files.length;
  }

  classCounts(): number[] {
    const counts = new Array<number>(this.classes.length).fill(0);
    for (const t of this.targets) counts[t]++;
    return counts;
  }

  /** Decodes one image to RGB HWC uint8 at the dataset's size. */
  async decode(file: string): Promise<Buffer> {
    const [h, w] = this.size;
    try {
      const { img, width, height } = await openImage(this.sharp, file);
      if (width !== w || height !== h) img.resize(w, h, { fit: 'fill', kernel: 'linear' });
      // Always RGB here (alpha dropped, as PIL's convert('RGB')); greyscale is made from RGB per batch.
      const { data, info } = await img.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (info.width !== w || info.height !== h || info.channels !== 3 || data.length !== h * w * 3) {
        throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`);
      }
      return data;
    } catch (e) {
      throw new Error(`imageFolder: cannot decode ${file}: ${(e as Error).message}`);
    }
  }

  async getBatch(indices: number[]): Promise<Batch> {
    checkIndices(indices, this.length, 'imageFolder');
    const [h, w] = this.size;
    const per = h * w * 3;
    const pixels = await Promise.all(indices.map((i) => this.decode(this.files[i])));
    const all = Buffer.allocUnsafe(per * indices.length);
    pixels.forEach((p, k) => p.copy(all, k * per));
    const images = scope(() => {
      const hwc = fromBytes(all, 'uint8', [indices.length, h, w, 3]);
      return toNCHW(hwc, this.channels);
    });
    const labels = tensor(BigInt64Array.from(indices, (i) => BigInt(this.targets[i])));
    return { images, labels, indices: indices.slice() };
  }
}

/**
 * root/<class>/**.{png,jpg,jpeg,bmp,webp} as a classification dataset (torchvision's
 * ImageFolder): classes sorted by name; getBatch decodes a batch's files in
 * parallel into uint8 [N,C,H,W] at `size` (default: the first image's).
 */
export async function imageFolder(root: string, opts: ImageFolderOptions = {}): Promise<Dataset> {
  if (typeof root !== 'string' || root === '') throw new TypeError('imageFolder: expected the root folder path');
  if (opts === null || typeof opts !== 'object') throw new TypeError('imageFolder: options must be an object { size?, channels? }');
  for (const k of Object.keys(opts)) {
    if (k !== 'size' && k !== 'channels') throw new TypeError(`imageFolder: unknown option '${k}' (expected size, channels)`);
  }
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`imageFolder: channels must be 1 or 3, got ${String(channels)}`);
  let size = opts.size;
  if (size !== undefined) {
    if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
      throw new TypeError(`imageFolder: size must be [height, width] with positive integers, got ${JSON.stringify(size)}`);
    }
    size = [size[0], size[1]];
  }
  if (!(await isDir(root))) throw new Error(`imageFolder: ${root} is not a folder`);

  const entries = await readdir(root, { withFileTypes: true });
  const classes: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory() || (e.isSymbolicLink() && (await isDir(join(root, e.name))))) classes.push(e.name);
  }
  classes.sort(byName);
  if (classes.length === 0) {
    throw new Error(`imageFolder: ${root} has no class folders (expected ${join(root, '<class>', '<image>')}, e.g. ${join(root, 'cat', '0001.jpg')})`);
  }
  const files: string[] = [];
  const targets: number[] = [];
  const empty: string[] = [];
  for (let k = 0; k < classes.length; k++) {
    const found: string[] = [];
    await filesUnder(join(root, classes[k]), IMAGE_EXTENSIONS, {}, found);
    if (found.length === 0) empty.push(classes[k]);
    for (const f of found) {
      files.push(f);
      targets.push(k);
    }
  }
  if (files.length === 0) {
    throw new Error(`imageFolder: ${root} holds no images (looked for ${IMAGE_EXTENSIONS.join(', ')} in ${classes.length} class folders)`);
  }
  if (empty.length > 0) {
    throw new Error(`imageFolder: class folder(s) with no images in ${root}: ${empty.join(', ')} (looked for ${IMAGE_EXTENSIONS.join(', ')})`);
  }

  const sharp = await loadSharp();
  if (size === undefined) {
    try {
      const { width, height } = await openImage(sharp, files[0]);
      size = [height, width];
    } catch (e) {
      throw new Error(`imageFolder: cannot decode ${files[0]}: ${(e as Error).message}`);
    }
  }
  return new ImageFolderDataset(sharp, files, Int32Array.from(targets), classes, size, channels);
}
