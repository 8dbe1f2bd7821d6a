// `arsenal test`: a model's metrics on the test set from a weights file, and
// what `arsenal info` reports about datasets.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { Trainer, type TrainResult } from './trainer.js';
import { scoreLogits } from '../metrics/classification.js';
import { buildViews } from '../infer/tta.js';
import type { Config } from './config.js';

/** A trainer set up for evaluation with the weights of `weightsFile` loaded (errors name the file). */
export async function loadForEvaluation(cfg: Config, weightsFile: string, workDir: string): Promise<Trainer> {
  if (!existsSync(weightsFile)) throw new Error(`checkpoint '${weightsFile}' does not exist`);
  const trainer = new Trainer(cfg, { workDir, quiet: true });
  await trainer.setup();
  const sd = torch.safetensors.loadFile(weightsFile);
  try {
    trainer.model.loadStateDict(sd, { source: weightsFile });
  } catch (e) {
    throw new Error(`${(e as Error).message} (is '${weightsFile}' a checkpoint of this config's model, ${cfg.model.name} with ${trainer.numClasses} classes?)`);
  } finally {
    torch.dispose(sd);
  }
  return trainer;
}

export async function evaluateCheckpoint(cfg: Config, weightsFile: string, workDir: string, opts: { tta?: boolean } = {}): Promise<TrainResult> {
  const t0 = performance.now();
  const trainer = await loadForEvaluation(cfg, weightsFile, workDir);
  const tta = opts.tta ? cfg.tta ?? { flips: ['h' as const] } : undefined;
  const { logits, labels } = await trainer.predict(trainer.model, tta);
  const m = scoreLogits(logits, labels, trainer.numClasses);
  torch.dispose([logits, labels]);
  const result: TrainResult = {
    task: cfg.task, dataset: cfg.data.dataset, metrics: { ...m }, epochs: cfg.train.epochs, seed: trainer.seed,
    wallSeconds: (performance.now() - t0) / 1000, imagesPerSecond: 0, dataWaitShare: 0,
  };
  mkdirSync(workDir, { recursive: true });
  // Its own file: the training run's metrics.json in the same work dir stays as it was.
  torch.safetensors.writeAtomic(join(workDir, 'test_metrics.json'), JSON.stringify(result, null, 2) + '\n');
  if (tta) (result as TrainResult & { tta?: unknown }).tta = tta;
  console.log(`test accuracy ${(100 * m.accuracy).toFixed(2)}% (balanced ${(100 * m.balancedAccuracy).toFixed(2)}%), loss ${m.loss.toFixed(4)}${tta ? ` with TTA (${buildViews(tta).map((v) => v.name).join(', ')}; merge ${tta.merge ?? 'mean'})` : ''} — ${weightsFile}`);
  return result;
}

export function datasetsFound(): { name: string; found: boolean; path: string; hint: string }[] {
  const root = process.env.ARSENAL_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
  const ok = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((f) => existsSync(join(root, f + '.gz')) || existsSync(join(root, f)));
  return [{ name: 'fashion-mnist', found: ok, path: root, hint: 'apt-get install dataset-fashion-mnist, or set ARSENAL_FASHION_MNIST' }];
}
