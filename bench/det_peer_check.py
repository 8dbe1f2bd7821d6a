"""Checks bench/det_peer.py against Arsenal, by hand (npm test never runs Python):

    npx tsc -p . && /usr/bin/python3 bench/det_peer_check.py [--keep DIR]

1. model: the peer's FCOS (resnet18, 128 FPN channels, 2 head convs; BatchNorm
   with every layer trained, and FrozenBatchNorm2d with 3) has the state-dict
   names and shapes of Arsenal's buildDetectionModel('fcos_resnet18_fpn') with
   the same options, and the same trainable parameters.
2. backbone: a torchvision ResNet-18 classifier (conv1…layer4, fc) written as
   safetensors is loaded by Arsenal's loadBackbone (strict) and by the peer;
   the same backbone.body tensors land on both sides, and the file renamed to
   Arsenal's classifier keys (backbone.*, head.*) loads the same in the peer.
3. schedule: the lr of every trainable parameter at every iteration from
   Arsenal's buildOptimizer (paramwise customKeys.backbone.lrMult 0.1 or none)
   + buildSchedule (cosine and poly after a linear warm-up, per iteration and
   per epoch) against the peer's parameter groups and lr_factor.
4. metric: a random ground truth (non-contiguous category ids, a crowd box, an
   image without boxes, small/medium/large areas) and random results (jittered
   truths, false positives, > 100 on one image, a category the truth lacks)
   scored by `arsenal eval-coco` and by the peer's coco_bbox_eval
   (pycocotools' COCOeval): the 12 stats and per-category AP equal.
5. targets: a crowd box is not trained on, boxes scale with the resize. Then
   a 1-epoch det_peer.py run on a tiny generated COCO set (images of another
   size than --size, non-contiguous category ids, crowd, degenerate, clipped
   boxes, an image without boxes) with the classifier as --backbone: it runs,
   drops and clips what Arsenal's reader does, loads every backbone tensor, and
   its results file scored by `arsenal eval-coco` gives the stats it wrote.
Prints one line per check and exits non-zero on a mismatch.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import det_peer  # noqa: E402
from seg_peer import write_safetensors  # noqa: E402

ARSENAL = ["node", os.path.join(ROOT, "dist/src/commands/main.js")]
K = 12
failures = []


def report(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def node(js, *args):
    r = subprocess.run(["node", "--input-type=module", "-e", js, *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"det_peer_check: node failed:\n{r.stderr}")
    return json.loads(r.stdout)


# Arsenal's side of checks 1-3: per model variant, the state dict, the trainable names, the backbone loaded from a
# file, and per schedule case each group's parameter names and lr at every step.
ARSENAL_JS = """
import { buildDetectionModel } from './dist/src/models/detection/index.js';
import { buildOptimizer, buildSchedule } from './dist/src/engine/build.js';
import { loadBackbone } from './dist/src/models/backbone_transfer.js';
const { variants, cases, backbone } = JSON.parse(process.argv[1]);
const out = { models: {}, cases: [] };
const build = (v) => buildDetectionModel('fcos_resnet18_fpn', { numClasses: %d, outChannels: 128, numConvs: 2, ...variants[v] });
for (const v of Object.keys(variants)) {
  const m = build(v);
  const sd = m.stateDict();
  const res = loadBackbone(m, backbone);
  const body = Object.entries(m.stateDict()).filter(([k]) => k.startsWith('backbone.body.')).map(([k, t]) => [k, t.to('float64').abs().sum().item()]);
  out.models[v] = {
    keys: Object.entries(sd).map(([k, t]) => [k, t.shape]),
    trainable: [...m.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n),
    loaded: res.loaded.length, body,
  };
}
for (const c of cases) {
  const m = build(c.variant);
  const nameOf = new Map([...m.namedParameters()].map(([n, p]) => [p, n]));
  const o = { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 };
  if (c.mult) o.paramwise = { customKeys: { backbone: { lrMult: c.mult } } };
  const { optimizer } = buildOptimizer(o, m, null);
  const s = buildSchedule(c.schedule, optimizer, 0.01, c.epochs, c.per);
  const names = optimizer.paramGroups.map((g) => g.params.map((p) => nameOf.get(p)));
  const lrs = [];
  const steps = c.schedule.byEpoch ? c.epochs : c.epochs * c.per;
  for (let t = 0; t < steps; t++) { lrs.push(optimizer.paramGroups.map((g) => g.lr)); s.step(); }
  out.cases.push({ names, lrs });
}
console.log(JSON.stringify(out));
""" % K

VARIANTS = {
    "scratch": {"normLayer": "batch", "trainableBackboneLayers": 5},
    "frozen": {"normLayer": "frozen", "trainableBackboneLayers": 3},
}
PEER_FLAGS = {"scratch": [], "frozen": ["--frozen-bn"]}
CASES = [
    {"variant": "scratch", "mult": 0, "epochs": 3, "per": 5, "schedule": {"type": "cosine", "warmupEpochs": 1}},
    # 2.5 warm-up iterations: JS rounds halves up (3), Python's round() to even (2); eta scaled by the group's lrMult
    {"variant": "frozen", "mult": 0.1, "epochs": 4, "per": 5, "schedule": {"type": "cosine", "warmupEpochs": 0.5, "etaMinRatio": 0.05}},
    {"variant": "scratch", "mult": 0.1, "epochs": 2, "per": 4, "schedule": {"type": "poly", "power": 0.9, "warmupEpochs": 0}},
    {"variant": "frozen", "mult": 0.1, "epochs": 3, "per": 4, "schedule": {"type": "poly", "power": 0.9, "warmupEpochs": 1, "warmupStartFactor": 0.1}},
    {"variant": "scratch", "mult": 0, "epochs": 6, "per": 7, "schedule": {"type": "cosine", "warmupEpochs": 2, "byEpoch": True}},
]


def peer_args(variant, extra=()):
    return det_peer.parse_args(PEER_FLAGS[variant] + list(extra))


def peer_model(variant, extra=()):
    import torch
    torch.manual_seed(0)
    a = peer_args(variant, extra)
    return a, det_peer.build_model(a, K, a.mean_v, a.std_v)


def write_classifier(tmp):
    """A torchvision ResNet-18 classifier's state dict (random init, fc included) as safetensors, in torchvision's
    names and in Arsenal's (backbone.*, head.*)."""
    import torch
    import torchvision
    torch.manual_seed(1)
    sd = {k: v.numpy() for k, v in torchvision.models.resnet18(weights=None).state_dict().items()}
    tv, ars = os.path.join(tmp, "resnet18_tv.safetensors"), os.path.join(tmp, "resnet18_arsenal.safetensors")
    write_safetensors(tv, sd)
    write_safetensors(ars, {("head." + k if k.startswith("fc.") else "backbone." + k): v for k, v in sd.items()})
    return tv, ars


