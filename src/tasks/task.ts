// The Task interface: every decision that depends on what is being predicted
// — the model's head, the targets a batch carries, the loss terms, decoding,
// metrics, how TTA views and ensemble members merge, and which predictions
// become pseudo-labels — goes through a Task, so the trainer, TTA and
// ensembles hold no `if (task === …)` (docs/architecture.md §5).
// Classification implements it (./classification); the signatures of
// segmentation and detection are at the end of this file.
import type { Tensor } from '../torch/tensor.js';
import type { Module } from '../nn/module.js';
import type { Batch, Dataset } from '../data/dataset.js';
import type { ImageBatch } from '../augment/batch/types.js';
import type { MultiLoss } from '../losses/multi_loss.js';
import type { View } from '../infer/tta.js';
import type { BaseConfig } from '../config/sections.js';
import type { Check } from '../util/schema.js';

/** What a task is told about the data when it builds its parts. */
export interface DataInfo {
  classes: string[];
  /** Training samples per class (class weighting). */
  classCounts: number[];
  /** Image channels. */
  inChannels: number;
}

/**
 * Loss normalisers that depend on the batch — the samples of a classification
 * batch, the non-ignored pixels of a segmentation batch, the positives of a
 * detection batch, weight sums — go through here, so that data-parallel
 * training averages them over processes (mmdet's `reduce_mean`) and 2
 * processes × B/2 equal 1 × B. One process returns the value as it is.
 */
export interface LossContext {
  /** Processes training together (1: this one alone). */
  readonly processes: number;
  /** The mean of `value` over the processes (an all-reduce); one process returns it as it is. */
  averageOverProcesses(value: Tensor): Tensor;
}
export const SINGLE_PROCESS: LossContext = { processes: 1, averageOverProcesses: (v) => v };

/** A task's loss: named terms summed by a MultiLoss (fixed, uncertainty, DWA or GradNorm weighting, logged per term). */
export interface TaskLoss<Output, Targets> {
  readonly multi: MultiLoss<[Output, Targets]>;
  /** Lines for the log (terms, weights, class weights). */
  readonly describe: string[];
}

/**
 * A streaming metric: `update` per batch, `compute` at the end; nothing holds
 * the whole test set's outputs. `state()` is plain data that `merge` adds to
 * another meter of the same task (sums for accuracy and IoU, gathered
 * detections for COCO AP), so evaluation sharded over processes merges exactly.
 */
export interface Meter<Prediction, Targets, State = unknown> {
  update(prediction: Prediction, targets: Targets): void;
  compute(): Record<string, number>;
  state(): State;
  merge(other: State): void;
}

export type MergeHow = string;

export interface Task<Cfg extends BaseConfig = BaseConfig, Output = unknown, Targets = unknown, Prediction = unknown> {
  /** The config's `task` value. */
  readonly name: string;
  /** The metric that decides the best checkpoint, a key of the meter's results. */
  readonly primaryMetric: string;
  /** Whether a greater or a less primary metric is better (mmengine CheckpointHook `rule`; default 'greater'). */
  readonly rule?: 'greater' | 'less';
  /** The metrics a results table shows (the ablation and seed-study scripts; metrics.json's `headline`), the primary first. */
  readonly headlineMetrics?: readonly string[];
  /** Validates a whole config of this task (the shared sections included: src/config/sections.ts BASE_SHAPE). */
  readonly schema: Check<Cfg>;
  /** The TTA and ensemble merges this task knows (the first is the default). */
  readonly merges: readonly MergeHow[];

