"""Segmentation training step and inference throughput in PyTorch: the
counterpart of bench/seg-step.ts. Run with Debian's /usr/bin/python3
(torch 1.13 + torchvision 0.14).

    /usr/bin/python3 bench/seg_step.py --model lraspp_mobilenet_v3_large [--aux] [--amp fp32|bf16|both]
        [--steps 5] [--warmup 1] [--threads 2] [--batch 4] [--size 256] [--block 1] [--channels-last] [--serve]

The model is torchvision.models.segmentation.<model>(weights=None,
weights_backbone=None, num_classes=21, aux_loss=True when --aux and the model
has an aux head). A training step is what Arsenal's trainer does: uint8 images
-> float / 255, ImageNet mean/std, forward (fp32, or under
torch.autocast("cpu", torch.bfloat16) with the outputs cast to float),
cross-entropy with ignore_index 255 and mmseg's normaliser (sum / all pixels,
Arsenal's default; + 0.5 x the aux output's), backward, SGD(lr 0.01, momentum
0.9, weight_decay 1e-4, foreach=True like Arsenal's multi-tensor SGD),
zero_grad(set_to_none=True), loss.item(). Inference: eval mode, no_grad,
forward, .float(), argmax(1); the aux head is detached for it (torchvision's
model would otherwise compute it in eval mode too; Arsenal's returns `out`
alone there), so both sides do the same work.

--check runs 3 steps in fp32 and in bf16 from deterministic parameters and data
and prints the losses, an inference checksum and a parameter checksum, to
compare with `seg-step.js --check`. With --serve (one --amp mode) it answers
bench/compare.ts: each block is --block training steps, then --block inference
batches.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
import torchvision.models.segmentation as tvseg  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # configs/segmentation (ImageNet)
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 1e-4  # torchvision references/segmentation defaults
AUX_WEIGHT = 0.5
NO_AUX_HEAD = ("lraspp_mobilenet_v3_large",)  # torchvision raises on aux_loss for these


def seg_ce(logits, target):
    """Cross-entropy, ignore 255, mmseg's normaliser (avg_non_ignore False): sum / all pixels,
    as Arsenal's segCrossEntropy by default."""
    return F.cross_entropy(logits, target, ignore_index=255, reduction="none").sum() / target.numel()


class Bench:
    def __init__(self, args, amp):
        torch.manual_seed(0)
        self.amp = amp
        self.channels_last = args.channels_last
        self.aux = args.aux and args.model not in NO_AUX_HEAD
        kw = {"aux_loss": True} if self.aux else {}
        self.model = getattr(tvseg, args.model)(weights=None, weights_backbone=None, num_classes=args.classes, **kw)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, foreach=True)
        self.mean = torch.tensor(MEAN, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.std = torch.tensor(STD, dtype=torch.float32).reshape(1, 3, 1, 1)
        # A pool of random uint8 batches and masks (classes and some 255), cycled, as in seg-step.ts.
        b, s, k = args.batch, args.size, args.classes
        self.xs = [torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8) for _ in range(2)]
        self.ys = []
        for _ in range(2):
            m = torch.randint(0, k + 2, (b, s, s))
            self.ys.append(torch.where(m >= k, 255, m))
        self.i = 0

    def preprocess(self, images):
        x = images.float().div(255).sub(self.mean).div(self.std)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def forward(self, x):
        if self.amp == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                o = self.model(x)
        else:
            o = self.model(x)
        return o["out"].float(), (o["aux"].float() if "aux" in o else None)

    def train_step(self, images, masks):
        clock = time.perf_counter
        t0 = clock()
        out, aux = self.forward(self.preprocess(images))
        loss = seg_ce(out, masks)
        if aux is not None:
            loss = loss + seg_ce(aux, masks) * AUX_WEIGHT
        t1 = clock()
        loss.backward()
        t2 = clock()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        value = loss.item()
        t3 = clock()
        return value, {"forward_ms": (t1 - t0) * 1e3, "backward_ms": (t2 - t1) * 1e3, "optimizer_ms": (t3 - t2) * 1e3}

    def infer(self, images):
        aux_head = getattr(self.model, "aux_classifier", None)
        self.model.eval()
        if aux_head is not None:
            self.model.aux_classifier = None
        try:
            with torch.no_grad():
                return self.forward(self.preprocess(images))[0].argmax(1)
        finally:
            if aux_head is not None:
                self.model.aux_classifier = aux_head
            self.model.train()

    def step(self):
        k = self.i % 2
        self.i += 1
        self.train_step(self.xs[k], self.ys[k])
        self.infer(self.xs[k])

    def block(self, steps):
        out = {"step_ms": [], "forward_ms": [], "backward_ms": [], "optimizer_ms": [], "infer_ms": []}
        for _ in range(steps):
            k = self.i % 2
            self.i += 1
            t0 = time.perf_counter()
            _, ph = self.train_step(self.xs[k], self.ys[k])
            out["step_ms"].append((time.perf_counter() - t0) * 1e3)
            for key, v in ph.items():
                out[key].append(v)
        for j in range(steps):
            t0 = time.perf_counter()
            self.infer(self.xs[j % 2])
            out["infer_ms"].append((time.perf_counter() - t0) * 1e3)
        return out


