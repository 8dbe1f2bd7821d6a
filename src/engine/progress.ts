// A console progress line (epoch, iteration, ETA, images/s, loss, lr) that
// redraws in place on a terminal and prints plain lines every logInterval otherwise.
export class Progress {
  private readonly tty = Boolean(process.stdout.isTTY);
  private lastDraw = 0;
  constructor(private readonly logInterval: number) {}

  update(s: { epoch: number; epochs: number; iter: number; iters: number; loss: number; lr: number; imagesPerSecond: number; etaSeconds: number }): void {
    const line = `epoch ${s.epoch}/${s.epochs} ${bar(s.iter / s.iters)} ${s.iter}/${s.iters}  loss ${s.loss.toFixed(4)}  lr ${s.lr.toExponential(2)}  ${s.imagesPerSecond.toFixed(0)} img/s  ETA ${fmt(s.etaSeconds)}`;
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw < 100 && s.iter !== s.iters) return;
      this.lastDraw = now;
      process.stdout.write(`\r${line}\x1b[K`);
    } else if (s.iter % this.logInterval === 0 || s.iter === s.iters) {
      console.log(line);
    }
  }
  /** Ends the in-place line before other output. */
  done(): void {
    if (this.tty) process.stdout.write('\n');
  }
}

function bar(frac: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(frac * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

export function fmt(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(r).padStart(2, '0')}s`;
}
