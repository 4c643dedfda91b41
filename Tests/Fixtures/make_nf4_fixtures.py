"""NF4 reference values for Tailor's NF4 tests (bitsandbytes 0.50.2 semantics, models.md §6).

bitsandbytes does not install on this CPU-only machine, so this is a numpy port of its
documented algorithm, not bitsandbytes itself:
  - NF4 code: the 16 float32 values of models.md §6.1.
  - quantize_4bit (blocksize 64): absmax per block of the row-major flattened weight (an
    all-zero block encodes as code 7);
    x = clamp(w * (1/absmax), -1, 1) in float32; the nearest code, ties to the lower code
    (torch.bucketize on the float32 midpoints); element 2j in the high nibble.
  - double quantization: offset = mean(absmax) (here float32(sum in float64 / n), where torch
    sums in float32 — they can differ in the last bit); absmax - offset quantized blockwise
    (256) against create_dynamic_map() (copied from bitsandbytes, computed with torch, so the
    map itself is bitsandbytes' exactly): nested_absmax = max |v| per block, v / nested_absmax
    (float32 division, as bitsandbytes' CPU quantize_block), nearest map entry, ties to the lower.
  - dequantize: code[idx] * absmax; absmax = dyn[q] * nested_absmax + offset (float32).

Writes quant/nf4.safetensors. Run: .venv/bin/python Tests/Fixtures/make_nf4_fixtures.py
"""
import os
import numpy as np
import torch
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
f32 = np.float32
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=f32)


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):  # bitsandbytes/functional.py
    data = []
    non_sign_bits = total_bits - (1 if signed else 1)
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    data.sort()
    return np.array(data, dtype=f32)


DYN = create_dynamic_map()


def nearest(x, code):
    """Index of the nearest code value, ties to the lower index (x, code float32)."""
    mids = ((code[:-1] + code[1:]) / f32(2)).astype(f32)
    return np.searchsorted(mids, x, side="left").astype(np.uint8)  # count of mids < x


def quantize_nf4(w, block=64):
    flat = w.reshape(-1).astype(f32)
    blocks = flat.reshape(-1, block)
    absmax = np.abs(blocks).max(axis=1).astype(f32)
    safe = np.where(absmax > 0, absmax, f32(1)).astype(f32)
    inv = np.where(absmax > 0, f32(1) / safe, f32(0)).astype(f32)  # an all-zero block encodes as code 7 (0.0)
    x = np.clip((blocks * inv[:, None]).astype(f32), f32(-1), f32(1))
    q = nearest(x.reshape(-1), NF4)
    packed = ((q[0::2] << 4) | q[1::2]).astype(np.uint8)
    return packed, absmax


def double_quantize(absmax, block=256):
    offset = f32(absmax.astype(np.float64).sum() / absmax.size)
    v = (absmax - offset).astype(f32)
    n = -(-v.size // block)
    nested = np.zeros(n, dtype=f32)
    q = np.zeros(v.size, dtype=np.uint8)
    for b in range(n):
        seg = v[b * block:(b + 1) * block]
        m = f32(np.abs(seg).max())
        nested[b] = m
        q[b * block:(b + 1) * block] = nearest((seg / m).astype(f32) if m > 0 else np.zeros_like(seg), DYN)
    return q, nested, offset


def dequantize(packed, absmax, n):
    q = np.empty(packed.size * 2, dtype=np.uint8)
    q[0::2], q[1::2] = packed >> 4, packed & 15
    return (NF4[q[:n]].reshape(-1, 64) * absmax[:, None]).astype(f32).reshape(-1)


rng = np.random.default_rng(5)
w = (rng.standard_normal((24, 192)) * 0.05).astype(f32)
w[3, :64] = 0.0  # an all-zero block
w[5, 64:128] = np.linspace(-1, 1, 64, dtype=f32)  # exact code values and midpoints
w[7, 5] = 3.0  # an outlier
w[9, :64] = 0.0  # exact midpoint ties (absmax 1, so x = w): they must go to the lower code
w[9, 0] = 1.0
w[9, 1:16] = ((NF4[:-1] + NF4[1:]) / f32(2)).astype(f32)
packed, absmax = quantize_nf4(w)
qabs, nested, offset = double_quantize(absmax)
absmax_dq = (DYN[qabs] * nested[np.arange(absmax.size) // 256] + offset).astype(f32)
out = {
    "weight": w, "packed": packed, "absmax": absmax,
    "dequant": dequantize(packed, absmax, w.size).reshape(w.shape),
    "dq.qabsmax": qabs, "dq.nested_absmax": nested, "dq.offset": np.array([offset], dtype=f32),
    "dq.absmax": absmax_dq, "dq.dequant": dequantize(packed, absmax_dq, w.size).reshape(w.shape),
    "dynamic_map": DYN,
}
save_file(out, os.path.join(here, "quant", "nf4.safetensors"))
print("wrote quant/nf4.safetensors; dynamic map bits:")
print(", ".join("0x%08x" % x for x in DYN.view(np.uint32)))
