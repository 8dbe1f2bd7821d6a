"""Checks bench/seg_peer.py against Arsenal, by hand (npm test never runs Python):

    npx tsc -p . && /usr/bin/python3 bench/seg_peer_check.py [--keep DIR]

1. metrics: random prediction / ground-truth mask folders (255 in the truth, a
   class in neither, a class only predicted, palette and greyscale PNGs) scored
   by `arsenal eval-seg` (src/commands/eval_seg.ts) and by seg_peer's IoUMeter:
   aAcc, mIoU, mAcc, mDice and per-class IoU / Acc equal (NaN where NaN).
2. schedule: the lr of every iteration of both parameter groups from Arsenal's
   buildOptimizer (paramwise customKeys.backbone.lrMult 0.1) + buildSchedule
   ('poly', warm-up, per iteration and per epoch) against seg_peer's lr_factor.
3. safetensors: a torchvision MobileNetV3-Large classifier state dict written
   by seg_peer's hand writer as `features.*` / `classifier.*` (the keys of a
   classification checkpoint), read back by seg_peer and by Arsenal
   (src/torch/safetensors.ts): same tensors.
4. a 1-epoch seg_peer.py run on a tiny generated mmseg-layout dataset with that
   file as --backbone: it runs, loads every backbone tensor, writes its JSON.
Prints one line per check and exits non-zero on a mismatch.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from types import SimpleNamespace

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import seg_peer  # noqa: E402

ARSENAL = ["node", os.path.join(ROOT, "dist/src/commands/main.js")]
failures = []


def report(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def same(a, b, tol=1e-12):
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        na = a is None or (isinstance(a, float) and math.isnan(a))
        nb = b is None or (isinstance(b, float) and math.isnan(b))
        return na and nb
    return abs(a - b) <= tol


def save_mask(path, m, palette):
    """A class-index PNG: 8-bit greyscale, or palette (the index is the class; the colours are arbitrary)."""
    im = Image.fromarray(m.astype(np.uint8), mode="P" if palette else "L")
    if palette:
        im.putpalette([(37 * i) % 256 for i in range(768)])
    im.save(path)


def check_metrics(tmp):
    rng = np.random.default_rng(0)
    k = 6
    pred_dir, gt_dir = os.path.join(tmp, "pred"), os.path.join(tmp, "gt")
    os.makedirs(pred_dir)
    os.makedirs(gt_dir)
    meter = seg_peer.IoUMeter(k)
    for i in range(5):
        h, w = 20 + i, 30 - i
        gt = rng.integers(0, 4, (h, w))  # classes 0..3 labelled; 4 only predicted; 5 nowhere
        gt[rng.random((h, w)) < 0.15] = 255
        pred = np.where(rng.random((h, w)) < 0.6, gt, rng.integers(0, 5, (h, w)))
        pred[pred == 255] = 1
        save_mask(os.path.join(gt_dir, f"{i}.png"), gt, palette=i % 2 == 0)
        save_mask(os.path.join(pred_dir, f"{i}.png"), pred, palette=i % 2 == 1)
        meter.update(pred, gt)
    work = os.path.join(tmp, "eval")
    subprocess.run(ARSENAL + ["eval-seg", "--pred", pred_dir, "--gt", gt_dir, "--num-classes", str(k), "--work-dir", work, "--quiet"], check=True)
    with open(os.path.join(work, "eval_seg.json")) as f:
        ars = json.load(f)
    mine = meter.compute()
    pc = meter.per_class()
    diffs = [f"{m}: arsenal {ars['metrics'][m]} peer {mine[m]}" for m in ("aAcc", "mIoU", "mAcc", "mDice") if not same(ars["metrics"][m], mine[m])]
    for c, row in enumerate(ars["perClass"]):
        for m in ("IoU", "Acc"):
            if not same(row[m], float(pc[m][c])):
                diffs.append(f"class {c} {m}: arsenal {row[m]} peer {pc[m][c]}")
    report("metrics: arsenal eval-seg == seg_peer IoUMeter", not diffs,
           "; ".join(diffs) or f"mIoU {mine['mIoU']:.6f} mAcc {mine['mAcc']:.6f} aAcc {mine['aAcc']:.6f} over 5 masks, {k} classes (NaN classes left out)")


def check_schedule():
    cases = [
        {"epochs": 3, "per": 5, "warmupEpochs": 1, "byEpoch": False},
        {"epochs": 4, "per": 5, "warmupEpochs": 0.5, "byEpoch": False},  # 2.5 iterations: JS rounds halves up (3), Python round() to even (2)
        {"epochs": 2, "per": 4, "warmupEpochs": 0, "byEpoch": False},
        {"epochs": 6, "per": 7, "warmupEpochs": 2, "byEpoch": True},
    ]
    js = """
