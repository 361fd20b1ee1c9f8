#!/usr/bin/python3
"""The PyTorch side of bench/compare.sh: the workloads of compare_bench.cpp, same shapes, same
deterministic parameters and data, same loss and optimizer; prints one JSON line per run:
{"workload", "seconds" (per iteration), "iterations", "check"}.

Usage: /usr/bin/python3 bench/torch_compare.py WORKLOAD [--quick] [--threads N]
Run with OMP_WAIT_POLICY=PASSIVE (compare.sh does): PyTorch's OpenMP workers otherwise spin
between ops, which makes its 2-thread numbers unstable on a 2-core machine.
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

QUICK = "--quick" in sys.argv
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
torch.set_num_threads(THREADS)


def det(shape, seed, scale, dtype=torch.float32):
    n = int(np.prod(shape)) if len(shape) else 1
    v = np.sin(0.7 * np.arange(n, dtype=np.float64) + 1.3 * seed) * scale
    return torch.tensor(v.reshape(shape), dtype=dtype)


def warm_cores(seconds):
    """Keeps the intra-op threads busy for `seconds`: cores run about half speed for the first
    ~0.1 s of work after idling (the Mithril side warms its threads the same way)."""
    a = torch.ones(256, 256)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, a)


def time_per_call(warmup, iters, step):
    warm_cores(0.25)
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters


ACTS = {"Sigmoid": torch.sigmoid, "Relu": torch.relu, "Tanh": torch.tanh, "Buffer": lambda x: x}


class MLP(torch.nn.Module):
    def __init__(self, in_dim, dims, acts, dtype):
        super().__init__()
        self.layers = torch.nn.ModuleList()
        self.acts = [ACTS[a] for a in acts]
        prev = in_dim
        for i, d in enumerate(dims):
            lin = torch.nn.Linear(prev, d).to(dtype)
            scale = 1.0 / math.sqrt(prev)
            with torch.no_grad():
                lin.weight.copy_(det((d, prev), 10 + 2 * i, scale, dtype))
                lin.bias.copy_(det((d,), 11 + 2 * i, scale, dtype))
            self.layers.append(lin)
            prev = d

    def forward(self, x):
        for lin, act in zip(self.layers, self.acts):
            x = act(lin(x))
        return x


def train(model, loss_fn, x, target, iters):
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    last = [0.0]

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        last[0] = loss.item()

    sec = time_per_call(1, iters, step)
    return sec, iters, [last[0]]


LARGE_DIMS = [2048, 1024, 512, 2048, 1024, 1024, 512, 2048, 1024, 128]
LARGE_ACTS = ["Sigmoid", "Relu", "Sigmoid", "Relu", "Tanh", "Sigmoid", "Sigmoid", "Sigmoid", "Relu", "Tanh"]


def mlp_train(batch, in_dim, dims, acts, dtype):
    model = MLP(in_dim, dims, acts, dtype)
    x = det((batch, in_dim), 1, 1.0, dtype)
    y = det((batch, dims[-1]), 2, 0.5, dtype)
    return train(model, F.l1_loss, x, y, 10 if QUICK else 100)


class ConvNet(torch.nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        cin = 4
        for i, c in enumerate([12, 16, 32]):
            conv = torch.nn.Conv2d(cin, c, 3, stride=2, padding=1).to(dtype)
            scale = 1.0 / math.sqrt(cin * 9)
            with torch.no_grad():
                conv.weight.copy_(det((c, cin, 3, 3), 20 + 2 * i, scale, dtype))
                conv.bias.copy_(det((c,), 21 + 2 * i, scale, dtype))
            self.convs.append(conv)
            cin = c
        self.acts = [torch.sigmoid, torch.relu, torch.tanh]

    def forward(self, x):
        for conv, act in zip(self.convs, self.acts):
            x = act(F.max_pool2d(conv(x), 2))
        return x


def conv_train(dtype):
    model = ConvNet(dtype)
    x = det((4, 4, 128, 128), 1, 1.0, dtype)
    y = det((4, 32, 2, 2), 2, 0.5, dtype)
    return train(model, F.l1_loss, x, y, 10 if QUICK else 100)


def mnist_train():
    model = MLP(784, [512, 512, 10], ["Relu", "Relu", "Buffer"], torch.float32)
    x = det((128, 784), 1, 1.0)
    labels = torch.arange(128) % 10
    return train(model, F.cross_entropy, x, labels, 20 if QUICK else 200)


def infer(fn, warmup, iters, check=lambda t: t.sum().item()):
    out = [None]

    def step():
        with torch.no_grad():
            out[0] = fn()

    sec = time_per_call(warmup, iters, step)
    return sec, iters, [check(out[0])]


def mnist_infer_b1():
    model = MLP(784, [512, 512, 10], ["Relu", "Relu", "Buffer"], torch.float32).eval()
    x = det((1, 784), 1, 1.0)
    return infer(lambda: model(x), 50, 500 if QUICK else 2000)


def tiny_graph():
    x, w, b = det((1, 16), 1, 1.0), det((16, 16), 2, 0.25), det((16,), 3, 0.25)
    return infer(lambda: torch.relu(F.linear(x, w, b)), 1000, 20000 if QUICK else 100000)


D, HEADS, FF, SEQ, BATCH = 256, 4, 1024, 128, 8


def transformer_layer():
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
    s = 1.0 / math.sqrt(D)
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([det((D, D), 30, s), det((D, D), 31, s), det((D, D), 32, s)]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([det((D,), 33, 0.1), det((D,), 34, 0.1), det((D,), 35, 0.1)]))
        layer.self_attn.out_proj.weight.copy_(det((D, D), 36, s))
        layer.self_attn.out_proj.bias.copy_(det((D,), 37, 0.1))
        layer.linear1.weight.copy_(det((FF, D), 38, s))
        layer.linear1.bias.copy_(det((FF,), 39, 0.1))
        layer.linear2.weight.copy_(det((D, FF), 40, 1.0 / math.sqrt(FF)))
        layer.linear2.bias.copy_(det((D,), 41, 0.1))
    return layer


def transformer(backward):
    layer = transformer_layer()
    x = det((BATCH, SEQ, D), 1, 1.0)
    if not backward:
        layer.eval()
        return infer(lambda: layer(x), 3, 10 if QUICK else 40, check=lambda t: t.abs().sum().item())
    layer.train()
    out = [None]

    def step():
        layer.zero_grad()
        y = layer(x)
        y.backward(torch.ones_like(y))
        out[0] = y

    iters = 5 if QUICK else 20
    sec = time_per_call(2, iters, step)
    return sec, iters, [out[0].abs().sum().item(), layer.linear1.bias.grad.sum().item()]


def lstm():
    I, H, T, N = 128, 256, 64, 32
    s = 1.0 / math.sqrt(H)
    model = torch.nn.LSTM(I, H, batch_first=True)
    with torch.no_grad():
        model.weight_ih_l0.copy_(det((4 * H, I), 50, s))
        model.weight_hh_l0.copy_(det((4 * H, H), 51, s))
        model.bias_ih_l0.copy_(det((4 * H,), 52, s))
        model.bias_hh_l0.zero_()
    x = det((N, T, I), 1, 1.0)
    out = [None]

    def step():
        model.zero_grad()
        _, (h, _) = model(x)
        h.sum().backward()
        out[0] = h

    iters = 3 if QUICK else 10
    sec = time_per_call(2, iters, step)
    # The forget gate's gradient: rows H..2H of both weights (LSTMCell's w_f = [W_ih_f | W_hh_f]).
    gf = model.weight_ih_l0.grad[H:2 * H].sum().item() + model.weight_hh_l0.grad[H:2 * H].sum().item()
    return sec, iters, [out[0].sum().item(), gf]


def gemm(n):
    a, b = det((n, n), 1, 1.0), det((n, n), 2, 1.0)
    iters = 3 if QUICK else (5 if n >= 2048 else 20)
    sec, it, check = infer(lambda: torch.mm(a, b), 2, iters)
    return sec, it, check


WORKLOADS = {
    "mlp_large_f32": lambda: mlp_train(128, 256, LARGE_DIMS, LARGE_ACTS, torch.float32),
    "mlp_large_f64": lambda: mlp_train(128, 256, LARGE_DIMS, LARGE_ACTS, torch.float64),
    "mlp_small_f32": lambda: mlp_train(128, 128, [256, 256, 1], ["Sigmoid", "Relu", "Tanh"], torch.float32),
    "mlp_small_f64": lambda: mlp_train(128, 128, [256, 256, 1], ["Sigmoid", "Relu", "Tanh"], torch.float64),
    "conv_small_f32": lambda: conv_train(torch.float32),
    "conv_small_f64": lambda: conv_train(torch.float64),
    "mlp784_train_b128": mnist_train,
    "mlp784_infer_b1": mnist_infer_b1,
    "tiny_graph": tiny_graph,
    "transformer_fwd": lambda: transformer(False),
    "transformer_fwdbwd": lambda: transformer(True),
    "lstm_fwdbwd": lstm,
    "gemm_1024": lambda: gemm(1024),
    "gemm_2048": lambda: gemm(2048),
}

if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()]
    if "--list" in sys.argv:
        print("\n".join(sorted(WORKLOADS)))
        sys.exit(0)
    if len(names) != 1 or names[0] not in WORKLOADS:
        sys.exit(f"torch_compare: give one workload of: {', '.join(sorted(WORKLOADS))}")
    sec, iters, check = WORKLOADS[names[0]]()
    print(json.dumps({"workload": names[0], "seconds": sec, "iterations": iters, "check": check}))
