// What `arsenal test` writes for segmentation (Task.predictionWriter):
//   pred_masks/<name>.png — each test image's predicted class map as an 8-bit
//     palette PNG (VOC colours, palette index = class, as VOC's
//     SegmentationClass), named as its ground-truth mask, at the image's stored
//     size: where data.imageSize resized it, the scores are resized back
//     (bilinear) before the argmax, as mmseg's postprocess_result does. So
//     `arsenal eval-seg --pred pred_masks --gt <annotation folder> --names
//     pred_masks.txt` scores them (the log prints the command for the config's
//     layout: mmseg's ann_dir/<split>, VOC's SegmentationClass, which holds
//     every split's masks); without imageSize it reproduces the test's metrics
//     exactly.
//   pred_masks.txt — the names written, one a line (an ImageSets-style list).
//   panels/<name>.png — for the first N images: image | truth | prediction
//     side by side at the loader's size, masks in the same VOC colours, ignored
//     pixels (255) white; panels/legend.md names the colours.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Batch, Dataset } from '../../data/dataset.js';
import { encodeMaskPng } from '../../data/mask_png.js';
import { vocPalette } from '../../data/palette.js';
import { writePng } from '../../augment/draw.js';
import type { PredictionOutputOptions, PredictionWriter } from '../task.js';
import { IGNORE_INDEX } from '../../data/sample.js';

/** Panels drawn by default (`arsenal test --panels N`). */
export const DEFAULT_PANELS = 8;
const WHITE = [255, 255, 255];
const hex = (c: number[]) => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');

/** The VOC palette as a float tensor [256, 3], the ignore index drawn white. */
function panelPalette(): Tensor {
  const p = vocPalette();
  p[IGNORE_INDEX] = WHITE;
  return torch.tensor(p.flat(), { dtype: 'float32' }).reshape(256, 3);
}

/** Class maps [N,H,W] → colours [N,3,H,W] float. */
const colour = (palette: Tensor, maps: Tensor) => {
  const [n, h, w] = maps.shape;
  return palette.indexSelect(0, maps.clamp(0, 255).reshape(-1)).reshape(n, h, w, 3).permute(0, 3, 1, 2);
};

/** Images as stored (uint8, or 0–1 float; 1 or 3 channels) → [N,3,H,W] float 0–255. */
function pixels(images: Tensor): Tensor {
  const x = images.dtype === 'uint8' ? images.float() : images.float().mul(255).clamp(0, 255);
  const [n, c, h, w] = x.shape;
  if (c === 1) return x.expand(n, 3, h, w);
  if (c !== 3) throw new TypeError(`segmentation panels: expected images with 1 or 3 channels, got ${c}`);
  return x;
}

/** Where the ground truth of the config's test split lies, for eval-seg, and how it is read. */
export interface GroundTruth { dir: string; reduceZeroLabel: boolean }

/** The test split's annotation folder: mmseg's ann_dir/<split>; VOC's SegmentationClass (every split's masks, hence eval-seg's --names). */
export function groundTruth(d: { dataset: 'mmseg' | 'voc'; root: string; testSplit?: string; reduceZeroLabel?: boolean }): GroundTruth {
  return { dir: d.dataset === 'voc' ? join(d.root, 'SegmentationClass') : join(d.root, 'ann_dir', d.testSplit ?? 'val'), reduceZeroLabel: d.reduceZeroLabel ?? false };
}

/** A word for a shell command line, quoted where it needs to be. */
const sh = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

