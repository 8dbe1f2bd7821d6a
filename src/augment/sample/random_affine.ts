// RandomAffine as mmdet 3.x has it (mmdet/datasets/transforms/transforms.py
// `RandomAffine`, e.g. at c944df92: __init__, _get_random_homography_matrix,
// transform; configs/yolox/yolox_s_8xb8-300e_coco.py runs it right after
// Mosaic with scaling_ratio_range (0.1, 2), border -img_scale // 2, then
// FilterAnnotations(min_gt_bbox_wh=(1, 1))): one random affine warp
//   M = translation @ shear @ rotation @ scaling     (_get_random_homography_matrix)
// drawn in mmdet's order — rotation U(±maxRotateDegree), scale U(scalingRatioRange),
// shear x and y U(±maxShearDegree), translation U(±maxTranslateRatio) × the
// output width and height — about the image's top-left corner, as mmdet 3.x and
// YOLOX's get_affine_matrix do (no centring; mmdet issue #12301). The output is
// (h + 2·border[0]) × (w + 2·border[1]) (`transform`: height = img.shape[0] +
// 2·border): YOLOX's `border: [-H/2, -W/2]` after Mosaic warps the 2H × 2W
// canvas straight to H × W, one resampling instead of a warp and a resize.
// `center: true` is mmyolo's YOLOv5RandomAffine instead: the input's centre
// moved to the origin first and the translation U(0.5 ± maxTranslateRatio) ×
// the output size, so rotation and scale act about the centre.
//
// Pixels: one affine_grid + grid_sample (bilinear) for the whole image, the
// border value blended in as cv2.warpPerspective's BORDER_CONSTANT does (the
// image minus borderVal is sampled with zero padding, borderVal added back).
// Coordinates are pixel edges (pixel i covers [i, i + 1]), the boxes' own
// convention, so pixels and boxes move together exactly; cv2 takes pixel
// centres as integers, a sub-pixel difference. Masks (segmentation class maps;
// mmdet refuses instance masks here) move with the pixels by nearest neighbour,
// 255 (ignore) outside the input.
//
// Boxes (HorizontalBoxes.project_): the four corners warped, their min/max,
// clipped to the output (bbox_clip_border), then kept when inside it
// (is_inside: x1 < W, y1 < H, x2 > 0, y2 > 0) and at least minBoxSize wide and
// high (the FilterAnnotations min_gt_bbox_wh 1 that mmdet's YOLOX pipeline
// runs after, as every box transform here does). mmdet 3.x filters nothing
// more; `skipFilter: false` adds the filter_gt_bboxes rules of mmdet 2.x's
// RandomAffine (mmdet/datasets/pipelines/transforms.py; skip_filter True by
// default there, min_area_ratio 0.2) and mmyolo's YOLOv5RandomAffine
// (mmyolo/datasets/transforms/transforms.py; always on, min_area_ratio 0.1),
// on the clipped warped box against the source box × the draw's scale:
// w and h > filterMinSize (2), w·h > minAreaRatio (0.1) × the source area ×
// scale², max(w/h, h/w) < maxAspectRatio (20), with mmdet's 1e-16 guards.
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { type Sample, checkSample } from './types.js';
import { anyOf, arr, bool, num, obj, oneOf, opt, range } from '../../util/schema.js';

export interface RandomAffineOptions {
  /** Rotation in degrees, uniform in ±this (10). */
  maxRotateDegree?: number;
  /** Translation as a share of the output size, uniform in ±this (0.1). */
  maxTranslateRatio?: number;
  /** Scale, uniform in this range (0.5, 1.5); YOLOX after Mosaic: (0.1, 2). */
  scalingRatioRange?: [number, number];
  /** Shear in degrees along x and along y, each uniform in ±this (2). */
  maxShearDegree?: number;
  /** [top/bottom, left/right] pixels added to each side of the output (negative: removed): the output is (h + 2·border[0]) × (w + 2·border[1]). YOLOX after Mosaic: [-H/2, -W/2]. Arsenal's [H, W] order, as imgScale; mmdet 3.x's `border` is (w, h): swap it when porting a non-square config. ([0, 0]) */
  border?: [number, number];
  /** Pixel value outside the input, one for all channels or one per channel (114). */
  borderVal?: number | number[];
  /** Clip the warped boxes to the output (true). */
  bboxClipBorder?: boolean;
  /** mmyolo's YOLOv5RandomAffine: rotate and scale about the input's centre, translation U(0.5 ± maxTranslateRatio) × the output size (false: mmdet 3.x, about the top-left corner). */
  center?: boolean;
  /** Boxes narrower or shorter than this after the warp are dropped (1 pixel). */
  minBoxSize?: number;
  /** Skip the filter_gt_bboxes rules below (true: mmdet 3.x has none, mmdet 2.x skip_filter=True). */
  skipFilter?: boolean;
  /** filter_gt_bboxes: keep w and h > this (min_bbox_size 2). */
  filterMinSize?: number;
  /** filter_gt_bboxes: keep area > this × the source box's area × scale² (min_area_ratio 0.1, mmyolo; mmdet 2.x 0.2). */
  minAreaRatio?: number;
  /** filter_gt_bboxes: keep max(w/h, h/w) < this (max_aspect_ratio 20). */
  maxAspectRatio?: number;
}

