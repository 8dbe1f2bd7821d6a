// `arsenal train CONFIG --nproc N`: torchrun for Arsenal. Spawns N workers of
// the same command, each with torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, TORCHELASTIC_RUN_ID; MASTER_ADDR/MASTER_PORT
// across machines), its intra-op threads set so workers × threads ≤ cores, and
// watches them: when one fails (an error, a signal) the others are stopped and
// the failed rank is named, as torchrun's elastic agent does. On one machine
// the rendezvous is a FileStore in the work dir (nothing listens on the
// network); across machines (--nnodes N --node-rank R --master-addr HOST
// --master-port P) a TCPStore on node 0 — libtorch 1.13's listens on every
// interface, so run it on a trusted network.
//
// A worker (WORLD_SIZE set, as by this launcher or by torchrun) joins the
// group before training: joinFromEnvironment().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import * as distributed from '../distributed/index.js';

export interface LaunchOptions {
  /** Workers on this machine. */
  nproc: number;
  /** Machines (default 1), this one's index (default 0), node 0's address and port (several machines). */
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** The run's work dir (the FileStore goes under it). */
  workDir: string;
}

/** Checks the launcher's options; errors name the flag. */
export function checkLaunch(o: LaunchOptions): Required<Omit<LaunchOptions, 'masterAddr' | 'masterPort'>> & { masterAddr?: string; masterPort?: number } {
  const int = (v: unknown, flag: string, min: number) => {
    if (!Number.isInteger(v) || (v as number) < min) throw new TypeError(`train: --${flag} must be an integer >= ${min}, got ${String(v)}`);
    return v as number;
  };
  const nproc = int(o.nproc, 'nproc', 1), nnodes = int(o.nnodes ?? 1, 'nnodes', 1), nodeRank = int(o.nodeRank ?? 0, 'node-rank', 0);
  if (nodeRank >= nnodes) throw new RangeError(`train: --node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  if (nnodes > 1 && (!o.masterAddr || o.masterPort === undefined)) {
    throw new TypeError('train: several machines (--nnodes > 1) need --master-addr HOST and --master-port PORT given explicitly (node 0 hosts the store; a trusted network only)');
  }
  if (o.masterPort !== undefined && !(Number.isInteger(o.masterPort) && o.masterPort > 0 && o.masterPort < 65536)) throw new RangeError(`train: --master-port must be in 1-65535, got ${o.masterPort}`);
  return { nproc, nnodes, nodeRank, workDir: o.workDir, masterAddr: o.masterAddr, masterPort: o.masterPort };
}

/**
 * Runs `args` (a `train` command line, without the launcher's flags) in
 * nproc workers and resolves when all have finished; rejects naming the first
 * worker that failed, after stopping the others.
 */
export async function launch(args: string[], opts: LaunchOptions, script = process.argv[1]): Promise<void> {
  const o = checkLaunch(opts);
  const worldSize = o.nproc * o.nnodes;
  const threads = Math.max(1, Math.floor(availableParallelism() / o.nproc));
  // One id for the whole run, on every machine: node 0's store address (torchrun's --rdzv-id); one machine: this launcher.
  const runId = o.nnodes > 1 ? `arsenal-${o.masterAddr}:${o.masterPort}` : `arsenal-${process.pid}-${Date.now()}`;
  let storeDir: string | null = null;
  let init: string;
  if (o.nnodes > 1) init = `tcp://${o.masterAddr}:${o.masterPort}`;
  else {
    storeDir = resolve(o.workDir, '.dist', runId);
    mkdirSync(storeDir, { recursive: true });
    init = `file://${join(storeDir, 'store')}`;
  }
  const workers: ChildProcess[] = [];
  const stop = (signal: NodeJS.Signals) => { for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill(signal); };
  const onSignal = (s: NodeJS.Signals) => stop(s);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const exits = Array.from({ length: o.nproc }, (_, local) => {
      const rank = o.nodeRank * o.nproc + local;
      const env: NodeJS.ProcessEnv = {
        ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(o.nproc),
        GROUP_RANK: String(o.nodeRank), TORCHELASTIC_RUN_ID: runId, ARSENAL_DIST_INIT: init, OMP_NUM_THREADS: String(threads),
        ...(o.nnodes > 1 ? { MASTER_ADDR: o.masterAddr, MASTER_PORT: String(o.masterPort) } : {}),
      };
      const w = spawn(process.execPath, [script, ...args], { env, stdio: 'inherit' });
      workers.push(w);
      return new Promise<{ rank: number; pid: number; code: number | null; signal: NodeJS.Signals | null }>((res) => {
        w.on('exit', (code, signal) => res({ rank, pid: w.pid ?? -1, code, signal }));
        w.on('error', () => res({ rank, pid: -1, code: 127, signal: null }));
      });
    });
    // The first failure stops the rest (SIGTERM, then SIGKILL after 5 s): no worker waits for a dead peer.
    const failed = await new Promise<{ rank: number; pid: number; code: number | null; signal: NodeJS.Signals | null } | null>((res) => {
      let left = exits.length;
      for (const e of exits) e.then((r) => {
        if (r.code !== 0) res(r);
        else if (--left === 0) res(null);
      });
    });
    if (failed) {
      stop('SIGTERM');
      const kill = setTimeout(() => stop('SIGKILL'), 5000);
      await Promise.all(exits);
      clearTimeout(kill);
      const how = failed.signal ? `was killed by ${failed.signal}` : `exited with code ${failed.code}`;
      throw new Error(`train --nproc ${o.nproc}: worker rank ${failed.rank} (pid ${failed.pid}) ${how}; the other workers were stopped`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }
}

/**
 * In a worker (WORLD_SIZE > 1 in the environment: this launcher's or
 * torchrun's), joins the default process group: ARSENAL_DIST_INIT's init
 * method, else env:// (MASTER_ADDR, MASTER_PORT). Returns whether it joined.
 */
export function joinFromEnvironment(): boolean {
  const ws = Number(process.env.WORLD_SIZE ?? '1');
  if (!(ws > 1) || distributed.isInitialized()) return false;
  distributed.initProcessGroup({ backend: 'gloo', initMethod: process.env.ARSENAL_DIST_INIT ?? 'env://' });
  return true;
}
