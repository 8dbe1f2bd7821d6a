// FCOS's points as torchvision 0.14 lays them out
// (torchvision/models/detection/anchor_utils.py AnchorGenerator with one size
// per level and aspect ratio 1.0, what FCOS builds by default): one square
// anchor per feature-map location, centred on the location's top-left pixel
// (shift = index · stride, no half-stride offset), of side the level's anchor
// size ((8,), (16,), (32,), (64,), (128,) for P3..P7: "equal to strides of
// multi-level feature map"). Its centre is FCOS's point; its side sets the
// level's centre-sampling radius and regression range (fcos_loss.ts) and
// scales the box coder's distances.
//
// The stride is torchvision's integer division of the image size by the
// feature map's (image_size // grid_size per axis), so on an image not
// divisible by 128 the coarse levels' strides are not the nominal ones
// (96 rows over P6's 2 give 48, not 64), exactly as torchvision computes them.
import { Tensor } from '../../torch/tensor.js';
import { arange, tensor } from '../../torch/creation.js';
import { cat, meshgrid, stack } from '../../torch/join.js';

/** torchvision's FCOS default anchor sizes, one per level P3..P7. */
export const FCOS_ANCHOR_SIZES: readonly number[] = [8, 16, 32, 64, 128];

/**
 * Anchors [Σ h·w, 4] xyxy float32 for feature maps of `gridSizes` ([h, w] per
 * level, finest first) on an image of `imageSize` ([H, W]), level by level,
 * row-major within a level (torchvision's order, the head outputs' order).
 */
export function fcosAnchors(gridSizes: readonly (readonly [number, number])[], imageSize: readonly [number, number], anchorSizes: readonly number[] = FCOS_ANCHOR_SIZES): Tensor {
  if (gridSizes.length !== anchorSizes.length)
    throw new RangeError(`fcosAnchors: ${gridSizes.length} feature maps but ${anchorSizes.length} anchor sizes (one per level)`);
  const [H, W] = imageSize;
  const levels = gridSizes.map(([gh, gw], i) => {
    if (!(gh >= 1 && gw >= 1)) throw new RangeError(`fcosAnchors: feature map ${i} has size [${gh}, ${gw}]`);
    const sh = Math.floor(H / gh), sw = Math.floor(W / gw);
    // generate_anchors: round([-w, -h, w, h] / 2) (torch.round: half to even).
    const s = anchorSizes[i];
    const base = tensor([-s, -s, s, s], { dtype: 'float32' }).div(2).round();
    const [sy, sx] = meshgrid([arange(0, gh, 1, { dtype: 'float32' }).mul(sh), arange(0, gw, 1, { dtype: 'float32' }).mul(sw)], 'ij');
    const x = sx.reshape(-1), y = sy.reshape(-1);
    return stack([x, y, x, y], 1).add(base);
  });
  return cat(levels, 0);
}