/** One draw of the warp's parameters (degrees, pixels). */
export interface AffineParams { rotate: number; scale: number; shearX: number; shearY: number; tx: number; ty: number }

/** A 2-D affine map as the first two rows [a, b, c, d, e, f] of [[a, b, c], [d, e, f], [0, 0, 1]]. */
export type Affine = [number, number, number, number, number, number];

/** a @ b. */
export function composeAffine(a: Affine, b: Affine): Affine {
  return [
    a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (!(Math.abs(det) > 1e-12)) throw new RangeError(`RandomAffine: the warp is singular (determinant ${det}); a shear of ±90° or a zero scale`);
  const a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])];
}

/** translation @ shear @ rotation @ scaling (mmdet _get_random_homography_matrix and its _get_*_matrix helpers). */
export function affineMatrix(p: AffineParams): Affine {
  const r = (p.rotate * Math.PI) / 180;
  const rotation: Affine = [Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0];
  const scaling: Affine = [p.scale, 0, 0, 0, p.scale, 0];
  const shear: Affine = [1, Math.tan((p.shearX * Math.PI) / 180), 0, Math.tan((p.shearY * Math.PI) / 180), 1, 0];
  const translation: Affine = [1, 0, p.tx, 0, 1, p.ty];
  return composeAffine(translation, composeAffine(shear, composeAffine(rotation, scaling)));
}

export interface WarpOptions {
  /** Pixel value outside the input (114): one, or one per channel. */
  borderVal?: number | number[];
  bboxClipBorder?: boolean;
  minBoxSize?: number;
  /** filter_gt_bboxes, given the draw's scale; absent: no such filter. */
  filter?: { scale: number; minSize: number; minAreaRatio: number; maxAspectRatio: number };
}

/**
 * The sample warped by `m` (input pixel coordinates → output pixel coordinates) to outH × outW:
 * image bilinear (float in, float out; uint8 in, uint8 out), mask nearest with 255 outside, boxes
 * projected, clipped and filtered (see the file's comment). Other fields (label) pass through.
 */
export function warpAffineSample(s: Sample, m: Affine, outH: number, outW: number, opts: WarpOptions = {}): Sample {
  checkSample(s, 'RandomAffine: sample');
  if (!(Number.isInteger(outH) && outH >= 1 && Number.isInteger(outW) && outW >= 1)) throw new RangeError(`RandomAffine: the output size must be positive integers, got ${outH}×${outW}`);
  const [c, h, w] = s.image.shape;
  const fillVals = fillValues(opts.borderVal ?? 114, c);
  const a = invertAffine(m);
  // theta maps normalised output coordinates (affine_grid, align_corners false) to normalised input coordinates.
  const theta = torch.tensor([
    (a[0] * outW) / w, (a[1] * outH) / w, (2 / w) * ((a[0] * outW) / 2 + (a[1] * outH) / 2 + a[2]) - 1,
    (a[3] * outW) / h, (a[4] * outH) / h, (2 / h) * ((a[3] * outW) / 2 + (a[4] * outH) / 2 + a[5]) - 1,
  ], { dtype: 'float32' }).reshape(1, 2, 3);
  const grid = F.affineGrid(theta, [1, c, outH, outW], false);
  const fill = torch.tensor(fillVals, { dtype: 'float32' }).reshape(1, c, 1, 1);
  // cv2's BORDER_CONSTANT: outside pixels count as borderVal in the bilinear blend.
  const warped = F.gridSample(s.image.float().unsqueeze(0).sub(fill), grid, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false }).add(fill).squeeze(0);
  const out: Sample = { ...s, image: s.image.dtype === 'uint8' ? warped.round().clamp(0, 255).to('uint8') : warped.to(s.image.dtype) };
  if (s.mask) {
    const mk = F.gridSample(s.mask.float().sub(IGNORE_INDEX).reshape(1, 1, h, w), grid, { mode: 'nearest', paddingMode: 'zeros', alignCorners: false });
    out.mask = mk.add(IGNORE_INDEX).round().reshape(outH, outW).to(s.mask.dtype);
  }
  if (s.boxes) {
    const kept = warpBoxes(s.boxes.float(), s.boxLabels!, m, outH, outW, opts);
    out.boxes = kept.boxes; out.boxLabels = kept.labels;
  }
  return out;
}

