// Which detections of an unlabelled pool become pseudo-boxes (Task.selectPseudo):
// every box scoring at least the threshold, whatever its class (STAC, Sohn et
// al. 2020: a fixed score threshold on the teacher's boxes after NMS; Unbiased
// Teacher, Liu et al. 2021, the same), and the images with at least one kept
// box — an image with none would teach that it holds no object, which a
// threshold cannot tell. The rest of pseudo-labelling's rounds (Task.pseudo: the
// student's training set of labelled + pseudo-boxed images) is not built for
// detection yet, so `arsenal pseudo-label` refuses a detection config.
import * as torch from '../../torch/index.js';
import type { Detections, PseudoOptions } from '../task.js';

/**
 * The images of a batch with a box scoring ≥ opts.threshold (positions, ascending), and the kept boxes as one
 * float32 tensor [B, 7]: (image position, x1, y1, x2, y2, label, score), boxes in the batch's pixels.
 */
export function selectPseudoBoxes(prediction: Detections[], opts: PseudoOptions): { indices: number[]; targets: ReturnType<typeof torch.zeros> } {
  if (opts.topK !== undefined) throw new TypeError('detection pseudo-labels: select by a score threshold (threshold), not topK');
  if (opts.soft) throw new TypeError('detection pseudo-labels: there are no soft box targets; leave soft out');
  const thr = opts.threshold;
  if (typeof thr !== 'number' || !(thr >= 0 && thr <= 1)) throw new RangeError(`detection pseudo-labels: threshold must be a score in [0, 1], got ${String(thr)}`);
  if (!Array.isArray(prediction)) throw new TypeError('detection pseudo-labels: expected a list of Detections, one per image');
  return torch.noGrad(() => torch.scope(() => {
    const indices: number[] = [];
    const parts = prediction.map((d, i) => {
      const keep = d.scores.ge(thr).nonzero().reshape(-1);
      const m = keep.shape[0];
      if (m > 0) indices.push(i);
      return torch.cat([torch.full([m, 1], i), d.boxes.float().indexSelect(0, keep), d.labels.float().indexSelect(0, keep).unsqueeze(1), d.scores.float().indexSelect(0, keep).unsqueeze(1)], 1);
    });
    return { indices, targets: parts.length ? torch.cat(parts, 0) : torch.zeros([0, 7]) };
  }));
}
