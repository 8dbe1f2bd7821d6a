// The detection meters: CocoMeter against pycocotools' COCOeval (bbox) and
// VocMeter against mmdet 3.x eval_map, on cases computed by hand (the arithmetic
// is in the comments), and CocoMeter on random sets evaluated by pycocotools' own
// code (/work/shared/reference-tools, cocoapi 8c9bcc3c, unmodified), written by
//   /usr/bin/python3 test/fixtures/detection/make_coco_reference.py
// into test/fixtures/detection/coco_reference.json.
//
// pycocotools' precision is tp / (tp + fp + np.spacing(1)): one true positive
// alone has precision 1/(1 + 2⁻⁵²) = 0.9999999999999998, not 1 (P1 below).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch } from 'arsenal';
import { CocoMeter, formatCocoSummary, COCO_STAT_NAMES, type CocoMeterState } from '../src/metrics/coco_eval.js';
import { COCO_IOU_THRS, COCO_REC_THRS, boxIou } from '../src/metrics/coco_match.js';
import { VocMeter, averagePrecision } from '../src/metrics/voc_ap.js';
import { formatFixed3, pairwiseSum } from '../src/metrics/numpy_compat.js';
import type { DetectionTruth, Detections } from '../src/metrics/detection_input.js';

const EPS = 2 ** -52;
const P1 = 1 / (1 + EPS);
const close = (got: number, want: number, what: string, tol = 1e-12): void => {
  assert.ok(Math.abs(got - want) <= tol, `${what}: expected ${want}, got ${got}`);
};
const closeStats = (got: number[], want: (number | null)[], what: string): void => {
  want.forEach((w, i) => { if (w !== null) close(got[i], w, `${what} ${COCO_STAT_NAMES[i]}`); });
};
const det = (boxes: number[][], scores: number[], labels: number[]): Detections => ({ boxes, scores, labels });
const gt = (boxes: number[][], labels: number[], extra: Partial<DetectionTruth> = {}): DetectionTruth => ({ boxes, labels, ...extra });
const cocoStats = (K: number, images: [Detections, DetectionTruth][]): number[] => {
  const m = new CocoMeter(K);
  for (const [d, g] of images) m.add(d, g);
  return m.stats();
};

// One gt [0,0,10,10] (area 100: small), one detection.
//   the same box: IoU 1, a true positive at every threshold: precision P1 at every recall point,
//     AP = AP50 = AP75 = APs = P1, recall 1: AR* = ARs = 1; medium and large have no gt: -1.
//   [0,0,10,5]: IoU 50/100 = 0.5 ≥ 0.5 only: AP50 = P1, AP75 = 0, AP = mean(101 × P1, 909 × 0) ≈ P1/10, AR = 1/10.
test('coco: one image, one box', () => {
  closeStats(cocoStats(1, [[det([[0, 0, 10, 10]], [0.9], [0]), gt([[0, 0, 10, 10]], [0])]]),
    [P1, P1, P1, P1, -1, -1, 1, 1, 1, 1, -1, -1], 'exact box');
  closeStats(cocoStats(1, [[det([[0, 0, 10, 5]], [0.9], [0]), gt([[0, 0, 10, 10]], [0])]]),
    [P1 / 10, P1, 0, P1 / 10, -1, -1, 0.1, 0.1, 0.1, 0.1, -1, -1], 'IoU 0.5');
});

