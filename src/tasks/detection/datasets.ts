// The train and test sets of a detection config. The training set leaves out
// the ignored boxes (COCO crowd, VOC difficult), as the references do:
// torchvision's detection reference keeps iscrowd == 0 only
// (references/detection/coco_utils.py ConvertCocoPolysToMask), and mmdet 3.x
// packs ignore_flag boxes into ignored_instances, which FCOS's head never
// assigns (PackDetInputs). The test set keeps them: COCO's evaluation matches
// detections to crowd regions without counting them.
import { isAbsolute, join, resolve } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { checkIndices, type Dataset } from '../../data/dataset.js';
import type { Sample, SampleSource } from '../../data/sample.js';
import { cocoDetection } from '../../data/coco_json.js';
import { vocDetection, VOC_CLASSES } from '../../data/voc_xml.js';
import { yoloDetection } from '../../data/yolo_txt.js';
import type { DetectionBatch, DetectionDataset } from '../../data/detection_dataset.js';
import type { DetDataConfig } from './config.js';

/** A training batch: images, boxes and labels without the ignored boxes (no ignore, area or ids: augmentations may drop boxes, so nothing else must stay aligned with them). */
export interface TrainDetectionBatch { images: Tensor; labels: Tensor; boxes: Tensor[]; boxLabels: Tensor[]; indices: number[] }

/** A detection set without its ignored boxes, for training: per image one mask over its boxes, no loop per box. */
export class WithoutIgnored implements Dataset, SampleSource {
  constructor(readonly dataset: DetectionDataset) {}
  get length(): number { return this.dataset.length; }
  get classes(): string[] { return this.dataset.classes; }
  get names(): readonly string[] { return this.dataset.names; }
  /** The dataset's counts (ignored boxes are not counted there either). */
  classCounts(): number[] { return this.dataset.classCounts(); }
  /** Already without the ignored boxes (DetectionDataset.getSample), for Mosaic and the other multi-sample transforms. */
  getSample(index: number): Promise<Sample> { return this.dataset.getSample(index); }

  async getBatch(indices: number[]): Promise<TrainDetectionBatch & { sizes: [number, number][] }> {
    checkIndices(indices, this.length, 'detection training set');
    const b: DetectionBatch = await this.dataset.getBatch(indices);
    try {
      const kept = torch.scope(() => {
        const keep = b.ignore.map((ig) => ig.logicalNot().nonzero().reshape(-1));
        return { boxes: b.boxes.map((x, i) => x.indexSelect(0, keep[i])), boxLabels: b.boxLabels.map((x, i) => x.indexSelect(0, keep[i])) };
      });
      return { images: b.images, labels: b.labels, indices: b.indices, sizes: b.sizes, ...kept };
    } finally {
      torch.dispose([...b.boxes, ...b.boxLabels, ...b.ignore, ...b.area]);
    }
  }
}

/** `{split}` in a path template becomes the split; relative paths are under root. */
function splitPath(root: string, template: string, split: string): string {
  const p = template.split('{split}').join(split);
  return isAbsolute(p) ? p : join(root, p);
}

/** The default COCO layout: what `arsenal data scenes` writes. */
export const COCO_DEFAULTS = { annFile: 'annotations/instances_{split}.json', imageDir: 'img_dir/{split}' };

/** One split of the config's dataset. */
export async function detectionSplit(d: DetDataConfig, split: string, limit: number | undefined, log?: (line: string) => void): Promise<DetectionDataset> {
  const root = resolve(d.root);
  const common = {
    ...(d.imageSize ? { imageSize: d.imageSize as [number, number] } : {}),
    ...(d.onBadBox ? { onBadBox: d.onBadBox } : {}),
    ...(limit ? { limit } : {}),
    ...(log ? { log } : {}),
  };
  if (d.dataset === 'coco') {
    const ds = await cocoDetection(splitPath(root, d.annFile ?? COCO_DEFAULTS.annFile, split), { imageDir: splitPath(root, d.imageDir ?? COCO_DEFAULTS.imageDir, split), ...common });
    if (d.classes && d.classes.join('\u0000') !== ds.classes.join('\u0000')) {
      throw new TypeError(`config.data.classes: [${d.classes.join(', ')}] is not the json's categories by ascending id, [${ds.classes.join(', ')}] (labels follow the json; leave classes out to take them from it)`);
    }
    return ds;
  }
  if (d.dataset === 'voc') return vocDetection(root, { split, classes: d.classes ?? VOC_CLASSES, ...common });
  return yoloDetection(root, { split, names: d.classes!, ...common });
}

/** The config's train set (ignored boxes left out) and test set (kept, for the metric). */
export async function detectionDatasets(d: DetDataConfig): Promise<{ train: Dataset; test: DetectionDataset }> {
  const train = await detectionSplit(d, d.trainSplit ?? 'train', d.trainSubset);
  const test = await detectionSplit(d, d.testSplit ?? 'val', d.testSubset);
  if (train.classes.join('\u0000') !== test.classes.join('\u0000')) {
    throw new TypeError(`config.data: the train split has classes [${train.classes.join(', ')}] but the test split [${test.classes.join(', ')}] (one label order for both)`);
  }
  return { train: new WithoutIgnored(train), test };
}
