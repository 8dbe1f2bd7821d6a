"""The accuracy peer of an Arsenal detection config: torchvision 0.14's FCOS on
a ResNet FPN, trained by a plain PyTorch loop with the same recipe on a COCO
instances json, scored by pycocotools' own COCOeval (bbox). Run with Debian's
/usr/bin/python3 (torch 1.13, torchvision 0.14, PIL, numpy); pycocotools comes
from ../shared/reference-tools (its README: cocoeval.py and coco.py unmodified,
a numpy box IoU for the C extension) or an installed pycocotools. Nothing in
Arsenal depends on it.

    /usr/bin/python3 bench/det_peer.py [--data data/scenes] [--ann-file annotations/instances_{split}.json]
        [--image-dir img_dir/{split}] [--epochs 12] [--batch 8] [--lr 0.01] [--momentum 0.9] [--weight-decay 1e-4]
        [--schedule cosine|poly] [--warmup-epochs 1] [--warmup-start-factor 0.3333] [--eta-min-ratio R] [--power 0.9]
        [--by-epoch] [--clip-grad-norm 35] [--size 160] [--flip 0.5] [--mean 0.485,0.456,0.406] [--std 0.229,0.224,0.225]
        [--arch resnet18] [--out-channels 128] [--num-convs 2] [--frozen-bn] [--trainable-layers N]
        [--score-thresh 0.2] [--nms-thresh 0.6] [--detections-per-img 100] [--topk-candidates 1000]
        [--backbone FILE] [--backbone-lr-mult 0.1] [--backbone-lr-key backbone]
        [--train-subset N] [--test-subset N] [--seed 42] [--threads 2] [--out det_peer.json]

The defaults are the scenes detection recipe (configs/detection/scenes.ts:
FCOS ResNet-18 FPN at 160 px, outChannels 128, numConvs 2, SGD lr 0.01
momentum 0.9 weight decay 1e-4, warm-up then cosine, clipGradNorm 35, flips,
batch 8, from scratch with BatchNorm and every backbone layer trained); pass
the config's values where they differ (--epochs above all). What each piece
matches in Arsenal:

- data: src/data/coco_json.ts. The json's images in its order (--train-subset /
  --test-subset: the first N, data.trainSubset / testSubset), file_name under
  --image-dir (`{split}` = train / val). Categories by ascending id are labels
  0..K-1 (results are written with the json's ids). bbox [x, y, w, h] -> xyxy
  clipped to the image; w or h <= 0, a box outside its image or of an unknown
  category dropped (onBadBox 'drop'); iscrowd boxes not trained on. Images
  without boxes are kept (all their points negative).
- resize: every image to --size x --size, bilinear (PIL's; Arsenal's is sharp's
  'linear' kernel, both filter over the shrink), boxes scaled by size / width
  and size / height (data.imageSize [S, S]).
- normalisation: images are fed as x / 255 and torchvision's
  GeneralizedRCNNTransform subtracts --mean and divides by --std (Arsenal's
  Predictor does it outside the model). With min_size = max_size = S, S x S
  inputs and size_divisible 1, the transform neither resizes nor pads.
- order: a seeded shuffle per epoch, the last partial batch dropped (the
  trainer's DataLoader: shuffle, dropLast); a horizontal flip of image and boxes
  with probability --flip per sample (RandomFlip: x1' = S - x2, x2' = S - x1).
- model: torchvision's resnet18(norm_layer=BatchNorm2d, or FrozenBatchNorm2d
  with --frozen-bn) frozen as _resnet_fpn_extractor (trainable_layers: 5 with
  BatchNorm, 3 with --frozen-bn, or --trainable-layers), BackboneWithFPN on
  layer2..layer4 (returned_layers [2, 3, 4]) with --out-channels and
  LastLevelP6P7(C, C) (resnet_fpn_backbone fixes 256 channels, so it is built
  here as it builds it), FCOSHead(C, 1, K, num_convs), FCOS(min_size =
  max_size = S, score_thresh, nms_thresh, detections_per_img, topk_candidates).
  The state dict's names and shapes are Arsenal's fcos_resnet18_fpn's
  (bench/det_peer_check.py checks it).
- loss: FCOS's classification + bbox_regression + bbox_ctrness, weights 1.
- optimizer: SGD(lr, momentum, weight decay on every parameter); with
  --backbone, the parameters under --backbone-lr-key (default 'backbone': the
  ResNet and the FPN, as Arsenal's paramwise customKeys.backbone matches
  'backbone.body.*' and 'backbone.fpn.*'; 'backbone.body' for the ResNet only)
  at lr x --backbone-lr-mult.
- gradient clipping: torch.nn.utils.clip_grad_norm_(trainable parameters,
  --clip-grad-norm) before every step (train.clipGradNorm; mmdet FCOS's
  grad_clip max_norm 35); 0 turns it off.
- schedule: src/engine/build.ts buildSchedule + src/optim/lr_scheduler.ts,
  stepped after every iteration (--by-epoch: after every epoch). With P
  iterations per epoch (1 by epoch), T = epochs * P, W = min(T - 1,
  round(warmup_epochs * P)), T' = max(1, T - W), the lr of step t (the t-th
  update, 0-based) of a group with lr multiplier m is m * lr * f(t):
    t < W:          s + (1 - s) * t / W                                  LinearLR (s = warm-up start factor)
    t >= W, cosine: r + (1 - r) * (1 + cos(pi * (t - W) / T')) / 2       CosineAnnealingLR (r = eta min ratio, default 0)
    t >= W, poly:   r + (1 - r) * (1 - min(t - W, T') / T')^power         PolyLR (r default 0.01)
- precision: fp32 only. Under CPU bf16 autocast torchvision's FCOS head fails
  (GroupNorm gets bf16 input and fp32 weights), so compare with Arsenal's
  train.amp 'fp32'.
- metric: pycocotools' COCOeval (bbox) over the val split's images (the first
  --test-subset N only when given), detections mapped back to each image's
  stored size (x * width / S, y * height / S), as `arsenal eval-coco`
  (src/commands/eval_coco.ts) scores a results file. Evaluated once, after the
  last epoch.

--backbone FILE: a classifier's safetensors; ResNet keys conv1.*, bn1.*,
layer1..4.* (torchvision's) or backbone.conv1.* ... (Arsenal's) are loaded as
backbone.body.*; fc.* / head.* and keys of another shape or matching nothing are
skipped and counted (with --frozen-bn, num_batches_tracked too).

Writes --out: the arguments, per-epoch mean losses (total and each term), mean
gradient norm before clipping and last lr, the 12 COCO stats by name and
per-category AP, the seconds taken; and the val detections in COCO's results
format to --results (default: --out with .bbox.json), which `arsenal eval-coco
GT RESULTS` scores the same way.
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import time
import types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from seg_peer import read_safetensors  # noqa: E402  (safetensors by hand: Debian has no package)

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
DEFAULT_COCOTOOLS = os.path.join(os.path.dirname(HERE), "..", "shared", "reference-tools")


def fail(msg):
    raise SystemExit(f"det_peer: {msg}")


# ---------------------------------------------------------------- pycocotools
def load_pycocotools(folder=None):
    """(COCO, COCOeval) from `folder` (reference-tools: pycocotools/ with the numpy box IoU) or an installed package.
    The two shims are reference-tools/coco_stats.py's: np.float (gone in numpy 1.24, used by COCOeval.accumulate) and
    a stand-in matplotlib (coco.py imports pyplot at module level for showAnns only)."""
    if "float" not in np.__dict__:
        np.float = float
    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        mpl = types.ModuleType("matplotlib")
        for sub in ("pyplot", "collections", "patches"):
            m = types.ModuleType("matplotlib." + sub)
            for name in ("PatchCollection", "Polygon"):
                setattr(m, name, object)
            setattr(mpl, sub, m)
            sys.modules["matplotlib." + sub] = m
        sys.modules["matplotlib"] = mpl
    folder = folder or DEFAULT_COCOTOOLS
    if os.path.isfile(os.path.join(folder, "pycocotools", "cocoeval.py")) and os.path.abspath(folder) not in sys.path:
        sys.path.insert(0, os.path.abspath(folder))
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        fail(f"cannot import pycocotools ({e}): give --pycocotools DIR (a folder holding pycocotools/, such as ../shared/reference-tools)")
    return COCO, COCOeval


def coco_bbox_eval(gt_file, results, img_ids=None, pycocotools=None, quiet=False):
    """pycocotools' bbox evaluation of `results` (COCO's results format, a list) against the json `gt_file`, over
    img_ids (default: every image of the json). Returns ({stat name: value}, {category id: AP}); prints its summary."""
    COCO, COCOeval = load_pycocotools(pycocotools)
    import contextlib
    import io
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        gt = COCO(gt_file)
        if results:
            dt = gt.loadRes(results)
        else:  # loadRes reads anns[0]; no detections is an empty results set
            dt = COCO()
            dt.dataset = {"images": list(gt.dataset["images"]), "categories": list(gt.dataset["categories"]), "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        if img_ids is not None:
            ev.params.imgIds = sorted(img_ids)
        ev.evaluate()
        ev.accumulate()
    with contextlib.redirect_stdout(sink if quiet else sys.stdout):
        ev.summarize()
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    per_cat = {}
    for k, cat in enumerate(ev.params.catIds):
        p = prec[:, :, k, 0, -1]
        per_cat[str(cat)] = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
    return dict(zip(STAT_NAMES, map(float, ev.stats))), per_cat


# ---------------------------------------------------------------- data
def read_coco(ann_file, image_dir):
    """The json's categories (ids ascending = labels) and one record per image in the json's order: file, id, stored
    [height, width], boxes xyxy float32 [M, 4] in stored pixels, labels int64 [M], crowd bool [M]; and drop counts."""
    try:
        with open(ann_file) as f:
            js = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the COCO json {ann_file}: {e}")
    for k in ("images", "categories"):
        if not isinstance(js.get(k), list):
            fail(f"{ann_file}: '{k}' must be a list (a COCO instances json)")
    cat_ids = sorted(c["id"] for c in js["categories"])
    label_of = {c: i for i, c in enumerate(cat_ids)}
    names = {c["id"]: c["name"] for c in js["categories"]}
    recs, slot = [], {}
    for im in js["images"]:
        slot[im["id"]] = len(recs)
        recs.append({"file": os.path.join(image_dir, im["file_name"]), "id": im["id"], "size": (im["height"], im["width"]), "boxes": [], "labels": [], "crowd": []})
    dropped = {"degenerate": 0, "outside": 0, "unknownClass": 0, "clipped": 0}
    for a in js.get("annotations", []):
        r = recs[slot[a["image_id"]]]
        h, w = r["size"]
        x, y, bw, bh = a["bbox"]
        if a["category_id"] not in label_of:
            dropped["unknownClass"] += 1
            continue
        if not (bw > 0 and bh > 0):
            dropped["degenerate"] += 1
            continue
        x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        if not (x2 > x1 and y2 > y1):
            dropped["outside"] += 1
            continue
        dropped["clipped"] += (x1, y1, x2, y2) != (x, y, x + bw, y + bh)
        r["boxes"].append((x1, y1, x2, y2))
        r["labels"].append(label_of[a["category_id"]])
        r["crowd"].append(bool(a.get("iscrowd", 0)))
    for r in recs:
        r["boxes"] = np.asarray(r["boxes"], np.float32).reshape(-1, 4)
        r["labels"] = np.asarray(r["labels"], np.int64)
        r["crowd"] = np.asarray(r["crowd"], bool)
    missing = [r["file"] for r in recs if not os.path.isfile(r["file"])]
    if missing:
        fail(f"{ann_file}: image {missing[0]} is missing ({len(missing)} missing in all)")
    return {"ids": cat_ids, "names": [names[c] for c in cat_ids]}, recs, dropped


def load_sample(rec, size):
    """uint8 image [3, S, S] (bilinear resize) and its trained boxes (crowd left out) scaled to S x S, with labels."""
    img = Image.open(rec["file"]).convert("RGB")
    h, w = rec["size"]
    if img.size != (w, h):
        fail(f"the json gives image {rec['id']} the size {w}x{h} (WxH), but {rec['file']} is {img.width}x{img.height}")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    keep = ~rec["crowd"]
    scale = np.array([size / w, size / h, size / w, size / h], np.float32)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), rec["boxes"][keep] * scale, rec["labels"][keep]


# ---------------------------------------------------------------- schedule
def lr_factor(t, a, iters_per_epoch):
    """Arsenal's buildSchedule (warm-up, then cosine or poly), in units of the base lr (see the module docstring)."""
    per = 1 if a.by_epoch else iters_per_epoch
    total = a.epochs * per
    warm = min(total - 1, math.floor(a.warmup_epochs * per + 0.5))  # JS Math.round (halves up), not Python's round
    if t < warm:
        s = a.warmup_start_factor
        return s + (1 - s) * t / warm
    tp = max(1, total - warm)
    if a.schedule == "cosine":
        r = 0.0 if a.eta_min_ratio is None else a.eta_min_ratio
        return r + (1 - r) * (1 + math.cos(math.pi * (t - warm) / tp)) / 2
    r = 0.01 if a.eta_min_ratio is None else a.eta_min_ratio
    return r + (1 - r) * (1 - min(t - warm, tp) / tp) ** a.power


