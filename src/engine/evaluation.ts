// A model from a weights file, ready to evaluate or predict, without a
// Trainer: the config's task, data (its test set; the training set only names
// the classes and channels), model and precision. What `arsenal test`,
// `ensemble` and `pseudo-label` build on.
import { existsSync } from 'node:fs';
import * as torch from '../torch/index.js';
import type { Module } from '../nn/module.js';
import { DataLoader, type Dataset } from '../data/index.js';
import type { BaseConfig } from '../config/sections.js';
import { getTask } from '../tasks/index.js';
import type { DataInfo, Task } from '../tasks/task.js';
import { Predictor, batchTensors } from './predictor.js';
import { resolveAmp } from './precision.js';

export interface EvalModel {
  cfg: BaseConfig;
  task: Task;
  info: DataInfo;
  model: Module;
  predictor: Predictor;
  test: Dataset;
  testLoader: DataLoader;
}

/** Data, model and predictor of a config (the model as initialised: load weights with loadWeights). */
export async function buildForEvaluation(cfg: BaseConfig, opts: { datasets?: { train: Dataset; test: Dataset } } = {}): Promise<EvalModel> {
  const task = getTask(cfg.task);
  const { train, test } = opts.datasets ?? await task.datasets(cfg);
  const probe = await train.getBatch([0]);
  const channels = probe.images.shape[1];
  torch.dispose(batchTensors(probe));
  const info: DataInfo = { classes: train.classes, classCounts: train.classCounts(), inChannels: channels };
  const { mean, std } = Predictor.normalisation(cfg, channels);
  const predictor = new Predictor(task, cfg, resolveAmp(cfg.train.amp).amp, info, mean, std);
  // The weights come from the file: no pretrained weights to load first.
  const model = task.buildModel({ ...cfg, model: { ...cfg.model, pretrained: undefined, backbonePretrained: undefined } }, info);
  if (cfg.train.channelsLast) model.toMemoryFormat('channelsLast');
  model.eval();
  const testLoader = new DataLoader(test, { batchSize: cfg.data.testBatchSize ?? cfg.data.batchSize * 2, shuffle: false, prefetch: cfg.data.prefetch });
  return { cfg, task, info, model, predictor, test, testLoader };
}

/** Frees the model's weights and the predictor's normalisation tensors. */
export function disposeEvalModel(e: EvalModel): void {
  e.model.dispose();
  e.predictor.dispose();
}

/** Loads a safetensors state dict into the model; errors name the file and what the config expects. */
export function loadWeights(e: EvalModel, weightsFile: string): void {
  if (!existsSync(weightsFile)) throw new Error(`checkpoint '${weightsFile}' does not exist`);
  const sd = torch.safetensors.loadFile(weightsFile);
  try {
    e.model.loadStateDict(sd, { source: weightsFile });
  } catch (err) {
    throw new Error(`${(err as Error).message} (is '${weightsFile}' a checkpoint of this config's model, ${e.cfg.model.name} with ${e.info.classes.length} classes?)`);
  } finally {
    torch.dispose(sd);
  }
}

/** A config's model with the weights of `weightsFile`, ready to evaluate. */
export async function loadForEvaluation(cfg: BaseConfig, weightsFile: string, opts: { datasets?: { train: Dataset; test: Dataset } } = {}): Promise<EvalModel> {
  if (!existsSync(weightsFile)) throw new Error(`checkpoint '${weightsFile}' does not exist`);
  const e = await buildForEvaluation(cfg, opts);
  try {
    loadWeights(e, weightsFile);
  } catch (err) {
    disposeEvalModel(e);
    throw err;
  }
  return e;
}
