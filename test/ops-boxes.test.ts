// Box operations and box merging (src/ops, native/src/detection.cc).
// NMS, batched NMS, box_iou, generalized_box_iou, box_convert, box_area,
// clip_boxes_to_image and remove_small_boxes against torchvision 0.14, on
// random boxes with exact duplicates, tied scores, zero-area boxes and
// several classes:
//   /usr/bin/python3 test/fixtures/detection/make_nms_fixture.py > test/fixtures/detection/nms_reference.json
// Soft-NMS (mmcv.ops.soft_nms) and weighted boxes fusion (ensemble_boxes'
// weighted_boxes_fusion) on cases computed by hand, since neither library is
// installed here; each case names the lines of the reference it checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, ops, type Tensor } from 'arsenal';

type SetRef = { dtype: 'float32' | 'float64'; boxes: number[]; scores: number[]; idxs: number[] } & Record<string, number[] | string>;
const REF = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/detection/nms_reference.json', import.meta.url)), 'utf8')) as {
  small: SetRef; large: SetRef; double: SetRef;
  pairwise: { boxes1: number[]; boxes2: number[]; box_iou: (number | null)[]; generalized_box_iou: (number | null)[] };
  convert: Record<string, number[]>; box_area: number[]; clip_40x60: number[]; remove_small_2: number[];
  tie_checks: Record<string, boolean>;
};

const flat = (t: Tensor): number[] => t.reshape(-1).toArray() as number[];
const ints = (t: Tensor): number[] => (t.toArray() as (number | bigint)[]).map(Number);

