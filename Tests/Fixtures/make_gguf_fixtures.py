"""Tiny GGUF models made by llama.cpp's own converter (convert_hf_to_gguf.py at 0c1e570, as vendored
by llama-cpp-python) from the parity fixtures in models/ (llama-gqa, qwen2-tied, llama3-rope), plus reference log-probabilities.

The fixture models have no tokenizer, so the converter's `set_vocab` is replaced by its own
`_set_vocab_none` (everything else — tensor names, Q/K permutation, metadata, quantization — is the
converter's). For q8_0 files the reference is transformers with every weight replaced by its
dequantized GGUF value (gguf-py's dequantize, bit-exact to ggml for Q8_0).

    .venv/bin/python Tests/Fixtures/make_gguf_fixtures.py /path/to/llama.cpp
"""
import json, os, sys
import numpy as np
import torch
src = sys.argv[1]
sys.path.insert(0, src); sys.path.insert(0, os.path.join(src, "gguf-py"))
import conversion.base as base
import conversion.llama as cl
import conversion.qwen as cq
import convert_hf_to_gguf as conv
import gguf
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

for cls in [cl.LlamaModel, cq.Qwen2Model]:
    cls.set_vocab = lambda self: self._set_vocab_none()

here = os.path.dirname(os.path.abspath(__file__))
out = {}
# llama3-rope: the converter writes Llama 3.1 RoPE scaling as the rope_freqs.weight tensor alone.
for variant, outtypes in [("llama-gqa", ["f32", "q8_0"]), ("qwen2-tied", ["f32", "q8_0"]), ("llama3-rope", ["f32"])]:
    folder = os.path.join(here, "models", variant, "model")
    exp = load_file(os.path.join(here, "models", variant, "expected.safetensors"))
    ids = exp["score_ids"].tolist()
    for outtype in outtypes:
        path = os.path.join(here, "gguf", f"{variant}-{outtype}.gguf")
        sys.argv = ["convert_hf_to_gguf.py", folder, "--outtype", outtype, "--outfile", path]
        conv.main()
        # Reference: HF model with the GGUF's dequantized weights (undoing the llama Q/K permutation).
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
        r = gguf.GGUFReader(path)
        arch = r.fields["general.architecture"].contents()
        cfg = model.config
        names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
        sd = model.state_dict()
        blk = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
               "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
        for t in r.tensors:
            if t.name == "rope_freqs.weight": continue
            w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(list(reversed([int(d) for d in t.shape])))
            if t.name in names: hf = names[t.name]
            else:
                _, layer, kind, suffix = t.name.split(".")
                hf = f"model.layers.{layer}.{blk[kind]}.{suffix}"
            if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
                heads = cfg.num_attention_heads if ".q_proj." in hf else cfg.num_key_value_heads
                shape = w.shape
                w = w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(shape)
            sd[hf].copy_(torch.from_numpy(np.ascontiguousarray(w)).reshape(sd[hf].shape))
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        out[f"{variant}-{outtype}"] = {"ids": ids, "logprobs": lp.tolist(),
                                       "max_diff_vs_hf_f32": float((lp - exp["score_logprobs_base"].double()).abs().max())}
# rope_freqs.weight as the converter computes it for two released configurations (Tailor recovers
# their rope_scaling from it), through the converter's own generate_extra_tensors.
from types import SimpleNamespace
for name, head_dim, factor in [("llama-3.1-8b", 128, 8.0), ("llama-3.2-1b", 64, 32.0)]:
    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": factor, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    fake = SimpleNamespace(rope_parameters=rope, hparams={"head_dim": head_dim}, format_tensor_name=lambda t: "rope_freqs.weight")
    (_, factors), = cl.LlamaModel.generate_extra_tensors(fake)
    out[f"rope-freqs-{name}"] = {"head_dim": head_dim, "rope_scaling": rope, "factors": factors.tolist()}
# qwen2-tied-f32.gguf is not committed (size); its reference stays in expected.json.
json.dump(out, open(os.path.join(here, "gguf", "expected.json"), "w"), indent=1)
os.remove(os.path.join(here, "gguf", "qwen2-tied-f32.gguf"))
print({k: v["max_diff_vs_hf_f32"] for k, v in out.items() if "max_diff_vs_hf_f32" in v})
