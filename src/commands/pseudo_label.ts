// Pseudo-labelling (Lee 2013; the self-training loop of Xie et al. 2020 without
// noise): keep a share of the training labels, train a teacher on them, let it
// label the rest (optionally with TTA), keep the confident predictions, and
// train a student on labelled + pseudo-labelled images; the student teaches the
// next round. What is task-specific goes through the task's `pseudo`
// (src/tasks/task.ts PseudoLabelling): how the labelled share is drawn (per
// class; random images), what a pseudo-target is (a class or the teacher's
// probabilities, by a threshold or the top k per class; a mask with 255 where
// a pixel is not confident), how right the kept targets are (the pool's true
// targets are known here) and the training set they make. Each round's test
// metrics are printed as a table and written as pseudo_label.json / .md.
// A teacher on a tenth of the data makes a tenth of the optimizer steps per
// epoch: `teacherEpochs` trains it longer, and `control` adds a labelled-only
// model trained for as many optimizer steps as the last student (or, when each
// student starts from its teacher's weights, as the whole chain), so the table
// says whether the pseudo-labels helped or only the extra steps did.
// Two fixes from the literature for a student that drowns its real labels in
// easy pseudo-labels: `minLabelledShare` repeats the labelled images in every
// student epoch (Arazo et al. 2020 keep a minimum of labelled samples per
// batch), and `student` overrides the config for the students only (the noise
// and size of Noisy Student: stronger augmentation, a wider model, more epochs).
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { DataLoader, Subset, type Dataset } from '../data/index.js';
import { Trainer } from '../engine/trainer.js';
import { Predictor } from '../engine/predictor.js';
import { applyOverrides } from '../config/overrides.js';
import { getTask, validateConfig, type Config, type PseudoSelection } from '../tasks/index.js';
import { selectConfident, stratifiedSplit } from '../tasks/classification/pseudo.js';
import { checkShare } from '../tasks/pseudo_checks.js';
import type { TtaOptions } from '../infer/tta.js';
import { markdownTable, formatMetric } from '../util/table.js';
import { writeReport } from './report.js';

export { selectConfident, stratifiedSplit };

export interface PseudoLabelOptions {
  /** Share of the training set whose labels are kept (0.1), drawn with the seed (per class for classification). */
  labelledShare?: number;
  /** Keep predictions (pixels, for segmentation) whose top probability is at least this (0.9; detection: boxes whose score is); ignored with topK. */
  threshold?: number;
  /** Classification: keep the k most confident pool images per predicted class instead of a threshold. */
  topK?: number;
  /** Classification: train on the teacher's probabilities instead of its top class. */
  soft?: boolean;
  rounds?: number;
  /** Epochs of the first teacher (default: the config's train.epochs, like the students). */
  teacherEpochs?: number;
  /** The first teacher is an ensemble of this many labelled-only models (seeds seed, seed+1, ...; probabilities averaged). */
  teachers?: number;
  /** Also train a labelled-only model for as many optimizer steps as the last student (the fair baseline). */
  control?: boolean;
  /** Each student starts from its teacher's final weights ('teacher', a fine-tune) or anew ('scratch', the default, as in Lee 2013 and Noisy Student). */
  studentInit?: 'scratch' | 'teacher';
  /** Repeat the labelled images in each student epoch so they make up at least this share of it (0: as they come). */
  minLabelledShare?: number;
  /** `key.path=value` overrides applied to the students' config only (like --set), e.g. 'train.epochs=12'. */
  student?: string[];
  tta?: TtaOptions;
  /** Resume each model from its checkpoints in the work dir; a finished one is reused as it is. */
  resume?: boolean;
  workDir: string;
  quiet?: boolean;
}

/**
 * A row of the table: the images a model trained on, the pseudo-targets kept and how right they were
 * (`pseudoLabelAccuracy` and the task's other quality keys; null for labelled-only rows), the optimizer steps,
 * and the task's test metrics (classification: accuracy, balancedAccuracy; segmentation: mIoU, aAcc).
 */
export interface RoundRow {
  round: string;
  trainImages: number;
  pseudoLabels: number;
  pseudoLabelAccuracy: number | null;
  /** Optimizer steps (batches per epoch × epochs). */
  steps: number;
  [key: string]: string | number | null;
}

/** How often the labelled images come in a student epoch so they are at least `share` of it (Arazo et al. 2020). */
export function labelRepeats(labelled: number, pseudo: number, share: number): number {
  if (share <= 0 || pseudo === 0) return 1;
  return Math.max(1, Math.ceil((share * pseudo) / ((1 - share) * labelled)));
}

