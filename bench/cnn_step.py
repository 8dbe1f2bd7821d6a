"""One training step of a small CNN with torch.nn and torch.optim.Adam: the
counterpart of bench/cnn-step.ts. Run with Debian's /usr/bin/python3.

    /usr/bin/python3 bench/cnn_step.py [--steps 50] [--warmup 10] [--threads 2] [--foreach 1|0|both] [--block 5] [--serve]

Reports the median ms per step and per phase (forward incl. loss, backward,
optimizer step, zero_grad(set_to_none=True)), and minor page faults per step.
--check runs 3 steps from deterministic parameters and data and prints the
losses and a parameter checksum, to compare with `cnn-step.js --check`. With --serve (one --foreach mode)
it answers bench/compare.ts, --block steps per block.
"""
import argparse
import os
import resource
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class Bench:
    def __init__(self, foreach, batch):
        torch.manual_seed(0)
        self.model = Net()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=foreach)
        # A pool of random batches, cycled, as in cnn-step.ts (no memorising one batch).
        self.xs = [torch.randn(batch, 1, 28, 28) for _ in range(16)]
        self.ys = [torch.randint(0, 10, (batch,)) for _ in range(16)]
        self.i = 0

    def step(self):
        x, y = self.xs[self.i % 16], self.ys[self.i % 16]
        self.i += 1
        clock = time.perf_counter
        t0 = clock()
        loss = F.cross_entropy(self.model(x), y)
        t1 = clock()
        loss.backward()
        t2 = clock()
        self.opt.step()
        t3 = clock()
        self.opt.zero_grad(set_to_none=True)
        t4 = clock()
        return {"forward_ms": (t1 - t0) * 1e3, "backward_ms": (t2 - t1) * 1e3,
                "optimizer_ms": (t3 - t2) * 1e3, "zero_grad_ms": (t4 - t3) * 1e3}

    def block(self, steps):
        out = {"step_ms": [], "forward_ms": [], "backward_ms": [], "optimizer_ms": [], "zero_grad_ms": [], "page_faults": []}
        for _ in range(steps):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            ph = self.step()
            out["step_ms"].append((time.perf_counter() - t0) * 1e3)
            out["page_faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            for k, v in ph.items():
                out[k].append(v)
        return out

    def final_loss(self):
        with torch.no_grad():
            return F.cross_entropy(self.model(self.xs[0]), self.ys[0]).item()


def check(args):
    for foreach in (True, False):
        b = Bench(foreach, args.batch)
        with torch.no_grad():
            for k, p in enumerate(b.model.parameters()):  # the order of cnn-step.ts's params
                p.copy_(torch.arange(0, p.numel(), dtype=torch.float32).mul(0.37).add(k).sin().mul(0.05).reshape(p.shape))
            b.xs[0] = torch.arange(0, args.batch * 784, dtype=torch.float32).mul(0.11).sin().reshape(args.batch, 1, 28, 28)
            b.ys[0] = torch.arange(0, args.batch) % 10
        losses = []
        for _ in range(3):
            loss = F.cross_entropy(b.model(b.xs[0]), b.ys[0])
            losses.append(f"{loss.item():.6f}")
            loss.backward()
            b.opt.step()
            b.opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            total = sum(p.abs().sum().item() for p in b.model.parameters())
        print(f"check (foreach={foreach}): losses {' '.join(losses)}  sum|params| {total:.6f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--foreach", choices=["1", "0", "both"], default="both")
    p.add_argument("--serve", action="store_true")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        check(args)
        return
    modes = {"1": [True], "0": [False], "both": [True, False]}[args.foreach]
    if args.serve and len(modes) != 1:
        p.error("--serve needs --foreach 1 or 0")
    for foreach in modes:
        b = Bench(foreach, args.batch)
        for _ in range(args.warmup):
            b.step()
        info = {"side": "pytorch", "optimizer": "adam_foreach" if foreach else "adam_for_loop",
                "threads": torch.get_num_threads(), "batch": args.batch, "torch": torch.__version__}
        if args.serve:
            serve(info, lambda: b.block(args.block))
        else:
            samples = merge({}, b.block(args.steps))
            info.update(steps=args.steps, warmup=args.warmup, finalLoss=round(b.final_loss(), 4))
            print_summary("cnn_step (pytorch)", info, samples)


if __name__ == "__main__":
    main()
