// `arsenal ensemble`: several checkpoints (any architecture or seed, SWA and
// EMA weights included) predict the test set batch by batch; the task merges
// the members' predictions as it merges TTA views (Task.merge). Each member's
// metrics and the ensemble's are printed as a table and written to the work
// dir as ensemble.md and ensemble.json.
import { basename } from 'node:path';
import type { BaseConfig } from '../config/sections.js';
import { DEFAULT_TTA, type TtaOptions } from '../infer/tta.js';
import { loadForEvaluation, disposeEvalModel, type EvalModel } from '../engine/evaluation.js';
import * as torch from '../torch/index.js';
import { Predictor, batchTensors } from '../engine/predictor.js';
import type { Dataset } from '../data/dataset.js';
import { metricsTable } from '../util/table.js';
import { writeReport } from './report.js';

export interface Member { cfg: BaseConfig; config: string; checkpoint: string }
export type Row = { member: string } & Record<string, number | string>;

export interface EnsembleOptions {
  /** How the members' predictions merge (the task's merges; classification: mean, logits, gmean, max, vote). */
  merge?: string;
  weights?: number[];
  /** Each member predicts with its config's TTA (the horizontal flip when it has none). */
  tta?: boolean;
  workDir: string;
  quiet?: boolean;
  /** Evaluate on these instead of the first member's data section. */
  datasets?: { train: Dataset; test: Dataset };
}

export async function runEnsemble(members: Member[], opts: EnsembleOptions): Promise<{ rows: Row[]; ensemble: Row }> {
  if (members.length < 2) throw new TypeError(`ensemble: expected at least 2 members, got ${members.length}`);
  const loaded: EvalModel[] = [];
  try {
    return await ensembleLoaded(members, loaded, opts);
  } finally {
    loaded.forEach(disposeEvalModel);
  }
}

/** Loads the members into `loaded` (the caller frees them), then one pass over the test set. */
async function ensembleLoaded(members: Member[], loaded: EvalModel[], opts: EnsembleOptions): Promise<{ rows: Row[]; ensemble: Row }> {
  for (const m of members) {
    const e = await loadForEvaluation(m.cfg, m.checkpoint, { datasets: opts.datasets });
    const first = loaded[0];
    if (first) {
      if (e.task !== first.task) throw new TypeError(`ensemble: ${m.checkpoint} (${m.config}) is a ${e.task.name} model; the first member is ${first.task.name}`);
      if (e.info.classes.join('\u0000') !== first.info.classes.join('\u0000')) throw new TypeError(`ensemble: ${m.checkpoint} (${m.config}) has classes ${e.info.classes.join(', ')}; the first member has ${first.info.classes.join(', ')}`);
      if (e.test.length !== first.test.length) throw new TypeError(`ensemble: ${m.checkpoint} (${m.config}) was evaluated on a different test set than the first member (${e.test.length} images, not ${first.test.length})`);
    }
    loaded.push(e);
  }
  // The members share one pass over the first member's test images: their test images must have one shape.
  const shapes: string[] = [];
  for (const e of loaded) {
    const b = await e.test.getBatch([0]);
    shapes.push(b.images.shape.join('×'));
    torch.dispose(batchTensors(b));
  }
  shapes.forEach((s, i) => { if (s !== shapes[0]) throw new TypeError(`ensemble: ${members[i].checkpoint} (${members[i].config}) tests on ${s} images, the first member on ${shapes[0]}`); });
  const task = loaded[0].task;
  const merge = opts.merge ?? task.merges[0];
  if (!task.merges.includes(merge)) throw new TypeError(`ensemble: merge must be one of ${task.merges.join(', ')} for ${task.name}, got '${merge}'`);
  const ttas: (TtaOptions | undefined)[] = members.map((m) => (opts.tta ? m.cfg.tta ?? DEFAULT_TTA : undefined));
  const meters = loaded.map((e) => task.meter(e.cfg, e.info));
  const merged = task.meter(loaded[0].cfg, loaded[0].info);
  // One pass over the first member's test loader: every member predicts each batch (its own normalisation and precision), then the merge.
  await Predictor.stream(loaded.map((e) => e.model), loaded[0].testLoader, (b) => {
    const targets = task.targets({ images: b.images, ...task.batchTargets(b) });
    const preds = loaded.map((e, i) => e.predictor.predictBatch(e.model, b.images, ttas[i]));
    preds.forEach((p, i) => meters[i].update(p, targets));
    merged.update(task.merge(preds, { how: merge, weights: opts.weights, cfg: loaded[0].cfg }), targets);
  });
  const rows: Row[] = members.map((m, i) => ({ member: `${basename(m.checkpoint)} (${basename(m.config)}, ${m.cfg.model.name})`, ...meters[i].compute() }));
  const ensemble: Row = { member: `ensemble (${merge}${opts.weights ? `, weights ${opts.weights.join(', ')}` : ''}${opts.tta ? ', TTA' : ''})`, ...merged.compute() };
  const all = [...rows, ensemble];
  const md = metricsTable('member', all.map(({ member, ...m }) => ({ name: member, metrics: m as Record<string, number> })));
  writeReport(opts.workDir, 'ensemble', md, all, opts.quiet ? () => {} : (l) => console.log(l));
  return { rows, ensemble };
}
