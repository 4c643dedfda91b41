"""Reference block-format data for Tailor's quantizers and dequantizers.

Compiles ggml's own `ggml-quants.c` (llama.cpp 0c1e570, as vendored by llama-cpp-python) into a
small shared library with `gcc -O2 -march=x86-64` (no FMA contraction) and calls
`quantize_row_<t>_ref` / `dequantize_row_<t>` through ctypes. Writes `quant/reference.gguf` with,
for each type T: `input.T` (F32 [4, 256]), `quant.T` (T, the reference quantizer's bytes) and
`dequant.T` (F32, ggml's dequantization of those bytes). F16 and BF16 come from numpy and
gguf-py (which mirror ggml's conversions).

    .venv/bin/python Tests/Fixtures/make_quant_fixtures.py /path/to/llama.cpp
"""
import ctypes, os, subprocess, sys, tempfile
import numpy as np
import gguf

src = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp()
stub = os.path.join(tmp, "stubs.c")
open(stub, "w").write('#include <stdlib.h>\nvoid ggml_abort(const char*f,int l,const char*fmt,...){abort();}\n')
lib = os.path.join(tmp, "libqref.so")
subprocess.check_call(["gcc", "-O2", "-march=x86-64", "-fPIC", "-shared", f"-I{src}/ggml/include", f"-I{src}/ggml/src",
                       f"{src}/ggml/src/ggml-quants.c", stub, "-o", lib, "-lm"])
q = ctypes.CDLL(lib, mode=os.RTLD_LAZY if hasattr(os, "RTLD_LAZY") else 1)

rng = np.random.default_rng(7)
rows, cols = 4, 256
x = np.zeros((rows, cols), dtype=np.float32)
x[0] = rng.standard_normal(cols).astype(np.float32)
x[1] = rng.standard_normal(cols).astype(np.float32) * 0.02
x[1, :32] = 0                                     # an all-zero block / sub-block
x[1, 32:64] = np.round(x[1, 32:64] * 400) / 400   # coarse grid: ties in rounding
x[2] = rng.uniform(-3, 3, cols).astype(np.float32)
x[2, 70] = 40.0                                    # an outlier
x[3] = (rng.standard_normal(cols) * np.linspace(0.001, 2, cols)).astype(np.float32)
x[3, 128:160] = 0.5                                # constant block (max == min)

types = {"Q4_0": (2, 18, 32), "Q4_1": (3, 20, 32), "Q5_0": (6, 22, 32), "Q5_1": (7, 24, 32), "Q8_0": (8, 34, 32),
         "Q4_K": (12, 144, 256), "Q5_K": (13, 176, 256), "Q6_K": (14, 210, 256)}
w = gguf.GGUFWriter(os.path.join(here, "quant", "reference.gguf"), "quant-reference")
fp = ctypes.POINTER(ctypes.c_float)
for name, (tid, bb, bs) in types.items():
    n = rows * cols
    out = np.zeros(n // bs * bb, dtype=np.uint8)
    xin = np.ascontiguousarray(x.reshape(-1))
    getattr(q, f"quantize_row_{name.lower().replace('_k', '_K')}_ref")(xin.ctypes.data_as(fp), out.ctypes.data_as(ctypes.c_void_p), ctypes.c_int64(n))
    deq = np.zeros(n, dtype=np.float32)
    getattr(q, f"dequantize_row_{name.lower().replace('_k', '_K')}")(out.ctypes.data_as(ctypes.c_void_p), deq.ctypes.data_as(fp), ctypes.c_int64(n))
    w.add_tensor(f"input.{name}", x)
    w.add_tensor(f"quant.{name}", out.reshape(rows, cols // bs * bb), raw_dtype=gguf.GGMLQuantizationType(tid))
    w.add_tensor(f"dequant.{name}", deq.reshape(rows, cols))
# F16 and BF16 (round to nearest even; NaN quieted as ggml does)
f16 = x.astype(np.float16)
w.add_tensor("input.F16", x)
w.add_tensor("quant.F16", f16)
w.add_tensor("dequant.F16", f16.astype(np.float32))
bf = gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16)
w.add_tensor("input.BF16", x)
w.add_tensor("quant.BF16", bf.view(np.uint8).reshape(rows, cols * 2), raw_dtype=gguf.GGMLQuantizationType.BF16)
w.add_tensor("dequant.BF16", gguf.quants.dequantize(bf, gguf.GGMLQuantizationType.BF16).astype(np.float32).reshape(rows, cols))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print("wrote", os.path.join(here, "quant", "reference.gguf"))