# ---------------------------------------------------------------- model
def trainable_layers(a):
    return a.trainable_layers if a.trainable_layers is not None else (3 if a.frozen_bn else 5)


def build_backbone(a):
    """torchvision's resnet_fpn_backbone(backbone_name=arch, weights=None, norm_layer, trainable_layers,
    returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(C, C)) with C FPN channels (its _resnet_fpn_extractor fixes 256)."""
    from torch import nn
    from torchvision.models import resnet
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import misc as misc_nn_ops
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    norm = misc_nn_ops.FrozenBatchNorm2d if a.frozen_bn else nn.BatchNorm2d
    body = resnet.__dict__[a.arch](weights=None, norm_layer=norm)
    tl = trainable_layers(a)
    if not 0 <= tl <= 5:
        fail(f"--trainable-layers must be in [0, 5], got {tl}")
    # _resnet_fpn_extractor: freeze what is not among the last `tl` stages
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:tl] + (["bn1"] if tl == 5 else [])
    for name, q in body.named_parameters():
        if not any(name.startswith(s) for s in train):
            q.requires_grad_(False)
    returned = [2, 3, 4]
    c2 = body.inplanes // 8
    C = a.out_channels
    return BackboneWithFPN(body, {f"layer{k}": str(v) for v, k in enumerate(returned)}, [c2 * 2 ** (i - 1) for i in returned], C,
                           extra_blocks=LastLevelP6P7(C, C))


