// `arsenal eval-seg --pred DIR --gt DIR --num-classes K`: mmseg's IoUMetric
// over two folders of mask PNGs matched by file name (class-index greyscale or
// palette PNGs, 255 = ignore), so predictions from any framework are scored
// the mmseg way: aAcc, mIoU, mAcc, mDice, mFscore and the per-class table,
// printed and written as eval_seg.json / eval_seg.md. Every ground-truth mask
// needs a prediction, unless `names` (--names FILE: one name a line, as VOC's
// ImageSets/Segmentation/val.txt or the pred_masks.txt `arsenal test` writes)
// says which masks to score: VOC's SegmentationClass/ holds every split's masks.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { readMaskPng } from '../data/mask_png.js';
import { SegmentationMeter } from '../metrics/segmentation.js';
import { markdownTable, formatMetric } from '../util/table.js';
import { writeReport } from './report.js';

export interface EvalSegOptions {
  numClasses: number;
  ignoreIndex?: number;
  reduceZeroLabel?: boolean;
  classes?: string[];
  /** A file listing the masks to score, one name a line without '.png' (VOC's ImageSets/Segmentation/val.txt); default every .png in the ground-truth folder. */
  names?: string;
  workDir?: string;
  quiet?: boolean;
}

/** The names of a list file (one a line; blank lines skipped), each `<name>.png` under both folders. */
function listed(file: string, predDir: string, gtDir: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`eval-seg: cannot read --names '${file}': ${(e as Error).message}`);
  }
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (names.length === 0) throw new Error(`eval-seg: --names '${file}' lists no masks`);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`eval-seg: --names '${file}' lists '${twice}' twice`);
  const files = names.map((n) => `${n}.png`);
  for (const [what, d] of [['--gt', gtDir], ['--pred', predDir]] as const) {
    const missing = files.filter((f) => !existsSync(join(d, f)));
    if (missing.length) throw new Error(`eval-seg: ${missing.length} of the masks --names '${file}' lists are not in ${what} '${d}' (e.g. ${missing.slice(0, 3).join(', ')})`);
  }
  return files;
}

export function evalSeg(predDir: string, gtDir: string, o: EvalSegOptions): { metrics: Record<string, number>; perClass: Record<string, number | string>[]; images: number } {
  for (const [what, d] of [['--pred', predDir], ['--gt', gtDir]] as const) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new Error(`eval-seg: ${what} '${d}' is not a folder`);
  }
  let names: string[];
  if (o.names !== undefined) {
    names = listed(o.names, predDir, gtDir);
  } else {
    names = readdirSync(gtDir).filter((f) => f.toLowerCase().endsWith('.png')).sort();
    if (names.length === 0) throw new Error(`eval-seg: no .png masks in --gt '${gtDir}'`);
    const missing = names.filter((f) => !existsSync(join(predDir, f)));
    if (missing.length) throw new Error(`eval-seg: ${missing.length} ground-truth masks have no prediction of the same name in '${predDir}' (e.g. ${missing.slice(0, 3).join(', ')}); to score a subset, list it with --names FILE`);
  }
  const meter = new SegmentationMeter(o.numClasses, { ignoreIndex: o.ignoreIndex ?? 255, reduceZeroLabel: o.reduceZeroLabel ?? false });
  // One image at a time: masks may differ in size between images, never between a prediction and its truth.
  for (const f of names) {
    const p = readMaskPng(join(predDir, f)), g = readMaskPng(join(gtDir, f));
    if (p.height !== g.height || p.width !== g.width) throw new Error(`eval-seg: ${f} is ${p.height}×${p.width} in --pred and ${g.height}×${g.width} in --gt`);
    torch.scope(() => {
      const t = (m: typeof p) => torch.tensor(m.data, { dtype: 'uint8' }).reshape(1, m.height, m.width).long();
      try {
        meter.update(t(p), t(g));
      } catch (e) {
        throw new Error(`eval-seg: ${f}: ${(e as Error).message}`);
      }
    });
  }
  const metrics = { ...meter.compute() };
  const classes = o.classes ?? Array.from({ length: o.numClasses }, (_, k) => String(k));
  const perClass = meter.perClass().map((r) => ({ class: classes[r.class], IoU: r.IoU, Acc: r.Acc, Dice: r.Dice, Fscore: r.Fscore, Precision: r.Precision, Recall: r.Recall }));
  const md = [
    markdownTable(Object.keys(metrics), [Object.entries(metrics).map(([k, v]) => formatMetric(k, v))]),
    '',
    markdownTable(['class', 'IoU', 'Acc', 'Dice', 'Fscore', 'Precision', 'Recall'], perClass.map((r) => [r.class, ...(['IoU', 'Acc', 'Dice', 'Fscore', 'Precision', 'Recall'] as const).map((k) => formatMetric(k, r[k]))])),
  ].join('\n');
  writeReport(o.workDir ?? '.', 'eval_seg', md, { images: names.length, metrics, perClass }, o.quiet ? () => {} : (l) => console.log(l));
  return { metrics, perClass, images: names.length };
}
