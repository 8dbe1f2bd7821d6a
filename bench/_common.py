"""Helpers shared by the Python benchmarks: the line protocol bench/compare.ts
drives them with (see bench/common.ts), and summaries."""
import json
import statistics
import sys


def merge(into, samples):
    for k, xs in samples.items():
        into.setdefault(k, []).extend(xs)
    return into


def print_summary(title, info, samples):
    """Medians (and min..max) of each metric; the unit comes from the name (_ms, _us)."""
    print(f"{title} {json.dumps(info)}")
    for k, xs in samples.items():
        unit = "ms" if k.endswith("_ms") else "us/call" if k.endswith("_us") else ""
        print(f"  {k:24s} {statistics.median(xs):10.3f} {unit:7s}  (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})")


def serve(info, block):
    """READY, then one RESULT per `run` line, until `quit` or end of input."""
    print("READY " + json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "run":
            print("ERROR " + json.dumps({"message": f"unknown command '{cmd}'"}), flush=True)
            continue
        print("RESULT " + json.dumps({"samples": block()}), flush=True)
