// A batch of scenes composed with tensor ops (docs/architecture.md §8): each
// object warped onto a full-size RGBA layer by one affine_grid + grid_sample per
// pyramid level, the layers alpha-composited back to front (premultiplied:
// out = rgb_k + (1 − α_k)·out), the instance map taken from α > 0.5 after
// occlusion, and the masks, boxes, RLEs and crops read from it — no per-pixel JS.
import { arange, cat, functional as F, ops, scope, stack, tensor, where, zeros, type Tensor } from '../../torch/index.js';
import type { EmojiBank } from './material.js';
import type { ScenePlan } from './plan.js';
import { IGNORE_INDEX } from '../sample.js';

export interface ComposeOptions {
  size: number;
  /** An object more than this share hidden is not annotated; its visible pixels are IGNORE_INDEX. */
  maxHidden: number;
  /** Crop side (64) and the share its square window is enlarged by over the object's box (0.1). */
  cropSize: number;
  cropPad: number;
  /** Pyramid sides of the bank, largest first. */
  levels: number[];
  /** The largest object size of the plans (SceneOptions.objectSize[1]). */
  maxObjectSize: number;
}

export interface ComposedObject {
  /** Class index (0-based over the object classes; the mask value is cls + 1). */
  cls: number;
  emoji: number;
  /** Pixels with α > 0.5 before occlusion, and visible after it. */
  full: number;
  visible: number;
  /** Annotated: visible ≥ (1 − maxHidden)·full and visible > 0. */
  kept: boolean;
  /** Kept objects: tight box of the visible pixels [x, y, w, h], and COCO's uncompressed RLE counts (column-major, starting with a run of zeros). */
  bbox?: [number, number, number, number];
  counts?: number[];
}

export interface ComposedBatch {
  /** uint8 RGB, [B,S,S,3]. */
  images: Uint8Array;
  /** uint8 class maps, [B,S,S]: 0 background, cls + 1, 255 ignore. */
  masks: Uint8Array;
  objects: ComposedObject[][];
  /** uint8 RGB crops of the kept objects in order, [n,C,C,3]. */
  crops: Uint8Array;
}

/** [lo, hi] of the true entries along the last dim of a bool [..., S] (lo = S, hi = −1 where none), as int32. */
function spans(m: Tensor, S: number): Int32Array {
  const ar = arange(S);
  const lo = where(m, ar, S).amin(-1);
  const hi = where(m, ar, -1).amax(-1);
  return stack([lo, hi], -1).to('int32').dataSync() as Int32Array;
}

/** COCO uncompressed RLE counts of bool masks [n,S,S] (column-major), from their change points. */
function rles(masks: Tensor): number[][] {
  const n = masks.shape[0];
  const P = masks.shape[1] * masks.shape[2];
  const flat = masks.transpose(1, 2).reshape(n, P).to('uint8');
  const padded = cat([zeros([n, 1], { dtype: 'uint8' }), flat], 1);
  const changes = padded.narrow(1, 1, P).ne(padded.narrow(1, 0, P)).nonzero().to('int32').dataSync() as Int32Array;
  const out: number[][] = Array.from({ length: n }, () => []);
  const last = new Int32Array(n);
  for (let i = 0; i < changes.length; i += 2) {
    const [r, pos] = [changes[i], changes[i + 1]];
    out[r].push(pos - last[r]);
    last[r] = pos;
  }
  for (let r = 0; r < n; r++) out[r].push(P - last[r]);
  return out;
}

/** An object's square patch: side P (its level's largest), top-left corner in the canvas, and its grid_sample theta. */
interface Patch { level: number; x0: number; y0: number; side: number; theta: number[] }

/**
 * Where each object's warped texture lands. An object's drawing (its texture's
 * content box, scaled so its longer side is `size`, rotated, flipped) is
 * sampled on a square patch around its centre, from the pyramid level nearest
 * above its size. All patches of a level have one side, the largest a drawing
 * of that level can span (size·√2 at most, whatever the rotation), so a level's
 * patches are sampled by one grid_sample and a scene's pixels do not depend on
 * the other scenes of its batch.
 */
