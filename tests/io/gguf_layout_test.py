#!/usr/bin/env python3
"""Reads the GGUF files `mithril quantize` writes with a minimal parser of its own (struct only,
written from the GGUF spec, sharing no code with ours) and checks the layout: header, metadata,
tensor infos in ggml dim order, alignment and offsets, and every Q8_0/Q4_0 block against ggml's
reference formulas recomputed here in float32. Then `mithril run` loads the file.

usage: gguf_layout_test.py MITHRIL_BINARY WORK_DIR
"""
import json
import math
import os
import struct
import subprocess
import sys


def f32(x):
    # Python floats are doubles; one double operation rounded to float32 is the float32 operation.
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f16_bits(x):
    return struct.unpack("<H", struct.pack("<e", x))[0]


def f16_value(bits):
    return struct.unpack("<e", struct.pack("<H", bits))[0]


def q8_0_block(xs):
    amax = max(abs(v) for v in xs)
    d = f32(amax / 127)
    inv = f32(1.0 / d) if d != 0 else 0.0
    out = struct.pack("<H", f16_bits(d))
    for v in xs:
        p = f32(v * inv)
        q = int(math.copysign(math.floor(abs(p) + 0.5), p))  # roundf: half away from zero
        out += struct.pack("<b", q)
    return out


def q4_0_block(xs):
    amax, mx = 0.0, 0.0
    for v in xs:
        if amax < abs(v):
            amax, mx = abs(v), v
    d = f32(mx / -8)
    inv = f32(1.0 / d) if d != 0 else 0.0
    qs = []
    for j in range(16):
        lo = min(15, int(f32(f32(xs[j] * inv) + 8.5)))
        hi = min(15, int(f32(f32(xs[j + 16] * inv) + 8.5)))
        qs.append(lo | (hi << 4))
    return struct.pack("<H", f16_bits(d)) + bytes(qs)


class Parser:
    def __init__(self, data):
        self.b, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.b[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
        if t in scalar:
            return self.take(scalar[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"unknown value type {t}")


def parse(data):
    p = Parser(data)
    assert data[:4] == b"GGUF", "magic"
    p.p = 4
    version, n_tensors, n_kv = p.take("I"), p.take("Q"), p.take("Q")
    kv = {}
    for _ in range(n_kv):
        key = p.string()
        t = p.take("I")
        kv[key] = (t, p.value(t))
    tensors = []
    for _ in range(n_tensors):
        name = p.string()
        n_dims = p.take("I")
        dims = [p.take("Q") for _ in range(n_dims)]
        tensors.append({"name": name, "dims": dims, "type": p.take("I"), "offset": p.take("Q")})
    alignment = kv.get("general.alignment", (4, 32))[1]
    start = (p.p + alignment - 1) // alignment * alignment
    assert all(b == 0 for b in data[p.p:start]), "padding before the data is zeros"
    return version, kv, tensors, alignment, start


def check(expect, what):
    if not expect:
        raise AssertionError(what)


def main():
    mithril, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "linear.json")
    with open(model, "w") as f:
        json.dump({"name": "Linear", "args": {"dimension": 64}}, f)
    rows, cols = 64, 96
    weight = [f32(math.sin(0.37 * i) * (1 + (i % 7)) / 10) for i in range(rows * cols)]
    weight[5 * cols + 3] = 0.0  # a block with an exact zero
    for j in range(32):  # an all-zero block
        weight[7 * cols + j] = 0.0
    bias = [f32(0.01 * i) for i in range(rows)]
    payload = struct.pack(f"<{len(bias)}f", *bias) + struct.pack(f"<{len(weight)}f", *weight)
    header = json.dumps({
        "bias": {"dtype": "F32", "shape": [rows], "data_offsets": [0, 4 * rows]},
        "weight": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [4 * rows, 4 * rows + 4 * rows * cols]},
    }).encode()
    header += b" " * (-len(header) % 8)
    params = os.path.join(work, "linear.safetensors")
    with open(params, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + payload)

    for fmt, type_id, block_bytes, block in (("q8_0", 8, 34, q8_0_block), ("q4_0", 2, 18, q4_0_block)):
        out = os.path.join(work, f"linear_{fmt}.gguf")
        subprocess.run([mithril, "quantize", model, "--params", params, "--quantize", fmt, "-o", out], check=True,
                       stdout=subprocess.DEVNULL)
        data = open(out, "rb").read()
        version, kv, tensors, alignment, start = parse(data)
        check(version == 3, "version 3")
        check(kv["general.architecture"] == (8, "mithril"), f"architecture: {kv.get('general.architecture')}")
        check(kv["mithril.quantize"] == (8, fmt), f"quantize: {kv.get('mithril.quantize')}")
        check(json.loads(kv["mithril.model_dict"][1])["name"] == "Linear", "the model dict")
        check(alignment == 32, "default alignment")
        by_name = {t["name"]: t for t in tensors}
        check(sorted(by_name) == ["bias", "weight"], f"tensor names {sorted(by_name)}")
        w, b = by_name["weight"], by_name["bias"]
        check(w["dims"] == [cols, rows], f"ggml dims are innermost first: {w['dims']}")
        check(w["type"] == type_id and b["type"] == 0 and b["dims"] == [rows], "tensor types")
        for t in tensors:
            check(t["offset"] % alignment == 0, f"offset of {t['name']} is aligned")
        wbytes = rows * cols // 32 * block_bytes
        wdata = data[start + w["offset"]:start + w["offset"] + wbytes]
        check(len(wdata) == wbytes, "weight data inside the file")
        for r in range(rows):
            for blk in range(cols // 32):
                xs = weight[r * cols + 32 * blk:r * cols + 32 * blk + 32]
                at = (r * cols // 32 + blk) * block_bytes
                got, want = wdata[at:at + block_bytes], block(xs)
                check(got == want, f"{fmt} block ({r}, {blk}): {got.hex()} != {want.hex()}")
        bdata = data[start + b["offset"]:start + b["offset"] + 4 * rows]
        check(list(struct.unpack(f"<{rows}f", bdata)) == bias, "bias values")
        end = max(t["offset"] for t in tensors)
        last = max(tensors, key=lambda t: t["offset"])
        size = wbytes if last is w else 4 * rows
        check(len(data) == start + (end + size + alignment - 1) // alignment * alignment, "file size")
        run = subprocess.run([mithril, "run", out, "--shapes", "input=2x96"], check=True, capture_output=True, text=True)
        check("output  shape (2,64)  f32" in run.stdout, f"mithril run: {run.stdout}")
        print(f"{fmt}: {len(tensors)} tensors, {len(data)} bytes, every block as ggml computes it")


if __name__ == "__main__":
    main()
