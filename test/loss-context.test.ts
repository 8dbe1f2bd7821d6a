// Batch-dependent loss normalisers go through the task's LossContext
// (src/tasks/task.ts): with class weights, the mean of a shard is its weighted
// sum over its own weight sum, so two processes averaging their shards' means
// would not give the whole batch's loss. Through a context that averages the
// normaliser over the processes (mmdet's reduce_mean), the mean of the two
// shards' losses — what averaging their gradients trains on — equals one
// process's loss on the whole batch. Here two "processes" are simulated in
// one: each context's all-reduce adds the other shard's normaliser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, tasks, type Tensor } from 'arsenal';

const K = 3;
const counts = [50, 20, 5]; // inverse-frequency weights differ a lot between the classes
const logits = torch.tensor([2, 0.1, -1, 0.3, 1.2, 0.5, -0.4, 0.2, 1.5, 1, 1, 0, 0.5, -1, 2, 0, 0.7, 0.1], { dtype: 'float32' }).reshape(6, K);
// Shard a holds the frequent class, shard b the rare ones: their weight sums differ.
const y = torch.tensor(BigInt64Array.from([0n, 0n, 1n, 2n, 2n, 1n]));

function lossOf(terms: tasks.LossConfig['terms'], ctx: tasks.LossContext | undefined, x: Tensor, t: Tensor): number {
  const l = tasks.buildLoss({ classWeight: 'inverse', labelSmoothing: 0.1, terms }, counts, ['a', 'b', 'c'], ctx);
  return l.multi.forward(x, t).total.item();
}

function twoProcesses(terms: tasks.LossConfig['terms']): { whole: number; naive: number; reduced: number } {
  const xa = logits.narrow(0, 0, 3), xb = logits.narrow(0, 3, 3), ya = y.narrow(0, 0, 3), yb = y.narrow(0, 3, 3);
  // The all-reduce: a first pass records what each shard sends (its normalisers, in call order) ...
  const sent = (x: Tensor, t: Tensor) => {
    const values: number[] = [];
    lossOf(terms, { processes: 2, averageOverProcesses: (v) => { values.push(v.item()); return v; } }, x, t);
    return values;
  };
  const fromA = sent(xa, ya), fromB = sent(xb, yb);
  // ... then each shard's context averages its value with the other's.
  const ctx = (other: number[]): tasks.LossContext => { let i = 0; return { processes: 2, averageOverProcesses: (v) => v.add(other[i++]).div(2) }; };
  return {
    whole: lossOf(terms, undefined, logits, y),
    naive: (lossOf(terms, undefined, xa, ya) + lossOf(terms, undefined, xb, yb)) / 2,
    reduced: (lossOf(terms, ctx(fromB), xa, ya) + lossOf(terms, ctx(fromA), xb, yb)) / 2,
  };
}

test('weighted cross-entropy: 2 processes × B/2 through the LossContext equal 1 × B; shard means alone do not', () => {
  const r = twoProcesses([{ type: 'CrossEntropyLoss' }]);
  assert.ok(Math.abs(r.reduced - r.whole) < 1e-5, `${r.reduced} vs ${r.whole}`);
  assert.ok(Math.abs(r.naive - r.whole) > 1e-2, `the test must separate the two: naive ${r.naive}, whole ${r.whole}`);
});

test('weighted focal loss (label-smoothed: soft targets, normalised by the batch size) and CE + focal: the same', () => {
  for (const terms of [[{ type: 'FocalLoss' as const, gamma: 2 }], [{ type: 'CrossEntropyLoss' as const }, { type: 'FocalLoss' as const, weight: 0.5 }]]) {
    const r = twoProcesses(terms);
    assert.ok(Math.abs(r.reduced - r.whole) < 1e-5, `${JSON.stringify(terms)}: ${r.reduced} vs ${r.whole}`);
  }
});

test('one process: the context changes nothing (the fused mean, bit for bit)', () => {
  const a = lossOf([{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss' }], undefined, logits, y);
  const b = lossOf([{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss' }], tasks.SINGLE_PROCESS, logits, y);
  assert.equal(a, b);
});
