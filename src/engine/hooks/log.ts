// log.jsonl: a line every logInterval steps (loss, lr, images/s) and one per
// epoch (the epoch record: train loss, timing, metrics, loss terms); and the
// log line when the batch augmentations change (a step's offLastEpochs tail),
// and one when a sample step (augment.sample: Mosaic, YoloxMixUp) switches off.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EpochRecord, Hook, StepInfo } from './hook.js';
import type { Trainer } from '../trainer.js';
import { sampleStepOn } from '../../augment/sample/multi_image.js';

export class LogHook implements Hook {
  readonly name = 'log';
  constructor(readonly interval: number) {}
  private write(t: Trainer, record: Record<string, unknown>): void {
    if (!t.isMain) return; // a data-parallel run's log is rank 0's
    appendFileSync(join(t.opts.workDir, 'log.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
  beforeEpoch(t: Trainer, epoch: number): void {
    for (const s of t.cfg.augment?.sample ?? []) {
      if (!sampleStepOn(s.offLastEpochs, epoch, t.epochs) && (epoch === 1 || sampleStepOn(s.offLastEpochs, epoch - 1, t.epochs))) {
        t.log(`epoch ${epoch}: ${s.type} off (offLastEpochs ${s.offLastEpochs ?? 0})`);
      }
    }
    const p = t.pipeline;
    if (!p) return;
    const on = p.active(epoch, t.epochs).map((x) => x.type).join(', ') || 'none';
    const before = epoch > 1 ? p.active(epoch - 1, t.epochs).map((x) => x.type).join(', ') || 'none' : null;
    if (on !== before) t.log(`augmentations from epoch ${epoch}: ${on}`);
  }
  afterStep(t: Trainer, s: StepInfo): void {
    if (s.iter % this.interval === 0) this.write(t, { epoch: s.epoch, iter: s.iter, loss: s.loss, lr: t.optimizer.paramGroups[0].lr, imagesPerSecond: (s.iter * t.batchSize) / s.elapsed });
  }
  afterEpoch(t: Trainer, _epoch: number, record: EpochRecord): void { this.write(t, record); }
}
