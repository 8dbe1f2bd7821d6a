// The DistributedDataParallel case of test/distributed.test.ts, shared by the
// test (one process, the whole batch) and test/helpers/dist_worker.ts (each
// rank its half of every batch): a small conv net, seeded data, SGD with
// momentum. The two must end with the same weights.
import { torch, nn, optim, F, type Tensor } from 'arsenal';

export const STEPS = 4, BATCH = 8;

/** A conv net, optionally with an auxiliary head that only some steps use (findUnusedParameters). */
export class Net extends nn.Module {
  conv = new nn.Conv2d(3, 6, 3, { padding: 1 });
  fc = new nn.Linear(6, 4);
  aux: nn.Linear | null;
  constructor(withAux: boolean) {
    super();
    this.aux = withAux ? new nn.Linear(6, 4) : null;
  }
  forward(x: Tensor, useAux = false): Tensor {
    const f = F.adaptiveAvgPool2d(F.relu(this.conv.forward(x)), 1).flatten(1);
    const y = this.fc.forward(f);
    return useAux && this.aux ? y.add(this.aux.forward(f).mul(0.5)) : y;
  }
}

export function makeNet(seed: number, withAux = false): Net {
  torch.manualSeed(seed);
  return new Net(withAux);
}

/** Step s's whole batch: images [BATCH, 3, 8, 8] and labels. */
export function batch(s: number): [Tensor, Tensor] {
  torch.manualSeed(1000 + s);
  return [torch.randn([BATCH, 3, 8, 8]), torch.randint(0, 4, [BATCH])];
}

/** Trains `forward` (the net, or its DDP wrapper) for STEPS steps on rows [from, to) of each batch; the aux head on odd steps when `aux`. */
export function train(net: nn.Module, forward: (x: Tensor, aux: boolean) => Tensor, from: number, to: number, aux: boolean): void {
  const opt = new optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  for (let s = 0; s < STEPS; s++) {
    torch.scope(() => {
      const [x, y] = batch(s);
      opt.zeroGrad();
      F.crossEntropy(forward(x.slice(0, from, to), aux && s % 2 === 1), y.slice(0, from, to)).backward();
      opt.step();
    });
  }
}

export const weights = (net: nn.Module): Record<string, number[]> =>
  Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, t.flatten().toArray() as number[]]));
