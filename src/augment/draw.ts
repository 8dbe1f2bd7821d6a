// Pictures of augmented batches: a grid of images (normalisation undone,
// scaled up by nearest neighbour), masks overlaid in a class palette (by
// default class 0 left clear, class k in box colour k − 1 as the scenes draw
// them, ignore = 255 in grey; or a given 256-colour palette such as VOC's,
// every class blended), boxes outlined in their class colour; written as PNG through
// sharp, atomically. Tensor operations over the batch; the only loop is over
// boxes (a few slices each).
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import type { ImageBatch } from './batch/types.js';
import { writeAtomic } from '../torch/safetensors.js';

export interface GridOptions {
  mean: number[];
  std: number[];
  cols?: number;
  /** Nearest-neighbour magnification (default: 4 below 64 pixels, 2 below 128, else 1). */
  scale?: number;
  /** Opacity of the mask colours (0.45; 0.5 with a maskPalette). */
  maskAlpha?: number;
  /** 256 colours [r, g, b], index = class (e.g. data's vocPalette()): every pixel blended with its class colour. Default: the box colours, class 0 clear. */
  maskPalette?: number[][];
  /** Pixels of white between tiles (2). */
  gap?: number;
}

// A 20-colour palette (Tableau 20's strong half, then its light half), class c → PALETTE[c % 20].
const PALETTE = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207], [127, 127, 127],
  [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213], [196, 156, 148], [247, 182, 210], [219, 219, 141], [158, 218, 229], [199, 199, 199],
];
export const classColour = (c: number): number[] => PALETTE[((c % 20) + 20) % 20];

/** An RGB grid [height, width, 3] uint8 of the batch. */
export function drawGrid(b: ImageBatch, o: GridOptions): { width: number; height: number; rgb: Uint8Array } {
  return torch.scope(() => {
    const [n, c, h, w] = b.images.shape;
    const scale = o.scale ?? (Math.max(h, w) < 64 ? 4 : Math.max(h, w) < 128 ? 2 : 1);
    const gap = o.gap ?? 2;
    const cols = o.cols ?? Math.ceil(Math.sqrt(n));
    const rows = Math.ceil(n / cols);
    const chan = (v: number[]) => torch.tensor(Array.from({ length: c }, (_, k) => v[k % v.length]), { dtype: 'float32' }).reshape(1, c, 1, 1);
    let x = b.images.float().mul(chan(o.std)).add(chan(o.mean)).clamp(0, 1).mul(255);
    if (c === 1) x = x.expand(n, 3, h, w);
    else if (c !== 3) throw new TypeError(`drawGrid: expected 1 or 3 channels, got ${c}`);
    if (b.masks) {
      const own = o.maskPalette;
      if (own !== undefined && !(Array.isArray(own) && own.length === 256 && own.every((c) => Array.isArray(c) && c.length === 3))) throw new TypeError('drawGrid: maskPalette must be 256 colours [r, g, b]');
      const palette = torch.tensor(own ?? [[0, 0, 0], ...Array.from({ length: 254 }, (_, k) => classColour(k)), [128, 128, 128]], { dtype: 'float32' }); // default: class k ≥ 1 → colour k − 1
      const colours = palette.indexSelect(0, b.masks.clamp(0, 255).reshape(-1)).reshape(n, h, w, 3).permute(0, 3, 1, 2);
      const alpha = o.maskAlpha ?? (own ? 0.5 : 0.45);
      const a = (own ? torch.full([n, h, w], alpha) : torch.where(b.masks.eq(0), 0, alpha)).float().unsqueeze(1);
      x = x.mul(a.rsub(1)).add(colours.mul(a));
    }
    if (scale > 1) x = F.interpolate(x, { scaleFactor: scale, mode: 'nearest' });
    x = x.contiguous();
    const H = h * scale, W = w * scale, t = Math.max(1, Math.round(scale / 2));
    if (b.boxes) {
      b.boxes.forEach((bx, i) => {
        const boxes = bx.toArray() as number[][];
        const labels = b.boxLabels ? (b.boxLabels[i].toArray() as number[]) : boxes.map(() => 0);
        boxes.forEach(([x1, y1, x2, y2], j) => {
          const [l, tp] = [Math.max(0, Math.round(x1 * scale)), Math.max(0, Math.round(y1 * scale))];
          const [r, bt] = [Math.min(W, Math.round(x2 * scale)), Math.min(H, Math.round(y2 * scale))];
          if (r <= l || bt <= tp) return;
          const col = classColour(labels[j]);
          for (let k = 0; k < 3; k++) {
            const img = x.index(i, k);
            img.index(`${tp}:${Math.min(tp + t, bt)}`, `${l}:${r}`).fill_(col[k]);
            img.index(`${Math.max(bt - t, tp)}:${bt}`, `${l}:${r}`).fill_(col[k]);
            img.index(`${tp}:${bt}`, `${l}:${Math.min(l + t, r)}`).fill_(col[k]);
            img.index(`${tp}:${bt}`, `${Math.max(r - t, l)}:${r}`).fill_(col[k]);
          }
        });
      });
    }
    // Tiles with a white gap, laid out rows × cols.
    x = F.pad(x, [0, gap, 0, gap], 'constant', 255);
    if (rows * cols > n) x = torch.cat([x, torch.full([rows * cols - n, 3, H + gap, W + gap], 255)], 0);
    const grid = x.reshape(rows, cols, 3, H + gap, W + gap).permute(0, 3, 1, 4, 2).reshape(rows * (H + gap), cols * (W + gap), 3);
    const rgb = new Uint8Array(grid.round().to('uint8').contiguous().dataSync() as Uint8Array);
    return { width: cols * (W + gap), height: rows * (H + gap), rgb };
  });
}

/** Writes an RGB buffer as PNG (temporary file and rename: never a torn file). */
export async function writePng(path: string, img: { width: number; height: number; rgb: Uint8Array }): Promise<void> {
  let sharp: typeof import('sharp').default;
  try { sharp = (await import('sharp')).default; } catch (e) { throw new Error(`writePng: cannot load 'sharp' (\`npm install\` installs it): ${(e as Error).message}`); }
  const png = await sharp(Buffer.from(img.rgb.buffer, img.rgb.byteOffset, img.rgb.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
  writeAtomic(path, png);
}
