// Segmentation's pseudo-masks: a teacher's class map where its probability
// reaches the threshold, 255 (ignored by the loss, mmseg's ignore_index)
// elsewhere — the per-pixel confidence threshold of self-training for
// segmentation (Zou et al. 2018, CBST; Zoph et al. 2020). An image with no
// confident pixel is dropped. The labelled share is a seeded random draw of
// images (classes share images, so there is no per-class draw). The pool is
// selected batch by batch (its scores [N,K,H,W] are never held whole); its
// masks are kept as uint8. Quality against the pool's true masks: the pixel
// accuracy of the kept pixels (those whose true label is not 255) and the
// share of the pool's pixels kept.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { Rng } from '../../data/rng.js';
import type { Dataset } from '../../data/dataset.js';
import { MaskDataset } from '../../data/mask_dataset.js';
import type { PseudoLabelling, PseudoOptions } from '../task.js';
import { DEFAULT_THRESHOLD, checkShare, checkThreshold } from '../pseudo_checks.js';
import { IGNORE_INDEX } from '../../data/sample.js';

/** Throws on topK or soft (a mask has neither) and on a threshold outside [0, 1]. */
export function checkMaskSelection(o: PseudoOptions): void {
  if (o.topK !== undefined || o.soft) throw new TypeError('segmentation: pseudo-masks take a per-pixel confidence threshold (no topK, no soft targets)');
  checkThreshold(o);
}

/** Task.selectPseudo of segmentation: scores [N,K,H,W] → the images with a confident pixel, and their masks int64 [M,H,W] (255 where the top probability is under the threshold, 0.9). */
export function selectPseudoMasks(scores: Tensor, o: PseudoOptions): { indices: number[]; targets: Tensor } {
  checkMaskSelection(o);
  const probs = scores.softmax(1);
  const [conf, cls] = [probs.amax(1), probs.argmax(1)];
  const masks = torch.where(conf.ge(o.threshold ?? DEFAULT_THRESHOLD), cls, IGNORE_INDEX);
  // Images with at least one confident pixel.
  const kept = masks.ne(IGNORE_INDEX).reshape(masks.shape[0], -1).any(1);
  const indices = (kept.toArray() as boolean[]).flatMap((k, i) => (k ? [i] : []));
  return { indices, targets: masks.indexSelect(0, torch.tensor(Int32Array.from(indices)).long()) };
}

/** A seeded random share of the images: [labelled, pool], each ascending; at least one image on each side. */
export function randomSplit(ds: Dataset, share: number, seed: number): [number[], number[]] {
  checkShare(share);
  const n = ds.length;
  if (n < 2) throw new RangeError(`pseudo-label: the training set has ${n} image(s); a labelled share and a pool need at least 2`);
  const order = Array.from(new Rng(Rng.derive(seed, 0x9e1)).permutation(n));
  const k = Math.min(n - 1, Math.max(1, Math.round(n * share)));
  return [order.slice(0, k).sort((a, b) => a - b), order.slice(k).sort((a, b) => a - b)];
}

/** The masks of `indices` read from the dataset, uint8 [M,H,W] (64 images at a time). */
async function readMasks(ds: Dataset, indices: number[]): Promise<Tensor> {
  const parts: Tensor[] = [];
  for (let s = 0; s < indices.length; s += 64) {
    const b = await ds.getBatch(indices.slice(s, s + 64));
    torch.dispose([b.images, b.labels]);
    if (!b.masks) throw new TypeError('pseudo-label: the segmentation training set gave a batch without masks');
    parts.push(torch.scope(() => b.masks!.to('uint8').keep()));
    b.masks.dispose();
  }
  const all = torch.scope(() => torch.cat(parts, 0).keep());
  torch.dispose(parts);
  return all;
}

const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);

export const segmentationPseudo: PseudoLabelling<Tensor, Tensor, MaskDataset> = {
  unit: 'pseudo-masks',
  splitRule: 'of the images',
  quality: [{ key: 'pseudoLabelAccuracy', header: 'kept pixels right' }, { key: 'keptPixels', header: 'pool pixels kept' }],
  metrics: [{ key: 'mIoU', header: 'test mIoU' }, { key: 'aAcc', header: 'test aAcc' }],
  check: checkMaskSelection,
  split: randomSplit,
  async labelled(train, indices) {
    return new MaskDataset(train, indices, await readMasks(train, indices));
  },
  selector(o, select) {
    const parts: Tensor[] = [], kept: number[] = [];
    let right = 0, judged = 0, keptPixels = 0, pixels = 0, size: number[] = [];
    return {
      update(scores, truth, indices) {
        const { indices: rows, targets } = select(scores, o);
        pixels += truth.numel();
        size = truth.shape.slice(1);
        if (rows.length === 0) return;
        const t = truth.indexSelect(0, torch.tensor(Int32Array.from(rows)).long());
        const on = targets.ne(IGNORE_INDEX), valid = on.logicalAnd(t.ne(IGNORE_INDEX));
        keptPixels += on.sum().item();
        judged += valid.sum().item();
        right += targets.eq(t).logicalAnd(valid).sum().item();
        parts.push(targets.to('uint8').keep());
        kept.push(...rows.map((r) => indices[r]));
      },
      finish() {
        const targets = parts.length ? torch.scope(() => torch.cat(parts, 0).keep()) : torch.zeros([0, ...size], { dtype: 'uint8' }).keep();
        torch.dispose(parts);
        const acc = judged ? right / judged : null, share = pixels ? keptPixels / pixels : 0;
        return { indices: kept, targets, quality: { pseudoLabelAccuracy: acc, keptPixels: share }, summary: `${pct(share)} of the pool's pixels kept, ${pct(acc)} of them right` };
      },
    };
  },
  // The labelled images with their true masks, then the kept pool images with their pseudo-masks, read from the training set.
  async studentSet(train, labelled, pool, sel, order) {
    const indices = [...labelled.indices, ...sel.indices.map((i) => pool[i])];
    const masks = torch.scope(() => torch.cat([labelled.masks, sel.targets.to('uint8')], 0).keep());
    return order ? new MaskDataset(train, order.map((j) => indices[j]), masks, order) : new MaskDataset(train, indices, masks);
  },
};