  /** The train and test sets a config names. */
  datasets(cfg: Cfg): Promise<{ train: Dataset; test: Dataset }>;
  /** The model (its pretrained weights loaded, where the config names them; what was loaded goes to `log`). */
  buildModel(cfg: Cfg, info: DataInfo, log?: (line: string) => void): Module;
  /** The loss; its batch-dependent normalisers go through `ctx` (SINGLE_PROCESS by default). */
  buildLoss(cfg: Cfg, info: DataInfo, model: Module, log: (line: string) => void, ctx?: LossContext): TaskLoss<Output, Targets>;
  /** The targets of a loader batch, as the batch transforms see them (labels, masks, boxes), without the images. */
  batchTargets(batch: Batch): Omit<ImageBatch, 'images'>;
  /** The loss's targets from a (transformed) batch. */
  targets(batch: ImageBatch): Targets;
  /**
   * Optional: the model's output on a batch of normalised images [N,C,H,W] when predicting (evaluation, TTA views,
   * ensembles, pseudo-labels); `forward` runs the model under the run's precision and layout. Absent: one forward of
   * the whole batch. Segmentation slides windows here when its config asks (mmseg's test_cfg mode='slide').
   */
  predict?(forward: (x: Tensor) => Output, images: Tensor, cfg: Cfg): Output;
  /** The model's output (fp32) → this task's prediction (logits, a class map's scores, boxes). */
  decode(output: Output): Prediction;
  meter(cfg: Cfg, info: DataInfo): Meter<Prediction, Targets>;
  /** A prediction on a TTA view mapped back to the original frame (a flipped mask flipped back, boxes moved back). */
  invert(view: View, prediction: Prediction): Prediction;
  /** One merge of several predictions of the same images — TTA views and ensemble members alike; `cfg` (the run's, or the first member's) gives the task's merge options, where it has any (detection: boxMerge). */
  merge(predictions: Prediction[], opts: { how?: MergeHow; weights?: number[]; cfg?: Cfg }): Prediction;
  /**
   * Which predictions of an unlabelled pool to keep as pseudo-labels, and their targets: the one rule pseudo-labelling
   * selects by (`pseudo.selector` streams the pool through it).
   */
  selectPseudo: SelectPseudo<Prediction>;
  /**
   * Optional: files of a test set's predictions for `arsenal test` (segmentation: palette PNG masks and
   * image | truth | prediction panels), fed batch by batch in the test pass.
   */
  predictionWriter?(cfg: Cfg, info: DataInfo, test: Dataset, opts: PredictionOutputOptions): PredictionWriter<Prediction>;
  /** Optional: lines the commands print after a model's metrics (detection: pycocotools' twelve-line summary). */
  describeMetrics?(metrics: Record<string, number>): string[];
  /** The rest of pseudo-labelling's rounds (`arsenal pseudo-label`); a task without it cannot be pseudo-labelled. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly pseudo?: PseudoLabelling<Prediction, Targets, any>;
}

export interface PredictionOutputOptions {
  /** The run's work dir; a task writes into its own folders under it. */
  workDir: string;
  /** Pictures of the first N test images (where the task draws any; default the task's). */
  panels?: number;
}

/** Writes predictions as files while a test pass streams batches. */
export interface PredictionWriter<Prediction = unknown> {
  /** A loader batch (images as stored, its targets and dataset indices) and its prediction; synchronous, inside the batch's tensor scope (files may be finished by `close`). */
  write(batch: Batch, prediction: Prediction): void;
  /** Finishes the files; lines for the log saying what was written where. */
  close(): Promise<string[]>;
}

export interface PseudoOptions {
  /** Keep predictions whose confidence is at least this. */
  threshold?: number;
  /** Keep the k most confident per predicted class instead. */
  topK?: number;
  /** Soft targets (the probabilities) instead of hard ones. */
  soft?: boolean;
}

/** Task.selectPseudo: the predictions kept as pseudo-labels (positions in `prediction`, ascending) and their targets. */
export type SelectPseudo<Prediction> = (prediction: Prediction, opts: PseudoOptions) => { indices: number[]; targets: Tensor };

/** A pool's pseudo-targets: which pool images are kept, their targets, and how right they are. */
export interface PseudoSelection {
  /** Pool positions kept (the pool loader's batch indices), ascending. */
  indices: number[];
  /** Their targets, one row per kept image (class indices or probabilities; masks uint8 with 255 = ignore); the caller disposes it. */
  targets: Tensor;
  /** Against the pool's true targets (known here): the share of kept targets that are right (null when none is kept), and the task's other measures. */
  quality: { pseudoLabelAccuracy: number | null } & Record<string, number | null>;
  /** One line for the log (how many were kept, how right). */
  summary: string;
}

