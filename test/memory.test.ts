// Tensor lifetimes (docs/architecture.md §2): torch.scope, torch.keep, dispose() and
// finalizers free every native tensor exactly once, and a long loop holds
// steady memory. Run with --expose-gc (npm test does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { torch, Tensor } from 'arsenal';

const gc = (globalThis as { gc?: () => void }).gc;
const live = (): number => torch.memory().tensors;

/** Collects garbage and lets FinalizationRegistry callbacks run (they are queued as tasks). */
async function collect(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc?.();
    await tick();
  }
}

test('tests run with --expose-gc', () => {
  assert.equal(typeof gc, 'function', 'run with node --expose-gc (npm test passes it)');
});

// ---- (a) a long loop of small ops holds steady memory -----------------------------------------------

test('100k scoped iterations of small ops hold resident memory and the tensor count steady', async () => {
  await collect();
  const start = live();
  let acc = 0;
  const step = (): number =>
    torch.scope(() => {
      const a = torch.randn(4, 4);
      const b = a.add(1).mul(a);
      return b.sum().item();
    });
  for (let i = 0; i < 10_000; i++) acc += step();
  await collect();
  assert.equal(live(), start, 'tensors left alive after the warm-up');
  const rssWarm = process.memoryUsage().rss;
  for (let i = 0; i < 90_000; i++) {
    acc += step();
    if (i % 30_000 === 0) await tick();
  }
  await collect();
  const rssEnd = process.memoryUsage().rss;
  assert.ok(Number.isFinite(acc));
  assert.equal(live(), start, 'tensors left alive after 100k iterations');
  const growthMB = (rssEnd - rssWarm) / 2 ** 20;
  assert.ok(growthMB < 50, `resident memory grew ${growthMB.toFixed(1)} MB over 90k iterations after warm-up`);
});

// ---- (b) scope semantics --------------------------------------------------------------------------------

test('scope frees what it does not return; the returned tensor survives with its value', () => {
  const start = live();
  let inner: Tensor[] = [];
  const out = torch.scope(() => {
    const a = torch.ones(3);
    const b = a.mul(2);
    const c = b.add(1);
    inner = [a, b];
    return c;
  });
  assert.ok(inner.every((t) => t.isDisposed), 'temporaries freed');
  assert.equal(out.isDisposed, false);
  assert.deepEqual(out.toArray(), [3, 3, 3]);
  assert.equal(live(), start + 1);
  out.dispose();
  assert.equal(live(), start);
});

test('a returned tensor moves to the enclosing scope and is freed when that one ends', () => {
  const start = live();
  let fromInner!: Tensor;
  let innerTemp!: Tensor;
  const outer = torch.scope(() => {
    fromInner = torch.scope(() => {
      innerTemp = torch.zeros(2);
      return innerTemp.add(5);
    });
    assert.equal(innerTemp.isDisposed, true, 'inner temporary freed at inner scope end');
    assert.equal(fromInner.isDisposed, false, 'inner result alive in the outer scope');
    return fromInner.mul(2);
  });
  assert.equal(fromInner.isDisposed, true, 'inner result freed with the outer scope (it was not returned from it)');
  assert.deepEqual(outer.toArray(), [10, 10]);
  outer.dispose();
  assert.equal(live(), start);
});

test('a tensor returned through two scopes survives both', () => {
  const start = live();
  const t = torch.scope(() => torch.scope(() => torch.scope(() => torch.full([2], 7))));
  assert.equal(t.isDisposed, false);
  assert.deepEqual(t.toArray(), [7, 7]);
  t.dispose();
  assert.equal(live(), start);
});

test('torch.keep survives every scope and is freed by dispose()', () => {
  const start = live();
  let kept!: Tensor;
  let method!: Tensor;
  let other!: Tensor;
  torch.scope(() => {
    torch.scope(() => {
      kept = torch.keep(torch.ones(2));
      method = torch.zeros(2).keep();
      other = torch.ones(2);
    });
    assert.equal(other.isDisposed, true);
  });
  assert.equal(kept.isDisposed, false);
  assert.equal(method.isDisposed, false);
  assert.deepEqual(kept.toArray(), [1, 1]);
  assert.equal(live(), start + 2);
  kept.dispose();
  method.dispose();
  assert.equal(kept.isDisposed, true);
  assert.equal(live(), start);
});

