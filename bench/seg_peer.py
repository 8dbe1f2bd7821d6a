"""The accuracy peer of an Arsenal segmentation config: a plain PyTorch training
loop (torchvision 0.14's segmentation model by name) with the same recipe, on
an mmseg-layout dataset, ending with mmseg's IoUMetric. Run with Debian's
/usr/bin/python3 (torch 1.13, torchvision 0.14, PIL, numpy; no safetensors
package: read and written here by hand). Nothing in Arsenal depends on it.

    /usr/bin/python3 bench/seg_peer.py --data DIR --classes N [--model lraspp_mobilenet_v3_large]
        [--epochs 30] [--batch 8] [--lr 0.01] [--weight-decay 4e-5] [--momentum 0.9] [--seed 42] [--size 256]
        [--warmup-epochs 1] [--warmup-start-factor 0.3333] [--power 0.9] [--eta-min-ratio 0.01] [--by-epoch]
        [--mean 0.485,0.456,0.406] [--std 0.229,0.224,0.225] [--flip 0.5] [--amp fp32|bf16] [--aux]
        [--backbone FILE] [--backbone-lr-mult 0.1] [--train-subset N] [--test-subset N] [--threads 2] [--out peer.json]

The defaults are configs/segmentation/lraspp-voc.ts's recipe. What each piece
matches in Arsenal:

- data: DIR/img_dir/{train,val}/**.{jpg,jpeg,png} and DIR/ann_dir/{split}/<same
  stem>.png (src/data/segmentation_folder.ts, layout 'mmseg'); images RGB resized
  to --size x --size (bilinear), masks (palette index or grey value, 255 =
  ignore) resized nearest with src = floor(dst * in / out), as data.imageSize.
- normalisation: x / 255, then (x - mean) / std per channel (the Predictor).
- order: a seeded shuffle per epoch, the last partial batch dropped (the
  trainer's DataLoader: shuffle, dropLast); random horizontal flip of image and
  mask with probability --flip per sample (RandomFlip).
- loss: cross-entropy, ignore 255, mmseg's normaliser: sum over the non-ignored
  pixels / all pixels (src/losses/seg_cross_entropy.ts's default,
  avg_non_ignore False); with --aux + 0.5 x the same on the aux output
  (torchvision's reference recipe).
- optimizer: SGD(lr, momentum, weight decay on every parameter); with
  --backbone, backbone.* parameters at lr x --backbone-lr-mult (0.1): Arsenal's
  optimizer.paramwise.customKeys.backbone.lrMult.
- schedule: src/engine/build.ts buildSchedule 'poly' + src/optim/lr_scheduler.ts,
  stepped after every iteration (the schedule hook; --by-epoch: after every
  epoch). With P = iterations per epoch (1 by epoch), T = epochs * P,
  W = min(T - 1, round(warmup_epochs * P)), the lr of step t (0-based, the lr
  the t-th update uses) for a group of lr multiplier m is m * f(t):
    t < W:  lr * (s + (1 - s) * t / W)                     LinearLR(s = warmup start factor)
    t >= W: (lr - eta) * (1 - min(t - W, T') / T')^power + eta,  T' = max(1, T - W),
            eta = eta_min_ratio * lr                       PolyLR (SequentialLR restarts its count)
- precision: --amp bf16 is torch.autocast("cpu", bfloat16) with the logits cast
  to float before the loss (the trainer's bf16; fp32 master weights).
- metrics: mmseg's IoUMetric (src/metrics/segmentation.ts): per-class
  intersection, union, prediction and label areas summed over the whole val
  split (255 removed from both), IoU = I/U, Acc = I/label, aAcc = sum I / sum
  label, means over classes leaving NaN (0/0) classes out; fractions, not %.
  Evaluated once, after the last epoch, at --size (as Arsenal with imageSize).

--backbone FILE: a safetensors state dict; keys `features.<i>.…` (Arsenal's or
torchvision's classification MobileNetV3) are loaded as `backbone.<i>.…`, keys
already under `backbone.` as they are; classifier keys and keys of another
shape or matching nothing are skipped and counted.

Writes --out: the arguments, per-epoch mean loss and last lr, the final
metrics (aAcc, mIoU, mAcc, mDice) and per-class IoU/Acc, and the seconds taken.
"""
import argparse
import json
import math
import os
import sys
import time

sys.dont_write_bytecode = True
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