/** A selection streamed over the pool batch by batch, so that no pool-sized score tensor is held where the task can avoid it. */
export interface PseudoSelector<Prediction, Targets> {
  /** One pool batch: the (merged) prediction, the batch's true targets, and its pool positions. Called inside a memory scope: keep what is held. */
  update(prediction: Prediction, truth: Targets, indices: number[]): void;
  finish(): PseudoSelection;
}

/** A column of the pseudo-label table: a key of the row and its header. */
export interface PseudoColumn { key: string; header: string }

/**
 * What pseudo-labelling's rounds (src/commands/pseudo_label.ts) ask of a task:
 * how the labelled share is drawn, what a pseudo-target is, how the pool's
 * pseudo-targets are scored against its true ones, and how a training set of
 * labelled + pseudo-labelled images is made. `L` is the task's labelled set.
 */
export interface PseudoLabelling<Prediction, Targets, L extends Dataset = Dataset> {
  /** What one kept pool image is called in the table: 'pseudo-labels', 'pseudo-masks'. */
  readonly unit: string;
  /** How the labelled share is drawn, for the log: 'per class', 'of the images'. */
  readonly splitRule: string;
  /** PseudoSelection.quality's columns (pseudoLabelAccuracy first). */
  readonly quality: readonly PseudoColumn[];
  /** The test metrics the table reports (keys of the task's meter). */
  readonly metrics: readonly PseudoColumn[];
  /** Throws on selection options this task cannot select with, before anything trains. */
  check(opts: PseudoOptions): void;
  /** The training set's positions as [labelled, pool], each ascending; a function of the seed. */
  split(train: Dataset, share: number, seed: number): [number[], number[]];
  /** The labelled images with their true targets, as a training set. */
  labelled(train: Dataset, indices: number[]): Promise<L>;
  /** The pool's selection, streamed batch by batch, by the task's `select` (Task.selectPseudo): per batch, or over the gathered pool where the rule needs it whole (top k per class). */
  selector(opts: PseudoOptions, select: SelectPseudo<Prediction>): PseudoSelector<Prediction, Targets>;
  /**
   * A student's training set: the labelled images, then the kept pool images
   * (`pool` maps pool positions to training-set positions) with their
   * pseudo-targets; rows `order` of that list when given (labelled images
   * repeated). Copies what it keeps of `selection`.
   */
  studentSet(train: Dataset, labelled: L, pool: readonly number[], selection: PseudoSelection, order: number[] | null, opts: PseudoOptions): Promise<Dataset>;
}

// ---- the next tasks' signatures (built in their own issues) -------------------------------------------
/** Segmentation targets after MixUp (one λ per batch): the loss is λ·L(masks) + (1−λ)·L(masks2), term by term. */
export interface MixedMasks { masks: Tensor; masks2: Tensor; lam: number }
/** Semantic segmentation: a class per pixel, 255 = ignore (mmseg). Output and prediction: scores [N,K,H,W]; targets: masks int64 [N,H,W] (both mask sets and λ after MixUp). */
export type SegmentationTask<Cfg extends BaseConfig = BaseConfig> = Task<Cfg, Tensor, Tensor | MixedMasks, Tensor>;
/** Detections of one image: boxes float [M,4] xyxy in pixels, scores [M], labels int64 [M]. */
export interface Detections { boxes: Tensor; scores: Tensor; labels: Tensor }
/** Ground truth of one image; `ignore` marks VOC's difficult / COCO's crowd boxes. */
export interface BoxTargets { boxes: Tensor; labels: Tensor; ignore?: Tensor }
/** Object detection: ragged targets and predictions, a list per image; the output is the head's dense maps (and, when predicting, the detections). */
export type DetectionTask<Cfg extends BaseConfig = BaseConfig, Output = Record<string, Tensor[]>, Targets extends BoxTargets[] = BoxTargets[]> = Task<Cfg, Output, Targets, Detections[]>;