def check_model_schedule_backbone(tmp):
    tv_file, ars_file = write_classifier(tmp)
    res = node(ARSENAL_JS, json.dumps({"variants": VARIANTS, "cases": CASES, "backbone": tv_file}))
    for v in VARIANTS:
        a, m = peer_model(v)
        mine = [(k, list(t.shape)) for k, t in m.state_dict().items()]
        theirs = [(k, s) for k, s in res["models"][v]["keys"]]
        diff = sorted(set(map(str, mine)) ^ set(map(str, theirs)))
        train_mine = {n for n, q in m.named_parameters() if q.requires_grad}
        train_theirs = set(res["models"][v]["trainable"])
        report(f"model ({v}): torchvision FCOS state dict and trainable parameters == Arsenal's fcos_resnet18_fpn",
               not diff and train_mine == train_theirs,
               f"{len(mine)} tensors, {len(train_mine)} trainable (trainable_layers {det_peer.trainable_layers(a)})" if not diff and train_mine == train_theirs
               else f"names/shapes differing: {diff[:6]}; trainable only in peer {sorted(train_mine - train_theirs)[:4]}, only in Arsenal {sorted(train_theirs - train_mine)[:4]}")

        # backbone: the same file into both; every body tensor equal (|x| summed in float64)
        counts = []
        for f in (tv_file, ars_file):
            a2, m2 = peer_model(v, ["--backbone", f])
            counts.append(det_peer.load_backbone(m2, f))
        sd = m2.state_dict()
        body = dict(res["models"][v]["body"])
        worst = max(abs(float(sd[k].double().abs().sum()) - s) / max(1.0, s) for k, s in body.items())
        same_keys = set(body) == {k for k in sd if k.startswith("backbone.body.")}
        c_tv, c_ars = counts
        frozen = v == "frozen"
        ok = (same_keys and worst < 1e-9 and c_tv["missing"] == 0 and c_tv["loaded"] == res["models"][v]["loaded"]
              and {x: c_ars[x] for x in ("loaded", "skipped", "missing")} == {x: c_tv[x] for x in ("loaded", "skipped", "missing")})
        report(f"backbone ({v}): a torchvision ResNet-18 classifier file into Arsenal (loadBackbone) and the peer (both namings)", ok,
               f"{c_tv['loaded']} tensors loaded (Arsenal {res['models'][v]['loaded']}), {c_tv['skipped']} skipped "
               f"(fc{' and num_batches_tracked: FrozenBatchNorm2d' if frozen else ''}), worst relative difference {worst:.1e}")

    worst, n, name_diff = 0.0, 0, []
    for c, r in zip(CASES, res["cases"]):
        s = c["schedule"]
        extra = ["--schedule", s["type"], "--warmup-epochs", str(s["warmupEpochs"]), "--epochs", str(c["epochs"])]
        extra += ["--warmup-start-factor", str(s["warmupStartFactor"])] if "warmupStartFactor" in s else []
        extra += ["--eta-min-ratio", str(s["etaMinRatio"])] if "etaMinRatio" in s else []
        extra += ["--power", str(s["power"])] if "power" in s else []
        extra += ["--by-epoch"] if s.get("byEpoch") else []
        extra += ["--backbone", "x", "--backbone-lr-mult", str(c["mult"])] if c["mult"] else []
        a, m = peer_model(c["variant"], extra)
        groups = det_peer.param_groups(m, a)
        mult_of = {n: g["mult"] for g, names in groups for n in names}
        trainable = {n for n, q in m.named_parameters() if q.requires_grad}
        if set(mult_of) != trainable:
            name_diff.append(f"case {c}: the peer's groups hold {len(mult_of)} of {len(trainable)} trainable parameters")
        for t, lrs in enumerate(r["lrs"]):
            f = det_peer.lr_factor(t, a, c["per"])
            for names, lr in zip(r["names"], lrs):
                for nm in names:
                    if nm not in mult_of:
                        continue  # frozen: in Arsenal's groups, never updated; the peer leaves it out
                    want = 0.01 * mult_of[nm] * f
                    worst = max(worst, abs(lr - want) / want)
                    n += 1
    report("schedule: Arsenal buildOptimizer + buildSchedule (cosine / poly, warm-up, paramwise backbone 0.1) == det_peer per parameter",
           worst < 1e-12 and not name_diff and n > 0, "; ".join(name_diff) or f"{n} parameter lrs over {len(CASES)} cases, worst relative difference {worst:.1e}")
    return tv_file


