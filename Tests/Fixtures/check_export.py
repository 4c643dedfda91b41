"""Interop check for Tailor's exports (optional; not run by CI).

    .venv/bin/python Tests/Fixtures/check_export.py TAILOR_BIN MODEL_DIR ADAPTER_DIR WORK_DIR

1. `tailor merge` → HF folder: transformers loads it; logits vs PEFT merge_and_unload (float32).
2. `tailor merge` → f32 GGUF: llama.cpp (llama-cpp-python) log-probs vs the PEFT-merged model.
3. `tailor export-adapter` → llama.cpp `--lora` on the f32 base GGUF vs the merged GGUF.
4. q8_0 vs f32 GGUF perplexity in llama.cpp.
Steps 2–4 are skipped (reported) when llama_cpp cannot be imported. Exit 1 on any failure.
"""
import subprocess, sys, os, math
import numpy as np, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

tailor, model_dir, adapter_dir, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
def run(*a):
    subprocess.run([tailor, *a], check=True, stdout=subprocess.DEVNULL)
failures = []
torch.manual_seed(0)
ids = torch.randint(0, 128, (1, 24))

base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
ref = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().eval()
with torch.no_grad():
    ref_logits = ref(ids).logits[0].double()
ref_lp = torch.log_softmax(ref_logits, -1)

hf = os.path.join(work, "merged-hf")
if not os.path.exists(hf):
    run("merge", "--model", model_dir, "--adapter", adapter_dir, "--output", hf)
m = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
with torch.no_grad():
    d = (m(ids).logits[0].double() - ref_logits).abs().max().item()
print(f"HF folder: transformers max |Δ logit| vs PEFT merge = {d:.3g}")
if d > 1e-5: failures.append("hf folder")

try:
    import llama_cpp
except Exception as e:
    print(f"llama.cpp checks skipped: cannot import llama_cpp ({e})")
    llama_cpp = None

if llama_cpp:
    # llama.cpp's CPU repacking of Q8_0 weights ("extra buffer types") crashes on these tiny
    # shapes — also on a file llama.cpp quantized itself, byte-identical to Tailor's — so load
    # without it, as `--no-extra-bufts` would.
    _default_params = llama_cpp.llama_model_default_params
    def _params():
        p = _default_params()
        p.use_extra_bufts = False
        return p
    llama_cpp.llama_model_default_params = _params
    llama_cpp.llama_cpp.llama_model_default_params = _params

    def lp(path, lora=None):
        kw = dict(model_path=path, logits_all=True, n_ctx=64, verbose=False, n_threads=2)
        if lora: kw["lora_path"] = lora
        llm = llama_cpp.Llama(**kw)
        llm.eval(ids[0].tolist())
        s = np.array(llm.scores[: ids.shape[1]], dtype=np.float64)
        return torch.log_softmax(torch.from_numpy(s), -1)
    out = {}
    for t in ["f32", "q8_0"]:
        p = os.path.join(work, f"merged-{t}.gguf")
        run("merge", "--model", model_dir, "--adapter", adapter_dir, "--output", p, "--type", t)
        out[t] = lp(p)
    base_gguf = os.path.join(work, "base-f32.gguf"); ad = os.path.join(work, "adapter.gguf")
    run("merge", "--model", model_dir, "--output", base_gguf)
    run("export-adapter", "--model", model_dir, "--adapter", adapter_dir, "--output", ad)
    d1 = (out["f32"] - ref_lp).abs().max().item()
    d2 = (lp(base_gguf, ad) - out["f32"]).abs().max().item()
    print(f"llama.cpp f32 merged GGUF: max |Δ logprob| vs PEFT merge = {d1:.3g}")
    print(f"llama.cpp --lora adapter GGUF vs merged GGUF: max |Δ logprob| = {d2:.3g}")
    tgt = ids[0, 1:]
    ppl = {t: math.exp(-out[t][:-1].gather(1, tgt[:, None]).mean().item()) for t in out}
    print(f"llama.cpp perplexity f32 {ppl['f32']:.4f}, q8_0 {ppl['q8_0']:.4f}, ratio {ppl['q8_0']/ppl['f32']:.5f}")
    if d1 > 1e-3: failures.append("f32 gguf")
    if d2 > 1e-3: failures.append("adapter gguf")
    if abs(ppl["q8_0"] / ppl["f32"] - 1) > 0.01: failures.append("q8_0 perplexity")
print("FAILED: " + ", ".join(failures) if failures else "all interop checks passed")
sys.exit(1 if failures else 0)
