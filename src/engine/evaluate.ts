// `arsenal test`: a model's metrics on the test set from a weights file, and
// what `arsenal info` reports about datasets.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import { Trainer, type TrainResult } from './trainer.js';
import { scoreLogits } from '../metrics/classification.js';
import { buildViews, mergePredictions } from '../infer/tta.js';
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
  let m: ReturnType<typeof scoreLogits>;
  let views: { view: string; accuracy: number; balancedAccuracy: number; loss: number }[] | undefined;
  if (tta) {
    // Each view alone and their merge, from one forward per view: the table says what each view adds.
    const p = await trainer.predictViews(trainer.model, tta);
    views = p.views.map((v) => ({ view: v.name, ...scoreLogits(v.logits, p.labels, trainer.numClasses) }));
    const merged = torch.scope(() => mergePredictions(p.views.map((v) => v.logits), tta.merge ?? 'mean').clamp(1e-12).log().keep());
    m = scoreLogits(merged, p.labels, trainer.numClasses);
    views.push({ view: `TTA (${tta.merge ?? 'mean'} of ${p.views.length} views)`, ...m });
    torch.dispose([merged, p.labels, ...p.views.map((v) => v.logits)]);
  } else {
    const { logits, labels } = await trainer.predict(trainer.model);
    m = scoreLogits(logits, labels, trainer.numClasses);
    torch.dispose([logits, labels]);
  }
  const result: TrainResult & { views?: typeof views } = {
    task: cfg.task, dataset: cfg.data.dataset, metrics: { ...m }, epochs: cfg.train.epochs, seed: trainer.seed, amp: trainer.amp,
    wallSeconds: (performance.now() - t0) / 1000, imagesPerSecond: 0, dataWaitShare: 0, ...(views ? { views } : {}),
  };
  mkdirSync(workDir, { recursive: true });
  // Its own files: the training run's metrics.json in the same work dir stays as it was.
  torch.safetensors.writeAtomic(join(workDir, 'test_metrics.json'), JSON.stringify(result, null, 2) + '\n');
  if (views) {
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    const md = ['| view | accuracy | balanced accuracy | loss |', '|---|---:|---:|---:|', ...views.map((r) => `| ${r.view} | ${pct(r.accuracy)} | ${pct(r.balancedAccuracy)} | ${r.loss.toFixed(4)} |`)];
    console.log(md.join('\n'));
    torch.safetensors.writeAtomic(join(workDir, 'test_metrics.md'), md.join('\n') + '\n');
  }
  if (tta) (result as TrainResult & { tta?: unknown }).tta = tta;
  console.log(`test accuracy ${(100 * m.accuracy).toFixed(2)}% (balanced ${(100 * m.balancedAccuracy).toFixed(2)}%), loss ${m.loss.toFixed(4)}${tta ? ` with TTA (${buildViews(tta).map((v) => v.name).join(', ')}; merge ${tta.merge ?? 'mean'})` : ''} — ${weightsFile}`);
  return result;
}

export function datasetsFound(): { name: string; found: boolean; path: string; hint: string }[] {
  const root = process.env.ARSENAL_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
  const ok = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((f) => existsSync(join(root, f + '.gz')) || existsSync(join(root, f)));
  return [{ name: 'fashion-mnist', found: ok, path: root, hint: 'apt-get install dataset-fashion-mnist, or set ARSENAL_FASHION_MNIST' }];
}
