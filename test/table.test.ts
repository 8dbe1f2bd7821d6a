// Result tables (src/util/table.ts): metric names as people read them, and mmseg's as mmseg writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricLabel, formatMetric, metricsTable } from '../src/util/table.js';

test('metricLabel: camelCase split into words; mmseg names (mIoU, aAcc, mAcc, mDice, mFscore) kept, after a prefix too', () => {
  const cases: [string, string][] = [
    ['accuracy', 'accuracy'], ['balancedAccuracy', 'balanced accuracy'], ['ttaAccuracy', 'tta accuracy'], ['trainLoss', 'train loss'],
    ['mIoU', 'mIoU'], ['aAcc', 'aAcc'], ['mAcc', 'mAcc'], ['mDice', 'mDice'], ['mFscore', 'mFscore'],
    ['ttaMIoU', 'tta mIoU'], ['modelMIoU', 'model mIoU'], ['emaAAcc', 'ema aAcc'], ['swaModelMAcc', 'swa model mAcc'],
  ];
  for (const [k, want] of cases) assert.equal(metricLabel(k), want, k);
});

test('formatMetric: fractions as percentages, losses with four decimals, NaN as a dash; metricsTable uses both', () => {
  assert.equal(formatMetric('mIoU', 0.51234), '51.23%');
  assert.equal(formatMetric('trainLoss', 0.123456), '0.1235');
  assert.equal(formatMetric('mAcc', NaN), '—');
  assert.equal(formatMetric('APl', -1), '—', 'pycocotools\' -1: no ground truth in the range');
  assert.equal(formatMetric('APl', 0), '0.00%');
  assert.equal(metricsTable('view', [{ name: 'identity', metrics: { mIoU: 0.5, aAcc: 0.25 } }]), '| view | mIoU | aAcc |\n|---|---:|---:|\n| identity | 50.00% | 25.00% |');
});
