"""Tailor's Q4_K_M and Q5_K_M against llama.cpp's own quantizer (optional; not run by CI).

    .venv/bin/python Tests/Fixtures/check_quant_mix.py TAILOR_BIN WORK_DIR

For random Llamas (transformers; 16 layers, 4 heads / 2 KV heads, ffn 512, vocab 256, the tiny tokenizer of
datasets/tiny) with tied and untied embeddings at hidden 256 (every row a multiple of 256, so no fallback hides the
rules) and tied at hidden 288 (most rows fall back to Q5_0, Q5_1 or Q8_0), writes the f32 GGUF with `tailor merge`,
quantizes it with llama.cpp's llama_model_quantize (LLAMA_FTYPE_MOSTLY_Q4_K_M and _Q5_K_M, through
llama-cpp-python), writes Tailor's `tailor merge --type q4_k_m` / `q5_k_m`, and compares every tensor's type and
bytes, and general.file_type. Exit 1 on any difference.
"""
import ctypes, os, shutil, subprocess, sys
import torch
import gguf
import llama_cpp
import numpy as np
from transformers import LlamaConfig, LlamaForCausalLM

tailor, work = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
failures = []
MIXES = [("q4_k_m", 15), ("q5_k_m", 17)]  # tailor --type, LLAMA_FTYPE_MOSTLY_Q4_K_M / _Q5_K_M
# (tied, hidden): rows of 256 let the rules show; hidden 288 makes most rows fall back (Q5_0, Q5_1, Q8_0).
for tied, hidden in [(True, 256), (False, 256), (True, 288)]:
    label = f"{'tied' if tied else 'untied'}, hidden {hidden}"
    mdir = os.path.join(work, f"model-{'tied' if tied else 'untied'}-{hidden}")
    shutil.rmtree(mdir, ignore_errors=True)
    torch.manual_seed(5)
    cfg = LlamaConfig(hidden_size=hidden, num_hidden_layers=16, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=512, vocab_size=256, tie_word_embeddings=tied, max_position_embeddings=64)
    LlamaForCausalLM(cfg).save_pretrained(mdir)
    for name in os.listdir(os.path.join(here, "datasets", "tiny")):
        shutil.copy(os.path.join(here, "datasets", "tiny", name), mdir)
    f32 = os.path.join(mdir, "f32.gguf")
    subprocess.run([tailor, "merge", "--model", mdir, "--output", f32, "--no-verify"], check=True, stdout=subprocess.DEVNULL)
    for mix, ftype in MIXES:
        ours, theirs = os.path.join(mdir, f"tailor-{mix}.gguf"), os.path.join(mdir, f"llama-{mix}.gguf")
        subprocess.run([tailor, "merge", "--model", mdir, "--output", ours, "--type", mix, "--no-verify"], check=True,
                       stdout=subprocess.DEVNULL)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.nthread = 2
        rc = llama_cpp.llama_model_quantize(f32.encode(), theirs.encode(), ctypes.byref(params))
        assert rc == 0, f"llama_model_quantize returned {rc}"
        a, b = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
        ta = {t.name: t.tensor_type.name for t in a.tensors}
        tb = {t.name: t.tensor_type.name for t in b.tensors}
        diff = [(n, ta.get(n), tb.get(n)) for n in sorted(set(ta) | set(tb)) if ta.get(n) != tb.get(n)]
        raw = {t.name: np.asarray(t.data).view(np.uint8) for t in b.tensors}
        unequal = [t.name for t in a.tensors if t.name in raw and not np.array_equal(np.asarray(t.data).view(np.uint8), raw[t.name])]
        fa = int(a.fields["general.file_type"].parts[-1][0]); fb = int(b.fields["general.file_type"].parts[-1][0])
        kinds = {}
        for n, t in tb.items():
            kinds.setdefault(t, []).append(n)
        print(f"{mix}, {label}: llama.cpp's types " + ", ".join(f"{t} ×{len(v)}" for t, v in sorted(kinds.items())) +
              f"; file_type Tailor {fa}, llama.cpp {fb}; {len(diff)} types differ" + (f": {diff[:5]}" if diff else "") +
              f"; {len(tb) - len(unequal)} of {len(tb)} tensors byte-identical" + (f" (not: {unequal[:5]})" if unequal else ""))
        if diff or unequal or fa != fb:
            failures.append(f"{mix}, {label}")
print("FAILED: " + "; ".join(failures) if failures else "Q4_K_M and Q5_K_M match llama.cpp's quantizer, type for type and byte for byte")
sys.exit(1 if failures else 0)
