// A trainer's state in a checkpoint and back: the model's weights, the
// optimizer's state, libtorch's and the JS-side generators, the loss's
// weighting state, the time-budget plan and every hook's own state (tensors
// under `<hook>.`, the rest as JSON), so a resumed run equals an
// uninterrupted one (docs/architecture.md §7).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { writeCheckpoint, readCheckpoint, optimizerToCheckpoint, optimizerFromCheckpoint, withPrefix } from './checkpoint.js';
import { resolveAmp, type Amp } from './precision.js';
import type { Trainer } from './trainer.js';

export function saveTrainerState(t: Trainer, epoch: number): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const opt = optimizerToCheckpoint(t.optimizer.stateDict() as any);
  const state: Record<string, Tensor> = { ...opt.tensors };
  const hooks: Record<string, unknown> = {};
  for (const h of t.hooks) {
    const s = h.stateDict?.();
    if (!s) continue;
    for (const [k, v] of Object.entries(s.tensors ?? {})) state[`${h.name}.${k}`] = v;
    hooks[h.name] = s.meta ?? null;
  }
  const multi = t.loss.multi;
  if (multi.logVars) state['loss.logVars'] = multi.logVars;
  const rngTorch = torch.getRngState();
  state['rng.torch'] = rngTorch;
  writeCheckpoint(t.opts.workDir, `epoch_${epoch}`, t.model.stateDict(), state, {
    epoch, seed: t.seed, amp: t.amp, optimizer: opt.meta, rng: t.rng.getState(), loss: multi.stateDict(), hooks, plan: t.plan,
  });
  rngTorch.dispose();
}

/** Restores checkpoint `tag` into a set-up trainer; the run continues at the epoch after it. */
export function restoreTrainerState(t: Trainer, tag: string): void {
  const { weights, state, meta } = readCheckpoint(t.opts.workDir, tag);
  if (!meta.hooks || typeof meta.hooks !== 'object') {
    torch.dispose([...Object.values(weights), ...Object.values(state)]);
    throw new TypeError(`--resume: ${t.opts.workDir}/${tag}.json was written by an Arsenal before the trainer's hooks (its schedule, SWA and EMA state are kept elsewhere); it cannot be resumed: start a new work dir (its weights still load with --checkpoint or model.pretrained)`);
  }
  ({ amp: t.amp, notice: t.ampNotice } = resolveAmp(t.cfg.train.amp, meta.amp));
  (t.predictor as { amp: Amp }).amp = t.amp;
  t.model.loadStateDict(weights, { source: `${t.opts.workDir}/${tag}.safetensors` });
  t.startEpoch = meta.epoch + 1;
  // Schedulers set group lrs when they load or start; the optimizer's saved param_groups, loaded last, hold the lrs in use.
  for (const h of t.hooks) if (h.loadStateDict && h.name in meta.hooks) h.loadStateDict({ tensors: withPrefix(state, h.name), meta: meta.hooks[h.name] }, t);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  t.optimizer.loadStateDict(optimizerFromCheckpoint(state, meta.optimizer) as any);
  const multi = t.loss.multi;
  if (multi.logVars && state['loss.logVars']) torch.noGrad(() => multi.logVars!.copy_(state['loss.logVars']));
  if (meta.loss) multi.loadStateDict(meta.loss);
  torch.setRngState(state['rng.torch']);
  t.rng.setState(meta.rng);
  torch.dispose(Object.values(weights));
  torch.dispose(Object.values(state));
  t.log(`resumed from ${tag} (epoch ${meta.epoch})`);
}