def random_coco(tmp, rng):
    cats = [{"id": 2, "name": "two"}, {"id": 5, "name": "five"}, {"id": 9, "name": "nine"}]
    images, anns, res = [], [], []
    for i in range(8):
        w, h = int(rng.integers(200, 400)), int(rng.integers(200, 400))
        images.append({"id": 10 + i, "file_name": f"{i}.jpg", "width": w, "height": h})
        if i == 3:
            continue  # no boxes
        for _ in range(int(rng.integers(1, 7))):
            side = float(rng.choice([12, 24, 50, 80, 120, 150]))
            bw, bh = side * rng.uniform(0.7, 1.3), side * rng.uniform(0.7, 1.3)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            cat = 9 if i == 5 else int(rng.choice([2, 5]))
            crowd = int(i == 1 and not any(a["iscrowd"] for a in anns))
            anns.append({"id": len(anns) + 1, "image_id": 10 + i, "category_id": cat, "bbox": [x, y, bw, bh], "area": bw * bh * rng.uniform(0.6, 1), "iscrowd": crowd})
            if rng.random() < 0.85:
                j = rng.normal(0, 0.08 * side, 4)
                res.append({"image_id": 10 + i, "category_id": cat, "bbox": [x + j[0], y + j[1], max(1, bw + j[2]), max(1, bh + j[3])], "score": float(rng.random())})
    for i in range(8):
        w, h = images[i]["width"], images[i]["height"]
        for _ in range(120 if i == 6 else int(rng.integers(0, 5))):  # false positives; image 6 past maxDets 100
            bw, bh = rng.uniform(5, 150, 2)
            res.append({"image_id": 10 + i, "category_id": int(rng.choice([2, 5, 9, 7])), "bbox": [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh], "score": float(rng.random())})
    gt_file, res_file = os.path.join(tmp, "gt.json"), os.path.join(tmp, "res.json")
    with open(gt_file, "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": cats}, f)
    with open(res_file, "w") as f:
        json.dump(res, f)
    return gt_file, res_file, len(anns), len(res)


