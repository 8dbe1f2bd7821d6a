// Classification's pseudo-labels (Lee 2013): a probability threshold, or the k
// most confident per predicted class so that classes stay balanced (the
// class-balanced selection of Xie et al. 2020); hard labels or the teacher's
// probabilities. The labelled share is drawn per class; the pool's
// pseudo-labels are scored as the share that equals the true label. The top k
// per class is a choice over the whole pool, so the pool's logits [N,K] are
// gathered before selecting (small: K numbers an image).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { oneHot } from '../../torch/functional.js';
import { Rng } from '../../data/rng.js';
import { Subset, TensorDataset, type Dataset } from '../../data/dataset.js';
import type { PseudoLabelling, PseudoOptions } from '../task.js';
import { DEFAULT_THRESHOLD, checkShare, checkThreshold, checkTopK } from '../pseudo_checks.js';

/** Throws on a topK that is not a positive integer, or (without topK) a threshold outside [0, 1]. */
export function checkSelection(o: { threshold?: number; topK?: number }): void {
  checkTopK(o);
  if (o.topK === undefined) checkThreshold(o);
}

/** Which rows of class probabilities [N,K] to keep: top probability ≥ threshold (0.9), or the topK most confident per predicted class. */
export function selectConfident(probs: Tensor, o: { threshold?: number; topK?: number }): number[] {
  checkSelection(o);
  const conf = probs.amax(1).toArray() as number[];
  const cls = probs.argmax(1).toArray() as number[];
  if (o.topK !== undefined) {
    const byClass = new Map<number, number[]>();
    cls.forEach((c, i) => { const l = byClass.get(c) ?? []; l.push(i); byClass.set(c, l); });
    const keep: number[] = [];
    for (const l of byClass.values()) keep.push(...l.sort((a, b) => conf[b] - conf[a] || a - b).slice(0, o.topK));
    return keep.sort((a, b) => a - b);
  }
  const th = o.threshold ?? DEFAULT_THRESHOLD;
  return conf.flatMap((c, i) => (c >= th ? [i] : []));
}

/** Task.selectPseudo of classification: the kept rows of logits [N,K], with their top class (or, soft, their probabilities). */
export function selectPseudoLabels(logits: Tensor, o: PseudoOptions): { indices: number[]; targets: Tensor } {
  const probs = logits.softmax(1);
  const indices = selectConfident(probs, o);
  const keep = torch.tensor(Int32Array.from(indices)).long();
  const chosen = probs.indexSelect(0, keep);
  return { indices, targets: o.soft ? chosen : chosen.argmax(1) };
}

/** Indices of a per-class share of the dataset (stratified, seeded): [labelled, unlabelled]. */
export function stratifiedSplit(ds: Dataset, share: number, seed: number): [number[], number[]] {
  checkShare(share);
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

/** The images and labels at `indices`, in memory (4096 at a time). */
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

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export const classificationPseudo: PseudoLabelling<Tensor, Tensor, TensorDataset> = {
  unit: 'pseudo-labels',
  splitRule: 'per class',
  quality: [{ key: 'pseudoLabelAccuracy', header: 'pseudo-labels right' }],
  metrics: [{ key: 'accuracy', header: 'test accuracy' }, { key: 'balancedAccuracy', header: 'balanced accuracy' }],
  check: checkSelection,
  split: stratifiedSplit,
  async labelled(train, indices) {
    const l = await gather(train, indices);
    return new TensorDataset(l.images, l.labels, train.classes);
  },
  selector(o, select) {
    const logits: Tensor[] = [], truth: Tensor[] = [], positions: number[] = [];
    return {
      update(p, labels, indices) {
        logits.push(p.keep());
        truth.push(labels.clone().keep()); // the batch's own tensors are freed after it
        positions.push(...indices);
      },
      finish() {
        return torch.scope(() => {
          const all = torch.cat(logits, 0), labels = torch.cat(truth, 0);
          torch.dispose([...logits, ...truth]);
          const { indices: rows, targets } = select(all, o);
          const keep = torch.tensor(Int32Array.from(rows)).long();
          const right = rows.length ? (o.soft ? targets.argmax(1) : targets).eq(labels.indexSelect(0, keep)).float().mean().item() : null;
          return {
            indices: rows.map((r) => positions[r]),
            targets: targets.keep(),
            quality: { pseudoLabelAccuracy: right },
            summary: `${right === null ? '—' : `${pct(right)} right`}, ${o.soft ? 'soft' : 'hard'} labels`,
          };
        });
      },
    };
  },
  // One TensorDataset: the labelled images and labels (one-hot with soft targets), then the kept pool images and theirs.
  async studentSet(train, labelled, pool, sel, order, o) {
    const imgs = await gather(train, sel.indices.map((i) => pool[i]));
    const both = torch.scope(() => {
      const images = torch.cat([labelled.images, imgs.images], 0);
      const labels = o.soft ? torch.cat([oneHot(labelled.labels, train.classes.length).float(), sel.targets], 0) : torch.cat([labelled.labels, sel.targets], 0);
      return new TensorDataset(images, labels, train.classes);
    });
    torch.dispose([imgs.images, imgs.labels]);
    return order ? new Subset(both, order) : both;
  },
};