function patches(plans: ScenePlan[], bank: EmojiBank, levels: number[], maxSize: number): Patch[][] {
  const T0 = levels[0];
  const raw = plans.map((p) => p.objects.map((ob) => {
    const [tx, ty, bw, bh] = bank.boxes.subarray(4 * ob.emoji, 4 * ob.emoji + 4);
    const long0 = Math.max(bw, bh);
    let li = levels.length - 1;
    while (li > 0 && (long0 * levels[li]) / T0 < ob.size) li--;
    return { li, tx, ty, long0 };
  }));
  // A drawing of level li > 0 is at most levels[li] pixels (else a larger level is taken); level 0 takes any up to maxSize.
  const sides = levels.map((t, li) => Math.ceil(Math.min(li === 0 ? Infinity : t, maxSize) * Math.SQRT2) + 2);
  return plans.map((p, b) => p.objects.map((ob, k) => {
    const { li, tx, ty, long0 } = raw[b][k];
    const T = levels[li];
    const f = T / T0;
    const P = sides[li];
    const kk = ob.size / (long0 * f); // output pixels per texture pixel
    const x0 = Math.round(ob.cx - P / 2), y0 = Math.round(ob.cy - P / 2);
    const [c, s] = [Math.cos(ob.angle), Math.sin(ob.angle)];
    const fl = ob.flip ? -1 : 1;
    // Texture point q of canvas point p: q = t + A (p − centre) / kk, A = R(−angle)·diag(flip, 1).
    // With p = x0 + (x_n + 1)·P/2 (grid_sample's align_corners = false) and q_n = 2q/T − 1:
    // q_n = (P / (T kk)) A x_n + (2/T)(t + A d / kk) − 1, d = (x0, y0) + P/2 − centre.
    const A = [c * fl, s, -s * fl, c];
    const m = P / (T * kk);
    const [dx, dy] = [x0 + P / 2 - ob.cx, y0 + P / 2 - ob.cy];
    const bx = (2 / T) * (tx * f + (A[0] * dx + A[1] * dy) / kk) - 1;
    const by = (2 / T) * (ty * f + (A[2] * dx + A[3] * dy) / kk) - 1;
    return { level: li, x0, y0, side: P, theta: [m * A[0], m * A[1], bx, m * A[2], m * A[3], by] };
  }));
}

/**
 * Composes a batch: `backgrounds` float [B,3,S,S] (already cropped and
 * jittered), the plans' objects pasted back to front.
 */