// A regular gt A [0,0,10,10] and a crowd gt C [20,0,60,40]; detections by score:
//   d2 [30,10,40,20] 0.95 inside C: crowd IoU = intersection / detection area = 100/100 = 1 → matched to C: ignored
//     (as an ordinary gt its IoU would be 100/1600: a false positive)
//   d3 [25,5,35,15] 0.92 inside C: C is matched again (a crowd gt stays free): ignored
//   d1 [0,0,10,10] 0.90 on A: true positive
//   d4 [100,100,110,110] 0.60: false positive
// tp [0,0,1,1], fp [0,0,0,1], one gt: rc [0,0,1,1], pr [0,0,P1,1/2] → envelope [P1,P1,P1,1/2]: AP = P1.
// With C an ordinary gt (2 gts; IoU of d2, d3 with C 100/1600): fp, fp, tp, fp → rc [0,0,.5,.5], pr [0,0,1/3,1/4],
// envelope 1/3 up to recall .5 and nothing beyond: AP50 = 51·(1/3)/101 = 17/101.
test('coco: a crowd box is matched by intersection over the detection, any number of times, never a false positive', () => {
  const iou = boxIou(Float64Array.from([30, 10, 40, 20, 10, 10, 30, 30]), Float64Array.from([20, 0, 60, 40, 20, 20, 60, 60]), Uint8Array.from([1, 0]));
  // [d, g]: d [10,10,30,30] ∩ crowd [20,0,60,40] = 10×20 over d's 400; ∩ [20,20,60,60] = 100 over the union 1900
  assert.deepEqual(Array.from(iou), [1, 0, 200 / 400, 100 / (400 + 1600 - 100)]);
  const g = gt([[0, 0, 10, 10], [20, 0, 60, 40]], [0, 0], { iscrowd: [0, 1] });
  const d = det([[0, 0, 10, 10], [30, 10, 40, 20], [25, 5, 35, 15], [100, 100, 110, 110]], [0.9, 0.95, 0.92, 0.6], [0, 0, 0, 0]);
  const st = cocoStats(1, [[d, g]]);
  closeStats(st, [P1, P1, P1, P1, -1, -1, 0, 1, 1, 1, -1, -1], 'crowd');   // AR1: the top detection is d2 (ignored)
  const ordinary = cocoStats(1, [[d, { ...g, iscrowd: [0, 0] }]]);
  close(ordinary[1], 17 / 101, 'crowd as an ordinary gt: AP50');
  // A detection that holds a regular gt stops at the ignored ones: d [0,0,10,10] on A (IoU 1) and inside the crowd
  // [0,0,20,20] (crowd IoU 1, not below 1): a true positive, AP P1; going on to the crowd would leave it ignored, AP 0.
  const held = cocoStats(1, [[det([[0, 0, 10, 10]], [0.9], [0]), gt([[0, 0, 20, 20], [0, 0, 10, 10]], [0, 0], { iscrowd: [1, 0] })]]);
  closeStats(held, [P1, P1, P1, P1, -1, -1, 1, 1, 1, 1, -1, -1], 'held before the crowd');
});

// gt [0,0,10,10]; d2 [0,0,10,8] 0.95 (IoU 0.8), d1 [0,0,10,10] 0.90 (IoU 1), greedy by score:
//   thresholds .50–.80 (7): d2 takes the gt, d1 is a duplicate: tp [1,1], fp [0,1] → AP P1
//   thresholds .85–.95 (3): d2 is a false positive, d1 takes the gt: pr [0, 1/2] → envelope 1/2: AP 1/2
// AP = (7·P1 + 3·1/2)/10; AP50 = AP75 = P1; AR100 = 1; AR1 (d2 only) = 7/10.
test('coco: a duplicate detection is a false positive; matching is greedy by score', () => {
  const st = cocoStats(1, [[det([[0, 0, 10, 10], [0, 0, 10, 8]], [0.9, 0.95], [0, 0]), gt([[0, 0, 10, 10]], [0])]]);
  closeStats(st, [(7 * P1 + 1.5) / 10, P1, P1, null, -1, -1, 0.7, 1, 1, 1, -1, -1], 'duplicate');
});

// maxDets cuts each image's detections of each class after sorting by score (stable):
//   class 0: gt A; 10 false positives of score 0.5 first in the input, the true positive (0.9) last;
//   class 1: 10 detections of score 0.99 and no gt (left out: -1).
// Cut before sorting, AR10 would be 0; cut over all classes, the class-1 detections would push A out: AR1 = AR10 = 1.
// 101 false positives and the true positive of equal score 0.5: input last → rank 102 → cut at 100: AR100 = 0;
// input first → rank 1: AR1 = 1.
test('coco: maxDets cuts per image and class after the stable sort by score', () => {
  const A = [0, 0, 10, 10];
  const fps = (n: number): number[][] => Array.from({ length: n }, (_, i) => [100 + i, 100, 105 + i, 105]);
  const cls1 = Array.from({ length: 10 }, (_, i) => [0, 0, 10 + i, 10]);
  const st = cocoStats(2, [[det([...fps(10), A, ...cls1], [...Array(10).fill(0.5), 0.9, ...Array(10).fill(0.99)], [...Array(11).fill(0), ...Array(10).fill(1)]), gt([A], [0])]]);
  closeStats(st, [P1, P1, P1, P1, -1, -1, 1, 1, 1, 1, -1, -1], 'sorted then cut');
  const m = new CocoMeter(2);
  m.add(det([...fps(10), A, ...cls1], [...Array(10).fill(0.5), 0.9, ...Array(10).fill(0.99)], [...Array(11).fill(0), ...Array(10).fill(1)]), gt([A], [0]));
  assert.deepEqual(m.perClassAP().map((x) => x === -1 ? -1 : Math.round(x * 1e9) / 1e9), [1, -1]);

  const last = cocoStats(1, [[det([...fps(101), A], Array(102).fill(0.5), Array(102).fill(0)), gt([A], [0])]]);
  closeStats(last, [0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1], 'true positive ranked 102nd');
  const first = cocoStats(1, [[det([A, ...fps(101)], Array(102).fill(0.5), Array(102).fill(0)), gt([A], [0])]]);
  closeStats(first, [null, null, null, null, -1, -1, 1, 1, 1, 1, -1, -1], 'true positive ranked 1st');
});

