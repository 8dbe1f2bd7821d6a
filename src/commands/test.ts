// `arsenal test`: a model's metrics on the test set from a weights file
// (test_metrics.json in the work dir); with --tta, each view's metrics and
// their merge from one forward per view and batch (test_metrics.md). A task
// with a predictionWriter also writes its predictions in the same pass
// (segmentation: pred_masks/ and panels/).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { DEFAULT_TTA, buildViews } from '../infer/tta.js';
import type { BaseConfig } from '../config/sections.js';
import { loadForEvaluation, disposeEvalModel, type EvalModel } from '../engine/evaluation.js';
import { Predictor } from '../engine/predictor.js';
import type { TrainResult } from '../engine/trainer.js';
import { formatMetric, metricLabel, metricsTable } from '../util/table.js';

export interface TestResult extends TrainResult {
  /** With TTA: each view's metrics and the merge's (the last row). */
  views?: ({ view: string } & Record<string, number | string>)[];
  tta?: unknown;
}

export interface TestOptions {
  tta?: boolean;
  quiet?: boolean;
  /** Write the task's prediction files (Task.predictionWriter), where it has one (default true). */
  predictions?: boolean;
  /** Pictures of the first N test images, where the task draws them (segmentation: 8). */
  panels?: number;
}

export async function evaluateCheckpoint(cfg: BaseConfig, weightsFile: string, workDir: string, opts: TestOptions = {}): Promise<TestResult> {
  const t0 = performance.now();
  const log = opts.quiet ? () => {} : (m: string) => console.log(m);
  const e = await loadForEvaluation(cfg, weightsFile);
  try {
    return await evaluateLoaded(e, cfg, weightsFile, workDir, log, t0, opts);
  } finally {
    disposeEvalModel(e);
  }
}

async function evaluateLoaded(e: EvalModel, cfg: BaseConfig, weightsFile: string, workDir: string, log: (m: string) => void, t0: number, opts: TestOptions): Promise<TestResult> {
  const { task, model, predictor } = e;
  const tta = opts.tta ? cfg.tta ?? DEFAULT_TTA : undefined;
  const writer = opts.predictions === false ? undefined : task.predictionWriter?.(cfg, e.info, e.test, { workDir, panels: opts.panels });
  let metrics: Record<string, number>;
  let views: TestResult['views'];
  try {
    if (tta) {
      // Each view alone and their merge, from one forward per view: the table says what each view adds.
      const names = buildViews(tta).map((v) => v.name);
      const meters = names.map(() => task.meter(cfg, e.info));
      const merged = task.meter(cfg, e.info);
      await Predictor.stream([model], e.testLoader, (b) => {
        const targets = task.targets({ images: b.images, ...task.batchTargets(b) });
        const preds = predictor.predictViews(model, b.images, tta);
        preds.forEach((p, i) => meters[i].update(p, targets));
        const p = task.merge(preds, { how: tta.merge, cfg });
        merged.update(p, targets);
        writer?.write(b, p);
      });
      metrics = merged.compute();
      views = [...names.map((view, i) => ({ view, ...meters[i].compute() })), { view: `TTA (${tta.merge ?? task.merges[0]} of ${names.length} views)`, ...metrics }];
    } else {
      metrics = await predictor.evaluate(model, e.testLoader, undefined, writer && ((b, p) => writer.write(b, p)));
    }
  } catch (err) {
    // The files written so far are finished (pending writes awaited); the pass's own error is the one reported.
    await writer?.close().catch(() => undefined);
    throw err;
  }
  const written = writer ? await writer.close() : [];
  const result: TestResult = {
    task: cfg.task, dataset: (cfg.data as { dataset?: string }).dataset ?? 'custom', metrics: { ...metrics },
    primaryMetric: task.primaryMetric, headline: [...(task.headlineMetrics ?? [task.primaryMetric])], epochs: cfg.train.epochs, seed: cfg.seed ?? 42, amp: predictor.amp,
    wallSeconds: (performance.now() - t0) / 1000, imagesPerSecond: 0, dataWaitShare: 0, ...(views ? { views } : {}),
  };
  mkdirSync(workDir, { recursive: true });
  // Its own files: the training run's metrics.json in the same work dir stays as it was.
  torch.safetensors.writeAtomic(join(workDir, 'test_metrics.json'), JSON.stringify(result, null, 2) + '\n');
  if (views) {
    const md = metricsTable('view', views.map(({ view, ...m }) => ({ name: view, metrics: m as Record<string, number> })));
    log(md);
    torch.safetensors.writeAtomic(join(workDir, 'test_metrics.md'), md + '\n');
  }
  if (tta) result.tta = tta;
  const shown = Object.entries(metrics).map(([k, v]) => `${metricLabel(k)} ${formatMetric(k, v)}`).join(', ');
  log(`test ${shown}${tta ? ` with TTA (${buildViews(tta).map((v) => v.name).join(', ')}; merge ${tta.merge ?? task.merges[0]})` : ''} — ${weightsFile}`);
  for (const l of task.describeMetrics?.(metrics) ?? []) log(l);
  for (const l of written) log(l);
  return result;
}
