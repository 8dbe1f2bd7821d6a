// Segmentation masks from PNG files (docs/architecture.md §4: a mask is a class
// map, 255 = ignore). A mask's class is the PNG's palette INDEX, never its
// colour: sharp (libvips) expands palette PNGs to RGB, so two classes drawn in
// one colour would merge, and a colour → class table would be needed. fast-png
// hands back the indices themselves. Two kinds are read, as mmseg reads them
// (PIL's 'P' and 'L' images, `imfrombytes(..., flag='unchanged', backend='pillow')`):
//   - palette PNGs (colour type 3, bit depth 1/2/4/8): the index of each pixel
//     (VOC's SegmentationClass; border index 255 = ignore);
//   - 8-bit greyscale PNGs (colour type 0): the grey value (mmseg's class-index PNGs, ADE20K, Cityscapes' labelTrainIds).
// Anything else (RGB or RGBA, greyscale+alpha, 16-bit, 1/2/4-bit greyscale) is
// refused with an error naming the file: its values are not class indices.
import { readFileSync } from 'node:fs';
import { decode, encode, hasPngSignature } from 'fast-png';
import { vocPalette } from './palette.js';

export interface MaskPng {
  /** Class indices, row-major, height × width. */
  data: Uint8Array;
  height: number;
  width: number;
}

function kind(channels: number, palette: boolean, depth: number): string {
  const what = palette ? 'palette' : channels === 1 ? 'greyscale' : channels === 2 ? 'greyscale+alpha' : channels === 3 ? 'RGB' : channels === 4 ? 'RGBA' : `${channels}-channel`;
  return `${depth}-bit ${what}`;
}

const EXPECTED = 'expected a palette PNG (class = palette index) or an 8-bit greyscale PNG (class = grey value)';

/** Unpacks 1/2/4-bit palette indices (rows padded to whole bytes, most significant bits first). */
function unpack(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const perLine = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * perLine;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Decodes a mask PNG's bytes; `name` (the file) goes into every error. */
export function decodeMaskPng(bytes: Uint8Array, name: string): MaskPng {
  if (!hasPngSignature(bytes)) throw new Error(`readMaskPng: ${name} is not a PNG file (${EXPECTED})`);
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new Error(`readMaskPng: cannot decode ${name}: ${(e as Error).message}`);
  }
  const { width, height, depth, channels } = png;
  // A truecolour PNG may carry a PLTE chunk (a suggested palette); only colour type 3 has one channel and a palette.
  const indexed = channels === 1 && png.palette !== undefined;
  const n = width * height;
  if (indexed) {
    if (depth === 8) {
      if (!(png.data instanceof Uint8Array) || png.data.length !== n) throw new Error(`readMaskPng: ${name}: decoded ${png.data.length} values for ${width}x${height} pixels`);
      return { data: png.data, height, width };
    }
    if (depth === 1 || depth === 2 || depth === 4) return { data: unpack(png.data, width, height, depth), height, width };
  } else if (channels === 1 && depth === 8 && png.data instanceof Uint8Array && png.data.length === n) {
    return { data: png.data, height, width };
  }
  throw new Error(`readMaskPng: ${name} is ${depth === 8 ? 'an' : 'a'} ${kind(channels, indexed, depth)} PNG; ${EXPECTED}`);
}

/**
 * A segmentation mask PNG as class indices: the palette index of each pixel for a
 * palette PNG, the grey value for an 8-bit greyscale PNG; any other PNG is an
 * error naming the file. Synchronous (a whole-split pass such as classCounts
 * uses it); datasets read the bytes asynchronously and call decodeMaskPng.
 */
export function readMaskPng(path: string): MaskPng {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readMaskPng: cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeMaskPng(bytes, path);
}

/**
 * A class map as an 8-bit palette PNG (VOC's SegmentationClass form: index = class, 255 = ignore), in the VOC
 * colours unless a palette (up to 256 [r, g, b]) is given, or with 'greyscale' as an 8-bit greyscale PNG (mmseg's
 * ann_dir form: grey value = class); readMaskPng reads the indices back from either.
 */
export function encodeMaskPng(m: MaskPng, palette: number[][] | 'greyscale' = vocPalette()): Uint8Array {
  if (!(m.data instanceof Uint8Array) || !Number.isInteger(m.height) || !Number.isInteger(m.width) || m.height < 1 || m.width < 1 || m.data.length !== m.height * m.width) {
    throw new TypeError(`encodeMaskPng: expected { data: Uint8Array of height × width, height, width }, got ${m.data?.length} values for ${m.height}x${m.width}`);
  }
  const png = { width: m.width, height: m.height, data: m.data, channels: 1, depth: 8 as const };
  if (palette === 'greyscale') return encode(png);
  if (!Array.isArray(palette) || palette.length < 1 || palette.length > 256) throw new TypeError(`encodeMaskPng: palette must be 1 to 256 colours or 'greyscale', got ${Array.isArray(palette) ? palette.length : JSON.stringify(palette)}`);
  return encode({ ...png, palette });
}
