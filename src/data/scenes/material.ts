// The scenes' material in memory: every emoji render decoded once into a small
// pyramid of RGBA textures (so an object is resampled from the level nearest
// above its size: at most 2× down, no aliasing), and every photograph decoded
// once, shrunk so its smallest crop is about the output size.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBytes, scope, arange, stack, where, type Tensor } from '../../torch/index.js';
import { loadSharp, type SharpModule } from '../image_folder.js';
import { CLASS_RULES, emojiClasses, type ClassRule, type EmojiEntry } from './classes.js';
import type { Photo } from './background.js';

export interface SceneClassMaterial {
  name: string;
  /** The class's emoji: code points (or any id) and the render file (any format sharp reads; alpha = the object). */
  emoji: { code: string; file: string }[];
}

/** What scenes are made of: object classes with their renders, and background photographs. */
export interface SceneMaterial {
  classes: SceneClassMaterial[];
  photos: string[];
}

/** The emoji renders' side (Fluent Emoji's 256×256 WebP, sources.ts): the largest texture, never enlarged. */
export const EMOJI_SIDE = 256;

/**
 * Texture sides of the pyramid, largest first: the power of two that covers the largest object (at least 128, at
 * most the renders' EMOJI_SIDE), halved down to 32. Objects up to 128 px (the default at sizes up to 256) get
 * [128, 64, 32].
 */
export function textureLevels(maxObjectSize: number): number[] {
  if (!(maxObjectSize > 0 && maxObjectSize <= EMOJI_SIDE)) throw new RangeError(`scenes: the largest object (${maxObjectSize} px) must be at most the emoji renders' ${EMOJI_SIDE} px`);
  let top = 128;
  while (top < maxObjectSize) top *= 2;
  const levels: number[] = [];
  for (let t = top; t >= 32; t /= 2) levels.push(t);
  return levels;
}

/**
 * The material from a folder of Fluent Emoji renders (`<code points>.webp`) and
 * emoji-datasource's emoji.json, grouped by `rules` (CLASS_RULES, classes.ts), with the
 * given photographs.
 */
export async function fluentEmojiMaterial(assetsDir: string, emojiJson: string, photos: string[], rules: readonly ClassRule[] = CLASS_RULES): Promise<SceneMaterial> {
  let names: string[];
  try {
    names = await readdir(assetsDir);
  } catch (e) {
    throw new Error(`scenes: cannot list the emoji renders in ${assetsDir}: ${(e as Error).message}`);
  }
  const files = new Map(names.filter((n) => n.endsWith('.webp')).map((n) => [n.slice(0, -5).toLowerCase(), join(assetsDir, n)]));
  let entries: EmojiEntry[];
  try {
    entries = JSON.parse(await readFile(emojiJson, 'utf8')) as EmojiEntry[];
  } catch (e) {
    throw new Error(`scenes: cannot read emoji.json ${emojiJson}: ${(e as Error).message}`);
  }
  const classes = emojiClasses(entries, (c) => files.has(c), rules);
  return { classes: classes.map((c) => ({ name: c.name, emoji: c.emoji.map((e) => ({ code: e.code, file: files.get(e.code) as string })) })), photos };
}

export interface EmojiBank {
  /** Per level (textureLevels), uint8 [E,4,T,T] straight (not premultiplied) RGBA. */
  textures: Tensor[];
  /** Per emoji, its content box (alpha ≥ 128) in level-0 pixels: centre x, centre y, width, height. */
  boxes: Float64Array;
}

/** Decodes the renders (in parallel, by sharp: resized with premultiplied alpha, lanczos3; a non-square render is padded with transparency). */
export async function loadEmojiBank(files: string[], levels: number[] = textureLevels(128)): Promise<EmojiBank> {
  const sharp: SharpModule = await loadSharp();
  const perLevel = await Promise.all(levels.map(async (t) => {
    const bufs = await Promise.all(files.map(async (f) => {
      try {
        return await sharp(f).ensureAlpha().resize(t, t, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 }, kernel: 'lanczos3' }).raw().toBuffer();
      } catch (e) {
        throw new Error(`scenes: cannot decode the emoji render ${f}: ${(e as Error).message}`);
      }
    }));
    return Buffer.concat(bufs);
  }));
  return scope(() => {
    const textures = perLevel.map((b, i) => fromBytes(b, 'uint8', [files.length, levels[i], levels[i], 4]).permute(0, 3, 1, 2).contiguous());
    const t0 = levels[0];
    const on = textures[0].select(1, 3).ge(128); // [E,T,T]
    const ar = arange(t0);
    const rows = on.any(2);
    const cols = on.any(1);
    const span = (m: Tensor): Tensor => {
      const lo = where(m, ar, t0).amin(1);
      const hi = where(m, ar, -1).amax(1);
      return stack([lo, hi], 1);
    };
    const r = span(rows).to('float64').dataSync() as Float64Array;
    const c = span(cols).to('float64').dataSync() as Float64Array;
    const boxes = new Float64Array(files.length * 4);
    for (let i = 0; i < files.length; i++) {
      const [y0, y1, x0, x1] = [r[2 * i], r[2 * i + 1], c[2 * i], c[2 * i + 1]];
      if (y1 < y0) throw new Error(`scenes: the emoji render ${files[i]} is fully transparent (no alpha ≥ 128)`);
      boxes.set([(x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2, x1 - x0 + 1, y1 - y0 + 1], 4 * i);
    }
    textures.forEach((t) => t.keep());
    return { textures, boxes };
  });
}

/** Decodes the photographs (EXIF-rotated, sRGB, RGB), each shrunk (never enlarged) so its short side is at most `shortSide`. */
export async function loadPhotos(files: string[], shortSide: number): Promise<Photo[]> {
  const sharp: SharpModule = await loadSharp();
  return Promise.all(files.map(async (f) => {
    try {
      const meta = await sharp(f).metadata();
      const [w0, h0] = (meta.orientation ?? 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
      if (!w0 || !h0) throw new Error('the image has no size');
      const k = Math.min(1, shortSide / Math.min(w0, h0));
      const { data, info } = await sharp(f, { failOn: 'warning' }).rotate().resize(Math.max(1, Math.round(w0 * k)), Math.max(1, Math.round(h0 * k)), { fit: 'fill' })
        .toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
      return { data, width: info.width, height: info.height };
    } catch (e) {
      throw new Error(`scenes: cannot decode the background photo ${f}: ${(e as Error).message}`);
    }
  }));
}
