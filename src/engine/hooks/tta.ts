// The run's final model (SWA's average when there is one) scored once more
// with test-time augmentation: `tta<Metric>` for each of the task's metrics
// (not the loss), next to the single-view ones.
import { buildViews, type TtaOptions } from '../../infer/tta.js';
import { cap, type Hook } from './hook.js';
import { formatMetric } from '../../util/table.js';
import type { Trainer } from '../trainer.js';

export class TtaHook implements Hook {
  readonly name = 'tta';
  constructor(readonly tta: TtaOptions) {}
  async afterRun(t: Trainer, metrics: Record<string, number>): Promise<void> {
    const m = await t.evaluate(t.finalModel, this.tta);
    for (const [k, v] of Object.entries(m)) if (k !== 'loss') metrics[`tta${cap(k)}`] = v;
    const p = t.task.primaryMetric;
    t.log(`with TTA (${buildViews(this.tta).map((v) => v.name).join(', ')}): test ${p} ${formatMetric(p, m[p])}`);
  }
}
