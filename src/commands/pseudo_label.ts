// Pseudo-labelling (Lee 2013; the self-training loop of Xie et al. 2020 without
// noise): keep a share of the training labels, train a teacher on them, let it
// label the rest (optionally with TTA), keep the confident predictions (a
// probability threshold, or the top k per class so classes stay balanced), and
// train a student on labelled + pseudo-labelled images, with hard or soft
// labels; the student teaches the next round. Each round's test accuracy (and
// how right the kept pseudo-labels were, since the pool's true labels are
// known here) is printed as a table and written as pseudo_label.json / .md.
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
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { Rng } from '../data/rng.js';
import { DataLoader, Subset, TensorDataset, type Dataset } from '../data/index.js';
import { Trainer } from '../engine/trainer.js';
import { Predictor } from '../engine/predictor.js';
import { applyOverrides } from '../config/overrides.js';
import { getTask, validateConfig, type ClassificationConfig as Config } from '../tasks/index.js';
import { checkSelection, selectConfident } from '../tasks/classification/pseudo.js';
import type { TtaOptions } from '../infer/tta.js';
import { markdownTable, formatMetric } from '../util/table.js';
import { writeReport } from './report.js';

export { selectConfident };

export interface PseudoLabelOptions {
  /** Share of the training set whose labels are kept (0.1), drawn per class with the seed. */
  labelledShare?: number;
  /** Keep pool images whose top probability is at least this (0.9); ignored with topK. */
  threshold?: number;
  /** Keep the k most confident pool images per predicted class instead of a threshold. */
  topK?: number;
  /** Train on the teacher's probabilities instead of its top class. */
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

export interface RoundRow { round: string; trainImages: number; pseudoLabels: number; pseudoLabelAccuracy: number | null; accuracy: number; balancedAccuracy: number; /** Optimizer steps (batches per epoch × epochs). */ steps: number }

/** Indices of a per-class share of the dataset (stratified, seeded): [labelled, unlabelled]. */
export function stratifiedSplit(ds: Dataset, share: number, seed: number): [number[], number[]] {
  if (!(share > 0 && share < 1)) throw new RangeError(`pseudo-label: labelledShare must be in (0, 1), got ${share}`);
  const t = ds.targets;
  if (!t) throw new TypeError('pseudo-label: the training set does not expose its targets');
  const byClass: number[][] = ds.classes.map(() => []);
  for (let i = 0; i < t.length; i++) byClass[t[i]].push(i);
  const rng = new Rng(Rng.derive(seed, 0x9e1));
  const labelled: number[] = [], pool: number[] = [];
  for (const idx of byClass) {
    rng.shuffle(idx);
    const k = Math.max(1, Math.round(idx.length * share));
    labelled.push(...idx.slice(0, k));
    pool.push(...idx.slice(k));
  }
  return [labelled.sort((a, b) => a - b), pool.sort((a, b) => a - b)];
}

/** How often the labelled images come in a student epoch so they are at least `share` of it (Arazo et al. 2020). */
export function labelRepeats(labelled: number, pseudo: number, share: number): number {
  if (share <= 0 || pseudo === 0) return 1;
  return Math.max(1, Math.ceil((share * pseudo) / ((1 - share) * labelled)));
}

/** The members' merged predictions over a loader (each model the one its row reports: the SWA average when the recipe has SWA), with TTA when given; the pool's predictions are kept whole because the selection (top k per class) is over all of them. */
async function predictAll(members: Trainer[], loader: DataLoader, tta: TtaOptions | undefined): Promise<Tensor> {
  const task = members[0].task;
  const parts: Tensor[] = [];
  await Predictor.stream(members.map((t) => t.finalModel), loader, (b) => {
    parts.push((task.merge(members.map((t) => t.predictor.predictBatch(t.finalModel, b.images, tta)), { how: task.merges[0] }) as Tensor).keep());
  });
  const all = torch.scope(() => torch.cat(parts, 0).keep());
  torch.dispose(parts);
  return all;
}

/** The members' merged predictions scored on their test set, streamed. */
async function scoreMembers(members: Trainer[]): Promise<Record<string, number>> {
  const task = members[0].task;
  const meter = task.meter(members[0].cfg, members[0].info);
  await Predictor.stream(members.map((t) => t.finalModel), members[0].testLoader, (b) => {
    meter.update(task.merge(members.map((t) => t.predictor.predictBatch(t.finalModel, b.images)), { how: task.merges[0] }), task.targets({ images: b.images, ...task.batchTargets(b) }));
  });
  return meter.compute();
}

async function gather(ds: Dataset, indices: number[]): Promise<{ images: Tensor; labels: Tensor }> {
  if (indices.length === 0) {
    // Nothing passed the threshold: empty tensors of the right shape, so the student trains on the labelled images alone.
    const one = await ds.getBatch([0]);
    const out = torch.scope(() => ({ images: one.images.narrow(0, 0, 0).contiguous().keep(), labels: one.labels.narrow(0, 0, 0).contiguous().keep() }));
    torch.dispose([one.images, one.labels]);
    return out;
  }
  const parts: { images: Tensor; labels: Tensor }[] = [];
  for (let s = 0; s < indices.length; s += 4096) {
    const b = await ds.getBatch(indices.slice(s, s + 4096));
    parts.push({ images: b.images, labels: b.labels });
  }
  const out = torch.scope(() => ({ images: torch.cat(parts.map((p) => p.images), 0).keep(), labels: torch.cat(parts.map((p) => p.labels), 0).keep() }));
  torch.dispose(parts.flatMap((p) => [p.images, p.labels]));
  return out;
}

export async function pseudoLabel(cfg: Config, o: PseudoLabelOptions): Promise<RoundRow[]> {
  // The rounds split the labelled set per class and score pseudo-labels as class predictions: classification's.
  if ((cfg as { task: string }).task !== 'classification') throw new TypeError(`pseudo-label: implemented for classification; config.task is '${String(cfg.task)}'`);
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
  checkSelection(o);
  const studentCfg: Config = structuredClone(cfg);
  if (o.student?.length) {
    applyOverrides(studentCfg, o.student, '--student-set');
    try {
      validateConfig(studentCfg);
    } catch (e) {
      throw new TypeError(`pseudo-label --student-set: the students' ${(e as Error).message}`);
    }
  }
  const { train: full, test } = await getTask(cfg.task).datasets(cfg);
  const [labIdx, poolIdx] = stratifiedSplit(full, o.labelledShare ?? 0.1, seed);
  const k = full.classes.length;
  const labelled = await gather(full, labIdx);
  const labelledSet = new TensorDataset(labelled.images, labelled.labels, full.classes);
  const pool = new Subset(full, poolIdx);
  const poolTruth = torch.tensor(Int32Array.from(poolIdx, (i) => full.targets![i])).long().keep();
  const rows: RoundRow[] = [];
  const log = o.quiet ? () => {} : (m: string) => console.log(m);
  const fit = async (name: string, train: Dataset, epochs: number, init?: string, base: Config = cfg) => {
    const c: Config = { ...base, train: { ...base.train, epochs }, model: init ? { ...base.model, pretrained: init } : base.model };
    const workDir = join(o.workDir, name);
    const t = new Trainer(c, { workDir, quiet: o.quiet, resume: o.resume, datasets: { train, test } });
    const r = await t.fit();
    // The weights metrics.json reports: the SWA average when there is one, else the last epoch's.
    const final = existsSync(join(workDir, 'swa.safetensors')) ? join(workDir, 'swa.safetensors') : join(workDir, `epoch_${epochs}.safetensors`);
    return { t, r, final };
  };
  log(`pseudo-label: ${labIdx.length} labelled images (${(100 * (o.labelledShare ?? 0.1)).toFixed(0)}% per class), ${poolIdx.length} in the unlabelled pool`);
  // The trainer drops the last partial batch.
  const steps = (images: number, epochs: number, batchSize = cfg.data.batchSize) => Math.floor(images / batchSize) * epochs;
  // The first teacher: one labelled-only model, or an ensemble of them that differ in seed only.
  let teachers: Trainer[] = [];
  let teacherWeights = '';
  for (let i = 0; i < nTeachers; i++) {
    const member = await fit(nTeachers === 1 ? 'teacher' : `teacher_${i + 1}`, labelledSet, teacherEpochs, undefined, { ...cfg, seed: seed + i });
    teachers.push(member.t);
    if (i === 0) teacherWeights = member.final;
    rows.push({ round: `teacher${nTeachers === 1 ? '' : ` ${i + 1} (seed ${seed + i})`} (labelled only, ${teacherEpochs} epochs)`, trainImages: labIdx.length, pseudoLabels: 0, pseudoLabelAccuracy: null, accuracy: member.r.metrics.accuracy, balancedAccuracy: member.r.metrics.balancedAccuracy, steps: steps(labIdx.length, teacherEpochs) });
  }
  if (nTeachers > 1) {
    const s = await scoreMembers(teachers);
    rows.push({ round: `teacher ensemble (${nTeachers} models, mean of probabilities)`, trainImages: labIdx.length, pseudoLabels: 0, pseudoLabelAccuracy: null, accuracy: s.accuracy, balancedAccuracy: s.balancedAccuracy, steps: nTeachers * steps(labIdx.length, teacherEpochs) });
  }
  // Steps that went into the model a fine-tuned student starts from (the first teacher's, then each student's).
  let chainSteps = steps(labIdx.length, teacherEpochs);
  const rounds = o.rounds ?? 1;
  for (let round = 1; round <= rounds; round++) {
    const loader = new DataLoader(pool, { batchSize: (cfg.data.testBatchSize ?? cfg.data.batchSize * 2), shuffle: false });
    const predictions = await predictAll(teachers, loader, o.tta);
    const { indices: keep, targets: chosen } = torch.scope(() => {
      const r = teachers[0].task.selectPseudo(predictions, { threshold: o.threshold, topK: o.topK, soft: o.soft });
      return { indices: r.indices, targets: r.targets.keep() };
    });
    predictions.dispose();
    const keepT = torch.tensor(Int32Array.from(keep)).long().keep();
    const hard = torch.scope(() => (o.soft ? chosen.argmax(1) : chosen.clone()).keep());
    const right = keep.length ? torch.scope(() => hard.eq(poolTruth.indexSelect(0, keepT)).float().mean().item()) : null;
    const imgs = await gather(pool, keep);
    const images = torch.scope(() => torch.cat([labelled.images, imgs.images], 0).keep());
    const labels = torch.scope(() => (o.soft ? torch.cat([F.oneHot(labelled.labels, k).float(), chosen], 0) : torch.cat([labelled.labels, hard], 0)).keep());
    torch.dispose([imgs.images, imgs.labels, chosen, hard, keepT]);
    const repeats = labelRepeats(labIdx.length, keep.length, minShare);
    log(`round ${round}: kept ${keep.length} pseudo-labels (${right === null ? '—' : `${(100 * right).toFixed(1)}% right`}), ${o.soft ? 'soft' : 'hard'} labels${repeats > 1 ? `; the labelled images come ${repeats} times an epoch` : ''}`);
    const both = new TensorDataset(images, labels, full.classes);
    // The labelled images (rows 0..L-1 of `both`) `repeats` times, then the pseudo-labelled ones once.
    const L = labIdx.length, order = Array.from({ length: repeats * L + keep.length }, (_, j) => (j < repeats * L ? j % L : j - (repeats - 1) * L));
    const studentSet = repeats > 1 ? new Subset(both, order) : both;
    const studentEpochs = studentCfg.train.epochs;
    const student = await fit(`student_${round}`, studentSet, studentEpochs, studentInit === 'teacher' ? teacherWeights : undefined, studentCfg);
    const studentSteps = steps(studentSet.length, studentEpochs, studentCfg.data.batchSize);
    rows.push({ round: `student ${round}`, trainImages: studentSet.length, pseudoLabels: keep.length, pseudoLabelAccuracy: right, accuracy: student.r.metrics.accuracy, balancedAccuracy: student.r.metrics.balancedAccuracy, steps: studentSteps });
    chainSteps = studentInit === 'teacher' ? chainSteps + studentSteps : studentSteps;
    teachers = [student.t];
    teacherWeights = student.final;
  }
  if (o.control) {
    // As many optimizer steps as went into the last model above, on the labelled images alone: the last
    // student's, or with studentInit 'teacher' the whole chain's (teacher and every student fine-tuned from it).
    const epochs = Math.max(1, Math.round(chainSteps / Math.max(1, steps(labIdx.length, 1))));
    const c = await fit('control', labelledSet, epochs);
    rows.push({ round: `control: labelled only, ${epochs} epochs (the last model's ${studentInit === 'teacher' ? 'steps, teacher included' : 'steps'})`, trainImages: labIdx.length, pseudoLabels: 0, pseudoLabelAccuracy: null, accuracy: c.r.metrics.accuracy, balancedAccuracy: c.r.metrics.balancedAccuracy, steps: steps(labIdx.length, epochs) });
  }
  report(rows, o.workDir, log);
  return rows;
}

function report(rows: RoundRow[], workDir: string, log: (line: string) => void): void {
  const pct = (v: number | null) => formatMetric('accuracy', v);
  const md = markdownTable(['round', 'training images', 'pseudo-labels', 'pseudo-labels right', 'optimizer steps', 'test accuracy', 'balanced accuracy'],
    rows.map((r) => [r.round, r.trainImages, r.pseudoLabels, pct(r.pseudoLabelAccuracy), r.steps, pct(r.accuracy), pct(r.balancedAccuracy)]));
  writeReport(workDir, 'pseudo_label', md, rows, log);
}
