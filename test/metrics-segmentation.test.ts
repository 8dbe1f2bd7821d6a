// SegmentationMeter against mmseg 1.x IoUMetric (intersect_and_union +
// total_area_to_metrics), on cases computed by hand (the arithmetic is in the
// comments). The numbers were also checked against a hand-written re-implementation
// of mmseg's two functions (torch.histc, np.nanmean) under PyTorch 1.13:
//   /usr/bin/python3 ref.py   (not kept: these tests need no Python)
// which printed the same areas and, to float32, the same metrics (mmseg ×100).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, type Tensor } from 'arsenal';
import { SegmentationMeter, type SegmentationMeterState } from '../src/metrics/segmentation.js';

const long = (x: number[][][]): Tensor => torch.tensor(x, { dtype: 'int64' });
const close = (a: number, b: number, what: string): void => {
  if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${what}: expected NaN, got ${a}`);
  else assert.ok(Math.abs(a - b) < 1e-12, `${what}: expected ${b}, got ${a}`);
};
const closeAll = (got: object, want: Record<string, number>, what: string): void => {
  for (const k of Object.keys(want)) close((got as Record<string, number>)[k], want[k], `${what}.${k}`);
};

// Case 1: K = 3, two 2×3 images; class 2 is in neither label nor (non-ignored) prediction.
// The ignored pixels (255) are predicted 2: they must leave the prediction counts too,
// else class 2 would have pred 2, union 2, IoU 0 and mIoU would be (4/7 + 1/2 + 0)/3.
//   image 0  label [[0,0,1],[1,1,255]]  pred [[0,1,1],[1,0,2]]
//            kept (label,pred): (0,0) (0,1) (1,1) (1,1) (1,0)
//   image 1  label [[0,0,0],[1,255,0]]  pred [[0,0,1],[1,2,0]]
//            kept (label,pred): (0,0) (0,0) (0,1) (1,1) (0,0)
// Summed over the dataset (not averaged per image):
//   class 0: intersect 1+3 = 4, pred 2+3 = 5, label 2+4 = 6, union 5+6-4 = 7
//   class 1: intersect 2+1 = 3, pred 3+2 = 5, label 3+1 = 4, union 5+4-3 = 6
//   class 2: 0, 0, 0, 0
//   aAcc = (4+3)/(6+4) = 0.7
//   IoU  = 4/7, 3/6, 0/0 = NaN          mIoU  = (4/7 + 1/2)/2 = 15/28
//   Acc  = 4/6, 3/4, NaN                mAcc  = (2/3 + 3/4)/2 = 17/24 (= mRecall)
//   Dice = 8/11, 6/9, NaN               mDice = (8/11 + 2/3)/2 = 23/33
//   Precision = 4/5, 3/5, NaN           mPrecision = 0.7
//   Fscore = 2·(4/5)(2/3)/(4/5+2/3) = 8/11, 2·(3/5)(3/4)/(3/5+3/4) = 2/3, NaN   mFscore = 23/33
// (Per image, mIoU would be ((1/3+1/2)/2 + (3/4+1/2)/2)/2 = 25/48, not 15/28.)
const CASE1 = {
  pred: [[[0, 1, 1], [1, 0, 2]], [[0, 0, 1], [1, 2, 0]]],
  label: [[[0, 0, 1], [1, 1, 255]], [[0, 0, 0], [1, 255, 0]]],
};

test('case 1: dataset sums, ignore pixels left out of the prediction too, a class in neither is NaN and out of the means', () => {
  const m = new SegmentationMeter(3);
  torch.scope(() => m.update(long(CASE1.pred), long(CASE1.label)));
  assert.deepEqual(m.state(), {
    numClasses: 3, areaIntersect: [4, 3, 0], areaUnion: [7, 6, 0], areaPredLabel: [5, 5, 0], areaLabel: [6, 4, 0],
  });
  closeAll(m.compute(), { aAcc: 0.7, mIoU: 15 / 28, mAcc: 17 / 24, mDice: 23 / 33, mFscore: 23 / 33, mPrecision: 0.7, mRecall: 17 / 24 }, 'case 1');
  const rows = m.perClass();
  assert.deepEqual(rows.map((r) => r.class), [0, 1, 2]);
  closeAll(rows[0], { IoU: 4 / 7, Acc: 2 / 3, Dice: 8 / 11, Fscore: 8 / 11, Precision: 0.8, Recall: 2 / 3 }, 'class 0');
  closeAll(rows[1], { IoU: 0.5, Acc: 0.75, Dice: 2 / 3, Fscore: 2 / 3, Precision: 0.6, Recall: 0.75 }, 'class 1');
  closeAll(rows[2], { IoU: NaN, Acc: NaN, Dice: NaN, Fscore: NaN, Precision: NaN, Recall: NaN }, 'class 2');

  // The same two images one batch at a time: the same sums.
  const m2 = new SegmentationMeter(3);
  torch.scope(() => {
    m2.update(long([CASE1.pred[0]]), long([CASE1.label[0]]));
    m2.update(long([CASE1.pred[1]]), long([CASE1.label[1]]));
  });
  assert.deepEqual(m2.state(), m.state());
});

// Case 2: K = 3, one 1×4 image; class 2 only in the prediction.
//   label [0,0,1,1]  pred [0,2,1,1]
//   class 0: intersect 1, pred 1, label 2, union 2 → IoU 1/2, Acc 1/2, Dice 2/3, P 1, R 1/2, F 2·(1/2)/(3/2) = 2/3
//   class 1: intersect 2, pred 2, label 2, union 2 → all 1
//   class 2: intersect 0, pred 1, label 0, union 1 → IoU 0/1 = 0, Acc 0/0 = NaN, Dice 0/1 = 0, P 0/1 = 0, R NaN, F NaN
//   aAcc 3/4; mIoU (1/2+1+0)/3 = 1/2; mAcc (1/2+1)/2 = 3/4; mDice (2/3+1+0)/3 = 5/9;
//   mPrecision (1+1+0)/3 = 2/3; mRecall 3/4; mFscore (2/3+1)/2 = 5/6
test('case 2: a class only in the prediction has IoU 0 (counted in mIoU) and Acc NaN (left out of mAcc)', () => {
  const m = new SegmentationMeter(3);
  torch.scope(() => m.update(long([[[0, 2, 1, 1]]]), long([[[0, 0, 1, 1]]])));
  closeAll(m.compute(), { aAcc: 0.75, mIoU: 0.5, mAcc: 0.75, mDice: 5 / 9, mFscore: 5 / 6, mPrecision: 2 / 3, mRecall: 0.75 }, 'case 2');
  closeAll(m.perClass()[2], { IoU: 0, Acc: NaN, Dice: 0, Fscore: NaN, Precision: 0, Recall: NaN }, 'class 2');
});

// Case 2b: K = 2, label [0,1], pred [1,0]: both classes predicted and labelled, never matched.
//   each class: intersect 0, pred 1, label 1 → IoU 0, Acc 0, Dice 0, P 0, R 0,
//   Fscore 2·0·0/(0+0) = NaN (mmseg's 0/0 too), so mFscore = nanmean(NaN, NaN) = NaN.
test('case 2b: Fscore is NaN where precision and recall are both 0, as mmseg computes it', () => {
  const m = new SegmentationMeter(2);
  torch.scope(() => m.update(long([[[1, 0]]]), long([[[0, 1]]])));
  closeAll(m.compute(), { aAcc: 0, mIoU: 0, mAcc: 0, mDice: 0, mFscore: NaN, mPrecision: 0, mRecall: 0 }, 'case 2b');
});

// Case 3: reduceZeroLabel, K = 2. label [0,1,2,2,255] → (0→255, −1, 254→255) [255,0,1,1,255]
//   pred [1,0,1,0,0]; kept (label,pred): (0,0) (1,1) (1,0)
//   class 0: intersect 1, pred 2, label 1, union 2 → IoU 1/2, Acc 1, Dice 2/3, P 1/2
//   class 1: intersect 1, pred 1, label 2, union 2 → IoU 1/2, Acc 1/2, Dice 2/3, P 1
//   aAcc 2/3, mIoU 1/2, mAcc 3/4, mDice 2/3, mPrecision 3/4, mRecall 3/4, mFscore (2/3+2/3)/2 = 2/3
test('case 3: reduceZeroLabel maps 0 to ignore and k to k-1; 255 stays ignore', () => {
  const pred = [[[1, 0, 1, 0, 0]]];
  const m = new SegmentationMeter(2, { reduceZeroLabel: true });
  torch.scope(() => m.update(long(pred), long([[[0, 1, 2, 2, 255]]])));
  closeAll(m.compute(), { aAcc: 2 / 3, mIoU: 0.5, mAcc: 0.75, mDice: 2 / 3, mFscore: 2 / 3, mPrecision: 0.75, mRecall: 0.75 }, 'case 3');
  assert.deepEqual(m.state().areaLabel, [1, 2]);

  // The same as the reduced label given directly.
  const direct = new SegmentationMeter(2);
  torch.scope(() => direct.update(long(pred), long([[[255, 0, 1, 1, 255]]])));
  assert.deepEqual(m.state(), direct.state());

  // A uint8 label (mmseg's underflow worry) gives the same counts.
  const u8 = new SegmentationMeter(2, { reduceZeroLabel: true });
  torch.scope(() => u8.update(long(pred), torch.tensor([[[0, 1, 2, 2, 255]]], { dtype: 'uint8' })));
  assert.deepEqual(u8.state(), m.state());

  // Without it, the label 2 is outside [0, 2).
  assert.throws(() => torch.scope(() => new SegmentationMeter(2).update(long(pred), long([[[0, 1, 2, 2, 255]]]))), /label 2 is outside \[0, 2\)/);
  // It writes 255, so it needs ignoreIndex 255.
  assert.throws(() => new SegmentationMeter(2, { reduceZeroLabel: true, ignoreIndex: -1 }), /needs ignoreIndex 255, got -1/);
});

function randomBatch(n: number, k: number, h: number, w: number): { scores: Tensor; label: Tensor } {
  const scores = torch.randn(n, k, h, w);
  // Labels in [0, k), with about a fifth of the pixels ignored.
  const label = torch.randint(0, k, [n, h, w]).maskedFill(torch.rand(n, h, w).lt(0.2), 255);
  return { scores, label };
}

test('scores [N,K,H,W] give the same counts as their argmax class map', () => {
  torch.manualSeed(7);
  const a = new SegmentationMeter(4), b = new SegmentationMeter(4);
  torch.scope(() => {
    const { scores, label } = randomBatch(2, 4, 5, 6);
    a.update(scores, label);
    b.update(scores.argmax(1), label);
  });
  assert.deepEqual(a.state(), b.state());
  assert.deepEqual(a.compute(), b.compute());
  const s = a.state();
  assert.equal(s.areaLabel.reduce((x, y) => x + y, 0) > 0, true);
});

test('merged meters equal one meter over all batches exactly (state is plain data)', () => {
  torch.manualSeed(11);
  const all = new SegmentationMeter(5), first = new SegmentationMeter(5), second = new SegmentationMeter(5);
  torch.scope(() => {
    for (let i = 0; i < 5; i++) {
      const { scores, label } = randomBatch(3, 5, 7, 9);
      all.update(scores, label);
      (i < 3 ? first : second).update(scores, label);
    }
  });
  const merged = new SegmentationMeter(5);
  merged.merge(JSON.parse(JSON.stringify(first.state())) as SegmentationMeterState);
  merged.merge(JSON.parse(JSON.stringify(second.state())) as SegmentationMeterState);
  assert.deepEqual(merged.state(), all.state());
  assert.deepEqual(merged.compute(), all.compute());
  for (const v of Object.values(all.state()).flat()) assert.ok(Number.isInteger(v));

  assert.throws(() => merged.merge(new SegmentationMeter(4).state()), /a state of 4 classes into a meter of 5/);
  assert.throws(() => merged.merge({ ...all.state(), areaLabel: [1, 2, 3, 4, 0.5] }), /areaLabel must be 5 non-negative integers/);
});

test('bad input: shapes, class counts, labels and predictions out of range', () => {
  const m = new SegmentationMeter(3);
  torch.scope(() => {
    // Shape mismatch names both shapes.
    assert.throws(() => m.update(long([[[0, 1, 2], [0, 1, 2]]]), long([[[0, 1, 2, 0], [0, 1, 2, 0]]])),
      (e: Error) => e instanceof RangeError && e.message.includes('[1,2,3]') && e.message.includes('[1,2,4]'));
    assert.throws(() => m.update(torch.randn(2, 3, 4, 4), torch.zeros([1, 4, 4], { dtype: 'int64' })),
      (e: Error) => e instanceof RangeError && e.message.includes('[2,3,4,4]') && e.message.includes('[1,4,4]'));
    // K mismatch.
    assert.throws(() => m.update(torch.randn(1, 4, 2, 2), torch.zeros([1, 2, 2], { dtype: 'int64' })), /scores \[1,4,2,2\] have 4 classes, the meter 3/);
    // A label outside [0, K) that is not ignore: a RangeError naming it (mmseg's histc would drop it silently).
    assert.throws(() => m.update(long([[[0, 1]]]), long([[[0, 7]]])), /label 7 is outside \[0, 3\) and is not ignoreIndex 255/);
    assert.throws(() => m.update(long([[[0, 1]]]), long([[[-1, 1]]])), /label -1 is outside/);
    // A predicted class outside [0, K) at a counted pixel.
    assert.throws(() => m.update(long([[[5, 1]]]), long([[[0, 1]]])), /predicted class 5 is outside \[0, 3\)/);
    // Wrong kinds.
    assert.throws(() => m.update(torch.zeros([1, 2, 2]), torch.zeros([1, 2, 2], { dtype: 'int64' })), /3-D prediction must be an integer class map, got float32/);
    assert.throws(() => m.update(long([[[0, 1]]]), torch.zeros([1, 1, 2])), /label must be an integer class map \[N,H,W\], got float32 \[1,1,2\]/);
    assert.throws(() => m.update(torch.zeros([4], { dtype: 'int64' }), torch.zeros([4], { dtype: 'int64' })), TypeError);
  });
  // Nothing was counted by the refused batches.
  assert.deepEqual(m.state().areaLabel, [0, 0, 0]);
  // Any prediction at an ignored pixel is fine: it is removed before counting.
  torch.scope(() => m.update(long([[[9, 1]]]), long([[[255, 1]]])));
  assert.deepEqual(m.state(), { numClasses: 3, areaIntersect: [0, 1, 0], areaUnion: [0, 1, 0], areaPredLabel: [0, 1, 0], areaLabel: [0, 1, 0] });
  assert.throws(() => new SegmentationMeter(0), /numClasses must be a positive integer/);
});

test('an empty meter: every metric NaN (mmseg divides 0 by 0)', () => {
  const c = new SegmentationMeter(2).compute();
  for (const v of Object.values(c)) assert.ok(Number.isNaN(v));
});