// The gt box is 20×20 = 400 (small by its box) but its annotation area is 2000 (medium); d1 on it (0.90),
// d0 [200,200,400,400] 0.95 (box area 40000, large) matches nothing.
//   all:    d0 FP then d1 TP: pr [0, 1/(2+ε) = 1/2] → AP 1/2
//   small:  the gt is ignored (2000 > 32²), no gt left: -1
//   medium: d0 unmatched with area outside the range: ignored → AP P1
//   large:  no gt: -1 (d1 matched to an ignored gt is ignored, d0 is a false positive of nothing)
// An annotation area of exactly 32² counts in small and in medium (bounds inclusive).
test('coco: area ranges use the annotation area; unmatched detections outside the range are ignored', () => {
  const d = det([[200, 200, 400, 400], [10, 10, 30, 30]], [0.95, 0.9], [0, 0]);
  const st = cocoStats(1, [[d, gt([[10, 10, 30, 30]], [0], { area: [2000] })]]);
  closeStats(st, [0.5, 0.5, 0.5, -1, P1, -1, 0, 1, 1, -1, 1, -1], 'area 2000');
  const box = cocoStats(1, [[d, gt([[10, 10, 30, 30]], [0])]]);   // no area given: the box's 400, small
  closeStats(box, [0.5, 0.5, 0.5, P1, -1, -1, 0, 1, 1, 1, -1, -1], 'box area');
  const edge = cocoStats(1, [[d, gt([[10, 10, 30, 30]], [0], { area: [1024] })]]);
  closeStats(edge, [null, null, null, P1, P1, -1, null, null, null, 1, 1, -1], 'area 32²');
});

// Classes: 0 has a gt and a true positive; 1 nothing; 2 detections only. Classes 1 and 2 have no gt: -1, left out.
// An empty meter: every stat -1.
test('coco: a class with no gt is -1 and left out of the means', () => {
  const m = new CocoMeter(3);
  m.add(det([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8], [0, 2]), gt([[0, 0, 10, 10]], [0]));
  closeStats(m.stats(), [P1, P1, P1, P1, -1, -1, 1, 1, 1, 1, -1, -1], 'absent classes');
  const pc = m.perClassAP();
  close(pc[0], P1, 'class 0');
  assert.deepEqual(pc.slice(1), [-1, -1]);
  assert.deepEqual(new CocoMeter(2).stats(), Array(12).fill(-1));
  assert.deepEqual(Object.keys(m.compute()), [...COCO_STAT_NAMES]);
});

// Equal scores in different images keep the images' order: pycocotools sorts its imgIds.
// Image id 5: a gt and its true positive (0.9); image id 3: no gt, a false positive (0.9).
// By id (3, 5): FP then TP → AP 1/2; in the order added (5, 3), without ids: TP then FP → AP P1.
test('coco: images are ordered by imageId when given (ties in score across images)', () => {
  const a: [Detections, DetectionTruth] = [det([[0, 0, 10, 10]], [0.9], [0]), gt([[0, 0, 10, 10]], [0], { imageId: 5 })];
  const b: [Detections, DetectionTruth] = [det([[50, 50, 60, 60]], [0.9], [0]), gt([], [], { imageId: 3 })];
  close(cocoStats(1, [a, b])[1], 0.5, 'by id');
  const noId = (x: [Detections, DetectionTruth]): [Detections, DetectionTruth] => [x[0], { ...x[1], imageId: undefined }];
  close(cocoStats(1, [noId(a), noId(b)])[1], P1, 'in order added');
});

