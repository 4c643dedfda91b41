"""Interop check for Tailor's exports (optional; not run by CI).

    .venv/bin/python Tests/Fixtures/check_export.py TAILOR_BIN MODEL_DIR ADAPTER_DIR WORK_DIR [TEXTS_JSON]

1. `tailor merge` → HF folder: transformers loads it; logits vs PEFT merge_and_unload (float32).
2. `tailor merge` → f32 GGUF: llama.cpp (llama-cpp-python) log-probs vs the PEFT-merged model (≤ 2e-3 with llama.cpp's
   default F16 KV cache; ≤ 1e-4 with an F32 one). A qwen2 model with head_dim × heads ≠ hidden skips steps 2–5:
   llama.cpp's qwen2 cannot run it.
3. `tailor export-adapter` → llama.cpp `--lora` on the f32 base GGUF vs the merged GGUF.
4. q8_0 vs f32 GGUF perplexity in llama.cpp.
5. With TEXTS_JSON (a JSON object whose "texts" are strings, e.g. spm/expected.json): llama.cpp's tokenize() of
   the f32 merged GGUF equals `tokenizers` on MODEL_DIR/tokenizer.json for those texts and every line of
   tokenizers/corpus.jsonl, and steps 1–4 score the texts' ids instead of random ids.
Steps 2–5 are skipped (reported) when llama_cpp cannot be imported. Exit 1 on any failure.
"""
import subprocess, sys, os, math, json
import numpy as np, torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

tailor, model_dir, adapter_dir, work = sys.argv[1:5]
texts_json = sys.argv[5] if len(sys.argv) > 5 else None
os.makedirs(work, exist_ok=True)
def run(*a):
    subprocess.run([tailor, *a], check=True, stdout=subprocess.DEVNULL)
failures = []
model_config = json.load(open(os.path.join(model_dir, "config.json")))
torch.manual_seed(0)
if texts_json:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    texts = json.load(open(texts_json, encoding="utf-8"))["texts"]
    corpus_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizers", "corpus.jsonl")
    corpus = [json.loads(l) for l in open(corpus_path, encoding="utf-8")]
    ref_ids = [tok.encode(t).ids for t in texts + corpus]
    # The texts' ids (one leading BOS), 48 tokens: a natural sequence instead of random ids.
    ids = torch.tensor([(ref_ids[0][:1] + [i for r in ref_ids[: len(texts)] for i in r[1:]])[:48]])
else:
    ids = torch.randint(0, model_config["vocab_size"], (1, 24))

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
c = model_config
head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
if llama_cpp and c["model_type"] == "qwen2" and head_dim * c["num_attention_heads"] != c["hidden_size"]:
    # llama.cpp's qwen2 graph reshapes q with n_embd / n_head (a known llama.cpp limit, not an export fault).
    print(f"llama.cpp checks skipped: its qwen2 needs head_dim × heads = hidden ({head_dim} × {c['num_attention_heads']} "
          f"!= {c['hidden_size']}); Tests/Fixtures/qwen2 satisfies it")
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

    def lp(path, lora=None, exact=False):
        kw = dict(model_path=path, logits_all=True, n_ctx=64, verbose=False, n_threads=2)
        if lora: kw["lora_path"] = lora
        # llama.cpp's default KV cache is F16 (and flash attention rounds to F16 too), which alone moves
        # log-probs by ~1e-3; with an F32 cache and no flash attention the graph is fp32 throughout.
        if exact: kw.update(type_k=0, type_v=0, flash_attn=False)  # 0 = GGML_TYPE_F32
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
    if texts_json:
        llm = llama_cpp.Llama(model_path=os.path.join(work, "merged-f32.gguf"), vocab_only=True, verbose=False)
        stderr = os.dup(2); os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # silence "starts with 2 BOS tokens"
        got = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=True) for t in texts + corpus]
        os.dup2(stderr, 2)
        bad = [t for t, a, b in zip(texts + corpus, got, ref_ids) if a != b]
        print(f"llama.cpp tokenize() of Tailor's GGUF: {len(got) - len(bad)} of {len(got)} texts give the tokenizers ids "
              f"({len(texts)} fixture texts + {len(corpus)} corpus lines){'; first differing: ' + repr(bad[0]) if bad else ''}")
        if bad: failures.append("tokenization")
    d1 = (out["f32"] - ref_lp).abs().max().item()
    d1x = (lp(os.path.join(work, "merged-f32.gguf"), exact=True) - ref_lp).abs().max().item()
    d2 = (lp(base_gguf, ad) - out["f32"]).abs().max().item()
    print(f"llama.cpp f32 merged GGUF: max |Δ logprob| vs PEFT merge = {d1:.3g} (F32 KV cache, no flash attention: {d1x:.3g})")
    print(f"llama.cpp --lora adapter GGUF vs merged GGUF: max |Δ logprob| = {d2:.3g}")
    tgt = ids[0, 1:]
    ppl = {t: math.exp(-out[t][:-1].gather(1, tgt[:, None]).mean().item()) for t in out}
    print(f"llama.cpp perplexity f32 {ppl['f32']:.4f}, q8_0 {ppl['q8_0']:.4f}, ratio {ppl['q8_0']/ppl['f32']:.5f}")
    # The F16 cache's error grows with |q|·|k|: Qwen3's per-head-normed q and k (norm weights up to 1.5) reach 1.1e-3.
    if d1 > 2e-3: failures.append("f32 gguf")
    if d1x > 1e-4: failures.append("f32 gguf with an F32 KV cache")
    if d2 > 1e-3: failures.append("adapter gguf")
    if abs(ppl["q8_0"] / ppl["f32"] - 1) > 0.01: failures.append("q8_0 perplexity")
print("FAILED: " + ", ".join(failures) if failures else "all interop checks passed")
sys.exit(1 if failures else 0)
