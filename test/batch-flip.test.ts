// The batch-level RandomFlip: p = 0 and p = 1 are identities / full flips,
// each image flips as a whole (its pixels move, not its values), twice is the
// identity, and the share flipped follows p under a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch } from 'arsenal';
import { randomFlip } from '../src/augment/batch/flip.js';
import { Rng } from '../src/data/rng.js';

test('randomFlip: p=0 keeps, p=1 flips every image along the right axis, twice is the identity', () => {
  const x = torch.arange(2 * 1 * 3 * 4, undefined, 1, { dtype: 'float32' }).reshape(2, 1, 3, 4);
  assert.ok(randomFlip(x, 0, 'horizontal', new Rng(1)).equal(x));
  const h = randomFlip(x, 1, 'horizontal', new Rng(1));
  assert.deepEqual(h.index(0, 0, 0).toArray(), [3, 2, 1, 0]);
  const v = randomFlip(x, 1, 'vertical', new Rng(1));
  assert.deepEqual(v.index(0, 0, ':', 0).toArray(), [8, 4, 0]);
  assert.ok(randomFlip(h, 1, 'horizontal', new Rng(2)).equal(x));
  assert.throws(() => randomFlip(x, 1.5, 'horizontal', new Rng(1)), /prob must be in \[0, 1\]/);
});

test('randomFlip: each image is either unchanged or fully mirrored; the share follows p; same seed, same flips', () => {
  const n = 400;
  const x = torch.rand(n, 1, 2, 5);
  const y = randomFlip(x, 0.3, 'horizontal', new Rng(7));
  const same = y.eq(x).all(3).all(2).all(1);
  const mirrored = y.eq(x.flip(3)).all(3).all(2).all(1);
  assert.ok(same.logicalOr(mirrored).all().item(), 'an image was neither kept nor mirrored');
  const share = mirrored.float().mean().item();
  assert.ok(Math.abs(share - 0.3) < 0.07, `flipped share ${share}`);
  assert.ok(randomFlip(x, 0.3, 'horizontal', new Rng(7)).equal(y));
});
