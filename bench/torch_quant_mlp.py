#!/usr/bin/env python3
"""PyTorch's dynamic int8 quantization (torch.ao.quantization.quantize_dynamic, Linear layers,
qint8 weights, activations quantized per call) on the MLP of bench/quant_bench.cpp: median ms
of batch-1 and batch-32 calls, float32 and int8, on the same number of threads.

usage: python3 bench/torch_quant_mlp.py [--width 4096] [--layers 3] [--reps 20] [--threads 2]
"""
import argparse
import time

import torch
from torch import nn


def median_ms(model, x, reps):
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        t = []
        for _ in range(reps):
            s = time.perf_counter()
            model(x)
            t.append((time.perf_counter() - s) * 1e3)
    t.sort()
    return t[len(t) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    mods = []
    for i in range(a.layers):
        mods.append(nn.Linear(a.width, a.width))
        if i + 1 < a.layers:
            mods.append(nn.ReLU())
    f32 = nn.Sequential(*mods).eval()
    q8 = torch.ao.quantization.quantize_dynamic(f32, {nn.Linear}, dtype=torch.qint8)
    x32 = torch.randn(32, a.width)
    x1 = x32[:1].clone()
    print(f"torch {torch.__version__}, engine {torch.backends.quantized.engine}, {a.threads} threads")
    for name, m in (("torch f32", f32), ("torch int8 dynamic", q8)):
        print(f"{name:<20} batch 1 {median_ms(m, x1, a.reps):8.3f} ms   batch 32 {median_ms(m, x32, a.reps):8.3f} ms")


if __name__ == "__main__":
    main()