test('an exception inside a scope still frees its tensors (but not kept ones) and propagates', () => {
  const start = live();
  let made: Tensor[] = [];
  let kept!: Tensor;
  assert.throws(
    () =>
      torch.scope(() => {
        made = [torch.ones(4), torch.zeros(4)];
        kept = torch.keep(torch.ones(1));
        torch.scope(() => {
          made.push(torch.randn(3));
          throw new Error('boom');
        });
      }),
    /boom/,
  );
  assert.ok(made.length === 3 && made.every((t) => t.isDisposed), 'tensors of both scopes freed');
  assert.equal(kept.isDisposed, false);
  kept.dispose();
  assert.equal(live(), start);
  assert.equal(torch.inScope(), false, 'the scope stack unwound');
});

test('an exception from a native operator inside a scope frees the scope', () => {
  const start = live();
  assert.throws(() =>
    torch.scope(() => {
      const a = torch.ones(2, 3);
      const b = torch.ones(4, 5);
      return a.matmul(b); // shape mismatch: a JS Error, not a crash
    }),
  );
  assert.equal(live(), start);
});

test('returning arrays, plain objects, Maps and nested structures of tensors keeps them', () => {
  const start = live();
  let dropped!: Tensor;
  const r = torch.scope(() => {
    dropped = torch.ones(1);
    return {
      list: [torch.ones(1), torch.zeros(1)],
      obj: { a: torch.full([1], 3), deep: { b: [torch.full([1], 4)] } },
      map: new Map([['m', torch.full([1], 5)]]),
      n: 42,
      s: 'x',
    };
  });
  assert.equal(dropped.isDisposed, true);
  const all = [...r.list, r.obj.a, r.obj.deep.b[0], r.map.get('m')!];
  assert.ok(all.every((t) => !t.isDisposed), 'every returned tensor survived');
  assert.deepEqual(all.map((t) => t.item()), [1, 0, 3, 4, 5]);
  assert.equal(r.n, 42);
  assert.equal(live(), start + 5);
  torch.dispose(r.list);
  torch.dispose({ a: r.obj.a, b: r.obj.deep.b[0] });
  r.map.get('m')!.dispose();
  assert.equal(live(), start);
});

test('an array returned from a nested scope can be returned again from the outer one', () => {
  const start = live();
  const [a, b] = torch.scope(() => {
    const pair = torch.scope(() => [torch.ones(2), torch.zeros(2)]);
    torch.ones(3); // a temporary of the outer scope
    return pair;
  });
  assert.equal(a.isDisposed || b.isDisposed, false);
  assert.equal(live(), start + 2);
  torch.dispose([a, b]);
  assert.equal(live(), start);
});

test('a scope whose function returns a Promise is refused and frees its tensors', () => {
  const start = live();
  let t!: Tensor;
  assert.throws(
    () =>
      torch.scope((async () => {
        t = torch.ones(1);
        return t;
      }) as () => unknown),
    /Promise/,
  );
  assert.equal(t.isDisposed, true);
  assert.equal(live(), start);
});

test('tensors read back from a scope result (grad, views) are freed with the scope', () => {
  const start = live();
  const w = torch.ones(3, { requiresGrad: true });
  torch.scope(() => {
    const loss = w.mul(w).sum();
    loss.backward();
    const g = w.grad!;
    assert.deepEqual(g.toArray(), [2, 2, 2]);
    const v = w.view(3, 1);
    assert.equal(v.isDisposed, false);
  });
  assert.equal(live(), start + 1, 'only w is left (its grad lives inside w, not as a handle)');
  w.dispose();
  assert.equal(live(), start);
});

// ---- (c) finalizers free unscoped tensors -----------------------------------------------------------------

test('20k unscoped 1 MB tensors never disposed: finalizers keep memory bounded', async () => {
  await collect();
  const base = torch.memory().bytes;
  const MB = 2 ** 20;
  const LIMIT = 512 * MB; // would be 20 GB if finalizers never ran
  let peak = 0;
  for (let i = 0; i < 20_000; i++) {
    const t = torch.empty(MB / 4); // 1 MB, float32, not disposed, not scoped
    if (t.numel() !== MB / 4) assert.fail('bad size');
    if (i % 100 === 99) {
      gc!();
      await tick();
      const now = torch.memory().bytes - base;
      peak = Math.max(peak, now);
      // Fail early (instead of exhausting the machine) if finalizers do not run.
      if (now > LIMIT) assert.fail(`native memory reached ${(now / MB).toFixed(0)} MB after ${i + 1} unscoped 1 MB tensors`);
    }
  }
  await collect();
  const after = torch.memory().bytes - base;
  assert.ok(peak <= LIMIT, `peak ${(peak / MB).toFixed(0)} MB`);
  assert.ok(after < 16 * MB, `after a final collection ${(after / MB).toFixed(1)} MB of unscoped tensors are still alive`);
});

