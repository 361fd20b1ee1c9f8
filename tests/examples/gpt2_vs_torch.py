#!/usr/bin/env python3
"""GPT-2 (examples/gpt2) against a plain torch.nn GPT-2 on the same random weights.

The PyTorch model is written here (no download): pre-norm blocks of causal self-attention and a
tanh-GELU MLP, tied token embedding and LM head, PyTorch's state-dict names. Its state dict is
saved as safetensors (written by hand, so only torch and numpy are needed), the example loads it
through its name-mapping table, and the test checks float32 logits within 1e-4, the same greedy
tokens, that the example saved its model dict, and that a state dict with a renamed tensor is
refused with both names listed. Exits 77 (skipped) when torch is not installed.

usage: gpt2_vs_torch.py PATH/TO/gpt2 WORK_DIR
"""
import json
import math
import os
import struct
import subprocess
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: {e}")
    sys.exit(77)

# The example's tiny configuration (examples/gpt2/gpt2.cpp, gpt2_tiny); bench/gpt2_torch_bench.py
# builds the 124M one with the same classes.
VOCAB, POSITIONS, EMBD, LAYERS, HEADS = 101, 32, 32, 2, 4


def configure(vocab, positions, embd, layers, heads):
    global VOCAB, POSITIONS, EMBD, LAYERS, HEADS
    VOCAB, POSITIONS, EMBD, LAYERS, HEADS = vocab, positions, embd, layers, heads


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(EMBD, 3 * EMBD)
        self.c_proj = nn.Linear(EMBD, EMBD)
        self.heads = HEADS

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        nh = self.heads
        q, k, v = (z.view(b, t, nh, c // nh).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // nh)
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(EMBD, 4 * EMBD)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * EMBD, EMBD)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(EMBD)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(EMBD)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt2(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, EMBD), wpe=nn.Embedding(POSITIONS, EMBD),
            h=nn.ModuleList(Block() for _ in range(LAYERS)), ln_f=nn.LayerNorm(EMBD)))
        self.lm_head = nn.Linear(EMBD, VOCAB, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, idx):
        t = idx.shape[1]
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(t))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = Gpt2().eval()
    with torch.no_grad():  # GPT-2's init, plus non-trivial norms and biases so every tensor matters
        for name, p in model.named_parameters():
            if "ln_" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.02 * torch.randn_like(p))
            else:
                p.copy_(0.02 * torch.randn_like(p))
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied to wte
    weights = os.path.join(work, "gpt2.safetensors")
    save_safetensors(weights, state)

    tokens = torch.randint(0, VOCAB, (2, 12), generator=torch.Generator().manual_seed(1))
    np.save(os.path.join(work, "tokens.npy"), tokens.numpy().astype(np.int64))
    steps = 6
    out = subprocess.run([exe, "--config", "tiny", "--weights", weights, "--tokens", os.path.join(work, "tokens.npy"),
                          "--logits", os.path.join(work, "logits.npy"), "--generate", str(steps),
                          "--generated", os.path.join(work, "generated.npy"),
                          "--save-dict", os.path.join(work, "gpt2.json")], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
        return 1

    with torch.no_grad():
        want = model(tokens).numpy()
        seq = tokens
        for _ in range(steps):
            nxt = model(seq)[:, -1, :].argmax(dim=-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
    got = np.load(os.path.join(work, "logits.npy"))
    err = float(np.max(np.abs(got - want)))
    print(f"logits {got.shape}: max |ours - torch| = {err:.3g}")
    ok = got.shape == want.shape and err <= 1e-4
    generated = np.load(os.path.join(work, "generated.npy"))
    same = generated.shape == tuple(seq.shape) and bool((generated == seq.numpy()).all())
    print(f"greedy tokens equal: {same}\n ours  {generated.tolist()}\n torch {seq.tolist()}")
    ok = ok and same
    with open(os.path.join(work, "gpt2.json")) as f:
        saved = json.load(f)
    print(f"model dict: {len(saved.get('submodels', {}))} submodels")
    ok = ok and len(saved.get("submodels", {})) > 0

    # A renamed tensor: the importer names the unmatched one and the missing one.
    state["transformer.wpe.weight_renamed"] = state.pop("transformer.wpe.weight")
    bad = os.path.join(work, "bad.safetensors")
    save_safetensors(bad, state)
    out = subprocess.run([exe, "--config", "tiny", "--weights", bad], capture_output=True, text=True)
    listed = out.returncode != 0 and "transformer.wpe.weight_renamed" in out.stderr and \
        "missing from the file: transformer.wpe.weight" in out.stderr
    print(f"renamed tensor refused with both names: {listed} ({out.stderr.strip()})")
    ok = ok and listed
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
