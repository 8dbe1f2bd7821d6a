// TTA views invert boxes as they invert pixels: a filled rectangle's bounding
// box found in each view (flip, shift, scale, whole-image resize), mapped back
// by view.invertBoxes, is the rectangle drawn in the original image — exactly
// for flips and shifts, within the interpolation's pixel for resizes — and
// boxes leaving the image are clipped to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, type Tensor } from 'arsenal';
import { buildViews } from '../src/infer/tta.js';

const H = 40, W = 64;
/** [1,1,H,W] zeros with ones on [y1, y2) × [x1, x2). */
function rect(x1: number, y1: number, x2: number, y2: number): Tensor {
  const a = new Float32Array(H * W);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) a[y * W + x] = 1;
  return torch.tensor(Array.from(a), { dtype: 'float32' }).reshape([1, 1, H, W]);
}
/** The xyxy box of the pixels above one half in a [1,1,h,w] image (pixel edges: max index + 1). */
function found(img: Tensor): number[] {
  const [, , h, w] = img.shape;
  const v = img.reshape([h * w]).toArray() as number[];
  let x1 = w, y1 = h, x2 = 0, y2 = 0;
  v.forEach((p, i) => { if (p > 0.5) { const y = Math.floor(i / w), x = i % w; x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1); } });
  return [x1, y1, x2, y2];
}

test('TTA views: boxes found in each view map back to the drawn rectangle', () => {
  const box = [10, 6, 30, 22];
  const views = buildViews({ flips: ['h', 'v'], shifts: [[5, -3]], scales: [1.5, 0.5], ratios: [0.5, 1.75] });
  assert.deepEqual(views.map((v) => v.name), ['identity', 'flip-h', 'flip-v', 'shift(5,-3)', 'scale(1.5)', 'scale(0.5)', 'ratio(0.5)', 'ratio(1.75)']);
  for (const v of views) {
    const shown = found(v.apply(rect(box[0], box[1], box[2], box[3])));
    const back = v.invertBoxes(torch.tensor([shown], { dtype: 'float32' })).toArray() as number[][];
    const exact = !/scale|ratio/.test(v.name);
    // A resize moves an edge by up to one pixel of the smaller frame: 1 / scale pixels of the original.
    const tol = exact ? 0 : v.name.includes('0.5') ? 2 : 1;
    back[0].forEach((c, i) => assert.ok(Math.abs(c - box[i]) <= tol + 1e-5, `${v.name}: ${back[0]} vs ${box} (found ${shown} in the view)`));
  }
});

test('TTA views: flips and shifts map box corners by their closed forms; boxes are clipped to the image', () => {
  const [id, fh, fv, sh] = buildViews({ flips: ['h', 'v'], shifts: [[5, -3]] });
  const x = torch.zeros(2, 3, H, W);
  for (const v of [id, fh, fv, sh]) v.apply(x);
  const b = torch.tensor([[1, 2, 11, 12], [50, 30, 64, 40]], { dtype: 'float32' });
  assert.deepEqual(id.invertBoxes(b).toArray(), [[1, 2, 11, 12], [50, 30, 64, 40]]);
  assert.deepEqual(fh.invertBoxes(b).toArray(), [[W - 11, 2, W - 1, 12], [0, 30, 14, 40]]);
  assert.deepEqual(fv.invertBoxes(b).toArray(), [[1, H - 12, 11, H - 2], [50, 0, 64, 10]]);
  // shift(5, −3): the content moved 5 right and 3 up; back: −5 in x (clipped at 0), +3 in y (clipped at H).
  assert.deepEqual(sh.invertBoxes(b).toArray(), [[0, 5, 6, 15], [45, 33, 59, 40]]);
  assert.throws(() => buildViews({ flips: ['h'] })[1].invertBoxes(b), /after apply\(\) saw the images/);
  assert.throws(() => fh.invertBoxes(torch.zeros(3, 5)), /boxes must be \[M, 4\] xyxy, got \[3,5\]/);
});
