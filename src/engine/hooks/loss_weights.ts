// Per-term loss bookkeeping at the end of each epoch: the mean of each term
// and the weights (DWA's next weights are computed here, Liu et al. 2019),
// logged and written to the epoch record when there is more than one term or
// the weighting is not fixed.
import type { EpochRecord, Hook } from './hook.js';
import type { Trainer } from '../trainer.js';

export class LossWeightsHook implements Hook {
  readonly name = 'lossWeights';
  afterEpoch(t: Trainer, _epoch: number, record: EpochRecord): void {
    const multi = t.loss.multi;
    const terms = multi.endEpoch();
    if (multi.terms.length > 1 || multi.weighting !== 'fixed') {
      Object.assign(record, { lossTerms: terms, lossWeights: multi.weights() });
      const show = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
      t.log(`  loss terms: ${show(terms)}; weights: ${show(multi.weights())}`);
    }
  }
}