/** Boxes [M,4] xyxy warped by m (corners, min/max), clipped, kept when inside (mmdet is_inside), ≥ minBoxSize and passing the optional filter. */
export function warpBoxes(boxes: Tensor, labels: Tensor, m: Affine, outH: number, outW: number, opts: WarpOptions = {}): { boxes: Tensor; labels: Tensor } {
  if (boxes.shape[0] === 0) return { boxes, labels };
  const xs = boxes.indexSelect(1, torch.tensor([0, 2, 2, 0], { dtype: 'int64' }));
  const ys = boxes.indexSelect(1, torch.tensor([1, 1, 3, 3], { dtype: 'int64' }));
  const X = xs.mul(m[0]).add(ys.mul(m[1])).add(m[2]);
  const Y = xs.mul(m[3]).add(ys.mul(m[4])).add(m[5]);
  let x1 = X.amin(1), y1 = Y.amin(1), x2 = X.amax(1), y2 = Y.amax(1);
  if (opts.bboxClipBorder ?? true) [x1, y1, x2, y2] = [x1.clamp(0, outW), y1.clamp(0, outH), x2.clamp(0, outW), y2.clamp(0, outH)];
  const bw = x2.sub(x1), bh = y2.sub(y1);
  const min = opts.minBoxSize ?? 1;
  let keep = x1.lt(outW).logicalAnd(y1.lt(outH)).logicalAnd(x2.gt(0)).logicalAnd(y2.gt(0))
    .logicalAnd(bw.ge(min)).logicalAnd(bh.ge(min)).logicalAnd(bw.gt(0)).logicalAnd(bh.gt(0));
  if (opts.filter) {
    // mmdet 2.x / mmyolo filter_gt_bboxes(origin_bboxes × scaling_ratio, wrapped_bboxes).
    const f = opts.filter;
    const [ox1, oy1, ox2, oy2] = boxes.unbind(1);
    const originArea = ox2.sub(ox1).mul(f.scale).mul(oy2.sub(oy1).mul(f.scale));
    const aspect = bw.div(bh.add(1e-16)).maximum(bh.div(bw.add(1e-16)));
    keep = keep.logicalAnd(bw.gt(f.minSize)).logicalAnd(bh.gt(f.minSize))
      .logicalAnd(bw.mul(bh).div(originArea.add(1e-16)).gt(f.minAreaRatio))
      .logicalAnd(aspect.lt(f.maxAspectRatio));
  }
  const idx = keep.nonzero().reshape(-1);
  return { boxes: torch.stack([x1, y1, x2, y2], 1).indexSelect(0, idx), labels: labels.indexSelect(0, idx) };
}

function fillValues(v: number | number[], c: number): number[] {
  const vals = typeof v === 'number' ? Array(c).fill(v) : v.length === 1 ? Array(c).fill(v[0]) : v;
  if (vals.length !== c || !vals.every((x) => Number.isFinite(x))) throw new TypeError(`RandomAffine: borderVal must be one number or ${c} (one per channel), got ${JSON.stringify(v)}`);
  return vals;
}