function close(got: number[], want: (number | null)[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, reference has ${want.length}`);
  got.forEach((v, i) => {
    const w = want[i];
    if (w === null || Number.isNaN(w)) assert.ok(Number.isNaN(v), `${what}[${i}]: ${v}, expected NaN`);
    else assert.ok(Math.abs(v - w) <= tol * (1 + Math.abs(w)), `${what}[${i}]: ${v} vs torchvision ${w}`);
  });
}

function set(name: 'small' | 'large' | 'double') {
  const r = REF[name];
  return {
    boxes: torch.tensor(r.boxes, { dtype: r.dtype }).reshape(-1, 4),
    scores: torch.tensor(r.scores, { dtype: r.dtype }),
    idxs: torch.tensor(r.idxs, { dtype: 'int64' }),
  };
}

test('the fixture exercises ties: the order of equal scores changes what torchvision keeps', () => {
  // Stable order inside nms, libtorch's unstable sort in batched_nms's per-class path (make_nms_fixture.py).
  assert.deepEqual(REF.tie_checks, { small_nms_unstable_would_differ: true, large_nms_unstable_would_differ: true, large_batched_stable_would_differ: true });
});

test('nms and batchedNms equal torchvision 0.14 index for index (float32, float64; both batched paths)', () => {
  for (const name of ['small', 'large', 'double'] as const) {
    torch.scope(() => {
      const { boxes, scores, idxs } = set(name);
      for (const thr of [0.3, 0.5, 0.7]) {
        assert.deepEqual(ints(ops.nms(boxes, scores, thr)), REF[name][`nms_${thr}`], `${name}: nms at ${thr}`);
        assert.deepEqual(ints(ops.batchedNms(boxes, scores, idxs, thr)), REF[name][`batched_nms_${thr}`], `${name}: batchedNms at ${thr}`);
      }
    });
  }
  // 'large' has 1500 boxes: batched_nms's per-class path (> 4000 coordinates); the others the coordinate offsets.
  assert.equal(REF.large.boxes.length > 4000 && REF.small.boxes.length <= 4000, true);
});

test('nms: tied equal boxes keep the first index; zero-area boxes never suppress; output dtype int64', () => {
  torch.scope(() => {
    const boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 5, 9], [0, 0, 10, 10], [5, 5, 5, 9], [0, 0, 10, 10]], { dtype: 'float32' });
    const scores = torch.tensor([0.5, 0.9, 0.5, 0.9, 0.5], { dtype: 'float32' });
    const keep = ops.nms(boxes, scores, 0.5);
    assert.equal(keep.dtype, 'int64');
    assert.deepEqual(ints(keep), [1, 3, 0]);
    assert.deepEqual(ints(ops.nms(boxes.narrow(0, 0, 0), scores.narrow(0, 0, 0), 0.5)), []);
    // Different classes never suppress each other.
    assert.deepEqual(ints(ops.batchedNms(boxes, scores, torch.tensor([0, 0, 1, 0, 2]), 0.5)), [1, 3, 0, 2, 4]);
  });
});

test('boxIou, generalizedBoxIou, boxConvert, boxArea, clipBoxesToImage, removeSmallBoxes equal torchvision', () => {
  torch.scope(() => {
    const a = torch.tensor(REF.pairwise.boxes1, { dtype: 'float32' }).reshape(-1, 4);
    const b = torch.tensor(REF.pairwise.boxes2, { dtype: 'float32' }).reshape(-1, 4);
    const iou = ops.boxIou(a, b);
    assert.deepEqual(iou.shape, [a.shape[0], b.shape[0]]);
    close(flat(iou), REF.pairwise.box_iou, 1e-6, 'boxIou');
    close(flat(ops.generalizedBoxIou(a, b)), REF.pairwise.generalized_box_iou, 1e-6, 'generalizedBoxIou');
    for (const from of ['xyxy', 'xywh', 'cxcywh'] as const)
      for (const to of ['xyxy', 'xywh', 'cxcywh'] as const) close(flat(ops.boxConvert(a, from, to)), REF.convert[`${from}_${to}`], 1e-7, `boxConvert ${from} → ${to}`);
    close(flat(ops.boxArea(a)), REF.box_area, 1e-7, 'boxArea');
    close(flat(ops.clipBoxesToImage(a.sub(10), [40, 60])), REF.clip_40x60, 0, 'clipBoxesToImage');
    assert.deepEqual(ints(ops.removeSmallBoxes(a, 2)), REF.remove_small_2);
    // Leading batch dims: [B, N, 4] × [B, M, 4] → [B, N, M], each batch its own matrix.
    const batched = ops.boxIou(torch.stack([a, a.flip(0)]), torch.stack([b, b]));
    assert.deepEqual(batched.shape, [2, a.shape[0], b.shape[0]]);
    close(flat(batched.select(0, 1)), flat(ops.boxIou(a.flip(0), b)), 0, 'batched boxIou');
    // cxcywh → xyxy → cxcywh round trip; half precision is widened (torchvision's _upcast).
    close(flat(ops.boxConvert(ops.boxConvert(a, 'xyxy', 'cxcywh'), 'cxcywh', 'xyxy')), flat(a), 1e-6, 'round trip');
    assert.equal(ops.boxArea(a.half()).dtype, 'float32');
  });
});

test('bad input: errors name the function and the input', () => {
  torch.scope(() => {
    const b = torch.tensor([[0, 0, 1, 1]], { dtype: 'float32' }), s = torch.tensor([0.5], { dtype: 'float32' });
    assert.throws(() => ops.nms(torch.zeros([1, 5]), s, 0.5), /nms: boxes must be \[N, 4\], got \[1,5\]/);
    assert.throws(() => ops.nms(b, s.double(), 0.5), /nms: scores \(float64\) and boxes \(float32\) must have one dtype/);
    assert.throws(() => ops.nms(b, torch.tensor([0.5, 0.2], { dtype: 'float32' }), 0.5), /nms: scores must be \[1\]/);
    assert.throws(() => ops.nms(b.half(), s.half(), 0.5), /nms: boxes must be float32 or float64, got float16/);
    assert.throws(() => ops.nms(b, s, 1.5), /nms: iouThreshold must be a number in \[0, 1\], got 1.5/);
    assert.throws(() => ops.nms(b, s, NaN), /nms: iouThreshold/);
    assert.throws(() => ops.batchedNms(b, s, torch.tensor([0.5], { dtype: 'float32' }), 0.5), /batchedNms: idxs must be an integer tensor, got float32/);
    assert.throws(() => ops.batchedNms(b, s, torch.tensor([0, 1]), 0.5), /batchedNms: idxs must be \[1\]/);
    assert.throws(() => ops.softNms(b, s, { sigma: 0 }), /softNms\.sigma/);
    assert.throws(() => ops.softNms(b, s, { method: 'hard' as 'linear' }), /softNms\.method: expected one of "linear", "gaussian"/);
    assert.throws(() => ops.boxIou(b, torch.zeros([3])), /boxIou: boxes2 must be \[\.\.\., 4\], got \[3\]/);
    assert.throws(() => ops.boxIou(b, torch.zeros([2, 1, 4])), /boxIou: boxes1 and boxes2 must be \[N, 4\] and \[M, 4\]/);
    assert.throws(() => ops.boxConvert(b, 'xyxy', 'yxyx' as 'xyxy'), /boxConvert: outFmt must be one of/);
    assert.throws(() => ops.clipBoxesToImage(b, [10] as unknown as [number, number]), /clipBoxesToImage: size must be \[height, width\]/);
    const d = { boxes: b, scores: s, labels: torch.tensor([0]) };
    assert.throws(() => ops.weightedBoxesFusion([d, d], { weights: [1] }), /weightedBoxesFusion: weights must have one value per model \(2\), got 1/);
    assert.throws(() => ops.weightedBoxesFusion([{ ...d, labels: torch.tensor([0], { dtype: 'float32' }) }]), /weightedBoxesFusion: detections\[0\]\.labels must be an integer tensor/);
    assert.throws(() => ops.weightedBoxesFusion([d, { ...d, scores: torch.tensor([1, 2], { dtype: 'float32' }) }]), /weightedBoxesFusion: detections\[1\]\.scores must be \[1\]/);
    assert.throws(() => ops.weightedBoxesFusion([d], { iouThr: 2 }), /weightedBoxesFusion\.iouThr/);
    assert.throws(() => ops.weightedBoxesFusion([d], { confType: 'mean' as 'avg' }), /weightedBoxesFusion\.confType/);
    assert.throws(() => ops.weightedBoxesFusion([]), /weightedBoxesFusion: detections must be a non-empty array/);
  });
});

// ---- Soft-NMS: mmcv/ops/csrc/pytorch/cpu/nms.cpp, softnms_cpu ----------------------------------------
// A [0,0,10,10] 0.9; B [0,0,10,5] (IoU with A 0.5) 0.8; C [20,20,30,30] (apart) 0.7;
// E [0,0,10,2] (IoU with A 0.2, with B 0.4) 0.6; D = A with score 0.001.
const SOFT_BOXES = [[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30], [0, 0, 10, 2], [0, 0, 10, 10]];
const SOFT_SCORES = [0.9, 0.8, 0.7, 0.6, 0.001];

test('softNms linear: 1 − IoU where IoU ≥ iouThreshold, boxes decayed below minScore dropped (mmcv softnms_cpu)', () => {
  torch.scope(() => {
    const { keep, scores } = ops.softNms(torch.tensor(SOFT_BOXES, { dtype: 'float64' }), torch.tensor(SOFT_SCORES, { dtype: 'float64' }), { iouThreshold: 0.3 });
    // Pick A (the "get max box" loop). `if (ovr >= iou_threshold) weight = 1 - ovr`: B 0.8 × 0.5 = 0.4;
    // E's IoU 0.2 < 0.3 keeps 0.6; D's IoU 1 makes it 0, `if (sc[pos] < min_score)` drops it.
    // Then C 0.7 (nothing overlaps it), E 0.6 (IoU with B 0.4 ≥ 0.3: B 0.4 × 0.6 = 0.24), B 0.24.
    assert.deepEqual(ints(keep), [0, 2, 3, 1]);
    close(flat(scores), [0.9, 0.7, 0.6, 0.24], 1e-12, 'linear scores');
  });
});

test('softNms gaussian: exp(−IoU² / sigma) for every box, the IoU threshold unused (mmcv softnms_cpu, method 2)', () => {
  torch.scope(() => {
    const { keep, scores } = ops.softNms(torch.tensor(SOFT_BOXES, { dtype: 'float32' }), torch.tensor(SOFT_SCORES, { dtype: 'float32' }), { method: 'gaussian', iouThreshold: 0.9 });
    // `weight = std::exp(-(ovr * ovr) / sigma)`, sigma 0.5: after A, B 0.8·e^−0.5, E 0.6·e^−0.08, D 0.001·e^−2 < 1e-3 dropped.
    const b1 = 0.8 * Math.exp(-0.5), e1 = 0.6 * Math.exp(-0.08);
    assert.ok(e1 > b1);
    // Then C 0.7; then E (max), which decays B by e^(−0.4²/0.5).
    assert.deepEqual(ints(keep), [0, 2, 3, 1]);
    close(flat(scores), [0.9, 0.7, e1, b1 * Math.exp(-0.16 / 0.5)], 1e-6, 'gaussian scores');
    // minScore 0 keeps D (its score only decays, never below 0).
    assert.deepEqual(ints(ops.softNms(torch.tensor(SOFT_BOXES, { dtype: 'float32' }), torch.tensor(SOFT_SCORES, { dtype: 'float32' }), { method: 'gaussian', minScore: 0 }).keep).length, 5);
  });
});

// ---- Weighted boxes fusion: ZFTurbo's ensemble_boxes/ensemble_boxes_wbf.py ---------------------------
const det = (boxes: number[][], scores: number[], labels: number[]) => ({
  boxes: torch.tensor(boxes, { dtype: 'float32' }).reshape(-1, 4), scores: torch.tensor(scores, { dtype: 'float32' }), labels: torch.tensor(labels, { dtype: 'int64' }),
});
const A = [0.1, 0.1, 0.5, 0.5], A2 = [0.12, 0.1, 0.52, 0.5]; // IoU 0.152 / 0.168 ≈ 0.905

test('wbf: two overlapping boxes fuse into their score-weighted mean; conf avg × min(models, boxes) / Σ weights', () => {
  torch.scope(() => {
    const r = ops.weightedBoxesFusion([det([A], [0.9], [0]), det([A2], [0.6], [0])]);
    // get_weighted_box: `box[4:] += (b[1] * b[4:])` … `box[4:] /= conf`; `box[1] = conf / len(boxes)`;
    // then `weighted_boxes[i, 1] * min(len(weights), len(clustered_boxes)) / weights.sum()` = 0.75 × 2 / 2.
    close(flat(r.boxes), A.map((a, k) => (0.9 * a + 0.6 * A2[k]) / 1.5), 1e-6, 'fused box');
    close(flat(r.scores), [0.75], 1e-6, 'fused score');
    assert.deepEqual(ints(r.labels), [0]);
    assert.equal(r.labels.dtype, 'int64');
    // A box one model alone found: its score × min(2, 1) / 2.
    const lone = ops.weightedBoxesFusion([det([A, [0.6, 0.6, 0.9, 0.9]], [0.9, 0.8], [0, 0]), det([A2], [0.6], [0])]);
    close(flat(lone.scores), [0.75, 0.4], 1e-6, 'lone box halved');
  });
});

test('wbf: model weights scale the scores and the coordinates\' weights (prefilter_boxes: score × weights[t])', () => {
  torch.scope(() => {
    const r = ops.weightedBoxesFusion([det([A], [0.9], [0]), det([A2, [0.6, 0.6, 0.9, 0.9]], [0.6, 0.9], [0, 0])], { weights: [2, 1] });
    // Fused: weights 1.8 and 0.6; score (1.8 + 0.6) / 2 × 2 / 3 = 0.8. Lone model-1 box: 0.9 × 1 / 3 = 0.3.
    close(flat(r.boxes.narrow(0, 0, 1)), A.map((a, k) => (1.8 * a + 0.6 * A2[k]) / 2.4), 1e-6, 'weighted box');
    close(flat(r.scores), [0.8, 0.3], 1e-6, 'weighted scores');
    // conf_type 'max': the best member's score × weight / weights.max() = 1.8 / 2; the lone box 0.9 / 2.
    close(flat(ops.weightedBoxesFusion([det([A], [0.9], [0]), det([A2, [0.6, 0.6, 0.9, 0.9]], [0.6, 0.9], [0, 0])], { weights: [2, 1], confType: 'max' }).scores), [0.9, 0.45], 1e-6, 'max');
  });
});

test('wbf: conf types on a cluster of two boxes of one model out of two (weighted_boxes_fusion\'s rescaling branches)', () => {
  torch.scope(() => {
    const preds = [det([A, A2], [0.9, 0.7], [0, 0]), det([[0.6, 0.6, 0.9, 0.9]], [0.5], [1])];
    const score = (confType: ops.WbfConfType, allowsOverflow = false) => flat(ops.weightedBoxesFusion(preds, { confType, allowsOverflow }).scores)[0];
    // mean (0.9 + 0.7) / 2 = 0.8, cluster weight 2, model 0 present, model 1 absent.
    close([score('avg')], [0.8 * 2 / 2], 1e-6, 'avg');
    close([score('max')], [0.9], 1e-6, 'max');
    // box_and_model_avg: `* len(clustered_boxes) / weighted_boxes[i, 2]` then `* clustered_boxes[idx, 2].sum() / weights.sum()`.
    close([score('box_and_model_avg')], [0.8 * 2 / 2 * 1 / 2], 1e-6, 'box_and_model_avg');
    // absent_model_aware_avg: `* len(clustered_boxes) / (weighted_boxes[i, 2] + weights[mask].sum())`.
    close([score('absent_model_aware_avg')], [(0.8 * 2) / (2 + 1)], 1e-6, 'absent_model_aware_avg');
    // allows_overflow: `* len(clustered_boxes) / weights.sum()` instead of min(len(weights), …): 3 boxes, 2 models.
    const three = [det([A, A2, A], [0.9, 0.7, 0.8], [0, 0, 0]), det([], [], [])];
    close(flat(ops.weightedBoxesFusion(three).scores), [0.8 * 2 / 2], 1e-6, 'no overflow');
    close(flat(ops.weightedBoxesFusion(three, { allowsOverflow: true }).scores), [0.8 * 3 / 2], 1e-6, 'overflow');
  });
});

test('wbf: labels never fuse, skipBoxThr and zero-area boxes drop, a match needs IoU > iouThr, corners ordered and clipped', () => {
  torch.scope(() => {
    // prefilter_boxes groups by label: identical boxes of two labels stay two boxes.
    const r = ops.weightedBoxesFusion([det([A, A], [0.9, 0.8], [3, 5])]);
    assert.deepEqual(ints(r.labels), [3, 5]);
    close(flat(r.scores), [0.9, 0.8], 1e-6, 'two labels');
    // `if score < thr: continue` (a score equal to the threshold stays); `(x2 - x1) * (y2 - y1) == 0.0` skipped.
    const s = ops.weightedBoxesFusion([det([A, A2, [0.2, 0.2, 0.2, 0.4]], [0.9, 5e-5, 0.9], [0, 0, 0])]);
    close(flat(s.boxes), A, 1e-7, 'skip_box_thr');
    const apart = [det([A, [0.6, 0.6, 0.9, 0.9]], [0.9, 0.5], [0, 0])];
    assert.equal(ops.weightedBoxesFusion(apart, { skipBoxThr: 0.5 }).boxes.shape[0], 2);
    assert.equal(ops.weightedBoxesFusion(apart, { skipBoxThr: 0.50001 }).boxes.shape[0], 1);
    // find_matching_box_quickly: `if best_iou <= match_iou: best_idx = -1`: IoU exactly 0.5 at iouThr 0.5 does not match.
    const half = [det([[0, 0, 1, 1], [0, 0, 1, 0.5]], [0.9, 0.8], [0, 0])];
    assert.equal(ops.weightedBoxesFusion(half, { iouThr: 0.5 }).boxes.shape[0], 2);
    assert.equal(ops.weightedBoxesFusion(half, { iouThr: 0.49 }).boxes.shape[0], 1);
    // 'X2 < X1 value in box. Swap them.'; 'X2 > 1 … Set it to 1.'
    close(flat(ops.weightedBoxesFusion([det([[0.5, 0.5, 0.1, 1.5]], [0.9], [0])]).boxes), [0.1, 0.5, 0.5, 1], 1e-7, 'swap and clip');
    // Output sorted by score (`overall_boxes[:, 1].argsort()[::-1]`), across labels.
    assert.deepEqual(ints(ops.weightedBoxesFusion([det([A, [0.6, 0.6, 0.9, 0.9]], [0.3, 0.8], [1, 2])]).labels), [2, 1]);
  });
});

test('wbf: boxes in pixels with imageSize fuse as the normalised ones do, scaled', () => {
  torch.scope(() => {
    const [h, w] = [300, 400];
    const px = (b: number[]) => [b[0] * w, b[1] * h, b[2] * w, b[3] * h];
    const norm = ops.weightedBoxesFusion([det([A, [0.6, 0.6, 0.9, 1.2]], [0.9, 0.8], [0, 0]), det([A2], [0.6], [0])]);
    const pix = ops.weightedBoxesFusion([det([px(A), px([0.6, 0.6, 0.9, 1.2])], [0.9, 0.8], [0, 0]), det([px(A2)], [0.6], [0])], { imageSize: [h, w] });
    close(flat(pix.boxes), flat(norm.boxes.mul(torch.tensor([w, h, w, h], { dtype: 'float32' }))), 1e-6, 'pixel boxes');
    close(flat(pix.scores), flat(norm.scores), 1e-7, 'pixel scores');
    assert.equal(flat(pix.boxes)[7], h, 'clipped to the image height');
  });
});