export function composeScenes(plans: ScenePlan[], backgrounds: Tensor, bank: EmojiBank, o: ComposeOptions): ComposedBatch {
  const B = plans.length;
  const S = o.size;
  const M = Math.max(1, ...plans.map((p) => p.objects.length));
  return scope(() => {
    const canvas = backgrounds.clone();
    const inst = zeros([B, S, S], { dtype: 'uint8' });

    // Every object's patch (premultiplied RGB, alpha), sampled per pyramid level;
    // `full` counts its pixels with α > 0.5 before occlusion.
    const where_ = patches(plans, bank, o.levels, o.maxObjectSize);
    const full = new Int32Array(B * M);
    const patch = new Map<number, { rgb: Tensor; a: Tensor; on: Tensor }>(); // key b·M + k
    o.levels.forEach((_, li) => {
      const rows: [number, number][] = [];
      plans.forEach((p, b) => p.objects.forEach((_, k) => { if (where_[b][k].level === li) rows.push([b, k]); }));
      const n = rows.length;
      if (n === 0) return;
      const P = where_[rows[0][0]][rows[0][1]].side;
      const emoji = rows.map(([b, k]) => plans[b].objects[k].emoji);
      const tex = stack(emoji.map((e) => bank.textures[li].select(0, e)), 0).float();
      const alpha = tex.narrow(1, 3, 1).div(255);
      const premul = cat([tex.narrow(1, 0, 3).mul(alpha), alpha], 1);
      const theta = tensor(Float32Array.from(rows.flatMap(([b, k]) => where_[b][k].theta))).view(n, 2, 3);
      const out = F.gridSample(premul, F.affineGrid(theta, [n, 4, P, P], false), { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false });
      const on = out.select(1, 3).gt(0.5);
      const counts = on.sum([1, 2]).to('int32').dataSync() as Int32Array;
      rows.forEach(([b, k], r) => {
        full[b * M + k] = counts[r];
        patch.set(b * M + k, { rgb: out.select(0, r).narrow(0, 0, 3), a: out.select(0, r).narrow(0, 3, 1), on: on.select(0, r) });
      });
    });
    plans.forEach((p, b) => p.objects.forEach((_, k) => {
      const { rgb, a, on } = patch.get(b * M + k) as { rgb: Tensor; a: Tensor; on: Tensor };
      const { x0, y0, side: P } = where_[b][k];
      // The patch clipped to the canvas: out = rgb + (1 − α)·out there; the instance map takes slot k + 1 where α > 0.5.
      const cx0 = Math.max(0, x0), cy0 = Math.max(0, y0);
      const w = Math.min(S, x0 + P) - cx0, h = Math.min(S, y0 + P) - cy0;
      if (w <= 0 || h <= 0) return;
      const crop = (t: Tensor, d: number): Tensor => t.narrow(d, cy0 - y0, h).narrow(d + 1, cx0 - x0, w);
      const region = canvas.select(0, b).narrow(1, cy0, h).narrow(2, cx0, w);
      region.mul_(crop(a, 1).rsub(1)).add_(crop(rgb, 1));
      inst.select(0, b).narrow(0, cy0, h).narrow(1, cx0, w).maskedFill_(crop(on, 0), k + 1);
    }));
    const image = canvas.round().clamp(0, 255).to('uint8');
    const vis = inst.unsqueeze(1).eq(arange(1, M + 1, 1, { dtype: 'uint8' }).view(1, M, 1, 1)); // [B,M,S,S]
    const visible = vis.sum([2, 3]).to('int32').dataSync() as Int32Array;

    // Annotated or not; the class map through a per-image slot → class table.
    const table = new Int32Array(B * (M + 1));
    const objects: ComposedObject[][] = plans.map((p, b) => p.objects.map((ob, k) => {
      const i = b * M + k;
      const kept = visible[i] > 0 && visible[i] >= (1 - o.maxHidden) * full[i];
      table[b * (M + 1) + k + 1] = kept ? ob.cls + 1 : IGNORE_INDEX;
      return { cls: ob.cls, emoji: ob.emoji, full: full[i], visible: visible[i], kept };
    }));
    const masks = tensor(table).long().view(B, M + 1).gather(1, inst.view(B, S * S).long()).to('uint8');

    // Kept objects: boxes, RLEs, crops.
    const keptRows: number[] = [];
    objects.forEach((obs, b) => obs.forEach((ob, k) => { if (ob.kept) keptRows.push(b * M + k); }));
    let crops: Uint8Array = new Uint8Array(0);
    if (keptRows.length > 0) {
      const n = keptRows.length;
      const flatVis = vis.view(B * M, S, S);
      const kv = stack(keptRows.map((r) => flatVis.select(0, r)), 0); // (index_select is slow on CPU here)
      const ys = spans(kv.any(2), S);
      const xs = spans(kv.any(1), S);
      const counts = rles(kv);
      const C = o.cropSize;
      const theta: number[] = [];
      let j = 0;
      objects.forEach((obs) => obs.forEach((ob) => {
        if (!ob.kept) return;
        const [x0, x1, y0, y1] = [xs[2 * j], xs[2 * j + 1], ys[2 * j], ys[2 * j + 1]];
        ob.bbox = [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
        ob.counts = counts[j];
        // The square window: the box's longer side enlarged by cropPad, kept inside the image.
        const side = Math.min(S, Math.max(x1 - x0 + 1, y1 - y0 + 1) * (1 + o.cropPad));
        const wx = Math.min(S - side, Math.max(0, (x0 + x1 + 1) / 2 - side / 2));
        const wy = Math.min(S - side, Math.max(0, (y0 + y1 + 1) / 2 - side / 2));
        theta.push(side / S, 0, (2 * wx + side) / S - 1, 0, side / S, (2 * wy + side) / S - 1);
        j++;
      }));
      // Sampled image by image from the image expanded (a view, not a copy) to its crops.
      const src = image.float();
      const thetas = tensor(Float32Array.from(theta)).view(n, 2, 3);
      const parts: Tensor[] = [];
      for (let r = 0; r < n;) {
        const b = Math.floor(keptRows[r] / M);
        let e = r;
        while (e < n && Math.floor(keptRows[e] / M) === b) e++;
        const grid = F.affineGrid(thetas.narrow(0, r, e - r), [e - r, 3, C, C], false);
        parts.push(F.gridSample(src.narrow(0, b, 1).expand(e - r, 3, S, S), grid, { mode: 'bilinear', paddingMode: 'border', alignCorners: false }));
        r = e;
      }
      crops = cat(parts, 0).round().clamp(0, 255).to('uint8').permute(0, 2, 3, 1).contiguous().dataSync() as Uint8Array;
    }
    return {
      images: image.permute(0, 2, 3, 1).contiguous().dataSync() as Uint8Array,
      masks: masks.dataSync() as Uint8Array,
      objects,
      crops,
    };
  });
}

/** Decodes COCO uncompressed RLE counts (column-major) into a row-major uint8 mask [h, w] (pycocotools' decode). */
export function decodeRle(counts: readonly number[], h: number, w: number): Uint8Array {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== h * w) throw new RangeError(`decodeRle: the counts sum to ${total}, expected ${h}×${w} = ${h * w}`);
  return scope(() => {
    const runs = tensor(Int32Array.from(counts)).long();
    const values = arange(counts.length).remainder(2).to('uint8');
    const flat = ops.callOp('aten::repeat_interleave.self_Tensor', values, runs, 0, null) as Tensor;
    return flat.view(w, h).t().contiguous().dataSync() as Uint8Array;
  });
}
