"""Interop check: a GGUF made by llama.cpp's converter (gguf/llama3-rope-f32.gguf: Llama 3.1 RoPE scaling stored as
rope_freqs.weight alone) merged by Tailor with the llama3-rope adapter (optional; not run by CI).

    .venv/bin/python Tests/Fixtures/check_converter_gguf.py TAILOR_BIN WORK_DIR

1. `tailor merge` → HF folder: its config.json carries the recovered rope_scaling; transformers' logits equal
   PEFT's merge_and_unload of the original folder (max |Δ log-prob| ≤ 1e-5).
2. `tailor merge` → f32 GGUF: llama.cpp's log-probs (F32 KV cache) equal the same reference (≤ 1e-4).
Exit 1 on any failure.
"""
import json, os, subprocess, sys
import numpy as np, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

tailor, work = sys.argv[1:3]
here = os.path.dirname(os.path.abspath(__file__))
gguf = os.path.join(here, "gguf", "llama3-rope-f32.gguf")
folder, adapter = (os.path.join(here, "models", "llama3-rope", p) for p in ("model", "adapter"))
os.makedirs(work, exist_ok=True)
hf, merged = os.path.join(work, "hf"), os.path.join(work, "merged.gguf")
for out in (hf, merged):
    subprocess.run([tailor, "merge", "--model", gguf, "--adapter", adapter, "--output", out], check=True, stdout=subprocess.DEVNULL)

failures = []
want = json.load(open(os.path.join(folder, "config.json")))["rope_scaling"]
got = json.load(open(os.path.join(hf, "config.json")))["rope_scaling"]
if any(float(got[k]) != float(want[k]) for k in ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")):
    failures.append(f"rope_scaling {got} != {want}")
torch.manual_seed(0)
ids = torch.randint(0, 128, (1, 40))  # past the original context of 64 / high_freq_factor 4
ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32), adapter).merge_and_unload().eval()
with torch.no_grad():
    want_lp = torch.log_softmax(ref(ids).logits[0].double(), -1)
    hf_lp = torch.log_softmax(AutoModelForCausalLM.from_pretrained(hf, torch_dtype=torch.float32).eval()(ids).logits[0].double(), -1)
d = float((hf_lp - want_lp).abs().max())
print(f"HF folder merged from the converter's GGUF vs PEFT: max |Δ log-prob| {d:.2e}")
if d > 1e-5: failures.append(f"HF folder: {d}")
try:
    from llama_cpp import Llama
except ImportError:
    print("llama_cpp not importable: GGUF step skipped")
else:
    llm = Llama(merged, logits_all=True, verbose=False, n_ctx=64, type_k=0, type_v=0)  # F32 KV cache
    llm.eval(ids[0].tolist())
    cpp_lp = torch.log_softmax(torch.tensor(np.array(llm.scores[: ids.shape[1]]), dtype=torch.float64), -1)
    d = float((cpp_lp - want_lp).abs().max())
    print(f"llama.cpp on the merged GGUF vs PEFT: max |Δ log-prob| {d:.2e}")
    if d > 1e-4: failures.append(f"llama.cpp: {d}")
if failures:
    print("FAILED:", *failures, sep="\n  ")
    sys.exit(1)
