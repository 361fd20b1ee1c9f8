#!/usr/bin/env python3
"""Per-call overhead from Python: relu(x W^T + b) with x 1x16 (float32), Mithril's compiled model
beside PyTorch eager, in one interpreter. Not a test; run by hand:

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--repeats 5] [--calls 20000]

Prints the median over the repeats of the microseconds per call of each variant.
"""
import argparse
import statistics
import time

import numpy as np

import mithril as ml
from mithril.models import IOKey, Linear, Model, Relu


def per_call_us(fn, calls):
    for _ in range(calls // 10):
        fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20000)
    args = ap.parse_args()

    backend = ml.CpuBackend(dtype=ml.float32)
    model = Model()
    model |= Linear(16).connect(input="x", weight="w", bias="b")
    model += Relu().connect(output=IOKey("y"))
    pm = ml.compile(model, backend, shapes={"x": [1, 16]}, inference=True)
    rng = np.random.default_rng(0)
    w = backend.array(rng.standard_normal((16, 16)))
    b = backend.array(rng.standard_normal(16))
    x = backend.array(rng.standard_normal((1, 16)))
    inputs = {"w": w, "b": b, "x": x}
    cpp = pm._cpp
    variants = {
        "mithril pm(inputs)": lambda: pm(inputs),
        "mithril pm.evaluate(params, data)": lambda: pm.evaluate({"w": w, "b": b}, {"x": x}),
        "mithril extension evaluate": lambda: cpp.evaluate(inputs, None, None),
    }
    try:
        import torch
        torch.set_num_threads(1)
        tw, tb, tx = (torch.from_numpy(np.ascontiguousarray(a)) for a in (w, b, x))
        with torch.no_grad():
            torch.relu(torch.nn.functional.linear(tx, tw, tb))
        def torch_eager():
            with torch.no_grad():
                return torch.relu(torch.nn.functional.linear(tx, tw, tb))
        variants[f"torch {torch.__version__} eager (no_grad)"] = torch_eager
    except ImportError:
        print("torch not installed: PyTorch rows left out (Debian: python3-torch)")
    np.testing.assert_allclose(pm(inputs)["y"], np.maximum(x @ w.T + b, 0), rtol=1e-5)
    results = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
        for name, fn in variants.items():
            results[name].append(per_call_us(fn, args.calls))
    for name, r in results.items():
        print(f"{name:45s} {statistics.median(r):7.2f} us/call  (runs: {', '.join(f'{v:.2f}' for v in r)})")


if __name__ == "__main__":
    main()
