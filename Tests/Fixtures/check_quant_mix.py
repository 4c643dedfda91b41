"""Tailor's Q4_K_M against llama.cpp's own quantizer (optional; not run by CI).

    .venv/bin/python Tests/Fixtures/check_quant_mix.py TAILOR_BIN WORK_DIR

For a random Llama with tied and with untied embeddings (transformers; hidden 256, 16 layers, 4 heads / 2 KV heads,
ffn 512, vocab 256: every row a multiple of 256, so no fallback hides the rules; the tiny tokenizer of
datasets/tiny), writes the f32 GGUF with `tailor merge`, quantizes it with llama.cpp's llama_model_quantize
(LLAMA_FTYPE_MOSTLY_Q4_K_M, through llama-cpp-python), writes Tailor's `tailor merge --type q4_k_m`, and compares
every tensor's type and bytes, and general.file_type. Exit 1 on any difference.
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
for tied in [True, False]:
    mdir = os.path.join(work, f"model-{'tied' if tied else 'untied'}")
    shutil.rmtree(mdir, ignore_errors=True)
    torch.manual_seed(5)
    cfg = LlamaConfig(hidden_size=256, num_hidden_layers=16, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=512, vocab_size=256, tie_word_embeddings=tied, max_position_embeddings=64)
    LlamaForCausalLM(cfg).save_pretrained(mdir)
    for name in os.listdir(os.path.join(here, "datasets", "tiny")):
        shutil.copy(os.path.join(here, "datasets", "tiny", name), mdir)
    f32, ours, theirs = (os.path.join(mdir, n) for n in ["f32.gguf", "tailor-q4_k_m.gguf", "llama-q4_k_m.gguf"])
    for out, t in [(f32, "f32"), (ours, "q4_k_m")]:
        subprocess.run([tailor, "merge", "--model", mdir, "--output", out, "--type", t, "--no-verify"], check=True,
                       stdout=subprocess.DEVNULL)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
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
    print(f"{'tied' if tied else 'untied'}: {len(tb)} tensors, llama.cpp's types " +
          ", ".join(f"{t} ×{len(v)}" for t, v in sorted(kinds.items())) +
          f"; file_type Tailor {fa}, llama.cpp {fb}; {len(diff)} types differ" + (f": {diff[:5]}" if diff else "") +
          f"; {len(tb) - len(unequal)} of {len(tb)} tensors byte-identical" + (f" (not: {unequal[:5]})" if unequal else ""))
    if diff or unequal or fa != fb:
        failures.append("tied" if tied else "untied")
print("FAILED: " + ", ".join(failures) if failures else "Q4_K_M matches llama.cpp's quantizer, type for type and byte for byte")
sys.exit(1 if failures else 0)
