#!/usr/bin/python3
"""The digits MLP of examples/digits_mlp.json trained by PyTorch with the same hyper-parameters.

Same data file (Debian python3-sklearn's digits.csv.gz), same 80/20 split and the same per-epoch
batch order as `mithril train` (its SplitMix64 + Fisher-Yates generator is reimplemented below),
same network (64-128-10 ReLU, PyTorch's default Linear initialisation, which Mithril's mlp copies),
Adam with a per-step cosine schedule, batch 32, 40 epochs. Prints one JSON object with the same
keys as `mithril train --metrics-out`.

Usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_digits_mlp.py [CONFIG.json]
"""
import gzip
import json
import math
import sys
import time

import numpy as np
import torch

MASK = (1 << 64) - 1


class Rng:
    """mithril::Rng (src/mithril/core/random.cpp)."""

    def __init__(self, seed):
        self.state = seed & MASK

    @staticmethod
    def stream(seed, stream):
        mix = Rng(seed ^ ((0xD1B54A32D192ED03 * (stream + 1)) & MASK))
        return Rng(mix.next())

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        limit = MASK - MASK % n
        x = self.next()
        while x >= limit:
            x = self.next()
        return x % n


def permutation(n, rng):
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def main():
    config_path = sys.argv[1] if len(sys.argv) > 1 else "examples/digits_mlp.json"
    cfg = json.load(open(config_path))
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    data = np.loadtxt(gzip.open("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"), delimiter=",")
    x = torch.tensor(data[:, :-1] / 16.0, dtype=torch.float32)
    y = torch.tensor(data[:, -1], dtype=torch.int64)
    ds = cfg["dataset"]
    order = permutation(len(x), Rng.stream(ds.get("split_seed", cfg.get("seed", 0)), 0x5EED))
    n_test = round(ds.get("test_fraction", 0.2) * len(x))
    test_idx, train_idx = order[:n_test], order[n_test:]
    xtr, ytr, xte, yte = x[train_idx], y[train_idx], x[test_idx], y[test_idx]

    seed = cfg.get("seed", 0)
    torch.manual_seed(seed)
    hidden = cfg["model_args"]["hidden"]
    layers, fan_in = [], 64
    for h in hidden:
        layers += [torch.nn.Linear(fan_in, h), torch.nn.ReLU()]
        fan_in = h
    layers.append(torch.nn.Linear(fan_in, 10))
    model = torch.nn.Sequential(*layers)
    opt_cfg = cfg["optimizer"]
    assert opt_cfg["name"] == "adam"
    opt = torch.optim.Adam(model.parameters(), lr=opt_cfg["lr"])
    epochs, batch = cfg["epochs"], cfg["batch_size"]
    steps_per_epoch = math.ceil(len(xtr) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss()

    train_seconds, samples = 0.0, 0
    for epoch in range(epochs):
        perm = torch.tensor(permutation(len(xtr), Rng.stream(seed, epoch)))
        start = time.perf_counter()
        model.train()
        total = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        train_seconds += time.perf_counter() - start
        samples += len(xtr)
        train_loss = total / len(xtr)
        with torch.no_grad():
            out = model(xte)
            test_loss = loss_fn(out, yte).item()
            acc = (out.argmax(1) == yte).float().mean().item()
    print(json.dumps({"config": "torch_digits_mlp", "epochs": epochs, "steps": epochs * steps_per_epoch,
                      "train_loss": train_loss, "test_loss": test_loss, "test_accuracy": acc,
                      "seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
                      "seconds_per_epoch": train_seconds / epochs, "samples_per_second": samples / train_seconds,
                      "parameters": sum(p.numel() for p in model.parameters()), "precision": "f32",
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