test('without explicit gc() calls, native memory reported to V8 triggers collection', async () => {
  await collect();
  const base = torch.memory().bytes;
  const MB = 2 ** 20;
  const LIMIT = 1024 * MB; // 3000 MB in total if V8 never learns of the native memory
  let peak = 0;
  for (let i = 0; i < 3000; i++) {
    torch.empty(MB / 4); // 1 MB, never disposed (empty: the pages are not touched, so this stays fast)
    if (i % 50 === 49) {
      await tick(); // finalizer callbacks run between tasks
      const now = torch.memory().bytes - base;
      peak = Math.max(peak, now);
      if (now > LIMIT) assert.fail(`native memory reached ${(now / MB).toFixed(0)} MB after ${i + 1} MB allocated with no gc() call`);
    }
  }
  await collect();
  assert.ok(peak <= LIMIT);
});

// ---- (d) double frees --------------------------------------------------------------------------------------

test('dispose() twice is a no-op', () => {
  const start = live();
  const keepAlive = torch.ones(2); // a neighbour that a double free could hit
  const t = torch.ones(2);
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.equal(live(), start + 1);
  t.dispose();
  torch.dispose(t);
  assert.equal(live(), start + 1);
  assert.equal(keepAlive.isDisposed, false);
  assert.deepEqual(keepAlive.toArray(), [1, 1]);
  assert.throws(() => t.add(1), /disposed|freed|invalid|handle/i, 'using a disposed tensor is a JS error');
  keepAlive.dispose();
  assert.equal(live(), start);
});

test('dispose() inside a scope, then the scope ends: no double free of a reused slot', () => {
  const start = live();
  let later!: Tensor;
  const out = torch.scope(() => {
    const t = torch.ones(2);
    t.dispose();
    t.dispose();
    later = torch.zeros(3); // may reuse t's native slot
    return later;
  });
  assert.equal(out.isDisposed, false, 'the tensor that reused the slot is alive');
  assert.deepEqual(out.toArray(), [0, 0, 0]);
  assert.equal(live(), start + 1);
  out.dispose();
  assert.equal(live(), start);
});

test('disposing a returned tensor before the outer scope ends is consistent', () => {
  const start = live();
  torch.scope(() => {
    const r = torch.scope(() => torch.ones(2));
    r.dispose();
    assert.equal(live(), start);
    torch.ones(1);
  });
  assert.equal(live(), start);
});

test('a stale handle (slot reused with a new generation) never aliases the new tensor', () => {
  const start = live();
  const t = torch.ones(2);
  const stale = t.h;
  t.dispose();
  const fresh: Tensor[] = [];
  for (let i = 0; i < 8; i++) fresh.push(torch.full([2], i)); // one of these reuses the slot
  const ghost = new Tensor(stale);
  assert.equal(ghost.isDisposed, true);
  assert.throws(() => ghost.add(1));
  ghost.dispose(); // frees nothing
  assert.deepEqual(fresh.map((f) => f.toArray()[0]), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(live(), start + 8);
  torch.dispose(fresh);
  assert.equal(live(), start);
});

test('a disposed unscoped tensor collected later does not free the slot a new tensor took', async () => {
  const start = live();
  let fresh: Tensor[] = [];
  (() => {
    const ts = Array.from({ length: 16 }, () => torch.ones(2));
    for (const t of ts) t.dispose();
    fresh = Array.from({ length: 16 }, (_, i) => torch.full([2], i));
  })();
  await collect(); // the disposed wrappers are garbage now
  assert.ok(fresh.every((f, i) => !f.isDisposed && f.toArray()[0] === i));
  assert.equal(live(), start + 16);
  torch.dispose(fresh);
  assert.equal(live(), start);
});

test('a kept tensor that is later disposed is not freed again by its finalizer', async () => {
  const start = live();
  (() => {
    const k = torch.scope(() => torch.keep(torch.ones(2)));
    k.dispose();
  })();
  const survivor = torch.ones(2);
  await collect();
  assert.equal(survivor.isDisposed, false);
  assert.equal(live(), start + 1);
  survivor.dispose();
});
