// Segmentation's evaluation outputs: the config's `inference` (mmseg's
// test_cfg: whole image or sliding windows) reaches every prediction through
// Task.predict — the Predictor's batches, its TTA views and its evaluation
// equal a hand-made slideInference of the same model; `arsenal test` writes
// palette PNG masks named after the test images, which `eval-seg` scores to
// the test's own metrics exactly, and image | truth | prediction panels; the
// augment grid overlays masks in the same VOC colours. The data is a tiny
// mmseg layout written here (test/helpers/seg_folder.ts); the model is as
// initialised or trained one epoch: nothing asserts what training reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decode } from 'fast-png';
import { torch, data, tasks, engine, infer, commands, Trainer, validateConfig, evaluateCheckpoint, DataLoader, type Tensor } from 'arsenal';
import { drawGrid } from '../src/augment/draw.js';
import { writeMmsegSplit, SEG_CLASSES, BACKGROUND } from './helpers/seg_folder.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-segout-')); made.push(d); return d; };

const cli = fileURLToPath(new URL('../src/commands/main.js', import.meta.url));
const VAL = ['cat', 'dog', 'road', 'sky', 'tree'];
let root = '';
before(async () => {
  root = tmp();
  await writeMmsegSplit(root, 'train', ['t0', 't1', 't2', 't3', 't4', 't5'], 1);
  await writeMmsegSplit(root, 'val', VAL, 2);
});

const SLIDE = { mode: 'slide' as const, crop: [24, 24] as [number, number], stride: [16, 16] as [number, number] };
const config = (over: Partial<tasks.SegmentationConfig> = {}): tasks.SegmentationConfig => ({
  task: 'segmentation',
  seed: 5,
  data: { dataset: 'mmseg', root, classes: SEG_CLASSES, batchSize: 4, testBatchSize: 2, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
  model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25 },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 },
  loss: { terms: [{ type: 'CrossEntropyLoss' }] },
  train: { epochs: 1, amp: 'fp32' },
  ...over,
});

test('config.inference: whole, or slide with crop and stride; mistakes name the key', () => {
  validateConfig(config({ inference: { mode: 'whole' } }));
  validateConfig(config({ inference: SLIDE }));
  // @ts-expect-error slide needs crop and stride
  assert.throws(() => validateConfig(config({ inference: { mode: 'slide', crop: [24, 24] } })), /config\.inference\.stride: missing/);
  // @ts-expect-error whole takes no windows
  assert.throws(() => validateConfig(config({ inference: { mode: 'whole', crop: [24, 24] } })), /config\.inference\.crop: unknown key/);
  // @ts-expect-error an unknown mode
  assert.throws(() => validateConfig(config({ inference: { mode: 'tile' } })), /config\.inference\.mode: expected one of "whole", "slide"/);
  assert.throws(() => validateConfig(config({ inference: { ...SLIDE, crop: [24, 0] } })), /config\.inference\.crop\[1\]/);
});

test("inference 'slide': batches, TTA views and evaluation equal a hand-made slideInference of the same model; 'whole' is one forward", async () => {
  torch.manualSeed(3);
  const e = await engine.buildForEvaluation(config({ inference: SLIDE }));
  const whole = new engine.Predictor(e.task, config(), 'fp32', e.info, [0.4, 0.4, 0.4], [0.25, 0.25, 0.25]);
  try {
    const b = await e.test.getBatch([0, 1, 2]);
    torch.noGrad(() => torch.scope(() => {
      const x = e.predictor.normalise(b.images);
      const forward = (c: Tensor) => e.model.forward(c) as Tensor;
      const byHand = infer.slideInference(forward, x, SLIDE);
      const slid = e.predictor.predictBatch(e.model, b.images) as Tensor;
      assert.ok(slid.equal(byHand), 'slide mode is slideInference with the config crop and stride');
      const plain = whole.predictBatch(e.model, b.images) as Tensor;
      assert.ok(plain.equal(forward(x)), 'whole mode is one forward');
      assert.ok(plain.sub(slid).abs().max().item() > 1e-4, 'windows see less context than the whole image: the outputs must differ for the test to mean anything');
      // Each TTA view is slid: the flipped view's prediction is slideInference on the flipped images, flipped back.
      const views = e.predictor.predictViews(e.model, b.images, { flips: ['h'] }) as Tensor[];
      assert.ok(views[0].equal(byHand));
      assert.ok(views[1].equal(infer.slideInference(forward, x.flip([3]), SLIDE).flip([3])));
    }));
    torch.dispose([b.images, b.labels, b.masks!]);
    // Evaluation over the loader (partial last batch included) equals a meter fed the hand-made windows.
    const m = await e.predictor.evaluate(e.model, e.testLoader);
    const meter = e.task.meter(e.cfg, e.info);
    await engine.Predictor.stream([e.model], e.testLoader, (bb) => meter.update(infer.slideInference((c) => e.model.forward(c) as Tensor, e.predictor.normalise(bb.images), SLIDE), bb.masks!));
    assert.deepEqual(m, meter.compute());
  } finally {
    whole.dispose();
    engine.disposeEvalModel(e);
  }
});

