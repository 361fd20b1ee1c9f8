#!/usr/bin/python3
"""Greedy generation tokens/s of the plain torch.nn GPT-2 of tests/examples/gpt2_vs_torch.py in
PyTorch eager mode (no KV cache, like build/examples/gpt2 --bench), for the 124M configuration.

usage: bench/gpt2_torch_bench.py [--batch 8] [--prompt-len 16] [--generate 16] [--threads 2]
"""
import argparse
import importlib.util
import os
import time

import torch

spec = importlib.util.spec_from_file_location(
    "gpt2_vs_torch", os.path.join(os.path.dirname(__file__), "..", "tests", "examples", "gpt2_vs_torch.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=1)
p.add_argument("--prompt-len", type=int, default=16)
p.add_argument("--generate", type=int, default=16)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
ref.configure(50257, 1024, 768, 12, 12)
torch.manual_seed(0)
model = ref.Gpt2().eval()
tokens = torch.randint(0, 50257, (a.batch, a.prompt_len))


def generate():
    seq = tokens
    with torch.no_grad():
        seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], 1)
        start = time.perf_counter()
        for _ in range(a.generate - 1):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], 1)
    return time.perf_counter() - start


generate()  # warm-up
seconds = generate()
print(f"torch eager: batch {a.batch}, prompt {a.prompt_len}, {a.generate} generated: "
      f"{(a.generate - 1) * a.batch / seconds:.1f} tokens/s ({a.generate - 1} full-sequence steps, no KV cache)")
