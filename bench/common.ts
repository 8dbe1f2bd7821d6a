// Helpers shared by the TypeScript benchmarks: argument parsing, medians, and
// the small line protocol bench/compare.ts drives them with.
//
// Protocol (--serve): after its set-up and warm-up a benchmark prints
//   READY {json info}
// then answers each line `run` on stdin with one block of measurements,
//   RESULT {"samples": {metric: [values...]}}
// and exits on `quit` or end of input. The driver alternates short blocks
// between the Arsenal and the PyTorch processes, so background load on a shared
// machine falls on both sides alike.
import { createInterface } from 'node:readline';

/** Parses `--name value`, `--name=value` and `--flag` arguments. */
export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new TypeError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

export function intArg(args: Map<string, string>, name: string, dflt: number): number {
  const v = args.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name}: expected a positive integer, got '${v}'`);
  return n;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Monotonic clock in milliseconds (sub-microsecond resolution). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export type Samples = Record<string, number[]>;

export function merge(into: Samples, from: Samples): Samples {
  for (const [k, xs] of Object.entries(from)) (into[k] ??= []).push(...xs);
  return into;
}

/** Prints medians (and min..max) of each metric; the unit comes from the name (_ms, _us). */
export function printSummary(title: string, info: Record<string, unknown>, samples: Samples): void {
  console.log(`${title} ${JSON.stringify(info)}`);
  for (const [k, xs] of Object.entries(samples)) {
    const unit = k.endsWith('_ms') ? 'ms' : k.endsWith('_us') ? 'µs/call' : '';
    console.log(`  ${k.padEnd(24)} ${median(xs).toFixed(3).padStart(10)} ${unit.padEnd(7)}  (min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)}, n=${xs.length})`);
  }
}

/** Answers the driver's `run` lines with one block each (see the protocol above). */
export async function serve(info: Record<string, unknown>, block: () => Samples | Promise<Samples>): Promise<void> {
  console.log('READY ' + JSON.stringify(info));
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === 'quit') break;
    if (cmd !== 'run') {
      console.log('ERROR ' + JSON.stringify({ message: `unknown command '${cmd}'` }));
      continue;
    }
    const samples = await block();
    console.log('RESULT ' + JSON.stringify({ samples }));
  }
  rl.close();
}