def arsenal_eval(gt_file, res_file, work):
    subprocess.run(ARSENAL + ["eval-coco", gt_file, res_file, "--work-dir", work, "--quiet"], check=True, cwd=ROOT)
    with open(os.path.join(work, "eval_coco.json")) as f:
        return json.load(f)


def compare_stats(ars, stats, per_cat):
    diffs = []
    for k in det_peer.STAT_NAMES:
        if not abs(ars["stats"][k] - stats[k]) <= 1e-12:
            diffs.append(f"{k}: arsenal {ars['stats'][k]} peer {stats[k]}")
    for c in ars["perCategory"]:
        if not abs(c["AP"] - per_cat[str(c["id"])]) <= 1e-12:
            diffs.append(f"category {c['id']} AP: arsenal {c['AP']} peer {per_cat[str(c['id'])]}")
    return diffs


def check_metric(tmp):
    gt_file, res_file, n_gt, n_res = random_coco(tmp, np.random.default_rng(0))
    ars = arsenal_eval(gt_file, res_file, os.path.join(tmp, "eval_random"))
    with open(res_file) as f:
        stats, per_cat = det_peer.coco_bbox_eval(gt_file, json.load(f), quiet=True)
    diffs = compare_stats(ars, stats, per_cat)
    report("metric: arsenal eval-coco == det_peer's pycocotools COCOeval (12 stats, per-category AP)", not diffs,
           "; ".join(diffs[:6]) or f"AP {stats['AP']:.4f} AP50 {stats['AP50']:.4f} AR100 {stats['AR100']:.4f} over 8 images, {n_gt} truths, {n_res} results")


def make_dataset(root):
    """train 8 / val 4 images of 96x80 (W x H), categories 3 and 7: red and blue rectangles on noise."""
    rng = np.random.default_rng(2)
    os.makedirs(os.path.join(root, "annotations"))
    colours = {3: (220, 40, 40), 7: (40, 40, 220)}
    expect = {"degenerate": 0, "clipped": 0}
    for split, n in (("train", 8), ("val", 4)):
        d = os.path.join(root, "img_dir", split)
        os.makedirs(d)
        images, anns = [], []
        for i in range(n):
            w, h = 96, 80
            img = rng.normal(120, 25, (h, w, 3))
            if i != 2:  # image 2: no boxes
                for _ in range(int(rng.integers(1, 4))):
                    cat = int(rng.choice([3, 7]))
                    bw, bh = int(rng.integers(14, 40)), int(rng.integers(14, 36))
                    x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
                    img[y:y + bh, x:x + bw] = colours[cat]
                    anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cat, "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": 0})
            if split == "train" and i == 0:
                anns.append({"id": len(anns) + 1, "image_id": 1, "category_id": 3, "bbox": [10, 10, 30, 25], "area": 750, "iscrowd": 1})
                anns.append({"id": len(anns) + 1, "image_id": 1, "category_id": 7, "bbox": [5, 5, 0, 10], "area": 0, "iscrowd": 0})
                anns.append({"id": len(anns) + 1, "image_id": 1, "category_id": 7, "bbox": [80, 60, 30, 30], "area": 900, "iscrowd": 0})
                expect = {"degenerate": 1, "clipped": 1}
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(d, f"{i:05d}.jpg"), quality=95)
            images.append({"id": i + 1, "file_name": f"{i:05d}.jpg", "width": w, "height": h})
        with open(os.path.join(root, "annotations", f"instances_{split}.json"), "w") as f:
            json.dump({"images": images, "annotations": anns, "categories": [{"id": 7, "name": "blue"}, {"id": 3, "name": "red"}]}, f)
    return expect


