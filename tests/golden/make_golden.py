#!/usr/bin/env python3
"""Regenerates every golden file under tests/golden/ on the GPU machine (Python oracles:
transformers, tokenizers, sacrebleu, peft). Each part is its own script; this runs them all.

Usage (on the GPU machine, from the repo root):
  python3 tests/golden/make_golden.py --data <copy of shared/data> --out <dir>
then unpack <dir>/*.tar.gz into tests/golden/ and commit.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    parts = [
        ["make_golden_models.py", "--stories", os.path.join(args.data, "models/stories260K"),
         "--out", os.path.join(args.out, "models.tar.gz")],
    ]
    for extra in ("make_golden_tokenizers.py", "make_golden_metrics.py"):
        if os.path.exists(os.path.join(HERE, extra)):
            parts.append([extra, "--data", args.data, "--out", args.out])
    for script, *rest in parts:
        print("==>", script, flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, script), *rest], check=True)


if __name__ == "__main__":
    main()
