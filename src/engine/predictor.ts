// How a model meets images, for training and for every evaluation command:
// uint8 (or 0–1 float) images → normalised float32 in the model's layout,
// forward under the run's precision (bf16 autocast, fp32 output), the task's
// decoding, test-time augmentation through the task's invert and merge, and
// evaluation streamed batch by batch into the task's meter (nothing holds the
// whole test set's outputs). What a prediction's forward is — one pass over
// the batch, or the task's own (segmentation's sliding windows) — is the
// task's `predict`.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import type { Module } from '../nn/module.js';
import type { Batch, DataLoader } from '../data/index.js';
import { buildViews, type TtaOptions } from '../infer/tta.js';
import type { BaseConfig } from '../config/sections.js';
import type { DataInfo, Task } from '../tasks/task.js';
import type { Amp } from './precision.js';

/** Every tensor of a batch (images, labels, masks, boxes), for disposal. */
export function batchTensors(b: object): Tensor[] {
  const out: Tensor[] = [];
  const visit = (v: unknown) => {
    if (v instanceof torch.Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
  };
  Object.values(b).forEach(visit);
  return out;
}

/** fp32 copies of an output's tensors (a tensor, a list or a record of them), for losses and metrics after autocast. */
function toFloat<T>(o: T): T {
  if (o instanceof torch.Tensor) return o.float() as T;
  if (Array.isArray(o)) return o.map(toFloat) as T;
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toFloat(v)])) as T;
  return o;
}

export class Predictor {
  readonly mean: Tensor;
  readonly std: Tensor;
  constructor(readonly task: Task, readonly cfg: BaseConfig, readonly amp: Amp, readonly info: DataInfo, mean: number[], std: number[]) {
    const c = info.inChannels;
    this.mean = torch.tensor(mean, { dtype: 'float32' }).reshape(1, c, 1, 1).keep();
    this.std = torch.tensor(std, { dtype: 'float32' }).reshape(1, c, 1, 1).keep();
  }

  /** Frees the normalisation tensors. */
  dispose(): void {
    this.mean.dispose();
    this.std.dispose();
  }

  /** The data section's mean and std (0.5 per channel by default), checked against the images' channels. */
  static normalisation(cfg: BaseConfig, channels: number): { mean: number[]; std: number[] } {
    const mean = cfg.data.mean ?? Array(channels).fill(0.5);
    const std = cfg.data.std ?? Array(channels).fill(0.5);
    if (mean.length !== channels || std.length !== channels) throw new TypeError(`config: data.mean and data.std need ${channels} values (one per channel)`);
    return { mean, std };
  }

  normalise(images: Tensor): Tensor {
    const x = images.dtype === 'uint8' ? images.float().div(255) : images.float();
    return x.sub(this.mean).div(this.std);
  }

  layout(x: Tensor): Tensor {
    return this.cfg.train.channelsLast ? x.contiguous('channelsLast') : x;
  }

  /** The model's output on normalised images, fp32. */
  forward<O = Tensor>(model: Module, x: Tensor): O {
    if (this.amp === 'bf16') return toFloat(torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, () => model.forward(x))) as O;
    return model.forward(x) as O;
  }

  /** The model's output on normalised images when predicting: the task's `predict` (e.g. sliding windows) given this forward, or one forward. */
  output<O = unknown>(model: Module, x: Tensor): O {
    const forward = (c: Tensor) => this.forward(model, this.layout(c));
    return (this.task.predict ? this.task.predict(forward, x, this.cfg) : forward(x)) as O;
  }

  /** The task's prediction for a batch of images, merged over the TTA views when `tta` is given. */
  predictBatch(model: Module, images: Tensor, tta?: TtaOptions): unknown {
    const t = this.task;
    if (!tta) return t.decode(this.output(model, this.normalise(images)));
    return t.merge(this.predictViews(model, images, tta), { how: tta.merge, cfg: this.cfg });
  }

  /** Each TTA view's prediction, mapped back to the original frame (one batched prediction per view: each view slid, where the task slides). */
  predictViews(model: Module, images: Tensor, tta: TtaOptions): unknown[] {
    const x = this.normalise(images);
    return buildViews(tta).map((v) => this.task.invert(v, this.task.decode(this.output(model, v.apply(x)))));
  }

  /**
   * Runs `perBatch` over the loader in order, no grad, the models in eval mode (restored after); each batch's
   * tensors are freed after it. The loader's epoch 0 is its fixed order.
   */
  static async stream(models: Module[], loader: DataLoader, perBatch: (b: Batch) => void): Promise<void> {
    const was = models.map((m) => m.training);
    models.forEach((m) => m.eval());
    loader.setEpoch(0);
    try {
      for await (const b of loader) {
        try {
          torch.noGrad(() => torch.scope(() => perBatch(b)));
        } finally {
          torch.dispose(batchTensors(b));
        }
      }
    } finally {
      models.forEach((m, i) => m.train(was[i]));
    }
  }

  /**
   * The task's metrics of a model over a loader (with TTA when given); `onBatch` sees each batch and its
   * prediction (e.g. to write them); `gather` (a data-parallel run's allGatherObject) merges every process's meter.
   */
  async evaluate(model: Module, loader: DataLoader, tta?: TtaOptions, onBatch?: (b: Batch, prediction: unknown) => void,
    opts: { gather?: <S>(state: S) => S[] } = {}): Promise<Record<string, number>> {
    let meter = this.task.meter(this.cfg, this.info);
    await Predictor.stream([model], loader, (b) => {
      const p = this.predictBatch(model, b.images, tta);
      meter.update(p, this.task.targets({ images: b.images, ...this.task.batchTargets(b) }));
      onBatch?.(b, p);
    });
    torch.trimMemory(); // evaluation's activations are freed: give the heap back (the addon keeps it between steps)
    if (opts.gather) {
      // Sharded evaluation: every process's meter state, merged in rank order on every process (sums: exact).
      const states = opts.gather(meter.state());
      meter = this.task.meter(this.cfg, this.info);
      for (const st of states) meter.merge(st);
    }
    return meter.compute();
  }
}
