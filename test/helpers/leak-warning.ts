// A synchronous loop that drops unscoped results, run in its own process by
// test/memory-leaks.test.ts: the leak warning must appear on stderr once,
// before the loop ends (it is synchronous), and with ARSENAL_TRACK_TENSORS=1
// name this file's leakyStep as the site that created most of the tensors.
//   ARSENAL_LEAK_WARNING_THRESHOLD=1000 node dist/test/helpers/leak-warning.js
import { torch, type Tensor } from 'arsenal';

const a = torch.ones(3).keep();
const held: Tensor[] = []; // held, so no collection can free them: the count is exact

function leakyStep(): Tensor {
  return a.add(1);
}

function otherSite(): Tensor {
  return a.mul(2);
}

for (let i = 0; i < 3000; i++) held.push(leakyStep());
for (let i = 0; i < 500; i++) held.push(otherSite());
process.stderr.write('loop done\n');
console.log(JSON.stringify({ unowned: torch.memory().unowned, threshold: torch.leakWarningThreshold() }));
