// Memory figures and controls: torch.memory(), the peak, trimming freed heap
// back to the OS, and the unowned-tensor warning's threshold (leaks.ts).
import { native } from './native.js';
import { unownedCount } from './leaks.js';

export { setLeakWarningThreshold, leakWarningThreshold } from './leaks.js';

export interface MemoryInfo {
  /** Live tensor handles. */
  tensors: number;
  /** Bytes of their distinct storages (a view and its base count once). */
  bytes: number;
  /** The highest `bytes` since the start or the last resetPeakMemory(). */
  peakBytes: number;
  /** Live tensors no torch.scope owns and nobody kept (torch.keep, parameters, buffers, optimizer state): left to finalizers. */
  unowned: number;
  /** What the garbage collector is told the tensors cost: `bytes` + `tensors` × a fixed per-tensor overhead (native/src/memory.cc). */
  externalBytes: number;
}

/** Live tensor count, native bytes and their peak, unowned tensors. */
export function memory(): MemoryInfo {
  const m = native.memory();
  return { tensors: m.tensors, bytes: m.bytes, peakBytes: m.peakBytes, unowned: unownedCount(), externalBytes: m.externalBytes };
}

/** Starts a new peak: memory().peakBytes becomes the current bytes (torch.cuda.reset_peak_memory_stats). */
export function resetPeakMemory(): void {
  native.resetPeakMemory();
}

/**
 * Gives freed heap memory back to the OS (glibc malloc_trim) and returns the
 * bytes of resident memory released. The addon keeps freed memory between
 * steps on purpose (re-faulting it costs time); the trainer calls this after
 * each epoch and each evaluation, and the addon does it by itself when live
 * native memory has stayed far below its high-water mark for 5 s.
 */
export function trimMemory(): number {
  const before = process.memoryUsage.rss();
  native.trimMemory();
  return Math.max(0, before - process.memoryUsage.rss());
}