import { buildOptimizer, buildSchedule } from './dist/src/engine/build.js';
import { buildSegmentationModel } from './dist/src/models/segmentation.js';
const cases = JSON.parse(process.argv[1]);
const model = buildSegmentationModel('lraspp_mobilenet_v3_large', { numClasses: 3 });
const out = [];
for (const c of cases) {
  const { optimizer } = buildOptimizer({ type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 4e-5, paramwise: { customKeys: { backbone: { lrMult: 0.1 } } } }, model, null);
  const s = buildSchedule({ type: 'poly', power: 0.9, warmupEpochs: c.warmupEpochs, byEpoch: c.byEpoch }, optimizer, 0.01, c.epochs, c.per);
  const names = optimizer.paramGroups.map((g) => g.name);
  const lrs = [];
  const steps = c.byEpoch ? c.epochs : c.epochs * c.per;
  for (let t = 0; t < steps; t++) { lrs.push(optimizer.paramGroups.map((g) => g.lr)); s.step(); }
  out.push({ names, lrs });
}
console.log(JSON.stringify(out));
"""
    res = json.loads(subprocess.run(["node", "--input-type=module", "-e", js, json.dumps(cases)], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    worst, n = 0.0, 0
    for c, r in zip(cases, res):
        a = SimpleNamespace(epochs=c["epochs"], warmup_epochs=c["warmupEpochs"], by_epoch=c["byEpoch"], warmup_start_factor=1 / 3, power=0.9, eta_min_ratio=0.01)
        back = [n == "backbone" or n.startswith("backbone/") for n in r["names"]]  # paramwise splits norm / bias groups off
        for t, lrs in enumerate(r["lrs"]):
            f = seg_peer.lr_factor(t, a, c["per"])
            for gi, lr in enumerate(lrs):
                want = 0.01 * f * (0.1 if back[gi] else 1.0)
                worst = max(worst, abs(lr - want) / want)
                n += 1
    report("schedule: Arsenal poly + warm-up (paramwise backbone 0.1) == seg_peer lr_factor", worst < 1e-12,
           f"{n} lrs over {len(cases)} cases, worst relative difference {worst:.1e}")


def check_safetensors(tmp):
    import torch
    import torchvision
    torch.manual_seed(0)
    sd = torchvision.models.mobilenet_v3_large(weights=None).state_dict()
    arrays = {k: v.numpy() for k, v in sd.items()}
    path = os.path.join(tmp, "mnv3_classifier.safetensors")
    seg_peer.write_safetensors(path, arrays)
    back = seg_peer.read_safetensors(path)
    ok_py = set(back) == set(arrays) and all(back[k].dtype == arrays[k].dtype and np.array_equal(back[k], arrays[k]) for k in arrays)
    js = """
import { loadFile } from './dist/src/torch/safetensors.js';
const t = loadFile(process.argv[1]);
const keys = Object.keys(t).sort();
console.log(JSON.stringify(keys.map((k) => [k, t[k].dtype, t[k].shape, t[k].to('float64').abs().sum().item()])));
"""
    res = json.loads(subprocess.run(["node", "--input-type=module", "-e", js, path], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    dt = {"float32": "float32", "int64": "int64"}
    ok_js = len(res) == len(arrays) and all(
        dt.get(arrays[k].dtype.name) == d and list(arrays[k].shape) == s and same(float(np.abs(arrays[k].astype(np.float64)).sum()), v, 1e-9 * max(1, v))
        for k, d, s, v in res)
    report("safetensors: seg_peer's writer -> seg_peer's reader and Arsenal's loadFile", ok_py and ok_js, f"{len(arrays)} tensors")
    return path


def make_dataset(root, k=3):
    rng = np.random.default_rng(1)
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])
    for split, n in (("train", 6), ("val", 3)):
        os.makedirs(os.path.join(root, "img_dir", split))
        os.makedirs(os.path.join(root, "ann_dir", split))
        for i in range(n):
            h, w = 40, 48
            m = np.zeros((h, w), np.int64)
            m[:, w // 3:] = 1
            m[h // 2:, 2 * w // 3:] = 2
            m = np.roll(m, rng.integers(0, w), axis=1)
            m[:2] = 255
            img = np.clip(colours[np.minimum(m, k - 1)] + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(root, "img_dir", split, f"{split}{i}.jpg"))
            save_mask(os.path.join(root, "ann_dir", split, f"{split}{i}.png"), m, palette=i % 2 == 0)


def check_run(tmp, backbone):
    data = os.path.join(tmp, "data")
    make_dataset(data)
    out = os.path.join(tmp, "peer.json")
    cmd = [sys.executable, os.path.join(HERE, "seg_peer.py"), "--data", data, "--classes", "3", "--epochs", "1", "--batch", "2",
           "--size", "64", "--seed", "1", "--threads", "2", "--backbone", backbone, "--out", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    ok = (len(r["epochs"]) == 1 and math.isfinite(r["epochs"][0]["loss"]) and r["iters_per_epoch"] == 3
          and r["backbone"]["missing"] == 0 and r["backbone"]["loaded"] > 0 and set(r["metrics"]) == {"aAcc", "mIoU", "mAcc", "mDice"})
    report("seg_peer.py: 1 epoch on a tiny mmseg-layout set with --backbone", ok,
           f"loss {r['epochs'][0]['loss']:.4f}, backbone {r['backbone']['loaded']} loaded / {r['backbone']['skipped']} skipped (classifier) / "
           f"{r['backbone']['missing']} missing, mIoU {r['metrics']['mIoU']:.4f}, {r['seconds']} s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keep", help="write into this folder and keep it")
    a = p.parse_args()
    if not os.path.isfile(ARSENAL[1]):
        raise SystemExit("seg_peer_check: build first (npx tsc -p .)")
    with tempfile.TemporaryDirectory() as t:
        tmp = a.keep or t
        os.makedirs(tmp, exist_ok=True)
        check_metrics(tmp)
        check_schedule()
        backbone = check_safetensors(tmp)
        check_run(tmp, backbone)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
