// Evaluation every evalInterval epochs and after the last (`test<Metric>` in
// the epoch record), and the best model so far by the task's primary metric
// (greater or less is better: Task.rule),
// written atomically as best.safetensors (mmengine CheckpointHook save_best).
import { join } from 'node:path';
import * as torch from '../../torch/index.js';
import { fmt } from '../progress.js';
import { cap, type EpochRecord, type Hook } from './hook.js';
import { formatMetric, metricLabel } from '../../util/table.js';
import type { Trainer } from '../trainer.js';

export class EvalHook implements Hook {
  readonly name = 'eval';
  /** The best primary metric so far (checkpointed, so a resumed run keeps it); null before the first evaluation. */
  best: number | null = null;
  constructor(readonly interval: number) {}
  async afterEpoch(t: Trainer, epoch: number, record: EpochRecord): Promise<void> {
    if (epoch % this.interval !== 0 && epoch !== t.epochs) return;
    const m = await t.evaluate();
    t.lastMetrics = m;
    for (const [k, v] of Object.entries(m)) record[`test${cap(k)}`] = v;
    const p = t.task.primaryMetric;
    const secs = record.epochSeconds as number, wait = record.dataWaitSeconds as number;
    t.log(`epoch ${epoch}/${t.epochs}: train loss ${(record.trainLoss as number).toFixed(4)}, test ${metricLabel(p)} ${formatMetric(p, m[p])}, ${fmt(secs)}, data wait ${(100 * wait / secs).toFixed(1)}%`);
    const less = t.task.rule === 'less';
    if (this.best === null || (less ? m[p] < this.best : m[p] > this.best)) {
      // One file, written atomically: the weights of the best model so far.
      this.best = m[p];
      if (t.isMain) torch.safetensors.saveFile(t.model.stateDict(), join(t.opts.workDir, 'best.safetensors'), { epoch: String(epoch), [p]: String(m[p]) });
    }
  }
  stateDict() { return { meta: { best: this.best } }; }
  loadStateDict(s: { meta: { best: number | null } }): void { this.best = typeof s.meta?.best === 'number' ? s.meta.best : null; }
}