test('arsenal test writes palette masks that eval-seg scores to the same metrics, and image | truth | prediction panels', async () => {
  const dir = tmp();
  const cfg = config({ inference: SLIDE, tta: { flips: ['h'] } });
  await new Trainer({ ...cfg, tta: undefined }, { workDir: dir, quiet: true }).fit();
  const ckpt = join(dir, 'epoch_1.safetensors');
  for (const tta of [false, true]) {
    const out = tmp();
    const t = await evaluateCheckpoint(cfg, ckpt, out, { quiet: true, panels: 3, tta });
    const masksDir = join(out, 'pred_masks');
    assert.deepEqual(readdirSync(masksDir).sort(), VAL.map((n) => `${n}.png`), 'one mask per test image, named as its ground truth');
    const png = decode(readFileSync(join(masksDir, 'cat.png')));
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [32, 32, 1, 8]);
    assert.deepEqual(png.palette!.slice(0, 3), [[0, 0, 0], [128, 0, 0], [0, 128, 0]], 'the VOC palette');
    assert.equal(png.palette![255].join(), '224,224,192');
    const s = commands.evalSeg(masksDir, join(root, 'ann_dir', 'val'), { numClasses: 3, workDir: out, quiet: true });
    assert.equal(s.images, VAL.length);
    assert.deepEqual(s.metrics, t.metrics, `eval-seg on the written masks reproduces the test's metrics${tta ? ' (TTA merge)' : ''}`);
    if (tta) continue;

    // The masks are the predictions: the argmax of the Predictor's (slid) scores, image by image.
    const e = await engine.loadForEvaluation(cfg, ckpt);
    try {
      const b = await e.test.getBatch([0, 1, 2, 3, 4]);
      const want = torch.noGrad(() => torch.scope(() => (e.predictor.predictBatch(e.model, b.images) as Tensor).argmax(1).to('uint8').keep()));
      VAL.forEach((n, i) => assert.deepEqual(data.readMaskPng(join(masksDir, `${n}.png`)).data, want.index(i).flatten().dataSync(), n));

      // Panels: the first 3 images, 3 × 32 wide: the image as stored | the truth | the prediction, in the VOC colours, 255 white.
      const pdir = join(out, 'panels');
      assert.deepEqual(readdirSync(pdir).sort(), ['cat.png', 'dog.png', 'legend.md', 'road.png']);
      assert.match(readFileSync(join(pdir, 'legend.md'), 'utf8'), /\| red \| 1 \| #800000 \|[\s\S]*\| ignore \| 255 \| #ffffff \|/);
      const voc = data.vocPalette();
      for (const [i, n] of ['cat', 'dog', 'road'].entries()) {
        const { data: px, info } = await sharp(join(pdir, `${n}.png`)).raw().toBuffer({ resolveWithObject: true });
        assert.deepEqual([info.width, info.height, info.channels], [96, 32, 3], n);
        const img = b.images.index(i).permute(1, 2, 0).contiguous().dataSync() as Uint8Array;
        const truth = b.masks!.index(i).flatten().toArray() as number[];
        const pred = want.index(i).flatten().dataSync() as Uint8Array;
        for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
          const at = (third: number) => [...px.subarray((y * 96 + third * 32 + x) * 3, (y * 96 + third * 32 + x) * 3 + 3)];
          const p = y * 32 + x;
          assert.deepEqual(at(0), [...img.subarray(p * 3, p * 3 + 3)], `${n} image (${y}, ${x})`);
          assert.deepEqual(at(1), truth[p] === 255 ? [255, 255, 255] : voc[truth[p]], `${n} truth (${y}, ${x})`);
          assert.deepEqual(at(2), voc[pred[p]], `${n} prediction (${y}, ${x})`);
        }
      }
      torch.dispose([b.images, b.labels, b.masks!, want]);
    } finally {
      engine.disposeEvalModel(e);
    }
  }

  // data.imageSize: the model sees 24 × 24, the masks go back to the stored 32 × 32 (scores resized, then the argmax), so eval-seg still runs.
  const out = tmp();
  await evaluateCheckpoint(config({ data: { ...config().data, imageSize: [24, 24] } }), ckpt, out, { quiet: true, panels: 1 });
  const m = data.readMaskPng(join(out, 'pred_masks', 'cat.png'));
  assert.deepEqual([m.height, m.width], [32, 32]);
  assert.equal((await sharp(join(out, 'panels', 'cat.png')).metadata()).width, 3 * 24, 'panels at the size the model saw');
  assert.equal(commands.evalSeg(join(out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, workDir: out, quiet: true }).images, VAL.length);
  // predictions: false writes nothing.
  const none = tmp();
  await evaluateCheckpoint(cfg, ckpt, none, { quiet: true, predictions: false });
  assert.ok(!existsSync(join(none, 'pred_masks')) && !existsSync(join(none, 'panels')));
});