def build_model(a, num_classes, mean, std):
    from torchvision.models.detection.fcos import FCOS, FCOSHead
    if a.out_channels % 32:
        fail(f"--out-channels must be a multiple of 32 (the head's GroupNorm(32)), got {a.out_channels}")
    backbone = build_backbone(a)
    head = FCOSHead(backbone.out_channels, 1, num_classes, num_convs=a.num_convs)
    return FCOS(backbone, num_classes, min_size=a.size, max_size=a.size, image_mean=mean, image_std=std, head=head,
                score_thresh=a.score_thresh, nms_thresh=a.nms_thresh, detections_per_img=a.detections_per_img,
                topk_candidates=a.topk_candidates, size_divisible=1)


def backbone_target(key):
    """The model key of a classifier key: torchvision's conv1/bn1/layerN.* or Arsenal's backbone.* -> backbone.body.*; None otherwise."""
    k = key[len("backbone."):] if key.startswith("backbone.") else key
    return "backbone.body." + k if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4") else None


def load_backbone(model, path):
    """Loads a classifier's ResNet into backbone.body; returns counts for the log."""
    import torch
    own = model.state_dict()
    loaded, skipped = set(), []
    with torch.no_grad():
        for k, v in read_safetensors(path).items():
            target = backbone_target(k)
            if target is None or target not in own or tuple(own[target].shape) != v.shape:
                skipped.append(k)
                continue
            own[target].copy_(torch.from_numpy(v).to(own[target].dtype))
            loaded.add(target)
    missing = [k for k in own if k.startswith("backbone.body.") and k not in loaded and not k.endswith("num_batches_tracked")]
    return {"loaded": len(loaded), "skipped": len(skipped), "missing": len(missing),
            "skipped_examples": skipped[:5], "missing_examples": missing[:5]}


