#!/usr/bin/env python3
"""Sums a qforge_kernel_trace file (bench/kernel_trace.cpp) per training step.

Usage: python3 bench/kernel_trace.py TRACE [--step-kernel adamw_kernel] [--skip 2]

A step ends where the step-marking kernel (the optimizer's, one launch a step) ends. For each
step: its span on the GPU, the time some kernel ran (busy, the union over streams), idle time
and launches; then, for the median step, GPU time per kernel family (cuBLASLt GEMMs as one) and
the idle time by gap size and, with --gaps, where the largest gaps fall.
"""
import argparse
import collections
import re
import statistics
import sys


def family(name):
    if name.startswith("nvjet") or "cublas" in name or name.startswith("sm90_xmma"):
        return "GEMM (cuBLASLt)"
    if name.startswith("memset") or name.startswith("memcpy"):
        return name.split(":")[0]
    # qforge kernels: the function name inside the mangled anonymous-namespace path
    m = re.search(r"_cu_[0-9a-f]{8}(\d+)(\w+)", name)
    if m:
        return m.group(2)[: int(m.group(1))]
    m = re.search(r"(\d+)(\w+?)(I|E|$)", name.removeprefix("_Z"))
    return m.group(2)[: int(m.group(1))] if m else name[:40]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--step-kernel", default="adamw_kernel",
                    help="a kernel launched once per step, at its end (default: adamw_kernel)")
    ap.add_argument("--skip", type=int, default=2, help="warm-up steps left out (default 2)")
    ap.add_argument("--top", type=int, default=0,
                    help="also list the N kernels (by full name) with the most time in the median "
                         "step, e.g. to tell the thin LoRA GEMMs from the large ones")
    ap.add_argument("--gaps", type=int, default=0,
                    help="also list the median step's N largest idle gaps (offset into the step, "
                         "the kernels either side) and the idle summed by the pair of kernel "
                         "families around each gap")
    args = ap.parse_args()

    kernels, copies = [], []
    with open(args.trace) as f:
        for line_no, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(" ", 4)
            if len(parts) != 5 or parts[3] not in ("K", "M"):
                sys.exit(f"{args.trace}:{line_no}: expected '<start> <end> <stream> <K|M> <name>'")
            rec = (int(parts[0]), int(parts[1]), parts[4])
            (kernels if parts[3] == "K" else copies).append(rec)
    kernels.sort()
    ends = [e for s, e, n in kernels if args.step_kernel in n]
    if len(ends) < args.skip + 2:
        sys.exit(f"{args.trace}: {len(ends)} '{args.step_kernel}' launches: too few steps")

    steps = []
    for lo, hi in zip(ends[args.skip:], ends[args.skip + 1:]):
        ks = [k for k in kernels if k[0] >= lo and k[1] <= hi]
        busy, gaps, cur_s, cur_e, cur_n = 0, [], None, lo, "(step start)"
        for s, e, n in ks:
            if cur_s is None or s > cur_e:
                if cur_s is not None:
                    busy += cur_e - cur_s
                gaps.append((s - cur_e, cur_e - lo, cur_n, n))
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
            if e >= cur_e:
                cur_n = n
        if cur_s is not None:
            busy += cur_e - cur_s
        steps.append({"span": hi - lo, "busy": busy, "gaps": gaps, "kernels": ks,
                      "copies": sum(e - s for s, e, _ in copies if s >= lo and e <= hi)})

    ms = 1e-6
    print(f"{len(steps)} steps after {args.skip} warm-up (split at '{args.step_kernel}')")
    print("| step | span ms | kernels busy ms | idle ms | launches | copies ms |")
    print("|---|---|---|---|---|---|")
    for i, st in enumerate(steps):
        print(f"| {i + args.skip + 1} | {st['span'] * ms:.1f} | {st['busy'] * ms:.1f} | "
              f"{(st['span'] - st['busy']) * ms:.1f} | {len(st['kernels'])} | {st['copies'] * ms:.1f} |")

    med = sorted(steps, key=lambda st: st["span"])[len(steps) // 2]
    time, count = collections.Counter(), collections.Counter()
    for s, e, n in med["kernels"]:
        time[family(n)] += e - s
        count[family(n)] += 1
    print(f"\nmedian step ({med['span'] * ms:.1f} ms): GPU time per kernel family")
    print("| kernels | launches | ms |")
    print("|---|---|---|")
    for name, t in time.most_common():
        print(f"| {name} | {count[name]} | {t * ms:.2f} |")
    sizes = collections.Counter()
    for g, _, _, _ in med["gaps"]:
        sizes["< 2 us" if g < 2e3 else "2-5 us" if g < 5e3 else "5-20 us" if g < 2e4
              else "20-100 us" if g < 1e5 else ">= 100 us"] += g
    print("idle by gap size (ms):", ", ".join(f"{k} {v * ms:.2f}" for k, v in sorted(sizes.items())))
    if args.gaps > 0:
        print(f"\nmedian step: the {args.gaps} largest idle gaps")
        print("| at ms | gap us | kernel before | kernel after |")
        print("|---|---|---|---|")
        for g, at, before, after in sorted(med["gaps"], reverse=True)[: args.gaps]:
            print(f"| {at * ms:.2f} | {g * 1e-3:.1f} | {before[:60]} | {after[:60]} |")
        pairs, n_pair = collections.Counter(), collections.Counter()
        for g, _, before, after in med["gaps"]:
            pairs[(family(before), family(after))] += g
            n_pair[(family(before), family(after))] += 1
        print("\nidle by the kernel families either side of a gap")
        print("| before | after | gaps | ms |")
        print("|---|---|---|---|")
        for (b, a), t in pairs.most_common(args.gaps):
            print(f"| {b} | {a} | {n_pair[(b, a)]} | {t * ms:.2f} |")
    if args.top > 0:
        by_name, n_name = collections.Counter(), collections.Counter()
        for s, e, n in med["kernels"]:
            by_name[n] += e - s
            n_name[n] += 1
        print(f"\nmedian step: the {args.top} kernels with the most GPU time")
        print("| kernel | launches | ms | us per launch |")
        print("|---|---|---|---|")
        for name, t in by_name.most_common(args.top):
            print(f"| {name[:90]} | {n_name[name]} | {t * ms:.2f} | {t / n_name[name] * 1e-3:.1f} |")


if __name__ == "__main__":
    main()
