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
/** torchvision's _blend, in place: x ← clamp(r·x + (1 − r)·y, 0, 255). */
const blend_ = (x: Tensor, y: Tensor | number, r: Tensor): Tensor => x.sub_(y).mul_(r).add_(y).clamp_(0, 255);

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
    const x = fromBytes(Buffer.concat(crops), 'uint8', [plans.length, S, S, 3]).permute(0, 3, 1, 2).float().contiguous();
    const gray = (): Tensor => x.narrow(1, 0, 1).mul(LUMA[0]).add_(x.narrow(1, 1, 1), LUMA[1]).add_(x.narrow(1, 2, 1), LUMA[2]); // [B,1,S,S]
    blend_(x, 0, factors(plans.map((p) => p.brightness)));
    blend_(x, gray().mean([1, 2, 3], true), factors(plans.map((p) => p.contrast)));
    return blend_(x, gray(), factors(plans.map((p) => p.saturation)));
  });
}

