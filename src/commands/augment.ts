// `arsenal augment <config> --out grid.png [--n 16] [--seed N] [--epoch E] [--scenes]`:
// draws n training samples after the config's augment.sample steps (Mosaic,
// YoloxMixUp, as the trainer runs them in epoch E) and augment.train pipeline. With
// --scenes the samples are Fashion-MNIST scenes (boxes and masks, see
// src/data/scenes.ts) so the boxes and masks can be checked by eye. A
// dataset's masks (segmentation) are overlaid in the VOC palette at 50%, the
// colours of `arsenal test`'s mask PNGs and panels.
import { parseArgs, intFlag } from './args.js';
import { loadConfig } from '../engine/load_config.js';
import { getTask } from '../tasks/index.js';
import { Rng } from '../data/rng.js';
import * as torch from '../torch/index.js';
import { BatchPipeline } from '../augment/batch/pipeline.js';
import type { ImageBatch } from '../augment/batch/types.js';
import { MultiImageMixDataset, collate } from '../augment/sample/multi_image.js';
import { sampleRng, wrapWithSampleSteps } from '../augment/sample/mix_dataset.js';
import { resizeSampleTo } from '../augment/sample/resize.js';
import { drawGrid, writePng } from '../augment/draw.js';
import { fashionMnist } from '../data/fashion_mnist.js';
import { vocPalette } from '../data/palette.js';
import { FashionMnistScenes } from '../data/scenes.js';

export async function augmentCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['scenes'], value: ['out', 'n', 'seed', 'epoch'] });
  if (p.positional.length !== 1) throw new TypeError('augment: expected one config file (arsenal augment <config> --out grid.png [--n 16])');
  const out = p.flags.get('out');
  if (typeof out !== 'string' || !out.endsWith('.png')) throw new TypeError('augment: --out FILE.png is required');
  const n = intFlag(p, 'n') ?? 16;
  if (!(n >= 1 && n <= 1024)) throw new RangeError(`augment: --n must be in [1, 1024], got ${n}`);
  const cfg = await loadConfig(p.positional[0], p.sets);
  const seed = intFlag(p, 'seed') ?? cfg.seed ?? 42;
  const epoch = intFlag(p, 'epoch') ?? 1;
  torch.manualSeed(seed);
  const rng = new Rng(Rng.derive(seed, 0xa06, 1));
  let batch: ImageBatch, mean: number[], std: number[], numClasses: number;
  const sampleSteps = cfg.augment?.sample ?? [];
  if (p.flags.has('scenes')) {
    const scenes = new FashionMnistScenes(fashionMnist({ root: cfg.data.root, split: 'train' }), { seed });
    const idx = Array.from({ length: n }, () => rng.int(0, scenes.length));
    let samples = idx.map((i) => scenes.getSample(i));
    if (sampleSteps.length) {
      // The sample steps with boxes (and masks, unless YOLOX MixUp, which is for detection, is among them), each
      // output from its own (seed, epoch, index) generator as in training, resized back to the scene size.
      const noMasks = sampleSteps.some((s) => s.type === 'YoloxMixUp');
      const source = noMasks ? { length: scenes.length, getSample: (i: number) => ({ ...scenes.getSample(i), mask: undefined }) } : scenes;
      const mixer = new MultiImageMixDataset(source, sampleSteps, { epochs: cfg.train.epochs });
      const mixed = [];
      for (const [k, i] of idx.entries()) {
        const [, h, w] = samples[k].image.shape;
        mixed.push(resizeSampleTo(await mixer.getSample(i, sampleRng(seed, epoch, i), epoch), h, w));
      }
      samples = mixed;
    }
    const b = collate(samples);
    mean = cfg.data.mean ?? [0.5]; std = cfg.data.std ?? [0.5]; numClasses = 11;
    batch = { ...b, images: b.images.div(255).sub(mean[0]).div(std[0]) };
  } else {
    const task = getTask(cfg.task);
    const { train: source } = await task.datasets(cfg);
    const train = wrapWithSampleSteps(source, sampleSteps, { seed, epochs: cfg.train.epochs });
    train.setEpoch?.(epoch);
    const idx = Array.from({ length: n }, () => rng.int(0, train.length));
    const b = await train.getBatch(idx);
    const c = b.images.shape[1];
    mean = cfg.data.mean ?? Array(c).fill(0.5); std = cfg.data.std ?? Array(c).fill(0.5); numClasses = train.classes.length;
    const x = b.images.dtype === 'uint8' ? b.images.float().div(255) : b.images.float();
    const m = torch.tensor(mean).float().reshape(1, c, 1, 1), s = torch.tensor(std).float().reshape(1, c, 1, 1);
    batch = { ...task.batchTargets(b), images: x.sub(m).div(s) };
  }
  const steps = cfg.augment?.train ?? [];
  const pipeline = new BatchPipeline(steps);
  const result = pipeline.apply(batch, { rng, mean, std, numClasses }, epoch, cfg.train.epochs);
  // Scenes: masks in their boxes' colours; a dataset's masks in the VOC colours of `arsenal test`'s outputs.
  await writePng(out, drawGrid(result, { mean, std, ...(p.flags.has('scenes') ? {} : { maskPalette: vocPalette() }) }));
  console.log(`wrote ${out}: ${n} samples after ${[...sampleSteps, ...steps].map((s) => s.type).join(', ') || 'no augmentation'} (seed ${seed}, epoch ${epoch})`);
}