def param_groups(model, a):
    """[(group, names)]: the trainable parameters under --backbone-lr-key (Arsenal's customKeys match: the key itself,
    a prefix 'key.', or failing that a substring) at --backbone-lr-mult when --backbone is given, the rest at 1."""
    key = a.backbone_lr_key

    def under(n):
        return n == key or n.startswith(key + ".") or key in n

    named = [(n, q) for n, q in model.named_parameters() if q.requires_grad]
    if not a.backbone:
        return [({"params": [q for _, q in named], "mult": 1.0}, [n for n, _ in named])]
    back = [(n, q) for n, q in named if under(n)]
    rest = [(n, q) for n, q in named if not under(n)]
    return [({"params": [q for _, q in g], "mult": m}, [n for n, _ in g]) for g, m in ((back, a.backbone_lr_mult), (rest, 1.0)) if g]


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/scenes", help="the dataset root (what `arsenal data scenes --out DIR` writes)")
    p.add_argument("--ann-file", default="annotations/instances_{split}.json", help="relative to --data (or absolute); {split} = train / val")
    p.add_argument("--image-dir", default="img_dir/{split}", help="the folder file_name is relative to, relative to --data")
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-split", default="val")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--schedule", choices=["cosine", "poly"], default="cosine")
    p.add_argument("--warmup-epochs", type=float, default=1)
    p.add_argument("--warmup-start-factor", type=float, default=1 / 3)
    p.add_argument("--eta-min-ratio", type=float, default=None, help="default 0 for cosine, 0.01 for poly (Arsenal's)")
    p.add_argument("--power", type=float, default=0.9)
    p.add_argument("--by-epoch", action="store_true")
    p.add_argument("--clip-grad-norm", type=float, default=35)
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--flip", type=float, default=0.5)
    p.add_argument("--mean", default="0.485,0.456,0.406")
    p.add_argument("--std", default="0.229,0.224,0.225")
    p.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34", "resnet50", "resnet101"])
    p.add_argument("--out-channels", type=int, default=128)
    p.add_argument("--num-convs", type=int, default=2)
    p.add_argument("--frozen-bn", action="store_true", help="FrozenBatchNorm2d (trainable layers 3 unless --trainable-layers)")
    p.add_argument("--trainable-layers", type=int, default=None, help="default 5 (3 with --frozen-bn)")
    p.add_argument("--score-thresh", type=float, default=0.2)
    p.add_argument("--nms-thresh", type=float, default=0.6)
    p.add_argument("--detections-per-img", type=int, default=100)
    p.add_argument("--topk-candidates", type=int, default=1000)
    p.add_argument("--backbone", help="a classifier's safetensors (ResNet keys) loaded into backbone.body")
    p.add_argument("--backbone-lr-mult", type=float, default=0.1)
    p.add_argument("--backbone-lr-key", default="backbone")
    p.add_argument("--train-subset", type=int, default=0, help="the first N training images in the json's order")
    p.add_argument("--test-subset", type=int, default=0, help="the first N val images in the json's order")
    p.add_argument("--test-batch", type=int, default=0, help="default 2 x --batch")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pycocotools", default=None, help=f"a folder holding pycocotools/ (default {os.path.normpath(DEFAULT_COCOTOOLS)})")
    p.add_argument("--out", default="det_peer.json")
    p.add_argument("--results", default=None, help="the val detections in COCO's results format (default: --out with .bbox.json)")
    a = p.parse_args(argv)
    a.mean_v, a.std_v = [float(x) for x in a.mean.split(",")], [float(x) for x in a.std.split(",")]
    if len(a.mean_v) != 3 or len(a.std_v) != 3:
        p.error("--mean and --std take 3 comma-separated values")
    return a


