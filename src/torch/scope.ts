// Tensor lifetimes (docs/architecture.md §2). Every tensor is freed exactly once, by
// whichever comes first: dispose(), the end of the torch.scope it was made in,
// or — as the last resort — its finalizer. The native table's generation check
// makes a second free a no-op, so the three paths cannot double-free.
// Tensors left to their finalizer are "unowned" and counted (leaks.ts); kept
// ones (torch.keep: parameters, buffers, optimizer state) are owned and are
// marked in the native table so their finalizer does not uncount them.
import { native } from './native.js';
import { noteUnowned, noteOwned } from './leaks.js';

/** What scopes need to know of a tensor (implemented by Tensor). */
export interface Owned {
  h: number; // native handle; 0 once freed
  _flags: number;
}

export const F_REGISTERED = 1; // has a finalizer registration
export const F_KEEP = 2; // escapes every scope (torch.keep)
export const F_RETURNED = 4; // transient: returned from the scope being closed
export const F_COUNTED = 8; // counted as unowned (registered, not kept, not yet freed)

// finalize() says whether the tensor it freed was kept (2) or unowned (1), as
// a tensor may be kept after registration (a Parameter is) and the held
// value cannot change.
const registry = new FinalizationRegistry<number>((h) => {
  if (native.finalize(h) === 1) noteOwned(h);
});

let current: Owned[] | null = null;
const stack: Owned[][] = [];

/** Called by the Tensor constructor. Inside a scope the scope owns the tensor;
 * outside, a finalizer does (registering is what makes an unscoped op cost more). */
export function track(t: Owned): void {
  if (current !== null) current.push(t);
  else register(t);
}

// Registered without an unregister token (the token makes each registration
// about twice as expensive): a finalizer that runs after dispose() frees a
// handle that is already dead, which the native table's generation check
// turns into a no-op (slots are retired, never reused, when their generation
// runs out, so a stale handle never matches a live tensor).
function register(t: Owned): void {
  registry.register(t, t.h);
  if (t._flags & F_KEEP) t._flags |= F_REGISTERED;
  else {
    t._flags |= F_REGISTERED | F_COUNTED;
    noteUnowned(t.h);
  }
}

function uncount(t: Owned): void {
  t._flags &= ~F_COUNTED;
  noteOwned(t.h);
}

export function release(t: Owned): void {
  if (t.h === 0) return;
  if (t._flags & F_COUNTED) uncount(t);
  native.free(t.h);
  t.h = 0;
}

function adopt(t: Owned): void {
  if (current !== null) current.push(t);
  else if (!(t._flags & F_REGISTERED)) register(t);
}

/** Whether torch.keep marked the tensor (parameters, buffers, optimizer state): no scope frees it. */
export function isKept(t: Owned): boolean {
  return (t._flags & F_KEEP) !== 0;
}

export function inScope(): boolean {
  return current !== null;
}

/** Marks a tensor to outlive every enclosing scope; it is then freed by dispose() or its finalizer. */
export function keep<T extends Owned>(t: T): T {
  if (t._flags & F_COUNTED) uncount(t);
  if (!(t._flags & F_KEEP) && t.h !== 0) native.markKept(t.h);
  t._flags |= F_KEEP;
  return t;
}

function isOwned(x: unknown): x is Owned {
  return typeof x === 'object' && x !== null && typeof (x as Owned).h === 'number' && typeof (x as Owned)._flags === 'number';
}

// Marks (on) or unmarks the tensors in what a scope returns: a tensor, or
// arrays / plain objects / Maps holding tensors (a few levels deep).
function markReturned(x: unknown, depth: number, on = true): void {
  if (depth > 4 || x === null || typeof x !== 'object') return;
  if (isOwned(x)) {
    if (on) x._flags |= F_RETURNED;
    else x._flags &= ~F_RETURNED;
    return;
  }
  if (Array.isArray(x)) {
    for (const e of x) markReturned(e, depth + 1, on);
  } else if (x instanceof Map) {
    for (const e of x.values()) markReturned(e, depth + 1, on);
  } else if (Object.getPrototypeOf(x) === Object.prototype) {
    for (const k in x) markReturned((x as Record<string, unknown>)[k], depth + 1, on);
  }
}

function close(list: Owned[], result: unknown): void {
  stack.pop();
  current = stack.length > 0 ? stack[stack.length - 1] : null;
  markReturned(result, 0);
  const dead: number[] = [];
  for (const t of list) {
    if (t.h === 0) continue;
    if (t._flags & (F_KEEP | F_RETURNED)) {
      t._flags &= ~F_RETURNED;
      if (t._flags & F_KEEP) {
        if (!(t._flags & F_REGISTERED)) register(t);
      } else adopt(t);
      continue;
    }
    if (t._flags & F_COUNTED) uncount(t); // not expected: registered tensors are not in a scope's list
    dead.push(t.h);
    t.h = 0;
  }
  if (dead.length > 0) native.freeMany(dead);
  // A returned tensor of an enclosing scope (e.g. an Identity's input) is not in
  // this list: unmark it, or that scope would move it on instead of freeing it.
  if (result !== null && typeof result === 'object') markReturned(result, 0, false);
}

/**
 * Runs fn and frees every tensor created inside it, except what fn returns
 * (moved to the enclosing scope) and what it passed to torch.keep.
 * Synchronous only: a function returning a Promise is refused.
 */
export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('torch.scope: expected a function');
  const list: Owned[] = [];
  stack.push(list);
  current = list;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(list, undefined);
    throw e;
  }
  if (result instanceof Promise || (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function')) {
    close(list, undefined);
    throw new TypeError('torch.scope: fn returned a Promise; scopes are synchronous (await outside the scope, and scope each synchronous step)');
  }
  close(list, result);
  return result;
}