export function segmentationWriter(test: Dataset, classes: string[], o: PredictionOutputOptions, gt?: GroundTruth): PredictionWriter<Tensor> {
  const masksDir = join(o.workDir, 'pred_masks'), panelsDir = join(o.workDir, 'panels'), listFile = join(o.workDir, 'pred_masks.txt');
  const panels = o.panels ?? DEFAULT_PANELS;
  if (!Number.isInteger(panels) || panels < 0) throw new TypeError(`segmentation outputs: panels must be a non-negative integer, got ${String(panels)}`);
  const width = String(Math.max(test.length - 1, 0)).length;
  const names = test.names; // read once: a Subset's names are a view of its dataset's
  const nameOf = (i: number) => names?.[i] ?? String(i).padStart(width, '0');
  const pending: Promise<void>[] = [];
  const written: string[] = [];
  let failure: unknown = null;
  let drawn = 0;
  mkdirSync(masksDir, { recursive: true });
  if (panels > 0) mkdirSync(panelsDir, { recursive: true });
  const save = (path: string, bytes: Uint8Array | string) => {
    mkdirSync(dirname(path), { recursive: true });
    torch.safetensors.writeAtomic(path, bytes);
  };

  return {
    write(b: Batch, scores: Tensor) {
      const [n, , h, w] = scores.shape;
      if (scores.ndim !== 4 || n !== b.indices.length) throw new TypeError(`segmentation outputs: expected scores [${b.indices.length}, K, H, W], got [${scores.shape}]`);
      const maps = scores.argmax(1);
      for (let k = 0; k < n; k++) {
        const [H, W] = b.sizes?.[k] ?? [h, w];
        // Back to the stored size: the scores resized (mmseg: bilinear, align_corners False), then the argmax.
        const map = H === h && W === w ? maps.narrow(0, k, 1) : F.interpolate(scores.narrow(0, k, 1), { size: [H, W], mode: 'bilinear', alignCorners: false }).argmax(1);
        const data = new Uint8Array(map.to('uint8').contiguous().dataSync() as Uint8Array);
        const name = nameOf(b.indices[k]);
        save(join(masksDir, `${name}.png`), encodeMaskPng({ data, height: H, width: W }));
        written.push(name);
      }
      const m = Math.min(panels - drawn, n);
      if (m <= 0) return;
      // image | truth | prediction, at the loader's size.
      const palette = panelPalette();
      const truth = b.masks ? colour(palette, b.masks.narrow(0, 0, m)) : torch.full([m, 3, h, w], 255);
      const row = torch.cat([pixels(b.images.narrow(0, 0, m)), truth, colour(palette, maps.narrow(0, 0, m))], 3);
      const rgb = row.round().to('uint8').permute(0, 2, 3, 1).contiguous();
      for (let k = 0; k < m; k++) {
        const img = { width: 3 * w, height: h, rgb: new Uint8Array(rgb.index(k).dataSync() as Uint8Array) };
        const path = join(panelsDir, `${nameOf(b.indices[k])}.png`);
        mkdirSync(dirname(path), { recursive: true });
        pending.push(writePng(path, img).catch((e) => { failure ??= e; }));
      }
      drawn += m;
    },
    async close() {
      await Promise.all(pending);
      if (failure) throw failure;
      save(listFile, written.map((n) => `${n}\n`).join(''));
      const command = ['arsenal', 'eval-seg', '--pred', sh(masksDir), '--gt', gt ? sh(gt.dir) : '<annotation folder>', '--names', sh(listFile), '--num-classes', String(classes.length), ...(gt?.reduceZeroLabel ? ['--reduce-zero-label'] : [])];
      const lines = [`pred_masks: ${written.length} palette PNGs (VOC colours, index = class) in ${masksDir}, their names in ${listFile}; score them with ${command.join(' ')}`];
      if (drawn > 0) {
        const p = vocPalette();
        const legend = [
          'Panels: image | truth | prediction. Masks in the VOC palette (class = palette index); white: ignored pixels (255).',
          '',
          '| class | index | colour |',
          '|---|---|---|',
          ...classes.map((c, k) => `| ${c} | ${k} | ${hex(p[k])} |`),
          `| ignore | 255 | ${hex(WHITE)} |`,
        ].join('\n');
        save(join(panelsDir, 'legend.md'), legend + '\n');
        lines.push(`panels: ${drawn} (image | truth | prediction; ignored pixels white; colours in legend.md) in ${panelsDir}`);
      }
      return lines;
    },
  };
}
