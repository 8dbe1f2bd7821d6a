"""One training step of ResNet-18 with the small-input stem in PyTorch: the
counterpart of bench/resnet-step.ts. Run with Debian's /usr/bin/python3
(torch 1.13 + torchvision 0.14).

    /usr/bin/python3 bench/resnet_step.py [--amp fp32|bf16|both] [--steps 10] [--warmup 2] [--threads 2] [--batch 128] [--block 1] [--serve]

The model is torchvision's resnet18(num_classes=10) with conv1 replaced by
Conv2d(1, 64, 3, 1, 1, bias=False) and maxpool by Identity. A step is what
Arsenal's trainer does: uint8 images -> float / 255, (x - 0.286) / 0.353,
forward (fp32, or under torch.autocast("cpu", torch.bfloat16) with the logits
cast to float), cross-entropy, backward, SGD(lr 0.1, momentum 0.9,
weight_decay 5e-4, foreach=True like Arsenal's multi-tensor SGD; --foreach 0
for the per-tensor loop, PyTorch 1.13's default), zero_grad(set_to_none=True),
loss.item().

Reports the median ms per step (and images/s), per phase, and minor page
faults per step. --check runs 3 steps in fp32 and in bf16 from deterministic
parameters and data and prints the losses and a parameter checksum, to compare
with `resnet-step.js --check`. With --serve (one --amp mode) it answers
bench/compare.ts, --block steps per block.
"""
import argparse
import os
import resource
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402

MEAN, STD = 0.286, 0.353  # configs/fashion-mnist
LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 5e-4


def small_resnet18():
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1, bias=False)
    m.maxpool = nn.Identity()
    return m


class Bench:
    def __init__(self, amp, batch, foreach):
        torch.manual_seed(0)
        self.amp = amp
        self.model = small_resnet18()
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, foreach=foreach)
        # A pool of random uint8 batches, cycled, as in resnet-step.ts.
        self.xs = [torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8) for _ in range(4)]
        self.ys = [torch.randint(0, 10, (batch,)) for _ in range(4)]
        self.i = 0

    def forward(self, x):
        if self.amp == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = self.model(x)
            return logits.float()
        return self.model(x)

    def train_step(self, images, labels):
        clock = time.perf_counter
        t0 = clock()
        x = images.float().div(255).sub(MEAN).div(STD)
        loss = F.cross_entropy(self.forward(x), labels)
        t1 = clock()
        loss.backward()
        t2 = clock()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        value = loss.item()
        t3 = clock()
        return value, {"forward_ms": (t1 - t0) * 1e3, "backward_ms": (t2 - t1) * 1e3, "optimizer_ms": (t3 - t2) * 1e3}

    def step(self):
        k = self.i % 4
        self.i += 1
        return self.train_step(self.xs[k], self.ys[k])

    def block(self, steps):
        out = {"step_ms": [], "forward_ms": [], "backward_ms": [], "optimizer_ms": [], "page_faults": []}
        for _ in range(steps):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            _, ph = self.step()
            out["step_ms"].append((time.perf_counter() - t0) * 1e3)
            out["page_faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            for k, v in ph.items():
                out[k].append(v)
        return out


def det_init(model):
    """The recipe of resnet-step.ts detInit: manual_seed(0), then one randn(shape)
    per parameter in sorted name order; rank >= 2: scaled by sqrt(2 / fan_in);
    1-d weights (BN) 1 + 0.1 z; biases 0.1 z."""
    named = sorted(model.named_parameters(), key=lambda kv: kv[0])
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in named:
            z = torch.randn(p.shape)
            if p.dim() >= 2:
                p.copy_(z.mul((2 / (p.numel() / p.shape[0])) ** 0.5))
            elif name.endswith(".weight"):
                p.copy_(z.mul(0.1).add(1))
            else:
                p.copy_(z.mul(0.1))
    return [n for n, _ in named]


def check(args):
    x = torch.arange(0, args.batch * 784).mul(37).remainder(251).to(torch.uint8).reshape(args.batch, 1, 28, 28)
    y = torch.arange(0, args.batch).remainder(10)
    for amp in ("fp32", "bf16"):
        b = Bench(amp, args.batch, args.foreach == "1")
        names = det_init(b.model)
        losses = [f"{b.train_step(x, y)[0]:.6f}" for _ in range(3)]
        with torch.no_grad():
            total = sum(p.abs().sum().item() for p in b.model.parameters())
        print(f"check {amp}: losses {' '.join(losses)}  sum|params| {total:.4f}  ({len(names)} parameter tensors, batch {args.batch})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--amp", choices=["fp32", "bf16", "both"], default="both")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--block", type=int, default=1)
    p.add_argument("--foreach", choices=["1", "0"], default="1")
    p.add_argument("--serve", action="store_true")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        check(args)
        return
    modes = ["fp32", "bf16"] if args.amp == "both" else [args.amp]
    if args.serve and len(modes) != 1:
        p.error("--serve needs --amp fp32 or bf16")
    for amp in modes:
        b = Bench(amp, args.batch, args.foreach == "1")
        for _ in range(args.warmup):
            b.step()
        info = {"side": "pytorch", "amp": amp, "threads": torch.get_num_threads(), "batch": args.batch,
                "sgd_foreach": args.foreach == "1", "torch": torch.__version__, "torchvision": torchvision.__version__}
        if args.serve:
            serve(info, lambda: b.block(args.block))
        else:
            samples = merge({}, b.block(args.steps))
            info.update(steps=args.steps, warmup=args.warmup)
            print_summary("resnet_step (pytorch)", info, samples)
            print(f"  {'images/s (median step)':24s} {args.batch * 1000 / statistics.median(samples['step_ms']):10.1f}")


if __name__ == "__main__":
    main()
