// `arsenal info`: the versions, the CPU's capabilities (threads, oneDNN, bf16)
// and the datasets found on this machine.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';

export function datasetsFound(): { name: string; found: boolean; path: string; hint: string }[] {
  const root = process.env.ARSENAL_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
  const ok = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((f) => existsSync(join(root, f + '.gz')) || existsSync(join(root, f)));
  return [{ name: 'fashion-mnist', found: ok, path: root, hint: 'apt-get install dataset-fashion-mnist, or set ARSENAL_FASHION_MNIST' }];
}

export async function info(repo: string): Promise<void> {
  const i = torch.info();
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  console.log(`arsenal ${pkg.version}, Node.js ${process.versions.node}`);
  console.log(`libtorch ${i.libtorch}; BLAS ${i.blas}; CPU capability ${i.cpuCapability}; oneDNN ${i.mkldnn ? 'yes' : 'no'}`);
  console.log(`threads ${i.threads} (interop ${i.interopThreads}); CUDA ${i.cuda ? 'available' : 'not available'}; bf16 autocast: ${i.bf16 ? 'yes' : 'no'} (${i.bf16Reason})`);
  for (const d of datasetsFound()) console.log(`dataset ${d.name}: ${d.found ? d.path : `not found (${d.hint})`}`);
}