IGNORE = 255
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# ---------------------------------------------------------------- safetensors by hand
# 8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian data
# (src/torch/safetensors.ts).
_ST_NP = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """{name: numpy array} (BF16 widened to float32)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: not a safetensors file")
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8:8 + n].decode("utf8"))
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        shape = tuple(info["shape"])
        dt = info["dtype"]
        if dt == "BF16":
            raw = np.frombuffer(data[a:b], dtype="<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32)
        elif dt in _ST_NP:
            arr = np.frombuffer(data[a:b], dtype=_ST_NP[dt])
        else:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {dt}")
        out[name] = arr.reshape(shape).copy()
    return out


def write_safetensors(path, arrays):
    """Writes {name: numpy array}, names sorted, the header padded with spaces so the data starts 8-byte aligned."""
    st = {"float32": "F32", "float64": "F64", "float16": "F16", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
    header, chunks, off = {}, [], 0
    for name in sorted(arrays):
        a = np.asarray(arrays[name])  # tobytes() is C order; ascontiguousarray would make a 0-d array 1-d
        if a.dtype.name not in st:
            raise TypeError(f"write_safetensors: '{name}' has unsupported dtype {a.dtype}")
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": st[a.dtype.name], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    js = json.dumps(header, separators=(",", ":")).encode("utf8")
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(js).to_bytes(8, "little"))
        f.write(js)
        for c in chunks:
            f.write(c)


# ---------------------------------------------------------------- mmseg's IoUMetric
class IoUMeter:
    """mmseg 1.x IoUMetric (intersect_and_union summed over the dataset, total_area_to_metrics): the counterpart of
    src/metrics/segmentation.ts's SegmentationMeter. Areas are exact integer sums; ratios in float64."""

    def __init__(self, num_classes, ignore_index=IGNORE):
        self.k, self.ignore = num_classes, ignore_index
        self.inter = np.zeros(num_classes, np.int64)
        self.pred = np.zeros(num_classes, np.int64)
        self.label = np.zeros(num_classes, np.int64)

    def update(self, pred, label):
        """pred, label: integer class maps of one shape (any batch layout); label == ignore_index is left out of both."""
        pred, label = np.asarray(pred).astype(np.int64).ravel(), np.asarray(label).astype(np.int64).ravel()
        if pred.shape != label.shape:
            raise ValueError(f"IoUMeter.update: prediction {pred.shape} and label {label.shape} differ")
        keep = label != self.ignore
        p, l = pred[keep], label[keep]
        for what, v in (("label", l), ("predicted class", p)):
            bad = (v < 0) | (v >= self.k)
            if bad.any():
                raise ValueError(f"IoUMeter.update: {what} {v[bad][0]} is outside [0, {self.k}) and is not ignore_index {self.ignore}")
        self.inter += np.bincount(p[p == l], minlength=self.k)
        self.pred += np.bincount(p, minlength=self.k)
        self.label += np.bincount(l, minlength=self.k)

    def per_class(self):
        i, pa, la = (x.astype(np.float64) for x in (self.inter, self.pred, self.label))
        u = pa + la - i
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"IoU": i / u, "Acc": i / la, "Dice": 2 * i / (pa + la)}

    def compute(self):
        pc = self.per_class()
        with np.errstate(divide="ignore", invalid="ignore"):
            aacc = float(self.inter.sum() / self.label.sum()) if self.label.sum() else float("nan")

        def nanmean(v):
            v = v[~np.isnan(v)]
            return float(v.mean()) if v.size else float("nan")

        return {"aAcc": aacc, "mIoU": nanmean(pc["IoU"]), "mAcc": nanmean(pc["Acc"]), "mDice": nanmean(pc["Dice"])}


# ---------------------------------------------------------------- data
def list_split(root, split):
    """(image, mask) paths of an mmseg-layout split, matched by relative path and stem, sorted by image path."""
    img_dir, ann_dir = os.path.join(root, "img_dir", split), os.path.join(root, "ann_dir", split)
    for d in (img_dir, ann_dir):
        if not os.path.isdir(d):
            raise SystemExit(f"seg_peer: {d} is not a folder (expected the mmseg layout img_dir/{{train,val}}, ann_dir/{{train,val}})")
    pairs = []
    for dirpath, _, files in os.walk(img_dir):
        for f in files:
            if f.lower().endswith(IMAGE_EXTENSIONS):
                rel = os.path.relpath(os.path.join(dirpath, f), img_dir)
                mask = os.path.join(ann_dir, os.path.splitext(rel)[0] + ".png")
                if not os.path.isfile(mask):
                    raise SystemExit(f"seg_peer: image {rel} of {split} has no mask {mask}")
                pairs.append((os.path.join(img_dir, rel), mask))
    if not pairs:
        raise SystemExit(f"seg_peer: no images in {img_dir}")
    return sorted(pairs)


