"""Detection training step and inference throughput in PyTorch, and NMS: the
counterpart of bench/det-step.ts. Run with Debian's /usr/bin/python3
(torch 1.13 + torchvision 0.14).

    /usr/bin/python3 bench/det_step.py --model fcos_resnet50_fpn [--amp fp32|bf16|both] [--steps 3]
        [--warmup 1] [--threads 2] [--batch 4] [--size 256] [--classes 91] [--block 1] [--serve]
    /usr/bin/python3 bench/det_step.py --nms [--boxes 10000] [--nms-classes 80] [--block 5] [--serve]
    /usr/bin/python3 bench/det_step.py --check [--model M] [--batch 2] [--size 128] [--weights FILE]

Models (--classes 91 by default, background included as torchvision counts):
  fcos_resnet50_fpn  torchvision's fcos_resnet50_fpn(weights=None, weights_backbone=None,
                     num_classes=91, min_size=S, max_size=S): BatchNorm2d, every layer
                     trainable (its defaults without weights). Default S 256.
  fcos_resnet18_fpn  Arsenal's CPU recipe's model from torchvision's classes: resnet18(weights=None)
                     in BackboneWithFPN({layer2, layer3, layer4}, [128, 256, 512], 128,
                     LastLevelP6P7(128, 128)), FCOS(backbone, 91, min_size=S, max_size=S,
                     head=FCOSHead(128, 1, 91, num_convs=2)). Default S 160.
torchvision's FCOS includes its GeneralizedRCNNTransform: with min_size = max_size =
S and S×S inputs (a multiple of 32) it normalises with the ImageNet mean/std and
otherwise only copies (a bilinear interpolate at scale 1, padding to a multiple of
32, boxes scaled by 1; the values are exactly those of (x - mean) / std), which is
what Arsenal's side does before its forward.

A training step is what Arsenal's trainer does: uint8 images -> float / 255 (the
transform normalises), forward with the targets (fp32, or under
torch.autocast("cpu", torch.bfloat16)) giving the three losses, their sum,
backward, SGD(lr 0.01, momentum 0.9, weight_decay 1e-4: torchvision's
references/detection FCOS recipe; foreach=True like Arsenal's multi-tensor SGD),
zero_grad(set_to_none=True), loss.item(). Targets: 3 random boxes per image
(sides S/16 to S/2) with random labels. Inference: eval mode, no_grad, the
model's forward (its postprocess_detections: score_thresh 0.2, topk 1000, NMS 0.6,
100 per image).

torchvision 0.14's FCOS fails under bf16 autocast on CPU (FCOSHead's GroupNorm:
"expected scalar type BFloat16 but found Float"), in training and inference. The
bench records that: with --serve a mode that fails prints ERROR with the message;
the driver shows 'fails'.

--nms: torchvision.ops.nms and batched_nms on --boxes random boxes (manual_seed(0);
xy = rand(N, 2) * 1000, wh = rand(N, 2) * 100 + 1, scores rand(N), idxs randint(0, 80, N);
IoU 0.5), ms per call. Arsenal draws the same numbers from the same generator.

--check: writes this side's initial weights (torchvision's init after manual_seed(0))
as safetensors (--weights, default work_dirs/bench/det-check-<model>.safetensors),
then 3 training steps in fp32 on deterministic images and boxes, and prints the
losses, the eval-mode detections (count, sum of scores, at score_thresh 0.05) and
sum|params|; then bf16 ('fails' here). `node dist/bench/det-step.js --check` with
the same options loads that file strictly and must print the same numbers.
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
import torchvision  # noqa: E402
from torchvision.models import resnet18  # noqa: E402
from torchvision.models.detection import fcos_resnet50_fpn  # noqa: E402
from torchvision.models.detection.backbone_utils import BackboneWithFPN  # noqa: E402
from torchvision.models.detection.fcos import FCOS, FCOSHead  # noqa: E402
from torchvision.ops import batched_nms, nms  # noqa: E402
from torchvision.ops.feature_pyramid_network import LastLevelP6P7  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402

LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 1e-4  # torchvision references/detection README, FCOS
MODELS = ("fcos_resnet50_fpn", "fcos_resnet18_fpn")
DEFAULT_SIZE = {"fcos_resnet50_fpn": 256, "fcos_resnet18_fpn": 160}
BOXES_PER_IMAGE = 3


def build_model(name, classes, size, **kw):
    if name == "fcos_resnet50_fpn":
        return fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=classes, min_size=size, max_size=size, **kw)
    backbone = BackboneWithFPN(resnet18(weights=None), {"layer2": "0", "layer3": "1", "layer4": "2"}, [128, 256, 512], 128,
                               extra_blocks=LastLevelP6P7(128, 128))
    return FCOS(backbone, classes, min_size=size, max_size=size, head=FCOSHead(128, 1, classes, num_convs=2), **kw)


def random_targets(batch, size, classes):
    """3 boxes per image, sides in [S/16, S/2], inside the image; labels in [1, K)."""
    out = []
    for _ in range(batch):
        wh = torch.rand(BOXES_PER_IMAGE, 2) * (size / 2 - size / 16) + size / 16
        xy = torch.rand(BOXES_PER_IMAGE, 2) * (size - wh)
        out.append({"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(1, classes, (BOXES_PER_IMAGE,))})
    return out


def det_targets(batch, size, classes):
    """--check's boxes, the same formula as det-step.ts detData: box j = 3i + b of image i."""
    out = []
    for i in range(batch):
        boxes, labels = [], []
        for b in range(BOXES_PER_IMAGE):
            j = BOXES_PER_IMAGE * i + b
            x1, y1 = (17 * j + 3) % (size // 2), (29 * j + 7) % (size // 2)
            w, h = size / 8 + (13 * j) % (size // 4), size / 8 + (23 * j + 5) % (size // 4)
            boxes.append([x1, y1, x1 + w, y1 + h])
            labels.append((5 * j + 1) % classes)
        out.append({"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels, dtype=torch.int64)})
    return out


class Bench:
    def __init__(self, args, amp, **model_kw):
        torch.manual_seed(0)
        self.amp = amp
        self.model = build_model(args.model, args.classes, args.size, **model_kw)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, foreach=True)
        b, s = args.batch, args.size
        self.xs = [torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8) for _ in range(2)]
        self.ys = [random_targets(b, s, args.classes) for _ in range(2)]
        self.i = 0

    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.amp == "bf16")

    def train_step(self, images, targets):
        clock = time.perf_counter
        t0 = clock()
        with self.autocast():
            losses = self.model(list(images.float().div(255)), targets)
        loss = sum(losses.values())
        t1 = clock()
        loss.backward()
        t2 = clock()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        value = loss.item()
        t3 = clock()
        terms = {k: v.item() for k, v in losses.items()}
        return value, terms, {"forward_ms": (t1 - t0) * 1e3, "backward_ms": (t2 - t1) * 1e3, "optimizer_ms": (t3 - t2) * 1e3}

    def infer(self, images):
        self.model.eval()
        try:
            with torch.no_grad(), self.autocast():
                return self.model(list(images.float().div(255)))
        finally:
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
            _, _, ph = self.train_step(self.xs[k], self.ys[k])
            out["step_ms"].append((time.perf_counter() - t0) * 1e3)
            for key, v in ph.items():
                out[key].append(v)
        for j in range(steps):
            t0 = time.perf_counter()
            self.infer(self.xs[j % 2])
            out["infer_ms"].append((time.perf_counter() - t0) * 1e3)
        return out


class NmsBench:
    """torchvision.ops.nms / batched_nms on the same random boxes as det-step.ts --nms."""

    def __init__(self, args):
        n = args.boxes
        torch.manual_seed(0)
        xy = torch.rand(n, 2) * 1000
        wh = torch.rand(n, 2) * 100 + 1
        self.boxes = torch.cat([xy, xy + wh], 1)
        self.scores = torch.rand(n)
        self.idxs = torch.randint(0, args.nms_classes, (n,))
        self.kept = len(nms(self.boxes, self.scores, 0.5))
        self.kept_batched = len(batched_nms(self.boxes, self.scores, self.idxs, 0.5))

    def block(self, calls):
        out = {"nms_ms": [], "batched_nms_ms": []}
        for _ in range(calls):
            t0 = time.perf_counter()
            nms(self.boxes, self.scores, 0.5)
            out["nms_ms"].append((time.perf_counter() - t0) * 1e3)
        for _ in range(calls):
            t0 = time.perf_counter()
            batched_nms(self.boxes, self.scores, self.idxs, 0.5)
            out["batched_nms_ms"].append((time.perf_counter() - t0) * 1e3)
        return out


def error_line(e):
    return "ERROR " + json.dumps({"message": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})


def write_weights(model, path):
    from seg_peer import write_safetensors  # the hand-written safetensors writer (no safetensors package here)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_safetensors(path, {k: v.detach().contiguous().numpy() for k, v in model.state_dict().items()})


def check(args):
    x = torch.arange(0, args.batch * 3 * args.size * args.size).mul(37).remainder(251).to(torch.uint8).reshape(args.batch, 3, args.size, args.size)
    y = det_targets(args.batch, args.size, args.classes)
    path = args.weights or f"work_dirs/bench/det-check-{args.model}.safetensors"
    for amp in ("fp32", "bf16"):
        bench = Bench(args, amp, score_thresh=0.05)
        if amp == "fp32":
            write_weights(bench.model, path)
        try:
            steps = [bench.train_step(x, y) for _ in range(3)]
            dets = bench.infer(x)
        except RuntimeError as e:
            print(f"check {args.model} {amp}: fails ({str(e).splitlines()[0]})")
            continue
        losses = " ".join(f"{v:.6f}" for v, _, _ in steps)
        first = " ".join(f"{v:.6f}" for v in steps[0][1].values())
        count = sum(len(d["scores"]) for d in dets)
        score_sum = sum(d["scores"].float().sum().item() for d in dets)
        with torch.no_grad():
            total = sum(p.abs().sum().item() for p in bench.model.parameters())
        print(f"check {args.model} {amp}: losses {losses}  (step 1: cls/box/ctr {first})  detections {count} sum(scores) {score_sum:.4f}"
              f"  sum|params| {total:.4f}  (batch {args.batch}×{args.size}², weights {path})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="fcos_resnet50_fpn", choices=MODELS)
    p.add_argument("--amp", choices=["fp32", "bf16", "both"], default="both")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--classes", type=int, default=91)
    p.add_argument("--block", type=int, default=None)
    p.add_argument("--nms", action="store_true")
    p.add_argument("--boxes", type=int, default=10000)
    p.add_argument("--nms-classes", type=int, default=80)
    p.add_argument("--serve", action="store_true")
    p.add_argument("--check", action="store_true")
    p.add_argument("--weights", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.size = args.size or DEFAULT_SIZE[args.model]
    info = {"side": "pytorch", "threads": torch.get_num_threads(), "torch": torch.__version__, "torchvision": torchvision.__version__}
    if args.nms:
        b = NmsBench(args)
        b.block(1)
        info.update(boxes=args.boxes, classes=args.nms_classes, kept=b.kept, keptBatched=b.kept_batched)
        block = args.block or 5
        if args.serve:
            serve(info, lambda: b.block(block))
        else:
            print_summary("nms (pytorch)", info, b.block(block * 4))
        return
    if args.check:
        check(args)
        return
    modes = ["fp32", "bf16"] if args.amp == "both" else [args.amp]
    if args.serve and len(modes) != 1:
        p.error("--serve needs --amp fp32 or bf16")
    block = args.block or 1
    for amp in modes:
        b = Bench(args, amp)
        info.update(model=args.model, amp=amp, batch=args.batch, size=args.size, classes=args.classes)
        try:
            for _ in range(args.warmup):
                b.step()
        except RuntimeError as e:  # torchvision's FCOS under bf16 autocast
            if args.serve:
                print(error_line(e), flush=True)
                sys.exit(3)
            print(f"det_step (pytorch) {args.model} {amp}: fails ({str(e).splitlines()[0]})")
            continue
        if args.serve:
            serve(info, lambda: b.block(block))
        else:
            samples = merge({}, b.block(args.steps))
            info.update(steps=args.steps, warmup=args.warmup)
            print_summary("det_step (pytorch)", info, samples)
            print(f"  {'train images/s (median)':24s} {args.batch * 1000 / statistics.median(samples['step_ms']):10.2f}")
            print(f"  {'infer images/s (median)':24s} {args.batch * 1000 / statistics.median(samples['infer_ms']):10.2f}")


if __name__ == "__main__":
    main()
