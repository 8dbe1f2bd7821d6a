// What `arsenal test` writes for detection (Task.predictionWriter):
//   results.bbox.json — every detection in COCO's results format, the file
//     pycocotools' COCO.loadRes reads (mmdet's format_only writes the same
//     <prefix>.bbox.json): [{ image_id, category_id, bbox: [x, y, w, h], score }]
//     with boxes in the STORED image's pixels (scaled back where data.imageSize
//     resized it). COCO sets: the json's image ids and category ids (labels
//     mapped back through its categories). VOC and YOLO sets: image_id is the
//     image's stem and category_id the label index 0..K−1 (mmdet 3.x's
//     pascal_voc.py converter numbers VOC's categories from 0, YOLO's class
//     indices start at 0).
//   panels/<name>.png — for the first N images: truth | prediction side by
//     side at the loader's size (magnified to at least 320 pixels), boxes in
//     their class colour with the class name (and the score) drawn over them;
//     predictions scoring below 0.3 are not drawn (mmdet's DetLocalVisualizer
//     pred_score_thr), ignored ground truth (crowd, difficult) dashed.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Batch, Dataset } from '../../data/dataset.js';
import { CocoDetectionDataset } from '../../data/coco_json.js';
import { loadSharp } from '../../data/image_folder.js';
import { classColour } from '../../augment/draw.js';
import type { Detections, PredictionOutputOptions, PredictionWriter } from '../task.js';
import { scaleBoxes } from './targets.js';

/** Panels drawn by default (`arsenal test --panels N`). */
export const DEFAULT_DET_PANELS = 8;
/** Predictions below this score are not drawn (mmdet DetLocalVisualizer's pred_score_thr). */
export const DRAW_SCORE_THRESH = 0.3;
const MIN_SIDE = 320;

/** One detection as COCO's results format has it. */
export interface DetectionResult { image_id: number | string; category_id: number; bbox: [number, number, number, number]; score: number }

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const rgb = (c: number[]) => `rgb(${c.join(',')})`;

interface Drawn { boxes: number[][]; labels: number[]; scores?: number[]; ignore?: number[] }

