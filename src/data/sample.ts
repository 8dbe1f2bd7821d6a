// One sample of the sample format, for the transforms that work image by image
// before batching (multi-image mixes such as Mosaic, whose inputs have
// different sizes) and the datasets that feed them: image [C,H,W] uint8 or
// float in pixel units (0–255), and per task a class label, a class mask int64
// [H,W] (255 = ignore), or boxes float [M,4] xyxy in pixels with labels int64
// [M]. It belongs to the data layer, below the transforms.
import type { Tensor } from '../torch/tensor.js';

/** A mask's value for pixels that count for nothing (mmseg's ignore_index; VOC's border): the one constant every layer uses. */
export const IGNORE_INDEX = 255;

export interface Sample {
  image: Tensor;
  label?: number;
  mask?: Tensor;
  boxes?: Tensor;
  boxLabels?: Tensor;
}

/** A source of samples by index (a detection or segmentation dataset). */
export interface SampleSource {
  readonly length: number;
  getSample(index: number): Sample | Promise<Sample>;
}

export function checkSample(s: Sample, who: string): void {
  if (!s || !s.image || s.image.ndim !== 3) throw new TypeError(`${who}: sample.image must be [C, H, W], got ${s?.image ? `[${s.image.shape}]` : String(s?.image)}`);
  const [, h, w] = s.image.shape;
  if (s.mask && (s.mask.ndim !== 2 || s.mask.shape[0] !== h || s.mask.shape[1] !== w)) throw new TypeError(`${who}: sample.mask must be [${h}, ${w}] like the image, got [${s.mask.shape}]`);
  if ((s.boxes === undefined) !== (s.boxLabels === undefined)) throw new TypeError(`${who}: sample.boxes and sample.boxLabels come together`);
  if (s.boxes && (s.boxes.ndim !== 2 || s.boxes.shape[1] !== 4)) throw new TypeError(`${who}: sample.boxes must be [M, 4] xyxy, got [${s.boxes.shape}]`);
  if (s.boxes && (s.boxLabels!.ndim !== 1 || s.boxLabels!.shape[0] !== s.boxes.shape[0])) throw new TypeError(`${who}: sample.boxLabels must be [${s.boxes.shape[0]}], got [${s.boxLabels!.shape}]`);
}
