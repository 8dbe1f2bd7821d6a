"""torchvision's per-sample transforms doing the work of bench/augment-pipeline.ts:
RandomHorizontalFlip(0.5), RandomCrop(size, padding=4), RandomErasing(p=0.5,
value=0) on each normalised float image of a batch, then torch.stack. Run with
Debian's /usr/bin/python3 (torchvision 0.14).

    /usr/bin/python3 bench/augment_pipeline.py [--size 28] [--channels 1] [--batch 128] [--block 5] [--threads 2] [--serve]
"""
import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--serve", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tf = T.Compose([T.RandomHorizontalFlip(0.5), T.RandomCrop(a.size, padding=4), T.RandomErasing(p=0.5, value=0)])
    x = torch.randn(a.batch, a.channels, a.size, a.size)

    def block(n):
        out = {"pipeline_ms": []}
        for _ in range(n):
            t0 = time.perf_counter()
            y = torch.stack([tf(x[i]) for i in range(a.batch)])
            y.sum().item()
            out["pipeline_ms"].append((time.perf_counter() - t0) * 1e3)
        return out

    block(3)
    info = {"size": a.size, "channels": a.channels, "batch": a.batch, "threads": a.threads, "torch": torch.__version__, "torchvision": torchvision.__version__}
    if a.serve:
        serve(info, lambda: block(a.block))
    else:
        s = {}
        for _ in range(5):
            merge(s, block(a.block))
        print_summary("torchvision per-sample transforms", info, s)


if __name__ == "__main__":
    main()