test('coco: bad input names the input', () => {
  const m = new CocoMeter(2);
  assert.throws(() => m.add(det([[0, 0, 1, 1]], [0.5], [2]), gt([], [])), /detections\.labels\[0\] = 2 is not a class index in \[0, 2\)/);
  assert.throws(() => m.add(det([[0, 0, 1]], [0.5], [0]), gt([], [])), /detections\.boxes\[0\] must be 4 numbers/);
  assert.throws(() => m.add(det([[2, 0, 1, 1]], [0.5], [0]), gt([], [])), /not xyxy/);
  assert.throws(() => m.add(det([[0, 0, 1, 1]], [NaN], [0]), gt([], [])), /detections\.scores\[0\] = NaN is not finite/);
  assert.throws(() => m.add(det([[0, 0, 1, 1]], [0.5, 0.4], [0]), gt([], [])), /detections\.scores has 2 values for 1 boxes/);
  assert.throws(() => m.add(det([], [], []), gt([[0, 0, 1, 1]], [0], { iscrowd: [2] })), /gt\.iscrowd\[0\] = 2 is not 0 or 1/);
  assert.throws(() => m.add(det([], [], []), gt([[0, 0, 1, 1]], [0], { area: [-1] })), /gt\.area\[0\] = -1 is negative/);
  torch.scope(() => assert.throws(() => m.add({ boxes: torch.zeros([3]), scores: [], labels: [] }, gt([], [])), /detections\.boxes must be \[N, 4\] xyxy boxes, got a tensor \[3\]/));
  m.add(det([], [], []), gt([], [], { imageId: 1 }));
  assert.throws(() => m.add(det([], [], []), gt([], [])), /imageId must be given for every image or for none/);
  assert.throws(() => m.add(det([], [], []), gt([], [], { imageId: 1 })), /image id 1 was added before/);
  assert.throws(() => new CocoMeter(0), /numClasses must be a positive integer/);
  assert.throws(() => m.merge({ ...new CocoMeter(3).state() }), /a state of 3 classes into a meter of 2/);
  assert.throws(() => m.update([det([], [], [])], []), /one entry per image/);
});

// ---- pycocotools on random sets -------------------------------------------------------------------

interface RefImage { id: number; gt: { boxes: number[][]; labels: number[]; iscrowd: number[]; area: number[] }; dt: { boxes: number[][]; scores: number[]; labels: number[] } }
interface RefCase { name: string; catIds: number[]; numClasses: number; images: RefImage[]; stats: number[]; perCategoryAP: number[]; summary: string }
const REF: { iouThrs: number[]; recThrs: number[]; cases: RefCase[] } = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/detection/coco_reference.json', import.meta.url)), 'utf8'));

const feed = (m: CocoMeter, images: RefImage[], withIds: boolean): void => {
  for (const im of images) m.add(im.dt, { ...im.gt, imageId: withIds ? im.id : undefined });
};

test('coco: iouThrs and recThrs are linspace\'s values, bit for bit', () => {
  assert.deepEqual(Array.from(COCO_IOU_THRS), REF.iouThrs);
  assert.deepEqual(Array.from(COCO_REC_THRS), REF.recThrs);
  assert.equal(COCO_IOU_THRS[8], 0.8999999999999999);
});

for (const c of REF.cases) {
  test(`coco vs pycocotools, case ${c.name}: the 12 stats and per-category AP, to the bit`, () => {
    assert.ok(c.stats.some((s) => s > 0) && c.stats.some((s) => s < 1));
    const m = new CocoMeter(c.numClasses);
    feed(m, c.images, true);      // the fixture's images are in random id order: the meter sorts by id
    assert.deepEqual(m.stats(), c.stats);
    assert.deepEqual(m.perClassAP(), c.perCategoryAP);
    assert.equal(formatCocoSummary(m.compute()), c.summary);

    // Added in id order without ids: the same.
    const sorted = new CocoMeter(c.numClasses);
    feed(sorted, [...c.images].sort((a, b) => a.id - b.id), false);
    assert.deepEqual(sorted.stats(), c.stats);

    // Sharded over three meters (images dealt round robin), states through JSON: the same.
    const shards = [0, 1, 2].map(() => new CocoMeter(c.numClasses));
    c.images.forEach((im, i) => feed(shards[i % 3], [im], true));
    const merged = new CocoMeter(c.numClasses);
    for (const s of shards) merged.merge(JSON.parse(JSON.stringify(s.state())) as CocoMeterState);
    assert.deepEqual(merged.stats(), c.stats);
  });
}

