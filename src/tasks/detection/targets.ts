// What a detection batch carries besides its images, and the metric over it.
// A loader batch (src/data/detection_dataset.ts DetectionBatch) has per image
// its boxes and labels in the batch's pixels, and for evaluation the ignore
// flags (crowd, difficult), COCO's areas in the stored image's pixels, the
// image's id and its stored size. The metric is COCO's (pycocotools, through
// CocoMeter) in the STORED image's frame: boxes, ground truth and
// detections alike, are scaled from the batch's size back to the stored one,
// so a box's area and COCO's `area` field are in the same pixels (the
// small/medium/large ranges). The numbers are those pycocotools gives for the
// results json `arsenal test` writes when the ground truth's boxes lie inside
// their images: the training reader clips boxes that cross the border and
// drops degenerate ones (src/data/coco_json.ts), pycocotools scores the raw
// json (`arsenal eval-coco` reads it as pycocotools does).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Batch } from '../../data/dataset.js';
import type { ImageBatch } from '../../augment/batch/types.js';
import { CocoMeter, type CocoMeterState } from '../../metrics/coco_eval.js';
import type { BoxTargets, Detections, Meter } from '../task.js';

/** A batch's detection extras as batchTargets passes them on (absent on the training set, whose transforms may drop boxes). */
export interface DetExtras {
  ignore?: Tensor[];
  area?: Tensor[];
  /** Numeric image ids (COCO's), or the dataset positions where the ids are names (VOC, YOLO stems). */
  imageIds?: number[];
  /** Each image's stored [height, width]. */
  sizes?: [number, number][];
}

/** One image's targets: boxes and labels for the loss; for the metric the ignore flags, COCO's area, the image id and the factor [sx, sy] from the batch's pixels to the stored image's. */
export interface DetTarget extends BoxTargets {
  area?: Tensor;
  imageId?: number;
  scale?: [number, number];
}
export type DetTargets = DetTarget[];

/** The targets of a loader batch, without the images. */
export function detBatchTargets(b: Batch): Omit<ImageBatch, 'images'> & DetExtras {
  const d = b as Batch & { boxes?: Tensor[]; boxLabels?: Tensor[]; ignore?: Tensor[]; area?: Tensor[]; imageIds?: (number | string)[] };
  const out: Omit<ImageBatch, 'images'> & DetExtras = { boxes: d.boxes, boxLabels: d.boxLabels };
  if (d.ignore) out.ignore = d.ignore;
  if (d.area) out.area = d.area;
  if (d.sizes) out.sizes = d.sizes;
  if (d.imageIds) out.imageIds = d.imageIds.every((id) => typeof id === 'number') ? d.imageIds as number[] : b.indices.slice();
  return out;
}

/** The loss's and the metric's targets of a (transformed) batch: one per image. */
export function detTargets(b: ImageBatch): DetTargets {
  const x = b as ImageBatch & DetExtras;
  if (!b.boxes || !b.boxLabels) {
    throw new TypeError('detection: the batch has no boxes (expected boxes and boxLabels per image, as a detection dataset gives them)');
  }
  const n = b.images.shape[0];
  if (b.boxes.length !== n || b.boxLabels.length !== n) throw new TypeError(`detection: the batch has ${n} images but ${b.boxes.length} box lists and ${b.boxLabels.length} label lists`);
  const [h, w] = [b.images.shape[2], b.images.shape[3]];
  return b.boxes.map((boxes, i) => {
    const t: DetTarget = { boxes, labels: b.boxLabels![i] };
    if (x.ignore) t.ignore = x.ignore[i];
    if (x.area) t.area = x.area[i];
    if (x.imageIds) t.imageId = x.imageIds[i];
    if (x.sizes) t.scale = [x.sizes[i][1] / w, x.sizes[i][0] / h];
    return t;
  });
}

/** Boxes [M,4] xyxy scaled by [sx, sy] (none: as they are). */
export function scaleBoxes(boxes: Tensor, scale: [number, number] | undefined): Tensor {
  if (!scale || (scale[0] === 1 && scale[1] === 1)) return boxes;
  return boxes.mul(torch.tensor([scale[0], scale[1], scale[0], scale[1]], { dtype: boxes.dtype === 'float64' ? 'float64' : 'float32' }));
}

/** COCO bbox AP (the 12 stats, pycocotools' names) in the stored frame; ignored boxes are COCO's crowd regions (VOC's difficult boxes too). */
export class DetectionMeter implements Meter<Detections[], DetTargets, CocoMeterState> {
  private readonly m: CocoMeter;
  constructor(numClasses: number) { this.m = new CocoMeter(numClasses); }
  update(preds: Detections[], targets: DetTargets): void {
    if (!Array.isArray(preds) || !Array.isArray(targets) || preds.length !== targets.length) {
      throw new TypeError(`detection metric: expected one Detections and one target per image, got ${Array.isArray(preds) ? preds.length : String(preds)} and ${Array.isArray(targets) ? targets.length : String(targets)}`);
    }
    torch.noGrad(() => torch.scope(() => {
      preds.forEach((p, i) => {
        const t = targets[i];
        this.m.add(
          { boxes: scaleBoxes(p.boxes, t.scale), scores: p.scores, labels: p.labels },
          { boxes: scaleBoxes(t.boxes, t.scale), labels: t.labels, ...(t.ignore ? { iscrowd: t.ignore } : {}), ...(t.area ? { area: t.area } : {}), ...(t.imageId !== undefined ? { imageId: t.imageId } : {}) },
        );
      });
    }));
  }
  compute(): Record<string, number> { return { ...this.m.compute() }; }
  state(): CocoMeterState { return this.m.state(); }
  merge(s: CocoMeterState): void { this.m.merge(s); }
}
