// One scene's random choices, drawn from its own Rng (seed, split, index), so a
// scene does not depend on the batch it is composed in. Cut, Paste and Learn
// (Dwibedi et al., ICCV 2017, §3): objects at random positions, scales and 2D
// rotations, with a bounded overlap, pasted back to front on a random
// background crop.
import type { Rng } from '../rng.js';

export interface SceneOptions {
  /** Output side in pixels (192). */
  size: number;
  /** Objects per scene: uniform in 1..maxObjects (6). */
  maxObjects: number;
  /** An object's longer side (of its visible drawing, before rotation), uniform in [lo, hi] pixels (16–96 at 192; scaled with size). */
  objectSize: [number, number];
  /** 2D rotation, uniform in ±maxRotation degrees (20). */
  maxRotation: number;
  /** Largest IoU of two objects' boxes (0.3; Cut, Paste and Learn bounds the overlap of pasted objects by their boxes' IoU): a position that breaks it is redrawn up to `tries` times, then the object is left out. A small object may so lie behind a large one, wholly or mostly hidden. */
  maxOverlap: number;
  tries: number;
  /** An object more than this share hidden (0.7) is not annotated; its visible pixels are ignore (255). */
  maxHidden: number;
  /** Background: a square crop whose side is this share of the photo's short side (0.3–0.6), flipped with p = 0.5. */
  cropScale: [number, number];
  /** Colour jitter of the background: brightness, contrast, saturation factors uniform in [1 − j, 1 + j] (0.3; torchvision's ColorJitter). */
  jitter: number;
}

export interface ObjectPlan {
  cls: number;
  /** Index into the emoji bank. */
  emoji: number;
  /** Longer side of the drawing in output pixels, rotation (radians), horizontal flip, centre of the drawing. */
  size: number;
  angle: number;
  flip: boolean;
  cx: number;
  cy: number;
}

export interface ScenePlan {
  photo: number;
  /** Background crop in the photo's (shrunk) pixels. */
  crop: { x: number; y: number; side: number };
  flip: boolean;
  brightness: number;
  contrast: number;
  saturation: number;
  /** Back to front. */
  objects: ObjectPlan[];
  /** Objects drawn (1..maxObjects); those with no position within maxOverlap are not in `objects`. */
  drawn: number;
}

export interface ScenePools {
  /** Per class, the emoji (bank indices) of this split. */
  emoji: number[][];
  /** The photos (indices) of this split. */
  photos: number[];
  /** Per photo, [height, width] after loading. */
  photoSizes: [number, number][];
  /** Per emoji, its drawing's box in the bank's level-0 pixels: cx, cy, w, h. */
  boxes: Float64Array;
}

type Box = [number, number, number, number];

/** Intersection over union of two boxes. */
function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const area = (r: Box): number => (r[2] - r[0]) * (r[3] - r[1]);
  return (iw * ih) / (area(a) + area(b) - iw * ih);
}

export function planScene(rng: Rng, pools: ScenePools, o: SceneOptions): ScenePlan {
  const photo = pools.photos[rng.int(0, pools.photos.length)];
  const [ph, pw] = pools.photoSizes[photo];
  const side = Math.max(1, Math.min(ph, pw, Math.round(rng.uniform(o.cropScale[0], o.cropScale[1]) * Math.min(ph, pw))));
  const crop = { x: rng.int(0, pw - side + 1), y: rng.int(0, ph - side + 1), side };
  const flip = rng.bernoulli(0.5);
  const j = (): number => rng.uniform(1 - o.jitter, 1 + o.jitter);
  const brightness = j(), contrast = j(), saturation = j();
  const n = rng.int(1, o.maxObjects + 1);
  const objects: ObjectPlan[] = [];
  const placed: Box[] = [];
  const S = o.size;
  for (let i = 0; i < n; i++) {
    const cls = rng.int(0, pools.emoji.length);
    const pool = pools.emoji[cls];
    const emoji = pool[rng.int(0, pool.length)];
    const size = rng.uniform(o.objectSize[0], o.objectSize[1]);
    const angle = (rng.uniform(-o.maxRotation, o.maxRotation) * Math.PI) / 180;
    const objFlip = rng.bernoulli(0.5);
    const bw = pools.boxes[4 * emoji + 2], bh = pools.boxes[4 * emoji + 3];
    const k = size / Math.max(bw, bh);
    const [w, h] = [bw * k, bh * k];
    const [c, s] = [Math.abs(Math.cos(angle)), Math.abs(Math.sin(angle))];
    const ew = Math.min(S, w * c + h * s), eh = Math.min(S, w * s + h * c);
    for (let t = 0; t < o.tries; t++) {
      const cx = rng.uniform(ew / 2, S - ew / 2), cy = rng.uniform(eh / 2, S - eh / 2);
      const box: Box = [cx - ew / 2, cy - eh / 2, cx + ew / 2, cy + eh / 2];
      if (placed.every((p) => iou(p, box) <= o.maxOverlap)) {
        placed.push(box);
        objects.push({ cls, emoji, size, angle, flip: objFlip, cx, cy });
        break;
      }
    }
  }
  return { photo, crop, flip, brightness, contrast, saturation, objects, drawn: n };
}