def check_run(tmp, backbone):
    data = os.path.join(tmp, "data")
    expect = make_dataset(data)
    out = os.path.join(tmp, "peer.json")
    cmd = [sys.executable, os.path.join(HERE, "det_peer.py"), "--data", data, "--epochs", "1", "--batch", "2", "--size", "64",
           "--seed", "1", "--threads", "2", "--score-thresh", "0.05", "--backbone", backbone, "--out", out]
    # the trained targets of train image 1: its crowd box left out, the rest scaled from 96x80 to 64x64
    _, recs, _ = det_peer.read_coco(os.path.join(data, "annotations", "instances_train.json"), os.path.join(data, "img_dir", "train"))
    img, boxes, labels = det_peer.load_sample(recs[0], 64)
    want = recs[0]["boxes"][~recs[0]["crowd"]] * np.array([64 / 96, 64 / 80, 64 / 96, 64 / 80], np.float32)
    report("det_peer's targets: crowd boxes left out, boxes scaled with the resize, labels by ascending category id",
           img.shape == (3, 64, 64) and recs[0]["crowd"].sum() == 1 and np.allclose(boxes, want) and len(boxes) == len(recs[0]["boxes"]) - 1
           and set(labels.tolist()) <= {0, 1} and recs[0]["boxes"][-1].tolist() == [80, 60, 96, 80],
           f"image 1: {len(recs[0]['boxes'])} boxes read, {len(boxes)} trained, the box past the border clipped to [80, 60, 96, 80]")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    e = r["epochs"][0]
    drops = r["train_boxes_dropped"]
    ok = (len(r["epochs"]) == 1 and math.isfinite(e["loss"]) and r["iters_per_epoch"] == 4 and r["backbone"]["missing"] == 0
          and r["backbone"]["loaded"] > 0 and drops["degenerate"] == expect["degenerate"] and drops["clipped"] == expect["clipped"]
          and set(r["stats"]) == set(det_peer.STAT_NAMES) and os.path.isfile(r["results_file"]))
    report("det_peer.py: 1 epoch on a tiny COCO set with --backbone", ok,
           f"loss {e['loss']:.4f} (cls {e['classification']:.3f} reg {e['bbox_regression']:.3f} ctr {e['bbox_ctrness']:.3f}), "
           f"grad norm {e['grad_norm']:.2f}, boxes {drops}, backbone {r['backbone']['loaded']} loaded / {r['backbone']['skipped']} skipped, "
           f"{r['detections']} detections, AP {r['stats']['AP']:.4f}, {r['seconds']} s")
    ars = arsenal_eval(os.path.join(data, "annotations", "instances_val.json"), r["results_file"], os.path.join(tmp, "eval_run"))
    diffs = compare_stats(ars, r["stats"], {str(c): ap for c, ap in zip([3, 7], [r["per_category_AP"]["red"], r["per_category_AP"]["blue"]])})
    report("det_peer.py's results file scored by arsenal eval-coco == the stats it wrote", not diffs and r["detections"] > 0,
           "; ".join(diffs[:6]) or f"{r['detections']} detections, AP50 {r['stats']['AP50']:.4f}, AR100 {r['stats']['AR100']:.4f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keep", help="write into this folder and keep it")
    a = p.parse_args()
    if not os.path.isfile(ARSENAL[1]):
        raise SystemExit("det_peer_check: build first (npx tsc -p .)")
    import torch
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as t:
        tmp = a.keep or t
        os.makedirs(tmp, exist_ok=True)
        backbone = check_model_schedule_backbone(tmp)
        check_metric(tmp)
        check_run(tmp, backbone)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
