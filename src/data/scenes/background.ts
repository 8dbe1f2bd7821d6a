// The scenes' backgrounds: a square crop of a photograph (its side a random
// share of the photo's short side), resized to the output size by sharp
// (lanczos3, on libuv's threads), flipped with p = 0.5, then colour-jittered as
// torchvision's ColorJitter (brightness, contrast, saturation; fixed order) on
// the whole batch.
import { fromBytes, scope, tensor, type Tensor } from '../../torch/index.js';
import type { SharpModule } from '../image_folder.js';
import type { ScenePlan } from './plan.js';

/** A decoded photograph: RGB, row-major. */
export interface Photo { data: Buffer; width: number; height: number }

const LUMA = [0.299, 0.587, 0.114]; // torchvision's rgb_to_grayscale

/** Per-image factors [B,1,1,1]. */
const factors = (xs: number[]): Tensor => tensor(Float32Array.from(xs)).view(xs.length, 1, 1, 1);
const gray = (x: Tensor): Tensor => x.mul(tensor(Float32Array.from(LUMA)).view(1, 3, 1, 1)).sum(1, true);
/** torchvision's _blend: r·x + (1 − r)·y, clamped to the pixel range. */
const blend = (x: Tensor, y: Tensor | number, r: Tensor): Tensor => x.sub(y).mul(r).add(y).clamp(0, 255);

/** The backgrounds of a batch of plans: float [B,3,S,S] in 0..255. */
export async function backgrounds(sharp: SharpModule, photos: Photo[], plans: ScenePlan[], S: number): Promise<Tensor> {
  const crops = await Promise.all(plans.map(async (p) => {
    const ph = photos[p.photo];
    let img = sharp(ph.data, { raw: { width: ph.width, height: ph.height, channels: 3 } })
      .extract({ left: p.crop.x, top: p.crop.y, width: p.crop.side, height: p.crop.side })
      .resize(S, S, { fit: 'fill', kernel: 'lanczos3' });
    if (p.flip) img = img.flop();
    return img.raw().toBuffer();
  }));
  return scope(() => {
    let x = fromBytes(Buffer.concat(crops), 'uint8', [plans.length, S, S, 3]).permute(0, 3, 1, 2).float();
    x = blend(x, 0, factors(plans.map((p) => p.brightness)));
    x = blend(x, gray(x).mean([1, 2, 3], true), factors(plans.map((p) => p.contrast)));
    return blend(x, gray(x), factors(plans.map((p) => p.saturation))).contiguous();
  });
}