/**
 * The test split's predictions written as `arsenal test` writes them, each equal to its truth (a one-hot of the mask,
 * ignored pixels as class 0); the eval-seg command the log line prints, run as it is (no model needed).
 */
async function writeAndScore(cfg: tasks.SegmentationConfig): Promise<{ line: string; metrics: Record<string, number>; images: number; out: string }> {
  const { test: ds } = await tasks.segmentation.datasets(cfg);
  const classes = cfg.data.classes, out = tmp();
  const writer = tasks.segmentation.predictionWriter!(cfg, { classes, classCounts: classes.map(() => 1), inChannels: 3 }, ds, { workDir: out, panels: 0 });
  for await (const b of new DataLoader(ds, { batchSize: 2, shuffle: false })) {
    torch.scope(() => writer.write(b, torch.functional.oneHot(b.masks!.maskedFill(b.masks!.eq(255), 0), classes.length).permute(0, 3, 1, 2).float()));
    torch.dispose([b.images, b.labels, b.masks!]);
  }
  const [line] = await writer.close();
  const command = line.split('; score them with ')[1];
  assert.match(command, /^arsenal eval-seg /);
  const argv = command.split(' ').slice(1);
  assert.ok(!argv.some((a) => a.startsWith('<') || a.includes("'")), command);
  const r = spawnSync(process.execPath, [cli, ...argv, '--work-dir', out, '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${command}\n${r.stderr}`);
  const j = JSON.parse(readFileSync(join(out, 'eval_seg.json'), 'utf8'));
  return { line, metrics: j.metrics, images: j.images, out };
}

test("the eval-seg command arsenal test prints scores what it wrote: mmseg's ann_dir/<split> with data.testSubset, VOC's SegmentationClass (every split's masks) through --names, --reduce-zero-label", async () => {
  // mmseg, the first 3 of the 5 val images: the other 2 ground-truth masks have no prediction.
  const sub = await writeAndScore(config({ data: { ...config().data, testSubset: 3 } }));
  assert.match(sub.line, new RegExp(`--gt ${join(root, 'ann_dir', 'val')} --names \\S+pred_masks\\.txt --num-classes 3$`));
  assert.deepEqual(readFileSync(join(sub.out, 'pred_masks.txt'), 'utf8').split('\n'), [...VAL.slice(0, 3), '']);
  assert.equal(sub.images, 3);
  assert.equal(sub.metrics.aAcc, 1, 'each prediction is its own truth');
  // eval-seg's default stays strict: every ground-truth mask needs a prediction.
  assert.throws(() => commands.evalSeg(join(sub.out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, workDir: sub.out, quiet: true }), /2 ground-truth masks have no prediction .*--names FILE/);

  // VOC: SegmentationClass holds the train and val masks; val.txt lists 2 of 4.
  const voc = tmp();
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) mkdirSync(join(voc, d), { recursive: true });
  await writeMmsegSplit(voc, 'all', ['a', 'b', 'c', 'd'], 3);
  for (const n of ['a', 'b', 'c', 'd']) {
    await sharp(join(voc, 'img_dir', 'all', `${n}.png`)).jpeg().toFile(join(voc, 'JPEGImages', `${n}.jpg`));
    copyFileSync(join(voc, 'ann_dir', 'all', `${n}.png`), join(voc, 'SegmentationClass', `${n}.png`));
  }
  writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'train.txt'), 'a\nc\n');
  writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'val.txt'), 'b\nd\n');
  const v = await writeAndScore(config({ data: { ...config().data, dataset: 'voc', root: voc } }));
  assert.match(v.line, new RegExp(`--gt ${join(voc, 'SegmentationClass')} --names `));
  assert.deepEqual([v.images, v.metrics.aAcc], [2, 1]);

  // reduceZeroLabel: the ground truth's raw 0 is ignored and k read as k − 1; without the flag raw 2 would be a bad label for 2 classes.
  const z = await writeAndScore(config({ data: { ...config().data, classes: ['red', 'blue'], reduceZeroLabel: true } }));
  assert.match(z.line, /--num-classes 2 --reduce-zero-label$/);
  assert.deepEqual([z.images, z.metrics.aAcc], [5, 1]);

  // --names: a listed mask missing from either folder, or a name listed twice, is named.
  const list = join(sub.out, 'list.txt');
  writeFileSync(list, 'cat\nroad\n');
  assert.equal(commands.evalSeg(join(sub.out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, names: list, workDir: sub.out, quiet: true }).images, 2);
  writeFileSync(list, 'cat\nsky\n');
  assert.throws(() => commands.evalSeg(join(sub.out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, names: list, quiet: true }), /1 of the masks --names .* lists are not in --pred .*sky\.png/);
  writeFileSync(list, 'cat\nnothing\n');
  assert.throws(() => commands.evalSeg(join(sub.out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, names: list, quiet: true }), /lists are not in --gt .*nothing\.png/);
  writeFileSync(list, 'cat\ncat\n');
  assert.throws(() => commands.evalSeg(join(sub.out, 'pred_masks'), join(root, 'ann_dir', 'val'), { numClasses: 3, names: list, quiet: true }), /lists 'cat' twice/);
});

