// A command's result table: printed, and written to the work dir as NAME.md
// (the table) and NAME.json (the rows), each atomically.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';

export function writeReport(workDir: string, name: string, md: string, rows: unknown, log: (line: string) => void): void {
  log(md);
  mkdirSync(workDir, { recursive: true });
  torch.safetensors.writeAtomic(join(workDir, `${name}.md`), md + '\n');
  torch.safetensors.writeAtomic(join(workDir, `${name}.json`), JSON.stringify(rows, null, 2) + '\n');
  log(`wrote ${join(workDir, `${name}.md`)} and ${name}.json`);
}
