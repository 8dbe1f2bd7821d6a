// train(config, options): one training run from code, to completion — what
// `arsenal train` does, without the command line (mmengine's
// Runner.from_cfg(cfg).train()). The config is a Config object or a recipe
// file; it is validated (errors name the key) and never modified.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Module } from '../nn/module.js';
import type { Dataset } from '../data/dataset.js';
import { Trainer, type TrainResult } from './trainer.js';
import { applyOverrides } from '../config/overrides.js';
import { validateConfig, type Config } from '../tasks/index.js';
import { loadConfig } from './load_config.js';
import { checkpointFiles, latestTag } from './checkpoint.js';

export interface TrainOptions {
  /**
   * Where checkpoints, metrics.json and log.jsonl go. Default: work_dirs/<file
   * name> for a recipe file (as `arsenal train`), work_dirs/<model name> for a
   * config object; relative to the current directory.
   */
  workDir?: string;
  /** `key.path=value` overrides, as `arsenal train --set` (values parsed as JSON; `=null` deletes the key). */
  overrides?: string[];
  /** Continue from the work dir's latest checkpoint (the result equals an uninterrupted run). */
  resume?: boolean;
  /** No log lines and no progress bar. */
  quiet?: boolean;
  /**
   * Train and test on these datasets (e.g. TensorDatasets of your tensors)
   * instead of the ones the config's data section names: its dataset, root
   * and subset keys are then unused, its batch sizes, mean/std and prefetch
   * still apply.
   */
  datasets?: { train: Dataset; test: Dataset };
}

export interface TrainRun extends TrainResult {
  /** The work dir the run wrote to. */
  workDir: string;
  /** The final model's weights as a safetensors state dict with Arsenal's keys: swa.safetensors when SWA averaged, else the last epoch's. */
  checkpoint: string;
  /** The final model (the SWA average when SWA ran, else the trained model), in eval mode; the caller owns it (dispose() frees it). */
  model: Module;
  /** The config as it ran: validated, overrides applied. */
  config: Config;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates options; errors name the option and what was expected. */
function checkOptions(o: unknown): TrainOptions {
  if (o === undefined) return {};
  if (!isObject(o)) throw new TypeError(`train: options must be an object { workDir?, overrides?, resume?, quiet?, datasets? }, got ${JSON.stringify(o)}`);
  const known = ['workDir', 'overrides', 'resume', 'quiet', 'datasets'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new TypeError(`train: unknown option '${k}' (expected one of ${known.join(', ')})`);
  if (o.workDir !== undefined && (typeof o.workDir !== 'string' || o.workDir === '')) throw new TypeError(`train: options.workDir must be a non-empty string (a folder), got ${JSON.stringify(o.workDir)}`);
  if (o.overrides !== undefined && (!Array.isArray(o.overrides) || !o.overrides.every((s) => typeof s === 'string')))
    throw new TypeError(`train: options.overrides must be an array of 'key.path=value' strings, got ${JSON.stringify(o.overrides)}`);
  for (const k of ['resume', 'quiet'] as const) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`train: options.${k} must be true or false, got ${JSON.stringify(o[k])}`);
  if (o.datasets !== undefined) {
    const d = o.datasets as Record<string, unknown>;
    const ok = (x: unknown) => isObject(x) && typeof x.getBatch === 'function' && Number.isInteger(x.length) && Array.isArray(x.classes);
    if (!isObject(d) || !ok(d.train) || !ok(d.test)) throw new TypeError('train: options.datasets must be { train, test }, each a Dataset (length, classes, getBatch), e.g. a TensorDataset');
  }
  return o as TrainOptions;
}

/**
 * Trains a model from a config (a Config object or a recipe file) to
 * completion: checkpoints, `metrics.json` and `log.jsonl` in the work dir.
 * Returns the metrics (the task's — classification: accuracy,
 * balancedAccuracy, loss — and ema<Metric>, model<Metric>, tta<Metric> where
 * those tricks are on), the work dir, the final weights file and the final model.
 */
export async function train(config: Config | string, options?: TrainOptions): Promise<TrainRun> {
  const o = checkOptions(options);
  let cfg: Config;
  let defaultDir: string;
  if (typeof config === 'string') {
    cfg = await loadConfig(config, o.overrides ?? []);
    defaultDir = join('work_dirs', basename(config).replace(/\.[mc]?[jt]s$/, ''));
  } else if (isObject(config)) {
    let copy: Record<string, unknown>;
    try {
      copy = structuredClone(config) as Record<string, unknown>;
    } catch (e) {
      throw new TypeError(`train: the config must be plain data (objects, arrays, numbers, strings, booleans): ${(e as Error).message}`);
    }
    applyOverrides(copy, o.overrides ?? [], 'train: options.overrides');
    validateConfig(copy);
    cfg = copy;
    defaultDir = join('work_dirs', cfg.model.name);
  } else {
    throw new TypeError(`train: expected a Config object or the path of a recipe file (.ts/.js), got ${config === null ? 'null' : typeof config}`);
  }
  const workDir = o.workDir ?? defaultDir;
  const trainer = new Trainer(cfg, { workDir, resume: o.resume, quiet: o.quiet, datasets: o.datasets });
  const result = await trainer.fit();
  const model = trainer.finalModel;
  model.eval();
  const swa = join(workDir, 'swa.safetensors');
  const usedSwa = model !== trainer.model;
  const tag = latestTag(workDir);
  const checkpoint = usedSwa && existsSync(swa) ? swa : checkpointFiles(workDir, tag ?? `epoch_${result.epochs}`).weights;
  return { ...result, workDir, checkpoint, model, config: cfg };
}
