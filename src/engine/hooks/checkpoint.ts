// A checkpoint every checkpointInterval epochs and after the last: the
// trainer's state and every hook's (src/engine/checkpoint.ts writes it).
import type { Hook } from './hook.js';
import type { Trainer } from '../trainer.js';

export class CheckpointHook implements Hook {
  readonly name = 'checkpoint';
  constructor(readonly interval: number) {}
  afterEpoch(t: Trainer, epoch: number): void {
    if (epoch % this.interval === 0 || epoch === t.epochs) t.saveCheckpoint(epoch);
  }
}
