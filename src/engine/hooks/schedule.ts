// The lr schedule as a hook: one scheduler step per iteration (or per epoch
// with byEpoch) until SWA takes the lr over (mmengine ParamSchedulerHook).
import type { Hook, StepInfo } from './hook.js';
import type { Trainer } from '../trainer.js';
import type { Schedule } from '../build.js';

export class LrScheduleHook implements Hook {
  readonly name = 'schedule';
  /** `schedule` runs over epochs 1..lastEpoch (SWA's start − 1, or the last epoch). */
  constructor(readonly schedule: Schedule, readonly lastEpoch: number, readonly byEpoch: boolean) {}
  afterStep(_t: Trainer, s: StepInfo): void {
    if (!this.byEpoch && s.epoch <= this.lastEpoch) this.schedule.step();
  }
  afterEpoch(_t: Trainer, epoch: number): void {
    if (this.byEpoch && epoch <= this.lastEpoch) this.schedule.step();
  }
  stateDict() { return { meta: this.schedule.stateDict() }; }
  loadStateDict(s: { meta: unknown }): void { if (s.meta) this.schedule.loadStateDict(s.meta); }
}
