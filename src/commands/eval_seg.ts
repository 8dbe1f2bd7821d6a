// `arsenal eval-seg --pred DIR --gt DIR --num-classes K`: mmseg's IoUMetric
// over two folders of mask PNGs matched by file name (class-index greyscale or
// palette PNGs, 255 = ignore), so predictions from any framework are scored
// the mmseg way: aAcc, mIoU, mAcc, mDice, mFscore and the per-class table,
// printed and written as eval_seg.json / eval_seg.md.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { readMaskPng } from '../data/mask_png.js';
import { SegmentationMeter } from '../metrics/segmentation.js';
import { markdownTable, formatMetric } from '../util/table.js';
import { writeReport } from './report.js';

export interface EvalSegOptions { numClasses: number; ignoreIndex?: number; reduceZeroLabel?: boolean; classes?: string[]; workDir?: string; quiet?: boolean }

export function evalSeg(predDir: string, gtDir: string, o: EvalSegOptions): { metrics: Record<string, number>; perClass: Record<string, number | string>[]; images: number } {
  for (const [what, d] of [['--pred', predDir], ['--gt', gtDir]] as const) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new Error(`eval-seg: ${what} '${d}' is not a folder`);
  }
  const names = readdirSync(gtDir).filter((f) => f.toLowerCase().endsWith('.png')).sort();
  if (names.length === 0) throw new Error(`eval-seg: no .png masks in --gt '${gtDir}'`);
  const missing = names.filter((f) => !existsSync(join(predDir, f)));
  if (missing.length) throw new Error(`eval-seg: ${missing.length} ground-truth masks have no prediction of the same name in '${predDir}' (e.g. ${missing.slice(0, 3).join(', ')})`);
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