export class RandomAffine {
  readonly type = 'RandomAffine';
  /** One sample in, one out: no partners. */
  readonly numSamples = 1;
  static readonly schema = obj({
    type: opt(oneOf('RandomAffine')), maxRotateDegree: opt(num(0, 180)), maxTranslateRatio: opt(num(0, 1)), scalingRatioRange: opt(range(num(0))),
    maxShearDegree: opt(num(0, 89)), border: opt(arr(num(-1e5, 1e5, true), 2)), borderVal: opt(anyOf(num(), arr(num()))), bboxClipBorder: opt(bool),
    center: opt(bool), minBoxSize: opt(num(0)), skipFilter: opt(bool), filterMinSize: opt(num(0)), minAreaRatio: opt(num(0)), maxAspectRatio: opt(num(1)),
  });
  readonly opts: Required<RandomAffineOptions>;

  constructor(opts: RandomAffineOptions = {}) {
    RandomAffine.schema(opts, 'RandomAffine');
    // Defaults: mmdet 3.x RandomAffine.__init__; the filter's: mmyolo YOLOv5RandomAffine.
    this.opts = {
      maxRotateDegree: 10, maxTranslateRatio: 0.1, scalingRatioRange: [0.5, 1.5], maxShearDegree: 2, border: [0, 0], borderVal: 114, bboxClipBorder: true,
      center: false, minBoxSize: 1, skipFilter: true, filterMinSize: 2, minAreaRatio: 0.1, maxAspectRatio: 20, ...opts,
    };
    if (!(this.opts.scalingRatioRange[0] > 0)) throw new RangeError(`RandomAffine: scalingRatioRange must be [lo, hi] with 0 < lo <= hi, got ${JSON.stringify(this.opts.scalingRatioRange)}`);
  }

  /** The output size for an h × w input: (h + 2·border[0]) × (w + 2·border[1]). */
  outSize(h: number, w: number): [number, number] {
    const [bh, bw] = this.opts.border;
    const oh = h + 2 * bh, ow = w + 2 * bw;
    if (oh < 1 || ow < 1) throw new RangeError(`RandomAffine: border ${JSON.stringify(this.opts.border)} leaves no image of a ${h}×${w} input (output ${oh}×${ow})`);
    return [oh, ow];
  }

  /** One draw, in mmdet's order: rotation, scale, shear x, shear y, translation x, y (× the output width, height). */
  draw(rng: Rng, outH: number, outW: number): AffineParams {
    const o = this.opts;
    const rotate = rng.uniform(-o.maxRotateDegree, o.maxRotateDegree);
    const scale = rng.uniform(...o.scalingRatioRange);
    const shearX = rng.uniform(-o.maxShearDegree, o.maxShearDegree);
    const shearY = rng.uniform(-o.maxShearDegree, o.maxShearDegree);
    const c = o.center ? 0.5 : 0;
    const tx = rng.uniform(c - o.maxTranslateRatio, c + o.maxTranslateRatio) * outW;
    const ty = rng.uniform(c - o.maxTranslateRatio, c + o.maxTranslateRatio) * outH;
    return { rotate, scale, shearX, shearY, tx, ty };
  }

  /** The warp of an h × w input for a draw (with `center`, the input's centre moved to the origin first). */
  matrix(p: AffineParams, h: number, w: number): Affine {
    const m = affineMatrix(p);
    return this.opts.center ? composeAffine(m, [1, 0, -w / 2, 0, 1, -h / 2]) : m;
  }

  /** [sample] → the sample warped by one random draw of `rng`. */
  apply(samples: Sample[], rng: Rng): Sample {
    if (samples.length !== 1) throw new TypeError(`RandomAffine: expected 1 sample, got ${samples.length}`);
    const s = samples[0];
    checkSample(s, 'RandomAffine: sample 0');
    const [, h, w] = s.image.shape;
    const [oh, ow] = this.outSize(h, w);
    const p = this.draw(rng, oh, ow);
    return this.warp(s, p);
  }

  /** The sample warped with the given parameters (the draw of `apply`, or fixed ones). */
  warp(s: Sample, p: AffineParams): Sample {
    const [, h, w] = s.image.shape;
    const [oh, ow] = this.outSize(h, w);
    const o = this.opts;
    return warpAffineSample(s, this.matrix(p, h, w), oh, ow, {
      borderVal: o.borderVal, bboxClipBorder: o.bboxClipBorder, minBoxSize: o.minBoxSize,
      ...(o.skipFilter ? {} : { filter: { scale: p.scale, minSize: o.filterMinSize, minAreaRatio: o.minAreaRatio, maxAspectRatio: o.maxAspectRatio } }),
    });
  }
}
