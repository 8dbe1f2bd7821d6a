// The tasks by name: a config's `task` picks one, and its schema validates
// the whole config. A task written elsewhere (a test, a user's package) joins
// with registerTask and then trains through the same trainer, TTA and
// ensembles, with no change to src/ (docs/architecture.md §5). Pseudo-labelling
// runs its rounds through Task.pseudo, whose selector streams the pool through
// Task.selectPseudo.
import { fail, show } from '../util/schema.js';
import type { BaseConfig } from '../config/sections.js';
import type { Task } from './task.js';
import { classification, type ClassificationConfig } from './classification/index.js';
import { segmentation, type SegmentationConfig } from './segmentation/index.js';
import { detection, type DetectionConfig } from './detection/index.js';

/** A training config: a discriminated union on `task`. */
export type Config = ClassificationConfig | SegmentationConfig | DetectionConfig;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const TASKS = new Map<string, Task<any, any, any, any>>([[classification.name, classification], [segmentation.name, segmentation], [detection.name, detection]]);

/** Adds a task (its name must be new). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerTask(task: Task<any, any, any, any>): void {
  if (!task || typeof task.name !== 'string' || task.name === '') throw new TypeError('registerTask: expected a Task with a name');
  const known = TASKS.get(task.name);
  if (known && known !== task) throw new TypeError(`registerTask: a task named '${task.name}' is already registered`);
  TASKS.set(task.name, task);
}

export function taskNames(): string[] {
  return [...TASKS.keys()];
}

/** The task a config names; an unknown name is an error listing the known ones. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getTask(name: unknown, path = 'config.task'): Task<any, any, any, any> {
  const t = typeof name === 'string' ? TASKS.get(name) : undefined;
  if (!t) fail(path, name === undefined ? `missing (expected one of ${taskNames().map(show).join(', ')})` : `expected one of ${taskNames().map(show).join(', ')}, got ${show(name)}`);
  return t!;
}

/** Throws a TypeError naming the first wrong key or value. */
export function validateConfig(cfg: unknown): asserts cfg is Config {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) fail('config', `expected an object, got ${show(cfg)}`);
  getTask((cfg as BaseConfig).task).schema(cfg, 'config');
}

export type { Task, Meter, TaskLoss, DataInfo, LossContext, PseudoOptions, SelectPseudo, PredictionWriter, PredictionOutputOptions, SegmentationTask, MixedMasks, DetectionTask, Detections, BoxTargets, PseudoLabelling, PseudoSelector, PseudoSelection, PseudoColumn } from './task.js';
export { SINGLE_PROCESS } from './task.js';
export { classification, segmentation, detection };
export * from './classification/index.js';
export { SEGMENTATION, SEG_MERGES, buildSegLoss, selectPseudoMasks, randomSplit, segmentationPseudo, type SegmentationConfig } from './segmentation/index.js';
export {
  DETECTION, DET_MERGES, buildDetLoss, mergeDetections, invertDetections, DetectionMeter, detectionWriter, selectPseudoBoxes, detectionPseudo, postprocessOptions, WithoutIgnored,
  type DetectionConfig, type DetTarget, type DetTargets,
} from './detection/index.js';