/** The members' merged predictions over a loader (each model the one its row reports: the SWA average when the recipe has SWA), with TTA when given, streamed batch by batch into `perBatch` with the batch's true targets and positions. */
async function predictPool(members: Trainer[], loader: DataLoader, tta: TtaOptions | undefined, perBatch: (prediction: unknown, truth: unknown, indices: number[]) => void): Promise<void> {
  const task = members[0].task;
  await Predictor.stream(members.map((t) => t.finalModel), loader, (b) => {
    const merged = task.merge(members.map((t) => t.predictor.predictBatch(t.finalModel, b.images, tta)), { how: task.merges[0], cfg: members[0].cfg });
    perBatch(merged, task.targets({ images: b.images, ...task.batchTargets(b) }), b.indices);
  });
}

/** The members' merged predictions scored on their test set, streamed. */
async function scoreMembers(members: Trainer[]): Promise<Record<string, number>> {
  const task = members[0].task;
  const meter = task.meter(members[0].cfg, members[0].info);
  await Predictor.stream(members.map((t) => t.finalModel), members[0].testLoader, (b) => {
    meter.update(task.merge(members.map((t) => t.predictor.predictBatch(t.finalModel, b.images)), { how: task.merges[0], cfg: members[0].cfg }), task.targets({ images: b.images, ...task.batchTargets(b) }));
  });
  return meter.compute();
}

