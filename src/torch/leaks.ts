// Unowned tensors: live tensors that no torch.scope owns and nobody kept
// (torch.keep, which Parameters, module buffers and optimizer state use). They
// are freed only by dispose() or by their finalizer, and a finalizer runs only
// after a garbage collection AND a turn of the event loop: a synchronous loop
// that drops its results therefore grows native memory without bound. Past a
// threshold this module tells the user, once, how to fix it; with
// ARSENAL_TRACK_TENSORS=1 it also names the call site that created most of them.
// scope.ts keeps the count (one increment per unscoped result; nothing else
// on the hot path unless tracking is on).
import { fileURLToPath } from 'node:url';
import { dirname, sep } from 'node:path';

const DEFAULT_THRESHOLD = 50_000;

function envThreshold(): number {
  const v = process.env.ARSENAL_LEAK_WARNING_THRESHOLD;
  if (v === undefined || v === '') return DEFAULT_THRESHOLD;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : v === 'Infinity' || v === 'off' ? Infinity : DEFAULT_THRESHOLD;
}

let unowned = 0;
let threshold = envThreshold();
let warned = false;

// ---- tracking (ARSENAL_TRACK_TENSORS=1): call site of each unowned tensor -------------------------
const tracking = process.env.ARSENAL_TRACK_TENSORS === '1';
const siteOf = tracking ? new Map<number, string>() : null; // handle -> site
const liveAt = tracking ? new Map<string, number>() : null; // site -> live unowned tensors
const torchDir = dirname(fileURLToPath(import.meta.url)) + sep; // frames inside src/torch are Arsenal's plumbing

function callSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(1).map((l) => l.trim());
  const user = frames.filter((f) => !f.includes(torchDir) && !f.includes('node:internal'));
  return (user.length > 0 ? user : frames).slice(0, 6).join('\n    ');
}

function recordSite(h: number): void {
  const site = callSite();
  siteOf!.set(h, site);
  liveAt!.set(site, (liveAt!.get(site) ?? 0) + 1);
}

function forgetSite(h: number): void {
  const site = siteOf!.get(h);
  if (site === undefined) return;
  siteOf!.delete(h);
  const n = (liveAt!.get(site) ?? 1) - 1;
  if (n > 0) liveAt!.set(site, n);
  else liveAt!.delete(site);
}

/** The call site holding the most live unowned tensors (ARSENAL_TRACK_TENSORS=1), or null. */
export function topUnownedSite(): { site: string; count: number } | null {
  if (liveAt === null) return null;
  let best: { site: string; count: number } | null = null;
  for (const [site, count] of liveAt) if (best === null || count > best.count) best = { site, count };
  return best;
}

// ---- the count --------------------------------------------------------------------------------------
/** A tensor became unowned (registered with a finalizer, not kept). */
export function noteUnowned(h: number): void {
  if (siteOf !== null) recordSite(h);
  if (++unowned > threshold && !warned) warn();
}

/** An unowned tensor was disposed, kept, freed by a scope or finalized. */
export function noteOwned(h: number): void {
  unowned--;
  if (siteOf !== null) forgetSite(h);
}

export function unownedCount(): number {
  return unowned;
}

/**
 * Warn (once) when more than n live tensors are unowned; Infinity turns the
 * warning off. Setting it re-arms the warning. Default 50,000, or
 * ARSENAL_LEAK_WARNING_THRESHOLD.
 */
export function setLeakWarningThreshold(n: number): void {
  if (!(typeof n === 'number' && n >= 0 && (Number.isInteger(n) || n === Infinity)))
    throw new TypeError(`setLeakWarningThreshold: expected a non-negative integer or Infinity, got ${String(n)}`);
  threshold = n;
  warned = false;
}

export function leakWarningThreshold(): number {
  return threshold;
}

export function leakMessage(): string {
  let msg =
    `${unowned} live tensors are owned by no torch.scope, module or torch.keep (warning threshold ${threshold}). ` +
    'Each waits for a garbage collection and a turn of the event loop to be freed by its finalizer, and a synchronous loop ' +
    'allows neither, so native memory grows. Wrap each step in torch.scope(() => ...) (it frees what the step does not return), ' +
    'or call .dispose() (or torch.dispose(...)) on results you no longer need. ' +
    'Threshold: torch.setLeakWarningThreshold(n) or ARSENAL_LEAK_WARNING_THRESHOLD.';
  const top = topUnownedSite();
  if (top) msg += `\nMost of them (${top.count}) were created at:\n    ${top.site}`;
  else msg += ' Set ARSENAL_TRACK_TENSORS=1 to see where most of them are created.';
  return msg;
}

// Emitted synchronously as a process 'warning' (what process.emitWarning
// does on the next tick, which a synchronous loop never reaches): Node prints
// it unless --no-warnings, and process.on('warning') sees it.
function warn(): void {
  warned = true;
  const w = new Error(leakMessage());
  w.name = 'ArsenalMemoryWarning';
  (w as Error & { code: string }).code = 'ARSENAL_UNOWNED_TENSORS';
  process.emit('warning', w);
}
