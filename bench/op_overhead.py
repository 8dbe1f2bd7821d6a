"""Per-call overhead of a small operator in PyTorch eager mode: `a + b` (and
`a.add(b)`) on two 4-element float32 tensors. The counterpart of
bench/op-overhead.ts; run with Debian's /usr/bin/python3 (python3-torch).

    /usr/bin/python3 bench/op_overhead.py [--n 100000] [--reps 9] [--threads 2] [--serve]

Variants are interleaved within each repetition; each number is the median
over repetitions, in microseconds per call. Results are freed by reference
counting as the loop drops them, so the time includes the free. With --serve
it answers bench/compare.ts, one repetition per block.
"""
import argparse
import gc
import os
import sys
import timeit

sys.dont_write_bytecode = True  # no bench/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from _common import merge, print_summary, serve  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--serve", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    a = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float32)
    b = torch.tensor([5.0, 6.0, 7.0, 8.0], dtype=torch.float32)
    env = {"a": a, "b": b, "torch": torch}
    variants = {
        "a_plus_b_us": timeit.Timer("a + b", globals=env),
        "a_add_b_us": timeit.Timer("a.add(b)", globals=env),
    }
    names = list(variants)
    for t in variants.values():  # warm up
        t.timeit(number=min(args.n, 20_000))

    rotation = [0]

    def block():
        out = {}
        for j in range(len(names)):
            k = names[(rotation[0] + j) % len(names)]
            gc.collect()
            out[k] = [variants[k].timeit(number=args.n) * 1e6 / args.n]
        rotation[0] += 1
        return out

    info = {"side": "pytorch", "n": args.n, "threads": torch.get_num_threads(), "torch": torch.__version__}
    if args.serve:
        serve(info, block)
    else:
        samples = {}
        for _ in range(args.reps):
            merge(samples, block())
        print_summary("op_overhead (pytorch)", {**info, "reps": args.reps}, samples)


if __name__ == "__main__":
    main()
