// `arsenal ensemble`: several checkpoints (any architecture or seed, SWA and
// EMA weights included) predict the test set; each member's metrics and the
// ensemble's are printed as a table and written to the work dir as
// ensemble.json and ensemble.md.
import { join, basename } from 'node:path';
import { mkdirSync } from 'node:fs';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import type { Config } from './config.js';
import { loadForEvaluation } from './evaluate.js';
import { scoreLogits } from '../metrics/classification.js';
import { ensembleProbs, type EnsembleMerge } from '../infer/ensemble.js';

export interface Member { cfg: Config; config: string; checkpoint: string }
export interface Row { member: string; accuracy: number; balancedAccuracy: number; loss: number }

export async function runEnsemble(members: Member[], opts: { merge?: EnsembleMerge; weights?: number[]; tta?: boolean; workDir: string }): Promise<{ rows: Row[]; ensemble: Row }> {
  if (members.length < 2) throw new TypeError(`ensemble: expected at least 2 members, got ${members.length}`);
  const rows: Row[] = [];
  const logits: Tensor[] = [];
  let labels: Tensor | null = null;
  let classes: string[] | null = null;
  try {
    for (const m of members) {
      const t = await loadForEvaluation(m.cfg, m.checkpoint, opts.workDir);
      if (classes && t.classes.join('\u0000') !== classes.join('\u0000')) throw new TypeError(`ensemble: ${m.checkpoint} (${m.config}) has classes ${t.classes.join(', ')}; the first member has ${classes.join(', ')}`);
      classes ??= t.classes;
      const tta = opts.tta ? m.cfg.tta ?? { flips: ['h' as const] } : undefined;
      const p = await t.predict(t.model, tta);
      if (labels && !labels.equal(p.labels)) throw new TypeError(`ensemble: ${m.checkpoint} (${m.config}) was evaluated on a different test set than the first member`);
      if (labels) p.labels.dispose(); else labels = p.labels;
      logits.push(p.logits);
      rows.push({ member: `${basename(m.checkpoint)} (${basename(m.config)}, ${m.cfg.model.name})`, ...scoreLogits(p.logits, labels, t.numClasses) });
    }
    const merge = opts.merge ?? 'mean';
    const probs = ensembleProbs(logits, merge, opts.weights);
    const ensemble = { member: `ensemble (${merge}${opts.weights ? `, weights ${opts.weights.join(', ')}` : ''}${opts.tta ? ', TTA' : ''})`, ...scoreLogits(probs.clamp(1e-12).log(), labels!, classes!.length) };
    probs.dispose();
    report([...rows, ensemble], opts.workDir);
    return { rows, ensemble };
  } finally {
    torch.dispose(logits);
    labels?.dispose();
  }
}

function report(rows: Row[], workDir: string): void {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const md = ['| member | accuracy | balanced accuracy | loss |', '|---|---:|---:|---:|', ...rows.map((r) => `| ${r.member} | ${pct(r.accuracy)} | ${pct(r.balancedAccuracy)} | ${r.loss.toFixed(4)} |`)];
  console.log(md.join('\n'));
  mkdirSync(workDir, { recursive: true });
  torch.safetensors.writeAtomic(join(workDir, 'ensemble.md'), md.join('\n') + '\n');
  torch.safetensors.writeAtomic(join(workDir, 'ensemble.json'), JSON.stringify(rows, null, 2) + '\n');
  console.log(`wrote ${join(workDir, 'ensemble.md')} and ensemble.json`);
}