def det_init(model):
    """seg-step.ts detInit (resnet_step.py's recipe): manual_seed(0), one randn(shape) per
    parameter in sorted name order; rank >= 2: scaled by sqrt(2 / fan_in); 1-d weights 1 + 0.1 z; biases 0.1 z."""
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
    return len(named)


def check(args):
    b, s, k = args.batch, args.size, args.classes
    x = torch.arange(0, b * 3 * s * s).mul(37).remainder(251).to(torch.uint8).reshape(b, 3, s, s)
    m = torch.arange(0, b * s * s).mul(7).remainder(k + 2).reshape(b, s, s)
    y = torch.where(m >= k, 255, m)
    for amp in ("fp32", "bf16"):
        bench = Bench(args, amp)
        n = det_init(bench.model)
        losses = [f"{bench.train_step(x, y)[0]:.6f}" for _ in range(3)]
        pred_sum = bench.infer(x).sum().item()
        with torch.no_grad():
            total = sum(p.abs().sum().item() for p in bench.model.parameters())
        aux = " aux" if bench.aux else ""
        print(f"check {args.model}{aux} {amp}: losses {' '.join(losses)}  sum(pred) {pred_sum}  sum|params| {total:.4f}  ({n} parameter tensors, batch {b}×{s}²)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="lraspp_mobilenet_v3_large")
    p.add_argument("--aux", action="store_true")
    p.add_argument("--amp", choices=["fp32", "bf16", "both"], default="both")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--block", type=int, default=1)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--serve", action="store_true")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not hasattr(tvseg, args.model):
        print("ERROR " + json.dumps({"message": f"torchvision has no segmentation model {args.model}"}), flush=True)
        sys.exit(2)
    if args.check:
        check(args)
        return
    modes = ["fp32", "bf16"] if args.amp == "both" else [args.amp]
    if args.serve and len(modes) != 1:
        p.error("--serve needs --amp fp32 or bf16")
    for amp in modes:
        b = Bench(args, amp)
        for _ in range(args.warmup):
            b.step()
        info = {"side": "pytorch", "model": args.model, "aux": b.aux, "amp": amp, "threads": torch.get_num_threads(),
                "batch": args.batch, "size": args.size, "channelsLast": args.channels_last,
                "torch": torch.__version__, "torchvision": torchvision.__version__}
        if args.serve:
            serve(info, lambda: b.block(args.block))
        else:
            samples = merge({}, b.block(args.steps))
            info.update(steps=args.steps, warmup=args.warmup)
            print_summary("seg_step (pytorch)", info, samples)
            print(f"  {'train images/s (median)':24s} {args.batch * 1000 / statistics.median(samples['step_ms']):10.2f}")
            print(f"  {'infer images/s (median)':24s} {args.batch * 1000 / statistics.median(samples['infer_ms']):10.2f}")


if __name__ == "__main__":
    main()
