// Config types are derived from their schemas (src/util/schema.ts), so a
// config written in TypeScript is checked by the compiler against the same
// rules the runtime validation enforces. Each `@ts-expect-error` below fails
// the build (`tsc`, run before every test) if the mistake it marks would
// compile; the runtime check rejects the same configs with the key's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type Config } from 'arsenal';

const ok = {
  task: 'classification',
  data: { dataset: 'fashion-mnist', batchSize: 32 },
  model: { name: 'resnet18', stem: 'small' },
  optimizer: { type: 'SGD', lr: 0.1, momentum: 0.9 },
  schedule: { type: 'cosine', warmupEpochs: 1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }, { type: 'Mixup', mixupAlpha: 0.2 }] },
  loss: [{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss', gamma: 2, weight: 0.5 }],
  swa: { start: 0.75, lr: 0.01 },
  tta: { flips: ['h'], merge: 'mean' },
  train: { epochs: 2, amp: 'auto', budget: '10m' },
} satisfies Config;

const det = {
  task: 'detection',
  data: { dataset: 'coco', root: 'data/scenes', imageSize: [160, 160], batchSize: 8 },
  model: { name: 'fcos_resnet18_fpn', outChannels: 128, numConvs: 2, normLayer: 'batch' },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 },
  postprocess: { preset: 'mmdet', scoreThresh: 0.05 },
  tta: { flips: ['h'], merge: 'wbf' },
  boxMerge: { wbf: { iouThr: 0.6 } },
  train: { epochs: 1, clipGradNorm: 35 },
} satisfies Config;

const mistakes: [string, unknown, RegExp][] = [
  // @ts-expect-error an optimizer that does not exist
  ['optimizer.type', { ...ok, optimizer: { type: 'SGDD', lr: 0.1 } } satisfies Config, /config\.optimizer\.type/],
  // @ts-expect-error epochs is a number
  ['train.epochs', { ...ok, train: { epochs: '2' } } satisfies Config, /config\.train\.epochs/],
  // @ts-expect-error a model name not in the registry
  ['model.name', { ...ok, model: { name: 'resnet19' } } satisfies Config, /config\.model\.name/],
  // @ts-expect-error a TTA merge the classification task does not know
  ['tta.merge', { ...ok, tta: { merge: 'median' } } satisfies Config, /config\.tta\.merge/],
  // @ts-expect-error an unknown key
  ['train.epoch', { ...ok, train: { epoch: 2 } } satisfies Config, /config\.train/],
  // @ts-expect-error a merge of probabilities is not a merge of boxes
  ['tta.merge (detection)', { ...det, tta: { merge: 'mean' } } satisfies Config, /config\.tta\.merge/],
  // @ts-expect-error a postprocess preset that does not exist
  ['postprocess.preset', { ...det, postprocess: { preset: 'detectron2' } } satisfies Config, /config\.postprocess\.preset/],
  // @ts-expect-error the task is missing
  ['task', { data: ok.data, model: ok.model, optimizer: ok.optimizer, train: ok.train } satisfies Config, /config\.task/],
];

test('a config the compiler accepts passes the runtime validation', () => {
  validateConfig(ok);
  validateConfig(det);
});

test('what the compiler rejects, the runtime validation rejects too, naming the key', () => {
  for (const [key, cfg, msg] of mistakes) assert.throws(() => validateConfig(cfg), msg, key);
});