test('arsenal test whose pass fails still finishes the prediction files written so far; the pass\'s error is the one thrown', async () => {
  // The val split with its 4th image (sky) corrupt: batches of 2 — cat, dog; road, sky (fails); tree.
  const broken = tmp();
  await writeMmsegSplit(broken, 'train', ['t0', 't1'], 1);
  await writeMmsegSplit(broken, 'val', VAL, 2);
  writeFileSync(join(broken, 'img_dir', 'val', 'sky.png'), 'not a png');
  const cfg = config({ data: { ...config().data, root: broken } });
  const model = tasks.segmentation.buildModel(cfg, { classes: SEG_CLASSES, classCounts: [1, 1, 1], inChannels: 3 });
  const ckpt = join(broken, 'init.safetensors');
  torch.safetensors.saveFile(model.stateDict(), ckpt);
  model.dispose();
  const out = tmp();
  await assert.rejects(evaluateCheckpoint(cfg, ckpt, out, { quiet: true, panels: 2 }), /cannot decode .*sky\.png/);
  // close() ran: the names list of what was written, and the first batch's panels with their legend.
  assert.deepEqual(readFileSync(join(out, 'pred_masks.txt'), 'utf8'), 'cat\ndog\n');
  assert.deepEqual(readdirSync(join(out, 'panels')).sort(), ['cat.png', 'dog.png', 'legend.md']);
});

test('drawGrid with a mask palette: every pixel blended at 50% with its class colour (VOC), ignore included', () => {
  // One 2 × 2 image of value 100, classes 0 1 / 2 255, normalisation undone first.
  const images = torch.full([1, 3, 2, 2], BACKGROUND / 255).sub(0.5).div(0.5);
  const masks = torch.tensor(BigInt64Array.from([0n, 1n, 2n, 255n])).reshape(1, 2, 2);
  const g = drawGrid({ images, masks }, { mean: [0.5], std: [0.5], scale: 1, gap: 0, maskPalette: data.vocPalette() });
  const px = (i: number) => [...g.rgb.subarray(i * 3, i * 3 + 3)];
  const blend = (c: number[]) => c.map((v) => Math.round(BACKGROUND * 0.5 + v * 0.5));
  assert.deepEqual([px(0), px(1), px(2), px(3)], [blend([0, 0, 0]), blend([128, 0, 0]), blend([0, 128, 0]), blend([224, 224, 192])]);
  // Without one, the scenes' scheme: class 0 clear.
  assert.deepEqual([...drawGrid({ images, masks }, { mean: [0.5], std: [0.5], scale: 1, gap: 0 }).rgb.subarray(0, 3)], [100, 100, 100]);
  assert.throws(() => drawGrid({ images, masks }, { mean: [0.5], std: [0.5], maskPalette: [[0, 0, 0]] }), /maskPalette must be 256 colours/);
});

test('SegmentationFolderDataset names its samples after their files; a Subset keeps them', async () => {
  const ds = await data.segmentationFolder(root, { split: 'val', layout: 'mmseg', classes: SEG_CLASSES });
  assert.deepEqual(ds.names, VAL);
  const sub = new data.Subset(ds, [3, 0]);
  assert.deepEqual(sub.names, ['sky', 'cat']);
  assert.equal(sub.names, sub.names, 'built once, not per call');
  const loader = new DataLoader(ds, { batchSize: 5, shuffle: false });
  for await (const b of loader) { assert.equal(b.sizes, undefined, 'no resize: no stored sizes'); torch.dispose([b.images, b.labels, b.masks!]); }
});