def read_mask(path):
    """Class indices: a palette PNG's index or an 8-bit greyscale value (never a colour), as src/data/mask_png.ts."""
    m = Image.open(path)
    if m.mode not in ("P", "L"):
        raise SystemExit(f"seg_peer: mask {path} is a {m.mode} image; expected a palette or 8-bit greyscale PNG")
    return np.array(m, dtype=np.uint8)


def load_sample(pair, size, k):
    """uint8 image [3,S,S] (bilinear resize) and uint8 mask [S,S] (nearest: src = floor(dst * in / out))."""
    img_path, mask_path = pair
    img = Image.open(img_path).convert("RGB")
    m = read_mask(mask_path)
    if m.shape != (img.height, img.width):
        raise SystemExit(f"seg_peer: mask {mask_path} is {m.shape[1]}x{m.shape[0]} but its image is {img.width}x{img.height}")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    rows = np.minimum(np.arange(size) * m.shape[0] // size, m.shape[0] - 1)
    cols = np.minimum(np.arange(size) * m.shape[1] // size, m.shape[1] - 1)
    m = m[rows][:, cols]
    bad = (m >= k) & (m != IGNORE)
    if bad.any():
        raise SystemExit(f"seg_peer: mask {mask_path} has label {int(m[bad][0])}, but there are {k} classes (0..{k - 1}, or 255)")
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), m


def load_batch(pairs, size, k):
    import torch
    samples = [load_sample(p, size, k) for p in pairs]
    return torch.from_numpy(np.stack([s[0] for s in samples])), torch.from_numpy(np.stack([s[1] for s in samples]).astype(np.int64))


# ---------------------------------------------------------------- schedule
def lr_factor(t, a, iters_per_epoch):
    """Arsenal's 'poly' schedule with linear warm-up, in units of the base lr (see the module docstring)."""
    per = 1 if a.by_epoch else iters_per_epoch
    total = a.epochs * per
    warm = min(total - 1, math.floor(a.warmup_epochs * per + 0.5))  # JS Math.round (halves up), not Python's round
    if t < warm:
        s = a.warmup_start_factor
        return s + (1 - s) * t / warm
    tp = max(1, total - warm)
    eta = a.eta_min_ratio
    return (1 - eta) * (1 - min(t - warm, tp) / tp) ** a.power + eta


# ---------------------------------------------------------------- model
def build_model(a):
    import torchvision.models.segmentation as tvseg
    if not hasattr(tvseg, a.model):
        raise SystemExit(f"seg_peer: torchvision has no segmentation model '{a.model}'")
    kw = {"aux_loss": True} if a.aux else {}
    return getattr(tvseg, a.model)(weights=None, weights_backbone=None, num_classes=a.classes, **kw)


def load_backbone(model, path):
    """Loads `features.<i>.…` as `backbone.<i>.…` (and `backbone.…` as is); returns counts for the log."""
    import torch
    own = model.state_dict()
    loaded, skipped = set(), []
    with torch.no_grad():
        for k, v in read_safetensors(path).items():
            target = "backbone." + k[len("features."):] if k.startswith("features.") else k
            if not target.startswith("backbone.") or target not in own or tuple(own[target].shape) != v.shape:
                skipped.append(k)
                continue
            own[target].copy_(torch.from_numpy(v).to(own[target].dtype))
            loaded.add(target)
    missing = [k for k in own if k.startswith("backbone.") and k not in loaded and not k.endswith("num_batches_tracked")]
    return {"loaded": len(loaded), "skipped": len(skipped), "missing": len(missing),
            "skipped_examples": skipped[:5], "missing_examples": missing[:5]}


# ---------------------------------------------------------------- training
def seg_ce(logits, target):
    import torch.nn.functional as F
    return F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="none").sum() / target.numel()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--model", default="lraspp_mobilenet_v3_large")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=4e-5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--warmup-epochs", type=float, default=1)
    p.add_argument("--warmup-start-factor", type=float, default=1 / 3)
    p.add_argument("--power", type=float, default=0.9)
    p.add_argument("--eta-min-ratio", type=float, default=0.01)
    p.add_argument("--by-epoch", action="store_true")
    p.add_argument("--mean", default="0.485,0.456,0.406")
    p.add_argument("--std", default="0.229,0.224,0.225")
    p.add_argument("--flip", type=float, default=0.5)
    p.add_argument("--amp", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--aux", action="store_true")
    p.add_argument("--backbone")
    p.add_argument("--backbone-lr-mult", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--test-batch", type=int, default=0, help="default 2 x --batch (the trainer's testBatchSize)")
    p.add_argument("--train-subset", type=int, default=0, help="the first N training images in path order (data.trainSubset)")
    p.add_argument("--test-subset", type=int, default=0, help="the first N val images in path order (data.testSubset)")
    p.add_argument("--out", default="seg_peer.json")
    a = p.parse_args()
    mean, std = [float(x) for x in a.mean.split(",")], [float(x) for x in a.std.split(",")]
    if len(mean) != 3 or len(std) != 3:
        p.error("--mean and --std take 3 comma-separated values")

    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t_start = time.time()
    train, val = list_split(a.data, "train"), list_split(a.data, "val")
    train, val = train[: a.train_subset or None], val[: a.test_subset or None]
    per_epoch = len(train) // a.batch
    if per_epoch < 1:
        raise SystemExit(f"seg_peer: {len(train)} training images make no full batch of {a.batch} (the last partial batch is dropped)")

    model = build_model(a)
    backbone_info = load_backbone(model, a.backbone) if a.backbone else None
    if backbone_info:
        print(f"backbone {a.backbone}: {backbone_info}", flush=True)
    mult = a.backbone_lr_mult if a.backbone else 1.0
    back = [q for n, q in model.named_parameters() if n.startswith("backbone.")]
    rest = [q for n, q in model.named_parameters() if not n.startswith("backbone.")]
    groups = [{"params": back, "mult": mult}, {"params": rest, "mult": 1.0}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    mean_t, std_t = torch.tensor(mean).reshape(1, 3, 1, 1), torch.tensor(std).reshape(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(a.seed)

    def set_lr(t):
        f = lr_factor(t, a, per_epoch)
        for g in opt.param_groups:
            g["lr"] = a.lr * g["mult"] * f
        return a.lr * f

    def forward(x):
        if a.amp == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                o = model(x)
            return {k: v.float() for k, v in o.items()}
        return model(x)

    history, step = [], 0
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        losses, t0 = [], time.time()
        for it in range(per_epoch):
            lr = set_lr(step if not a.by_epoch else epoch - 1)
            images, masks = load_batch([train[i] for i in order[it * a.batch:(it + 1) * a.batch]], a.size, a.classes)
            x = images.float().div(255).sub(mean_t).div(std_t)
            flip = torch.rand(len(x), generator=gen) < a.flip
            x[flip] = x[flip].flip(-1)
            masks[flip] = masks[flip].flip(-1)
            o = forward(x)
            loss = seg_ce(o["out"], masks)
            if "aux" in o:
                loss = loss + 0.5 * seg_ce(o["aux"], masks)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            step += 1
            if not math.isfinite(losses[-1]):
                raise SystemExit(f"seg_peer: loss {losses[-1]} at epoch {epoch}, iteration {it}")
        rec = {"epoch": epoch, "loss": float(np.mean(losses)), "lr": lr, "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        print(json.dumps(rec), flush=True)

    # mmseg's IoUMetric over the val split, at --size, the final model.
    model.eval()
    if getattr(model, "aux_classifier", None) is not None:
        model.aux_classifier = None  # eval needs `out` only
    meter = IoUMeter(a.classes)
    tb = a.test_batch or 2 * a.batch
    with torch.no_grad():
        for s in range(0, len(val), tb):
            images, masks = load_batch(val[s:s + tb], a.size, a.classes)
            pred = forward(images.float().div(255).sub(mean_t).div(std_t))["out"].argmax(1)
            meter.update(pred.numpy(), masks.numpy())
    metrics = meter.compute()
    pc = meter.per_class()
    nan_none = lambda v: [None if math.isnan(x) else float(x) for x in v]  # noqa: E731
    result = {
        "peer": "bench/seg_peer.py", "args": vars(a), "torch": torch.__version__,
        "train_images": len(train), "val_images": len(val), "iters_per_epoch": per_epoch,
        "backbone": backbone_info, "epochs": history, "metrics": metrics,
        "per_class": {"IoU": nan_none(pc["IoU"]), "Acc": nan_none(pc["Acc"])},
        "seconds": round(time.time() - t_start, 1),
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({"metrics": metrics, "out": a.out}), flush=True)


if __name__ == "__main__":
    main()