/** An SVG of boxes (xyxy in the image's pixels) with their class names, at `scale` × the image's size. */
function boxesSvg(d: Drawn, classes: string[], w: number, h: number, scale: number): string {
  const font = Math.max(10, Math.round(4 * scale + 6));
  const items = d.boxes.map(([x1, y1, x2, y2], j) => {
    const c = rgb(classColour(d.labels[j]));
    const [x, y, bw, bh] = [x1 * scale, y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale];
    const text = `${classes[d.labels[j]] ?? d.labels[j]}${d.scores ? ` ${d.scores[j].toFixed(2)}` : ''}`;
    const ty = y >= font + 2 ? y - 3 : y + font;
    const dash = d.ignore?.[j] ? ' stroke-dasharray="4 3"' : '';
    return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`
      + `<text x="${(x + 2).toFixed(1)}" y="${ty.toFixed(1)}" font-family="sans-serif" font-size="${font}" fill="${c}" stroke="black" stroke-width="0.6" paint-order="stroke">${escapeXml(text)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w * scale}" height="${h * scale}">${items.join('')}</svg>`;
}

const rows = (t: Tensor): number[][] => t.float().toArray() as number[][];
const values = (t: Tensor): number[] => Array.from(t.float().contiguous().dataSync() as Float32Array);
const ints = (t: Tensor): number[] => Array.from(t.to('int32').contiguous().dataSync() as Int32Array);

export function detectionWriter(test: Dataset, classes: string[], o: PredictionOutputOptions): PredictionWriter<Detections[]> {
  const file = join(o.workDir, 'results.bbox.json'), panelsDir = join(o.workDir, 'panels');
  const panels = o.panels ?? DEFAULT_DET_PANELS;
  if (!Number.isInteger(panels) || panels < 0) throw new TypeError(`detection outputs: panels must be a non-negative integer, got ${String(panels)}`);
  const categories = test instanceof CocoDetectionDataset ? test.categories : null;
  const width = String(Math.max(test.length - 1, 0)).length;
  const names = test.names;
  const nameOf = (i: number) => names?.[i] ?? String(i).padStart(width, '0');
  const results: DetectionResult[] = [];
  const pending: Promise<void>[] = [];
  let failure: unknown = null;
  let drawn = 0, images = 0;
  if (panels > 0) mkdirSync(panelsDir, { recursive: true });

  const draw = async (path: string, pixels: Uint8Array, h: number, w: number, truth: Drawn, pred: Drawn): Promise<void> => {
    const sharp = await loadSharp();
    const scale = Math.max(1, Math.ceil(MIN_SIDE / Math.max(h, w)));
    const tile = async (d: Drawn) => sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 3 } })
      .resize(w * scale, h * scale, { kernel: 'nearest' })
      .composite([{ input: Buffer.from(boxesSvg(d, classes, w, h, scale)), top: 0, left: 0 }])
      .removeAlpha().raw().toBuffer(); // the SVG's composite is RGBA
    const [a, b] = await Promise.all([tile(truth), tile(pred)]);
    const gap = 4, W = 2 * w * scale + gap, H = h * scale;
    const png = await sharp({ create: { width: W, height: H, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .composite([{ input: a, raw: { width: w * scale, height: H, channels: 3 }, top: 0, left: 0 }, { input: b, raw: { width: w * scale, height: H, channels: 3 }, top: 0, left: w * scale + gap }])
      .removeAlpha().png().toBuffer();
    mkdirSync(dirname(path), { recursive: true });
    torch.safetensors.writeAtomic(path, png);
  };

  return {
    write(b: Batch, dets: Detections[]) {
      const n = b.images.shape[0], [h, w] = [b.images.shape[2], b.images.shape[3]];
      if (!Array.isArray(dets) || dets.length !== n) throw new TypeError(`detection outputs: expected ${n} Detections (one per image), got ${Array.isArray(dets) ? dets.length : String(dets)}`);
      const x = b as Batch & { boxes?: Tensor[]; boxLabels?: Tensor[]; ignore?: Tensor[]; imageIds?: (number | string)[] };
      for (let k = 0; k < n; k++) {
        const [H, W] = b.sizes?.[k] ?? [h, w];
        const boxes = rows(scaleBoxes(dets[k].boxes, [W / w, H / h]));
        const scores = values(dets[k].scores), labels = ints(dets[k].labels);
        const id = x.imageIds?.[k] ?? b.indices[k];
        for (let j = 0; j < scores.length; j++) {
          const [x1, y1, x2, y2] = boxes[j];
          results.push({ image_id: id, category_id: categories ? categories.categoryId(labels[j]) : labels[j], bbox: [x1, y1, x2 - x1, y2 - y1], score: scores[j] });
        }
        images++;
        if (drawn >= panels) continue;
        drawn++;
        // Images as stored: uint8, or 0–1 floats; 1 or 3 channels.
        const c = b.images.shape[1];
        if (c !== 1 && c !== 3) throw new TypeError(`detection panels: expected images with 1 or 3 channels, got ${c}`);
        let img = b.images.index(k);
        if (img.dtype !== 'uint8') img = img.float().mul(255).round().clamp(0, 255).to('uint8');
        if (c === 1) img = img.expand(3, h, w);
        const rgbPixels = new Uint8Array(img.permute(1, 2, 0).contiguous().dataSync() as Uint8Array);
        const truth: Drawn = x.boxes && x.boxLabels ? { boxes: rows(x.boxes[k]), labels: ints(x.boxLabels[k]), ...(x.ignore ? { ignore: ints(x.ignore[k]) } : {}) } : { boxes: [], labels: [] };
        const shown = dets[k].scores.ge(DRAW_SCORE_THRESH).nonzero().reshape(-1);
        const pred: Drawn = { boxes: rows(dets[k].boxes.indexSelect(0, shown)), labels: ints(dets[k].labels.indexSelect(0, shown)), scores: values(dets[k].scores.indexSelect(0, shown)) };
        pending.push(draw(join(panelsDir, `${nameOf(b.indices[k])}.png`), rgbPixels, h, w, truth, pred).catch((e) => { failure ??= e; }));
      }
    },
    async close() {
      await Promise.all(pending);
      if (failure) throw failure;
      torch.safetensors.writeAtomic(file, JSON.stringify(results));
      const ids = categories ? "the json's image and category ids" : 'image ids = file stems, category ids = label indices 0..K−1';
      const lines = [`results: ${results.length} detections of ${images} images in COCO's results format (${ids}; boxes [x, y, w, h] in the stored images' pixels) in ${file}; pycocotools: COCO(gt).loadRes(file)`];
      if (drawn > 0) lines.push(`panels: ${drawn} (truth | prediction; predictions scoring ≥ ${DRAW_SCORE_THRESH}; ignored ground truth dashed) in ${panelsDir}`);
      return lines;
    },
  };
}