def split_paths(a, split):
    ann = a.ann_file.replace("{split}", split)
    return os.path.join(a.data, ann), os.path.join(a.data, a.image_dir.replace("{split}", split))


def main(argv=None):
    a = parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t_start = time.time()
    load_pycocotools(a.pycocotools)  # fail before training, not after
    train_ann, train_dir = split_paths(a, a.train_split)
    val_ann, val_dir = split_paths(a, a.test_split)
    cats, train, train_drops = read_coco(train_ann, train_dir)
    val_cats, val, _ = read_coco(val_ann, val_dir)
    if val_cats["ids"] != cats["ids"]:
        fail(f"{val_ann} has the categories {val_cats['ids']}, {train_ann} {cats['ids']}")
    train, val = train[: a.train_subset or None], val[: a.test_subset or None]
    per_epoch = len(train) // a.batch
    if per_epoch < 1:
        fail(f"{len(train)} training images make no full batch of {a.batch} (the last partial batch is dropped)")
    if any(v for k, v in train_drops.items()):
        print(f"train boxes: {train_drops}", flush=True)

    model = build_model(a, len(cats["ids"]), a.mean_v, a.std_v)
    backbone_info = load_backbone(model, a.backbone) if a.backbone else None
    if backbone_info:
        print(f"backbone {a.backbone}: {backbone_info}", flush=True)
    groups = param_groups(model, a)
    opt = torch.optim.SGD([g for g, _ in groups], lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    trainable = [q for g, _ in groups for q in g["params"]]
    gen = torch.Generator().manual_seed(a.seed)

    def set_lr(t):
        f = lr_factor(t, a, per_epoch)
        for g in opt.param_groups:
            g["lr"] = a.lr * g["mult"] * f
        return a.lr * f

    def batch(recs):
        samples = [load_sample(r, a.size) for r in recs]
        images = torch.from_numpy(np.stack([s[0] for s in samples])).float().div_(255)
        return images, [{"boxes": torch.from_numpy(s[1]), "labels": torch.from_numpy(s[2])} for s in samples]

    history, step = [], 0
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        sums, norms, t0 = {}, [], time.time()
        for it in range(per_epoch):
            lr = set_lr(step if not a.by_epoch else epoch - 1)
            images, targets = batch([train[i] for i in order[it * a.batch:(it + 1) * a.batch]])
            flip = (torch.rand(len(images), generator=gen) < a.flip).tolist()
            for k, f in enumerate(flip):
                if f:
                    images[k] = images[k].flip(-1)
                    b = targets[k]["boxes"]
                    targets[k]["boxes"] = torch.stack([a.size - b[:, 2], b[:, 1], a.size - b[:, 0], b[:, 3]], 1)
            losses = model(list(images), targets)
            loss = sum(losses.values())
            loss.backward()
            if a.clip_grad_norm > 0:
                norms.append(float(torch.nn.utils.clip_grad_norm_(trainable, a.clip_grad_norm)))
            opt.step()
            opt.zero_grad(set_to_none=True)
            for k, v in [("loss", loss)] + list(losses.items()):
                sums[k] = sums.get(k, 0.0) + float(v)
            step += 1
            if not math.isfinite(float(loss)):
                fail(f"loss {float(loss)} at epoch {epoch}, iteration {it}")
        rec = {"epoch": epoch, **{k: v / per_epoch for k, v in sums.items()}, "grad_norm": float(np.mean(norms)) if norms else None,
               "lr": lr, "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        print(json.dumps(rec), flush=True)

    # COCO bbox mAP over the val split, the final model, boxes back in each image's stored pixels.
    model.eval()
    results, tb = [], a.test_batch or 2 * a.batch
    with torch.no_grad():
        for s in range(0, len(val), tb):
            recs = val[s:s + tb]
            images, _ = batch(recs)
            for r, d in zip(recs, model(list(images))):
                h, w = r["size"]
                bx = (d["boxes"] * torch.tensor([w / a.size, h / a.size, w / a.size, h / a.size])).tolist()
                for (x1, y1, x2, y2), sc, lb in zip(bx, d["scores"].tolist(), d["labels"].tolist()):
                    results.append({"image_id": r["id"], "category_id": cats["ids"][lb], "bbox": [x1, y1, x2 - x1, y2 - y1], "score": sc})
    results_file = a.results or (os.path.splitext(a.out)[0] + ".bbox.json")
    with open(results_file, "w") as f:
        json.dump(results, f)
    stats, per_cat = coco_bbox_eval(val_ann, results, [r["id"] for r in val], a.pycocotools)
    args = {k: v for k, v in vars(a).items() if k not in ("mean_v", "std_v")}
    result = {
        "peer": "bench/det_peer.py", "args": args, "torch": torch.__version__, "precision": "fp32",
        "trainable_layers": trainable_layers(a), "train_images": len(train), "val_images": len(val), "iters_per_epoch": per_epoch,
        "train_boxes_dropped": train_drops, "backbone": backbone_info, "epochs": history, "detections": len(results),
        "results_file": results_file, "stats": stats,
        "per_category_AP": {cats["names"][i]: per_cat[str(c)] for i, c in enumerate(cats["ids"])},
        "seconds": round(time.time() - t_start, 1),
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({"stats": stats, "out": a.out}), flush=True)


if __name__ == "__main__":
    main()
