// Which precision a run trains in. `amp: 'auto'` is decided once, when a run
// starts, by what libtorch's bf16 kernels can do on this machine
// (torch.bf16Support(): native bf16 in the CPU and a probe that runs them),
// never by a stopwatch; the choice is written to every checkpoint and to
// metrics.json, and a resumed run keeps it, so a run is one precision from
// start to end (a resumed run equals an uninterrupted one, bit for bit).
import * as torch from '../torch/index.js';

export type Amp = 'bf16' | 'fp32';
export type AmpSetting = Amp | 'auto';

export interface AmpChoice {
  amp: Amp;
  /** One line for the log when the choice is not simply what the config asked (a fallback, a kept choice). */
  notice: string | null;
}

/**
 * Resolves the config's `train.amp` (default 'fp32'). `recorded` is the
 * precision a checkpoint being resumed was trained in: 'auto' keeps it.
 * An explicit 'bf16', or a recorded one, on a machine whose bf16 kernels
 * fail is an error saying why and what to do, not a crash inside a convolution.
 */
export function resolveAmp(setting: AmpSetting | undefined, recorded?: unknown): AmpChoice {
  const want = setting ?? 'fp32';
  if (recorded !== undefined && recorded !== 'bf16' && recorded !== 'fp32')
    throw new Error(`--resume: the checkpoint records amp ${JSON.stringify(recorded)}; expected 'bf16' or 'fp32'`);
  const bf16 = (): torch.Bf16Support => torch.bf16Support();
  if (want === 'auto' && recorded !== undefined) {
    if (recorded === 'bf16' && !bf16().available)
      throw new Error(`--resume: this run trained in bf16 (amp 'auto' chose it when it started), but bf16 is not available here: ${bf16().reason}. ` +
        "Continue it in fp32 with --set train.amp=fp32 (it will then differ from an uninterrupted run).");
    return { amp: recorded, notice: `amp auto: ${recorded}, as recorded in the checkpoint being resumed` };
  }
  if (want === 'auto') {
    const s = bf16();
    return s.available ? { amp: 'bf16', notice: null } : { amp: 'fp32', notice: `amp auto: fp32, since bf16 is not available (${s.reason})` };
  }
  if (want === 'bf16' && !bf16().available)
    throw new Error(`config.train.amp: 'bf16', but bf16 is not available here: ${bf16().reason}. Use 'auto' (bf16 where it runs, fp32 elsewhere) or 'fp32'`);
  const changed = recorded !== undefined && recorded !== want ? `amp ${want}, as the config says, although the checkpoint being resumed was trained in ${recorded}` : null;
  return { amp: want, notice: changed };
}
