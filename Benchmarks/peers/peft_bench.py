"""Peer baseline: PyTorch + PEFT LoRA training throughput on CPU.

Run by `tailor-bench compare` (one process per configuration, so peak RSS is per configuration);
needs a venv with torch, transformers and peft. Based on /work/shared/tools/peft_cpu_bench.py;
the shapes match Benchmarks/Sources/tailor-bench/Shapes.swift.

Builds a randomly initialised Llama-family model of a named shape (no hub access),
wraps it with a PEFT LoRA adapter and times optimizer steps on random token batches.
Prints one JSON line: tokens/s, peak RSS, config.
"""
import argparse, json, resource, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM
from peft import LoraConfig, get_peft_model

SHAPES = {
    # name: (hidden, layers, heads, kv_heads, intermediate, vocab, tied)
    "tiny":       (64, 2, 4, 2, 160, 256, False),
    "smollm-135m": (576, 30, 9, 3, 1536, 49152, True),
    "smollm-360m": (960, 32, 15, 5, 2560, 49152, True),
    "tinyllama-1.1b": (2048, 22, 32, 4, 5632, 32000, False),
    "qwen3-0.6b": (1024, 28, 16, 8, 3072, 151936, True),  # Qwen3: head_dim 128, q/k norms (QWEN3 below)
    "llama-7b": (4096, 32, 32, 32, 11008, 32000, False),
    "llama-2-7b": (4096, 32, 32, 32, 11008, 32000, False),
}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="smollm-135m")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--checkpointing", action="store_true")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    h, L, nh, nkv, inter, vocab, tied = SHAPES[a.shape]
    qwen3 = a.shape.startswith("qwen3")
    config_cls, model_cls = (Qwen3Config, Qwen3ForCausalLM) if qwen3 else (LlamaConfig, LlamaForCausalLM)
    cfg = config_cls(hidden_size=h, num_hidden_layers=L, num_attention_heads=nh, num_key_value_heads=nkv,
                     intermediate_size=inter, vocab_size=vocab, tie_word_embeddings=tied,
                     max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
                     **({"head_dim": 128} if qwen3 else {}))
    dtype = getattr(torch, a.dtype)
    model = model_cls(cfg).to(dtype)
    if a.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    lcfg = LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lcfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (a.batch, a.seq), generator=g)
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step(); opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
    times.sort()
    med = times[len(times) // 2]
    n_params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"peer": "pytorch+peft", "torch": torch.__version__, "shape": a.shape, "batch": a.batch, "seq": a.seq,
                      "rank": a.rank, "checkpointing": a.checkpointing, "dtype": a.dtype, "threads": a.threads,
                      "params": n_params, "median_step_s": round(med, 3), "step_s": [round(t, 3) for t in times],
                      "tokens_per_s": round(a.batch * a.seq / med, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))

if __name__ == "__main__":
    main()