test('coco vs pycocotools: tensors in (float32 boxes on a 1/4 px grid, int64 labels, bool iscrowd) give the same stats', () => {
  const c = REF.cases.find((x) => x.name === 'grid')!;
  const m = new CocoMeter(c.numClasses);
  torch.scope(() => {
    for (const im of c.images) {
      const boxes = (b: number[][]) => (b.length ? torch.tensor(b, { dtype: 'float32' }) : torch.zeros([0, 4]));
      m.add({ boxes: boxes(im.dt.boxes), scores: torch.tensor(im.dt.scores, { dtype: 'float64' }), labels: torch.tensor(im.dt.labels, { dtype: 'int64' }) },
        { boxes: boxes(im.gt.boxes), labels: torch.tensor(im.gt.labels, { dtype: 'int64' }), iscrowd: torch.tensor(im.gt.iscrowd, { dtype: 'bool' }),
          area: torch.tensor(im.gt.area, { dtype: 'float64' }), imageId: im.id });
    }
  });
  assert.deepEqual(m.stats(), c.stats);
});

test('formatCocoSummary: pycocotools\' text; {:0.3f} rounds exact ties to even', () => {
  const lines = formatCocoSummary([0.5, 0.0625, 1, -1, 0, 0.1875, 0.12345, 0.9996, 1, 0.25, 0.3125, 0.0005]).split('\n');
  assert.equal(lines.length, 12);
  assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500');
  assert.equal(lines[1], ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.062');
  assert.equal(lines[3], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
  assert.equal(lines[5], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.188');
  assert.equal(lines[6], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.123');
  assert.equal(lines[7], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 1.000');
  assert.equal(lines[10], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = 0.312');
  assert.equal(lines[11], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.001');   // 0.0005 is not exact: above the tie
  assert.equal(formatFixed3(-0.0625), '-0.062');
  assert.throws(() => formatCocoSummary([1, 2]), /12 numbers/);
});

test('pairwiseSum is NumPy\'s (order of additions), not a left-to-right loop', () => {
  // 0.1 × 10 + 0.3: numpy gives 0.11818181818181818 for the mean (computed under /usr/bin/python3, numpy 1.24)
  const v = [...Array(10).fill(0.1), 0.3];
  assert.equal(pairwiseSum(v) / v.length, 0.11818181818181818);
  let seq = 0;
  for (const x of v) seq += x;
  assert.notEqual(seq / v.length, 0.11818181818181818);   // the plain loop differs in the last bit
});

// ---- VOC (mmdet eval_map) ---------------------------------------------------------------------------

// Regular gts A [0,0,10,10], B [20,20,30,30]; D difficult [40,40,50,50]; legacy coordinates (w = x2 - x1 + 1).
//   dd on D 0.95: neither; d1 on A 0.9: TP; d2 far 0.8: FP; dup on A 0.75: FP (A covered); d3 on B 0.7: TP
// numGts 2 (D not counted). Sorted: tp [0,1,1,1,2], fp [0,0,1,2,2]
//   recall [0, .5, .5, .5, 1], precision f32 [0, 1, 1/2, 1/3, 1/2]
//   area: mrec [0,0,.5,.5,.5,1,1], mpre env [1,1,1,1/2,1/2,1/2,0] → (.5-0)·1 + (1-.5)·(1/2) = 3/4
//   11 points: t ≤ .5 (6 points, 0.30000000000000004 included) max precision 1; t > .5 (5) max 1/2 → (6 + 2.5)/11
test('voc: difficult gts are neither true nor false positives; area and 11-point AP', () => {
  const g = gt([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0, 0, 0], { difficult: [0, 0, 1] });
  const d = det([[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0.9, 0.8, 0.75, 0.7, 0.95], [0, 0, 0, 0, 0]);
  const area = new VocMeter(1);
  area.add(d, g);
  assert.deepEqual(area.perClass(), [{ class: 0, numGts: 2, numDets: 5, recall: 1, ap: 0.75 }]);
  assert.equal(area.compute().mAP, 0.75);
  const eleven = new VocMeter(1, { mode: '11points' });
  eleven.add(d, g);
  close(eleven.compute().mAP, 8.5 / 11, '11 points', 1e-7);
  // difficult counted as an ordinary gt: dd a TP, numGts 3: a different AP
  const plain = new VocMeter(1);
  plain.add(d, { ...g, difficult: undefined });
  assert.notEqual(plain.compute().mAP, 0.75);
});

// Legacy coordinates: gt [0,0,9,9] (10×10), det [0,0,9,4] (10×5): overlap 50, union 100: IoU 0.5 ≥ 0.5 → TP, AP 1.
// Without: 9×9 and 9×4: IoU 36/81 < 0.5 → FP, AP 0.
// Classes: 1 has detections and no gt (left out of mAP), 2 nothing; no gt anywhere → mAP 0 (eval_map).
test('voc: legacy coordinates (+1), IoU exactly at the threshold, classes without gt left out', () => {
  const d = det([[0, 0, 9, 4], [0, 0, 5, 5]], [0.9, 0.8], [0, 1]);
  const g = gt([[0, 0, 9, 9]], [0]);
  const legacy = new VocMeter(3);
  legacy.add(d, g);
  assert.equal(legacy.compute().mAP, 1);
  assert.deepEqual(legacy.perClass().map((r) => [r.numGts, r.numDets, r.ap]), [[1, 1, 1], [0, 1, 0], [0, 0, 0]]);
  const modern = new VocMeter(3, { legacyCoordinate: false });
  modern.add(d, g);
  assert.equal(modern.compute().mAP, 0);
  const none = new VocMeter(2);
  none.add(d, gt([], []));
  assert.equal(none.compute().mAP, 0);
});

test('voc: merged meters equal one meter; averagePrecision by hand; bad options named', () => {
  const images: [Detections, DetectionTruth][] = [
    [det([[0, 0, 10, 10], [5, 5, 20, 20]], [0.9, 0.3], [0, 1]), gt([[0, 0, 10, 10], [5, 5, 20, 21]], [0, 1])],
    [det([[0, 0, 10, 10]], [0.6], [1]), gt([[30, 30, 40, 40]], [1], { difficult: [0] })],
    [det([[1, 1, 9, 9], [0, 0, 4, 4]], [0.8, 0.7], [0, 0]), gt([[0, 0, 10, 10]], [0])],
  ];
  const one = new VocMeter(2);
  for (const [d, g] of images) one.add(d, g);
  const a = new VocMeter(2), b = new VocMeter(2);
  a.update([images[0][0]], [images[0][1]]);
  b.update(images.slice(1).map((x) => x[0]), images.slice(1).map((x) => x[1]));
  const merged = new VocMeter(2);
  merged.merge(JSON.parse(JSON.stringify(a.state())));
  merged.merge(JSON.parse(JSON.stringify(b.state())));
  assert.deepEqual(merged.perClass(), one.perClass());
  assert.ok(one.compute().mAP > 0 && one.compute().mAP < 1);
  // recall [.5, .5, 1], precision [1, .5, 2/3 (f32)]: area .5·1 + .5·f32(2/3); 11 points (6 + 5·f32(2/3))/11
  const f = Math.fround;
  assert.equal(averagePrecision([0.5, 0.5, 1], [1, 0.5, f(2 / 3)], 'area'), f(0.5 + 0.5 * f(2 / 3)));
  close(averagePrecision([0.5, 0.5, 1], [1, 0.5, f(2 / 3)], '11points'), (6 + 5 * 2 / 3) / 11, '11 points', 1e-7);
  assert.equal(averagePrecision([], [], 'area'), 0);
  assert.throws(() => new VocMeter(2, { mode: 'voc' as never }), /mode must be 'area' or '11points'/);
  assert.throws(() => new VocMeter(2, { iouThr: 0 }), /iouThr must be in \(0, 1\]/);
  assert.throws(() => merged.merge(new VocMeter(2, { mode: '11points' }).state()), /mode 11points/);
  assert.throws(() => one.add(det([[0, 0, 1, 1]], [0.5], [0]), gt([[0, 0, 1, 1]], [0], { difficult: [3] })), /gt\.difficult\[0\] = 3 is not 0 or 1/);
});