export async function pseudoLabel(cfg: Config, o: PseudoLabelOptions): Promise<RoundRow[]> {
  const task = getTask(cfg.task);
  const pseudo = task.pseudo;
  if (!pseudo) throw new TypeError(`pseudo-label: the task '${task.name}' does not implement pseudo-labelling (Task.pseudo)`);
  const seed = cfg.seed ?? 42;
  // Every option is checked before the teacher trains.
  const studentInit = o.studentInit ?? 'scratch';
  if (studentInit !== 'scratch' && studentInit !== 'teacher') throw new RangeError(`pseudo-label: studentInit must be 'scratch' or 'teacher', got ${String(studentInit)}`);
  const minShare = o.minLabelledShare ?? 0;
  if (!(minShare >= 0 && minShare < 1)) throw new RangeError(`pseudo-label: minLabelledShare must be in [0, 1), got ${minShare}`);
  const teacherEpochs = o.teacherEpochs ?? cfg.train.epochs;
  if (!(Number.isInteger(teacherEpochs) && teacherEpochs >= 1)) throw new RangeError(`pseudo-label: teacherEpochs must be a positive integer, got ${teacherEpochs}`);
  const nTeachers = o.teachers ?? 1;
  if (!(Number.isInteger(nTeachers) && nTeachers >= 1)) throw new RangeError(`pseudo-label: teachers must be a positive integer, got ${nTeachers}`);
  const share = o.labelledShare ?? 0.1;
  checkShare(share);
  const selection = { threshold: o.threshold, topK: o.topK, soft: o.soft };
  pseudo.check(selection);
  const studentCfg: Config = structuredClone(cfg);
  if (o.student?.length) {
    applyOverrides(studentCfg, o.student, '--student-set');
    try {
      validateConfig(studentCfg);
    } catch (e) {
      throw new TypeError(`pseudo-label --student-set: the students' ${(e as Error).message}`);
    }
  }
  const { train: full, test } = await task.datasets(cfg);
  const [labIdx, poolIdx] = pseudo.split(full, share, seed);
  if (poolIdx.length === 0) throw new RangeError(`pseudo-label: labelledShare ${share} leaves no image of the ${full.length} in the unlabelled pool`);
  const labelledSet: Dataset = await pseudo.labelled(full, labIdx);
  const pool = new Subset(full, poolIdx);
  const rows: RoundRow[] = [];
  const log = o.quiet ? () => {} : (m: string) => console.log(m);
  const pick = (m: Record<string, number>) => Object.fromEntries(pseudo.metrics.map((c) => [c.key, m[c.key]]));
  const noQuality = Object.fromEntries(pseudo.quality.map((c) => [c.key, null])) as { pseudoLabelAccuracy: null };
  const row = (round: string, trainImages: number, metrics: Record<string, number>, steps: number, sel?: { kept: number; quality: PseudoSelection['quality'] }): RoundRow =>
    ({ round, trainImages, pseudoLabels: sel?.kept ?? 0, ...(sel?.quality ?? noQuality), ...pick(metrics), steps });
  const fit = async (name: string, train: Dataset, epochs: number, init?: string, base: Config = cfg) => {
    // A model started from `init` (the teacher's whole weights) does not load a classifier's backbone first (segmentation's
    // model.backbonePretrained excludes model.pretrained).
    const { backbonePretrained: _drop, ...rest } = base.model as Config['model'] & { backbonePretrained?: string };
    const model = init ? { ...rest, pretrained: init } : base.model;
    const c = { ...base, train: { ...base.train, epochs }, model } as Config;
    const workDir = join(o.workDir, name);
    const t = new Trainer(c, { workDir, quiet: o.quiet, resume: o.resume, datasets: { train, test } });
    const r = await t.fit();
    // The weights metrics.json reports: the SWA average when there is one, else the last epoch's.
    const final = existsSync(join(workDir, 'swa.safetensors')) ? join(workDir, 'swa.safetensors') : join(workDir, `epoch_${epochs}.safetensors`);
    return { t, r, final };
  };
  log(`pseudo-label: ${labIdx.length} labelled images (${(100 * share).toFixed(0)}% ${pseudo.splitRule}), ${poolIdx.length} in the unlabelled pool`);
  // The trainer drops the last partial batch.
  const steps = (images: number, epochs: number, batchSize = cfg.data.batchSize) => Math.floor(images / batchSize) * epochs;
  // The first teacher: one labelled-only model, or an ensemble of them that differ in seed only.
  let teachers: Trainer[] = [];
  let teacherWeights = '';
  for (let i = 0; i < nTeachers; i++) {
    const member = await fit(nTeachers === 1 ? 'teacher' : `teacher_${i + 1}`, labelledSet, teacherEpochs, undefined, { ...cfg, seed: seed + i });
    teachers.push(member.t);
    if (i === 0) teacherWeights = member.final;
    rows.push(row(`teacher${nTeachers === 1 ? '' : ` ${i + 1} (seed ${seed + i})`} (labelled only, ${teacherEpochs} epochs)`, labIdx.length, member.r.metrics, steps(labIdx.length, teacherEpochs)));
  }
  if (nTeachers > 1) {
    const s = await scoreMembers(teachers);
    rows.push(row(`teacher ensemble (${nTeachers} models, merged by ${teachers[0].task.merges[0]})`, labIdx.length, s, nTeachers * steps(labIdx.length, teacherEpochs)));
  }
  // Steps that went into the model a fine-tuned student starts from (the first teacher's, then each student's).
  let chainSteps = steps(labIdx.length, teacherEpochs);
  const rounds = o.rounds ?? 1;
  for (let round = 1; round <= rounds; round++) {
    // The pool is selected batch by batch: the task keeps what it needs of each (classification the logits, segmentation the kept masks).
    const loader = new DataLoader(pool, { batchSize: (cfg.data.testBatchSize ?? cfg.data.batchSize * 2), shuffle: false });
    const selector = pseudo.selector(selection, (p, opts) => task.selectPseudo(p, opts));
    await predictPool(teachers, loader, o.tta, (p, truth, indices) => selector.update(p, truth, indices));
    const sel = selector.finish();
    const kept = sel.indices.length;
    const repeats = labelRepeats(labIdx.length, kept, minShare);
    log(`round ${round}: kept ${kept} ${pseudo.unit} (${sel.summary})${repeats > 1 ? `; the labelled images come ${repeats} times an epoch` : ''}`);
    // The labelled images (rows 0..L-1) `repeats` times, then the pseudo-labelled ones once.
    const L = labIdx.length, order = repeats > 1 ? Array.from({ length: repeats * L + kept }, (_, j) => (j < repeats * L ? j % L : j - (repeats - 1) * L)) : null;
    const studentSet = await pseudo.studentSet(full, labelledSet, poolIdx, sel, order, selection);
    sel.targets.dispose();
    const studentEpochs = studentCfg.train.epochs;
    const student = await fit(`student_${round}`, studentSet, studentEpochs, studentInit === 'teacher' ? teacherWeights : undefined, studentCfg);
    const studentSteps = steps(studentSet.length, studentEpochs, studentCfg.data.batchSize);
    rows.push(row(`student ${round}`, studentSet.length, student.r.metrics, studentSteps, { kept, quality: sel.quality }));
    chainSteps = studentInit === 'teacher' ? chainSteps + studentSteps : studentSteps;
    teachers = [student.t];
    teacherWeights = student.final;
  }
  if (o.control) {
    // As many optimizer steps as went into the last model above, on the labelled images alone: the last
    // student's, or with studentInit 'teacher' the whole chain's (teacher and every student fine-tuned from it).
    const epochs = Math.max(1, Math.round(chainSteps / Math.max(1, steps(labIdx.length, 1))));
    const c = await fit('control', labelledSet, epochs);
    rows.push(row(`control: labelled only, ${epochs} epochs (the last model's ${studentInit === 'teacher' ? 'steps, teacher included' : 'steps'})`, labIdx.length, c.r.metrics, steps(labIdx.length, epochs)));
  }
  report(rows, pseudo, o.workDir, log);
  return rows;
}

function report(rows: RoundRow[], pseudo: { unit: string; quality: readonly { key: string; header: string }[]; metrics: readonly { key: string; header: string }[] }, workDir: string, log: (line: string) => void): void {
  const cell = (key: string, v: unknown) => formatMetric(key, v as number | null);
  const md = markdownTable(['round', 'training images', pseudo.unit, ...pseudo.quality.map((c) => c.header), 'optimizer steps', ...pseudo.metrics.map((c) => c.header)],
    rows.map((r) => [r.round, r.trainImages, r.pseudoLabels, ...pseudo.quality.map((c) => cell(c.key, r[c.key])), r.steps, ...pseudo.metrics.map((c) => cell(c.key, r[c.key]))]));
  writeReport(workDir, 'pseudo_label', md, rows, log);
}
