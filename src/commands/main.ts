#!/usr/bin/env node
// The `arsenal` command: train, test, ensemble, pseudo-label, augment, eval-seg, eval-coco, data, info, start.
// The commands sit above the engine (docs/architecture.md); each is also a function for code.
import { existsSync } from 'node:fs';
import { basename, join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, intFlag } from './args.js';
import { loadConfig } from '../engine/load_config.js';
import { DEFAULT_TTA } from '../infer/tta.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const USAGE = `usage:
  arsenal train <config.ts> [--set a.b=value]... [--work-dir DIR] [--seed N] [--epochs N] [--budget 10m] [--resume] [--stop-after-epoch E]
                [--nproc N [--nnodes M --node-rank R --master-addr HOST --master-port PORT]]   data-parallel over N processes (c10d, Gloo)
  arsenal test <config.ts> --checkpoint FILE [--tta] [--panels 8 | --no-predictions] [--set a.b=value]... [--work-dir DIR]
  arsenal ensemble <config.ts>... --checkpoint FILE --checkpoint FILE... [--merge mean|logits|gmean|max|vote] [--weights 1,1,2] [--tta] [--work-dir DIR]
  arsenal augment <config.ts> --out grid.png [--n 16] [--seed N] [--epoch E] [--scenes]
  arsenal pseudo-label <config.ts> [--labelled 0.1] [--threshold 0.9 | --top-k N] [--soft] [--rounds 1] [--teacher-epochs N] [--teachers N] [--student-init scratch|teacher] [--min-labelled-share S] [--student-set a.b=value]... [--control] [--resume] [--tta] [--set a.b=value]... [--work-dir DIR]
  arsenal eval-seg --pred DIR --gt DIR --num-classes K [--names FILE] [--ignore-index 255] [--reduce-zero-label] [--classes a,b,c] [--work-dir DIR]
  arsenal eval-coco GT.json RESULTS.json [--work-dir DIR]   COCO bbox mAP as pycocotools computes it
  arsenal data scenes --out DIR [--train 3000] [--val 500] [--size 192] [--seed 0] [--max-objects 6] [--overwrite]   emoji pasted on photos: mmseg, VOC, COCO, crops
  arsenal info
  arsenal start [--budget 10m | --full] [--epochs N] [--set a.b=value]... [--work-dir DIR]   the main job: the Fashion-MNIST tricks recipe in a 10-minute budget, with a result table`;

function workDirFor(config: string, flag: string | true | undefined): string {
  if (typeof flag === 'string') return flag;
  return join('work_dirs', basename(config).replace(/\.[mc]?[jt]s$/, ''));
}

const LAUNCH_FLAGS = ['nproc', 'nnodes', 'node-rank', 'master-addr', 'master-port'];

async function train(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['resume', 'quiet'], value: ['work-dir', 'seed', 'epochs', 'budget', 'stop-after-epoch', ...LAUNCH_FLAGS] });
  if (p.positional.length !== 1) throw new TypeError(`train: expected one config file\n${USAGE}`);
  const workDir = workDirFor(p.positional[0], p.flags.get('work-dir'));
  const nproc = intFlag(p, 'nproc');
  if (nproc === undefined && LAUNCH_FLAGS.some((f) => p.flags.has(f))) throw new TypeError('train: --nnodes, --node-rank, --master-addr and --master-port go with --nproc N');
  if (nproc !== undefined && !process.env.WORLD_SIZE) {
    // The launcher: the same command in nproc workers, without its own flags.
    const { launch } = await import('./launch.js');
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const name = argv[i].startsWith('--') ? argv[i].slice(2).split('=')[0] : null;
      if (name && LAUNCH_FLAGS.includes(name)) { if (!argv[i].includes('=')) i++; continue; }
      rest.push(argv[i]);
    }
    const masterPort = p.flags.has('master-port') ? Number(p.flags.get('master-port')) : undefined;
    const masterAddr = p.flags.get('master-addr');
    await launch(['train', ...rest], { nproc, nnodes: intFlag(p, 'nnodes'), nodeRank: intFlag(p, 'node-rank'), masterAddr: typeof masterAddr === 'string' ? masterAddr : undefined, masterPort, workDir });
    if (!intFlag(p, 'node-rank')) console.log(`wrote ${join(workDir, 'metrics.json')}`);
    return;
  }
  const sets = [...p.sets];
  const seed = intFlag(p, 'seed');
  const epochs = intFlag(p, 'epochs');
  if (seed !== undefined) sets.push(`seed=${seed}`);
  if (epochs !== undefined) sets.push(`train.epochs=${epochs}`);
  const budget = p.flags.get('budget');
  if (budget === true) throw new TypeError("train: --budget needs a duration such as '10m'");
  if (budget !== undefined) sets.push(`train.budget=${budget}`);
  const cfg = await loadConfig(p.positional[0], sets);
  const { Trainer } = await import('../engine/trainer.js');
  // A worker of a data-parallel run (this launcher's or torchrun's environment) joins its group first.
  const { joinFromEnvironment } = await import('./launch.js');
  const worker = joinFromEnvironment();
  // --stop-after-epoch E: the run stops after epoch E's checkpoint; --resume continues it (on any number of processes).
  const trainer = new Trainer(cfg, { workDir, resume: p.flags.has('resume'), quiet: p.flags.has('quiet'), stopAfterEpoch: intFlag(p, 'stop-after-epoch') });
  const r = await trainer.fit();
  if (worker) (await import('../distributed/index.js')).destroyProcessGroup();
  if (!trainer.isMain) return;
  console.log(JSON.stringify(r, null, 2));
  if (!worker) console.log(`wrote ${join(workDir, 'metrics.json')}`);
}

async function test(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['quiet', 'tta', 'no-predictions'], value: ['work-dir', 'checkpoint', 'panels'] });
  if (p.positional.length !== 1) throw new TypeError(`test: expected one config file\n${USAGE}`);
  // --no-predictions: the metrics only, no prediction files (segmentation: no pred_masks/ nor panels/).
  if (p.flags.has('no-predictions') && p.flags.has('panels')) throw new TypeError('test: --panels draws prediction files, --no-predictions writes none; give one');
  const ckpt = p.flags.get('checkpoint');
  if (typeof ckpt !== 'string') throw new TypeError('test: --checkpoint FILE is required (a .safetensors state dict)');
  if (!existsSync(ckpt)) throw new Error(`test: checkpoint '${ckpt}' does not exist`);
  const cfg = await loadConfig(p.positional[0], p.sets);
  const { evaluateCheckpoint } = await import('./test.js');
  const workDir = workDirFor(p.positional[0], p.flags.get('work-dir'));
  const r = await evaluateCheckpoint(cfg, ckpt, workDir, { tta: p.flags.has('tta'), quiet: p.flags.has('quiet'), panels: intFlag(p, 'panels'), predictions: !p.flags.has('no-predictions') });
  console.log(JSON.stringify(r, null, 2));
}

async function ensemble(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['tta'], value: ['work-dir', 'merge', 'weights'], repeat: ['checkpoint'] });
  const ckpts = p.lists.get('checkpoint') ?? [];
  const configs = p.positional;
  if (configs.length === 0 || ckpts.length < 2) throw new TypeError(`ensemble: expected one config per checkpoint (or one config for all) and at least 2 --checkpoint files\n${USAGE}`);
  if (configs.length !== 1 && configs.length !== ckpts.length) throw new TypeError(`ensemble: ${configs.length} configs for ${ckpts.length} checkpoints; give one config for all, or one per checkpoint`);
  const m = p.flags.get('merge');
  if (m === true) throw new TypeError('ensemble: --merge needs a value (mean, logits, gmean, max or vote)');
  const w = p.flags.get('weights');
  const weights = typeof w === 'string' ? w.split(',').map(Number) : undefined;
  if (weights && (weights.length !== ckpts.length || weights.some((x) => !(x >= 0)))) throw new TypeError(`ensemble: --weights needs ${ckpts.length} non-negative numbers, got '${w}'`);
  const members = [];
  for (let i = 0; i < ckpts.length; i++) {
    const config = configs.length === 1 ? configs[0] : configs[i];
    members.push({ config, cfg: await loadConfig(config, p.sets), checkpoint: ckpts[i] });
  }
  const { runEnsemble } = await import('./ensemble.js');
  const workDir = typeof p.flags.get('work-dir') === 'string' ? (p.flags.get('work-dir') as string) : 'work_dirs/ensemble';
  await runEnsemble(members, { merge: m, weights, tta: p.flags.has('tta'), workDir });
}

async function pseudoLabelCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['soft', 'tta', 'quiet', 'control', 'resume'], value: ['labelled', 'threshold', 'top-k', 'rounds', 'teacher-epochs', 'teachers', 'student-init', 'min-labelled-share', 'work-dir'], repeat: ['student-set'] });
  if (p.positional.length !== 1) throw new TypeError(`pseudo-label: expected one config file\n${USAGE}`);
  const num = (name: string) => {
    const v = p.flags.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new TypeError(`--${name}: expected a number, got '${String(v)}'`);
    return n;
  };
  const cfg = await loadConfig(p.positional[0], p.sets);
  const { pseudoLabel } = await import('./pseudo_label.js');
  const workDir = workDirFor(p.positional[0], p.flags.get('work-dir')) + (p.flags.get('work-dir') ? '' : '-pseudo-label');
  await pseudoLabel(cfg, {
    labelledShare: num('labelled'), threshold: num('threshold'), topK: intFlag(p, 'top-k'), soft: p.flags.has('soft'), rounds: intFlag(p, 'rounds'),
    teacherEpochs: intFlag(p, 'teacher-epochs'), teachers: intFlag(p, 'teachers'), control: p.flags.has('control'), studentInit: p.flags.get('student-init') as 'scratch' | 'teacher' | undefined,
    minLabelledShare: num('min-labelled-share'), student: p.lists.get('student-set'),
    tta: p.flags.has('tta') ? cfg.tta ?? DEFAULT_TTA : undefined, workDir, quiet: p.flags.has('quiet'), resume: p.flags.has('resume'),
  });
}

async function evalSegCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['reduce-zero-label', 'quiet'], value: ['pred', 'gt', 'num-classes', 'names', 'ignore-index', 'classes', 'work-dir'] });
  const pred = p.flags.get('pred'), gt = p.flags.get('gt');
  if (typeof pred !== 'string' || typeof gt !== 'string') throw new TypeError(`eval-seg: --pred DIR and --gt DIR are required\n${USAGE}`);
  const numClasses = intFlag(p, 'num-classes');
  if (!numClasses) throw new TypeError('eval-seg: --num-classes K (a positive integer) is required');
  const classes = typeof p.flags.get('classes') === 'string' ? (p.flags.get('classes') as string).split(',') : undefined;
  if (classes && classes.length !== numClasses) throw new TypeError(`eval-seg: --classes names ${classes.length} classes, --num-classes is ${numClasses}`);
  const { evalSeg } = await import('./eval_seg.js');
  const workDir = typeof p.flags.get('work-dir') === 'string' ? (p.flags.get('work-dir') as string) : join('work_dirs', 'eval_seg');
  const names = p.flags.get('names');
  if (names === true) throw new TypeError('eval-seg: --names needs a file (one mask name a line)');
  evalSeg(pred, gt, { numClasses, ignoreIndex: intFlag(p, 'ignore-index'), reduceZeroLabel: p.flags.has('reduce-zero-label'), classes, names, workDir, quiet: p.flags.has('quiet') });
}

async function evalCocoCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['quiet'], value: ['work-dir'] });
  if (p.positional.length !== 2) throw new TypeError(`eval-coco: expected GT.json RESULTS.json (a COCO instances file and a results list), got ${p.positional.length} paths\n${USAGE}`);
  const { evalCoco } = await import('./eval_coco.js');
  const workDir = typeof p.flags.get('work-dir') === 'string' ? (p.flags.get('work-dir') as string) : join('work_dirs', 'eval_coco');
  evalCoco(p.positional[0], p.positional[1], { workDir, quiet: p.flags.has('quiet') });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'train': return train(rest);
    case 'test': return test(rest);
    case 'info': return (await import('./info.js')).info(repo);
    case 'ensemble': return ensemble(rest);
    case 'pseudo-label': return pseudoLabelCommand(rest);
    case 'augment': return (await import('./augment.js')).augmentCommand(rest);
    case 'start': return (await import('./start.js')).start(rest);
    case 'eval-seg': return evalSegCommand(rest);
    case 'eval-coco': return evalCocoCommand(rest);
    case 'data': return (await import('./data.js')).dataCommand(rest);
    case undefined: case 'help': case '--help': case '-h': console.log(USAGE); return;
    default: throw new TypeError(`unknown command '${cmd}'\n${USAGE}`);
  }
}

main().catch((e: Error) => {
  console.error(`arsenal: ${e.message}`);
  if (process.env.ARSENAL_DEBUG) console.error(e.stack);
  process.exitCode = 1;
});
