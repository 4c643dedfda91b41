#!/usr/bin/env python3
"""Tailor parity fixture generator.

Regenerate everything (deterministic, fixed seeds, no network):

    cd <repo root>
    .venv/bin/python Tests/Fixtures/make_fixtures.py

Verified with torch 2.15 (CPU), transformers 5.23.0, peft 0.21.2, safetensors 0.8.

For every variant this writes ``Tests/Fixtures/models/<variant>/``:

* ``model/``    a Hugging Face model folder (``save_pretrained``): config.json + model.safetensors
                (qwen2-tied: sharded, ``model.safetensors.index.json`` + >= 2 shards).
* ``adapter/``  a PEFT LoRA adapter (``save_pretrained``): adapter_config.json + adapter_model.safetensors,
                float32, both lora_A and lora_B random non-zero, lora_dropout 0.  (PEFT's model-card README.md is
                deleted; target_modules in adapter_config.json is sorted so the file is reproducible.)
* ``expected.safetensors``  reference values computed by transformers + PEFT in float32 from the exact weights
                that are on disk (fp16 / bf16 checkpoints are rounded first, then computed in fp32), eager attention,
                ``model.eval()`` with gradients enabled.  Integer tensors int64, float tensors float32.

Keys in expected.safetensors (all variants):
    input_ids [2,16] int64, labels [2,16] int64 (row 0 positions 0..4 = -100, row 1 positions 13..15 = -100)
    logits [2,16,V]            adapter active
    loss []                    HF model(input_ids, labels=labels).loss (mean over all valid shifted tokens of the batch)
    grad.<adapter key>         d loss / d LoRA tensor, <adapter key> exactly as in adapter_model.safetensors
    cotangent [2,16,V]         random N(0,1)
    cgrad.<adapter key>        d sum(logits * cotangent) / d LoRA tensor
    logits_base [2,16,V]       adapter disabled
    score_ids [12] int64, score_logprobs [11], score_logprobs_base [11]:
                               log p(ids[i+1] | ids[..i]) with / without the adapter; log_softmax taken in float64 from
                               the float32 logits, stored as float32
llama-gqa only:
    base_loss [], base_grad.<hf key> for every state-dict tensor (plain model, no adapter, all params trainable)
    packed_input_ids [1,16], packed_position_ids [1,16] = 0..6,0..8, packed_labels [1,16] (= ids, labels[7] = -100)
    packed_logits [1,16,V]     concatenation of running each segment SEPARATELY through the adapter model
    packed_loss []             HF causal-LM loss of packed_logits vs packed_labels
    packed_grad.<adapter key>  d packed_loss / d LoRA tensor

Per-variant sizes/dtypes: see the README.md written next to the fixtures (README constant below).

The script asserts: PeftModel.from_pretrained(reloaded base, adapter/) reproduces ``logits``; the reloaded base
reproduces ``logits_base``; llama3-rope has head frequencies in all three llama3 regimes and its v4-spelled config
loads identically; mistral's sliding window changes the logits; HF's packed-row (position_ids) path is compared to
the separate-run ground truth and the result is printed.
"""

import copy
import json
import math
import os
import shutil

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig, Qwen3Config,
                          Qwen3ForCausalLM,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM)
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")
T = 16
B = 2

torch.set_num_threads(1)  # bit-stable CPU reductions across machines/thread counts
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------------

def randomize_base(model, seed, embed_std=0.5):
    """Linear weights N(0, 0.05), embeddings N(0, embed_std), norm weights U(0.5, 1.5), biases N(0, 0.1).

    Iterates named_parameters() (tied tensors appear once) in a fixed order with a private generator.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("embed_tokens.weight"):
                p.copy_(torch.randn(p.shape, generator=g) * embed_std)
            elif "norm" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith(".weight"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            else:
                raise RuntimeError(f"unexpected parameter {name}")


def randomize_lora(peft_model, seed):
    """lora_A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming bound), lora_B ~ N(0, 0.05)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if ".lora_A." in name:
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
            elif ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def lora_params(peft_model):
    """{saved adapter key: parameter}; saved key = in-memory name without the adapter name '.default'."""
    out = {}
    for name, p in peft_model.named_parameters():
        if "lora_" in name:
            key = name.replace(".default.", ".")
            out[key] = p
    return out


def causal_lm_loss(logits, labels):
    """transformers ForCausalLMLoss (reduction mean over all valid shifted tokens)."""
    logits = logits.float()
    shift = F.pad(labels, (0, 1), value=-100)[..., 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), shift.reshape(-1), ignore_index=-100,
                           reduction="mean")


def grads_of(scalar, params):
    gs = torch.autograd.grad(scalar, list(params.values()))
    return {k: g.detach().float().contiguous().clone() for k, g in zip(params.keys(), gs)}


def score_logprobs(model, ids):
    with torch.no_grad():
        lg = model(input_ids=ids[None]).logits[0].double()
    lp = torch.log_softmax(lg, dim=-1)
    return lp[:-1].gather(1, ids[1:, None])[:, 0].float()


def make_inputs(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab, (B, T), generator=g, dtype=torch.int64)
    labels = input_ids.clone()
    labels[0, 0:5] = -100
    labels[1, 13:16] = -100
    cotangent = torch.randn((B, T, vocab), generator=g, dtype=torch.float32)
    score_ids = torch.randint(0, vocab, (12,), generator=g, dtype=torch.int64)
    return input_ids, labels, cotangent, score_ids


def tidy_adapter(adapter_dir):
    readme = os.path.join(adapter_dir, "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    path = os.path.join(adapter_dir, "adapter_config.json")
    with open(path) as f:
        cfg = json.load(f)
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def max_abs(a, b):
    return (a.float() - b.float()).abs().max().item()


# ----------------------------------------------------------------------------------------------------------------------
# one variant
# ----------------------------------------------------------------------------------------------------------------------

def build_variant(name, model_cls, config, lora_cfg, seed, disk_dtype=torch.float32, shard=None,
                  rewrite_config=None, extra=None):
    print(f"\n=== {name} ===")
    vdir = os.path.join(OUT, name)
    mdir, adir = os.path.join(vdir, "model"), os.path.join(vdir, "adapter")
    shutil.rmtree(vdir, ignore_errors=True)
    os.makedirs(vdir)

    torch.manual_seed(seed)
    model = model_cls(config).float()
    # Tied: the embedding is also the output head, N(0, 0.5) would give logits of std ~4 and a saturated softmax.
    randomize_base(model, seed, embed_std=0.15 if config.tie_word_embeddings else 0.5)
    if config.tie_word_embeddings:
        assert model.lm_head.weight is model.model.embed_tokens.weight, "tie not in effect"

    # Round the PARAMETERS through the on-disk dtype so expectations use exactly the stored weights.  (Not
    # model.to(dtype).float(): that would also round the non-persistent rotary inv_freq buffer, which a loader
    # recomputes in fp32.)  The fp32 model computes the expectations; a deep copy in disk_dtype is saved.
    save_kw = {"max_shard_size": shard} if shard else {}
    if disk_dtype != torch.float32:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(disk_dtype).float())
        copy.deepcopy(model).to(disk_dtype).save_pretrained(mdir, **save_kw)
    else:
        model.save_pretrained(mdir, **save_kw)
    if config.tie_word_embeddings:
        assert model.lm_head.weight is model.model.embed_tokens.weight
    if rewrite_config is not None:
        rewrite_config(mdir)
    model.eval()

    V = config.vocab_size
    input_ids, labels, cotangent, score_ids = make_inputs(V, seed + 1)
    exp = {"input_ids": input_ids, "labels": labels, "cotangent": cotangent, "score_ids": score_ids}

    # --- full-parameter gradients of the plain model (llama-gqa only) --------------------------------------------
    if extra and extra.get("base_grads"):
        model.zero_grad(set_to_none=True)
        for p in model.parameters():
            p.requires_grad_(True)
        out = model(input_ids=input_ids, labels=labels)
        named = dict(model.named_parameters())
        sd_names = [k for k in model.state_dict().keys() if k in named]  # a tied head is the embedding's parameter
        assert set(sd_names) == set(named.keys()) and set(model.state_dict().keys()) - set(sd_names) <= {"lm_head.weight"}
        gs = torch.autograd.grad(out.loss, [named[k] for k in sd_names])
        exp["base_loss"] = out.loss.detach().float()
        for k, g in zip(sd_names, gs):
            exp[f"base_grad.{k}"] = g.detach().float().contiguous()
        assert torch.allclose(out.loss, causal_lm_loss(out.logits, labels), atol=1e-6)
        print(f"base_loss {out.loss.item():.6f}; {len(sd_names)} base_grad tensors")

    # --- adapter -----------------------------------------------------------------------------------------------------
    pm = get_peft_model(model, lora_cfg)
    randomize_lora(pm, seed + 2)
    pm.eval()
    params = lora_params(pm)
    saved_sd = get_peft_model_state_dict(pm)
    assert set(saved_sd.keys()) == set(params.keys()), (set(saved_sd) ^ set(params))
    for k, v in saved_sd.items():
        assert v.abs().min() >= 0 and v.abs().max() > 0, k
    pm.save_pretrained(adir)
    tidy_adapter(adir)
    file_keys = set(load_file(os.path.join(adir, "adapter_model.safetensors")).keys())
    assert file_keys == set(params.keys()), (file_keys ^ set(params.keys()))
    for k in params:
        assert (params[k] != 0).any(), f"zero LoRA tensor {k}"

    # --- forward / loss / backward with adapter --------------------------------------------------------------------
    out = pm(input_ids=input_ids, labels=labels)
    logits, loss = out.logits, out.loss
    assert torch.allclose(loss, causal_lm_loss(logits, labels), atol=1e-6)
    exp["logits"] = logits.detach().float().contiguous()
    exp["loss"] = loss.detach().float()
    for k, g in grads_of(loss, params).items():
        exp[f"grad.{k}"] = g
    logits2 = pm(input_ids=input_ids).logits
    for k, g in grads_of((logits2 * cotangent).sum(), params).items():
        exp[f"cgrad.{k}"] = g
    print(f"loss {loss.item():.6f}; {len(params)} LoRA tensors; valid tokens "
          f"{int((labels[:, 1:] != -100).sum())}")

    with torch.no_grad(), pm.disable_adapter():
        exp["logits_base"] = pm(input_ids=input_ids).logits.float().contiguous()
    assert max_abs(exp["logits_base"], exp["logits"]) > 1e-3, "adapter has no visible effect"

    exp["score_logprobs"] = score_logprobs(pm, score_ids)
    with pm.disable_adapter():
        exp["score_logprobs_base"] = score_logprobs(pm, score_ids)

    # --- packed rows (llama-gqa only) -------------------------------------------------------------------------------
    if extra and extra.get("packed"):
        g = torch.Generator().manual_seed(seed + 3)
        seg = [7, 9]
        pids = torch.randint(0, V, (1, T), generator=g, dtype=torch.int64)
        ppos = torch.cat([torch.arange(n) for n in seg])[None].to(torch.int64)
        plabels = pids.clone()
        plabels[0, seg[0]] = -100  # index 7 would be predicted from index 6 (cross-segment)
        parts, start = [], 0
        for n in seg:
            parts.append(pm(input_ids=pids[:, start:start + n]).logits)
            start += n
        plogits = torch.cat(parts, dim=1)
        ploss = causal_lm_loss(plogits, plabels)
        exp["packed_input_ids"] = pids
        exp["packed_position_ids"] = ppos
        exp["packed_labels"] = plabels
        exp["packed_logits"] = plogits.detach().float().contiguous()
        exp["packed_loss"] = ploss.detach().float()
        for k, gr in grads_of(ploss, params).items():
            exp[f"packed_grad.{k}"] = gr
        # HF only detects packing (block-diagonal mask from position resets) when attention_mask is None AND
        # past_key_values is None.  With use_cache=True (config default, also in train mode) the model creates an
        # empty DynamicCache before building the mask, so detection is skipped and the mask is plain causal.
        with torch.no_grad():
            hf_nocache = pm(input_ids=pids, position_ids=ppos, use_cache=False).logits
            hf_cache = pm(input_ids=pids, position_ids=ppos).logits
            hf_plain = pm(input_ids=pids, use_cache=False).logits
        d0, d1 = max_abs(hf_nocache, plogits), max_abs(hf_cache, plogits)
        print(f"packed: HF(position_ids, no mask, use_cache=False) vs separate runs max|dlogit| = {d0:.3e} "
              f"-> {'SAME' if d0 < 1e-5 else 'DIFFERENT'}")
        print(f"packed: HF(position_ids, no mask, use_cache default True) vs separate runs = {d1:.3e} "
              f"-> {'SAME' if d1 < 1e-5 else 'DIFFERENT (cache present => packed detection skipped)'}")
        print(f"packed: HF without position_ids vs separate runs = {max_abs(hf_plain, plogits):.3e}")
        assert d0 < 1e-5, "HF packed path (use_cache=False) differs from separate runs"
        # and the HF loss on the packed row equals the stored packed_loss
        with torch.no_grad():
            l_hf = pm(input_ids=pids, position_ids=ppos, labels=plabels, use_cache=False).loss
        assert abs(l_hf.item() - ploss.item()) < 1e-5
        print(f"packed_loss {ploss.item():.6f} (valid {int((plabels[:, 1:] != -100).sum())})")

    if extra and extra.get("check"):
        extra["check"](pm, input_ids, exp)

    # --- reload the saved files and check ---------------------------------------------------------------------------
    base2 = AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="eager")
    base2.eval()
    with torch.no_grad():
        lb = base2(input_ids=input_ids).logits
    db = max_abs(lb, exp["logits_base"])
    pm2 = PeftModel.from_pretrained(base2, adir)
    pm2.eval()
    with torch.no_grad():
        la = pm2(input_ids=input_ids).logits
    da = max_abs(la, exp["logits"])
    print(f"reload: base max|d| {db:.2e}, PeftModel.from_pretrained max|d| {da:.2e}")
    assert db < 1e-6 and da < 1e-6

    for k, v in exp.items():
        if v.is_floating_point():
            exp[k] = v.float().contiguous()
        else:
            exp[k] = v.to(torch.int64).contiguous()
    save_file(exp, os.path.join(vdir, "expected.safetensors"), metadata={"format": "pt"})
    return exp


# ----------------------------------------------------------------------------------------------------------------------
# variants
# ----------------------------------------------------------------------------------------------------------------------

ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora(**kw):
    return LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, init_lora_weights=False, bias="none", **kw)


def llama_gqa():
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=96, vocab_size=128, rms_norm_eps=1e-5,
                      rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                      max_position_embeddings=64, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                      attn_implementation="eager")
    build_variant("llama-gqa", LlamaForCausalLM, cfg, lora(r=4, lora_alpha=8, target_modules=ALL7), seed=1000,
                  extra={"base_grads": True, "packed": True})


def mistral_mqa():
    cfg = MistralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                        intermediate_size=96, vocab_size=128, rms_norm_eps=1e-5, sliding_window=6,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        max_position_embeddings=64, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                        attn_implementation="eager")

    def check(pm, input_ids, exp):
        # The band mask must matter: same weights without the window give different logits.
        cfg2 = MistralConfig.from_dict({**pm.config.to_dict(), "sliding_window": None})
        cfg2._attn_implementation = "eager"
        m2 = MistralForCausalLM(cfg2).float().eval()
        m2.load_state_dict(_base_sd(pm))
        with torch.no_grad():
            d = max_abs(m2(input_ids=input_ids).logits, exp["logits_base"])
        print(f"sliding_window=6 vs none: max|dlogit| {d:.3e}")
        assert d > 1e-3
        keys = [k for k in exp if k.startswith("grad.")]
        assert all(".layers.1." in k for k in keys), keys
        r_of = {k: exp[k].shape for k in keys}
        assert r_of["grad.base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"][0] == 2
        assert r_of["grad.base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"][0] == 4
        sc = {n.split("base_model.model.")[-1]: m.scaling["default"] for n, m in pm.named_modules()
              if isinstance(getattr(m, "scaling", None), dict) and m.scaling}
        print("scalings:", sc)
        assert sc == {"model.layers.1.self_attn.q_proj": 4.0, "model.layers.1.self_attn.v_proj": 8.0,
                      "model.layers.1.self_attn.o_proj": 1.0}, sc

    build_variant("mistral-mqa", MistralForCausalLM, cfg,
                  lora(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], layers_to_transform=[1],
                       rank_pattern={"v_proj": 2}, alpha_pattern={"o_proj": 4}),
                  seed=2000, disk_dtype=torch.float16, extra={"check": check})


def _base_sd(pm):
    """Plain HF state dict of the base model inside a PeftModel (LoRA stripped, base_layer. removed)."""
    out = {}
    for k, v in pm.get_base_model().state_dict().items():
        if "lora_" in k:
            continue
        out[k.replace(".base_layer.", ".")] = v
    return out


def qwen2_tied():
    cfg = Qwen2Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      head_dim=16, intermediate_size=80, vocab_size=128, rms_norm_eps=1e-6,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                      max_position_embeddings=64, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                      attn_implementation="eager")

    def check(pm, input_ids, exp):
        base = pm.get_base_model()
        assert base.model.layers[0].self_attn.q_proj.base_layer.weight.shape == (64, 48)
        assert base.model.layers[0].self_attn.k_proj.base_layer.weight.shape == (32, 48)
        mdir = os.path.join(OUT, "qwen2-tied", "model")
        files = sorted(os.listdir(mdir))
        shards = [f for f in files if f.startswith("model-") and f.endswith(".safetensors")]
        assert "model.safetensors.index.json" in files and len(shards) >= 2, files
        with open(os.path.join(mdir, "model.safetensors.index.json")) as f:
            wm = json.load(f)["weight_map"]
        assert "lm_head.weight" not in wm and "model.embed_tokens.weight" in wm
        assert all(k in wm for k in ["model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.v_proj.bias"])
        print(f"shards: {shards}")
        sc = {m.scaling["default"] for n, m in pm.named_modules()
              if isinstance(getattr(m, "scaling", None), dict) and m.scaling}
        assert sc == {4 / math.sqrt(8)}, sc

    build_variant("qwen2-tied", Qwen2ForCausalLM, cfg,
                  lora(r=8, lora_alpha=4, use_rslora=True, target_modules=ALL7),
                  seed=3000, disk_dtype=torch.bfloat16, shard="40KB", extra={"check": check})


def qwen3_qknorm():
    # Qwen3: RMSNorm over each head's q and k (q_norm, k_norm: [head_dim]) before RoPE, no biases, and heads × head_dim
    # (64) wider than hidden (48), as Qwen3 models are.
    cfg = Qwen3Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                      intermediate_size=80, vocab_size=128, rms_norm_eps=1e-6,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                      max_position_embeddings=64, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                      attention_bias=False, use_sliding_window=False, attn_implementation="eager")

    def check(pm, input_ids, exp):
        base = pm.get_base_model()
        attn = base.model.layers[0].self_attn
        assert attn.q_proj.base_layer.weight.shape == (64, 48) and attn.q_proj.base_layer.bias is None
        assert attn.q_norm.weight.shape == (16,) and attn.k_norm.weight.shape == (16,)
        assert not torch.allclose(attn.q_norm.weight, torch.ones(16))

    build_variant("qwen3-qknorm", Qwen3ForCausalLM, cfg,
                  lora(r=4, lora_alpha=8, target_modules=ALL7),
                  seed=6000, extra={"check": check, "base_grads": True})


LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}


def llama3_regimes(head_dim=16, theta=500000.0, p=LLAMA3_ROPE):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    wl = 2 * math.pi / inv
    old = p["original_max_position_embeddings"]
    lo, hi = old / p["low_freq_factor"], old / p["high_freq_factor"]
    return ["high" if w < hi else "low" if w > lo else "medium" for w in wl.tolist()], wl.tolist(), lo, hi


def llama3_rope():
    regimes, wl, lo, hi = llama3_regimes()
    print(f"\nllama3 regimes (hi_wl {hi}, lo_wl {lo}): " +
          ", ".join(f"i{i}: wl {w:.1f} {r}" for i, (w, r) in enumerate(zip(wl, regimes))))
    assert {"high", "medium", "low"} <= set(regimes)
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4,
                      intermediate_size=96, vocab_size=128, rms_norm_eps=1e-5,
                      rope_parameters={**LLAMA3_ROPE, "rope_theta": 500000.0},
                      max_position_embeddings=128, tie_word_embeddings=False, bos_token_id=0, eos_token_id=[1, 2],
                      attn_implementation="eager")

    def rewrite(mdir):
        path = os.path.join(mdir, "config.json")
        with open(path) as f:
            c = json.load(f)
        rp = c.pop("rope_parameters")
        assert rp["rope_type"] == "llama3", rp
        c["rope_theta"] = rp.pop("rope_theta")
        c["rope_scaling"] = {"rope_type": "llama3", "factor": rp["factor"], "low_freq_factor": rp["low_freq_factor"],
                             "high_freq_factor": rp["high_freq_factor"],
                             "original_max_position_embeddings": rp["original_max_position_embeddings"]}
        c["torch_dtype"] = c.pop("dtype")
        assert c["torch_dtype"] == "bfloat16"
        c.pop("num_key_value_heads")
        assert c["eos_token_id"] == [1, 2]
        with open(path, "w") as f:
            json.dump(c, f, indent=2, sort_keys=True)
            f.write("\n")
        print("rewrote config.json in transformers-4 spelling:", json.dumps(
            {k: c[k] for k in ["rope_theta", "rope_scaling", "torch_dtype", "eos_token_id"]}))

    def check(pm, input_ids, exp):
        mdir = os.path.join(OUT, "llama3-rope", "model")
        m = AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32, attn_implementation="eager").eval()
        c = m.config
        assert c.num_key_value_heads == 4, c.num_key_value_heads
        assert c.rope_parameters["rope_type"] == "llama3" and c.rope_parameters["rope_theta"] == 500000.0
        assert c.rope_parameters["original_max_position_embeddings"] == 64
        ref_inv = pm.get_base_model().model.rotary_emb.inv_freq
        assert torch.equal(m.model.rotary_emb.inv_freq, ref_inv)
        with torch.no_grad():
            d = max_abs(m(input_ids=input_ids).logits, exp["logits_base"])
        assert d == 0.0, d
        # llama3 scaling must matter: default rope gives different logits
        c2 = LlamaConfig.from_dict({**pm.config.to_dict(),
                                    "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}})
        c2._attn_implementation = "eager"
        m2 = LlamaForCausalLM(c2).float().eval()
        m2.load_state_dict(_base_sd(pm))
        with torch.no_grad():
            d2 = max_abs(m2(input_ids=input_ids).logits, exp["logits_base"])
        print(f"v4-spelled config reloads identically (max|d| {d}); llama3 vs default rope max|dlogit| {d2:.3e}")
        print("inv_freq:", [f"{x:.6g}" for x in ref_inv.tolist()])
        assert d2 > 1e-4

    build_variant("llama3-rope", LlamaForCausalLM, cfg,
                  lora(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "gate_proj"]),
                  seed=4000, disk_dtype=torch.bfloat16, rewrite_config=rewrite, extra={"check": check})


def llama_linear():
    cfg = LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                      intermediate_size=64, vocab_size=64, rms_norm_eps=1e-5,
                      rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
                      max_position_embeddings=64, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                      attn_implementation="eager")

    def check(pm, input_ids, exp):
        with open(os.path.join(OUT, "llama-linear", "model", "config.json")) as f:
            c = json.load(f)
        assert c["rope_parameters"]["rope_type"] == "linear" and c["rope_parameters"]["factor"] == 2.0, c
        assert "rope_scaling" not in c and "rope_theta" not in c
        print("config rope_parameters:", c["rope_parameters"])

    build_variant("llama-linear", LlamaForCausalLM, cfg,
                  lora(r=2, lora_alpha=2, target_modules=["down_proj", "up_proj"]), seed=5000,
                  extra={"check": check})


README = """# Tailor parity fixtures

Generated by `Tests/Fixtures/make_fixtures.py` (torch 2.15 CPU, transformers 5.23.0, peft 0.21.2). Regenerate with

    .venv/bin/python Tests/Fixtures/make_fixtures.py

Everything is deterministic (fixed seeds, single-threaded torch). Do not edit these files by hand.

Each `models/<variant>/` holds:

- `model/` — Hugging Face model folder from `save_pretrained` (eager attention).
  Random weights: linear N(0, 0.05), embeddings N(0, 0.5) (qwen2-tied: N(0, 0.15), since the tied embedding is also
  the output head), norm weights U(0.5, 1.5), Qwen2 q/k/v biases N(0, 0.1).
- `adapter/` — PEFT LoRA adapter from `save_pretrained` (`adapter_config.json`, `adapter_model.safetensors`, float32).
  lora_A ~ U(±1/√in), lora_B ~ N(0, 0.05) (both non-zero), lora_dropout 0. Verified to reload with
  `PeftModel.from_pretrained` and reproduce `logits`.
- `expected.safetensors` — reference values from transformers + PEFT, computed in float32 from exactly the weights
  on disk (fp16/bf16 checkpoints are rounded to that dtype first, then computed in fp32), model in eval mode.

## Variants

| variant | covers |
|---|---|
| `llama-gqa` | LlamaForCausalLM, untied, hidden 64, 2 layers, 4 heads / 2 KV heads (GQA), intermediate 96, vocab 128, eps 1e-5, θ 1e4, f32 on disk. LoRA r 4 α 8 on all seven projections. Extra: full-parameter gradients of the plain model; packed rows (two segments, positions restart). |
| `mistral-mqa` | MistralForCausalLM, hidden 64, 2 layers, 4 heads / 1 KV head (MQA), intermediate 96, vocab 128, `sliding_window: 6` (< T = 16, the band matters), **float16** on disk. LoRA on q_proj, v_proj, o_proj, `layers_to_transform: [1]` (layer 0 has no LoRA), r 4 α 16, `rank_pattern {"v_proj": 2}`, `alpha_pattern {"o_proj": 4}` → scalings q 4.0, v 8.0 (16/2), o 1.0 (4/4). |
| `qwen2-tied` | Qwen2ForCausalLM, q/k/v biases, **tied embeddings** (no `lm_head.weight` in the files), hidden 48, 2 layers, 4 heads, **explicit head_dim 16**, 2 KV heads, intermediate 80, vocab 128, θ 1e6, eps 1e-6, **bfloat16** on disk, **sharded** (`model.safetensors.index.json` + several shards). LoRA rsLoRA r 8 α 4 (scaling 4/√8) on all seven projections. |
| `llama3-rope` | LlamaForCausalLM, llama3 RoPE (factor 8, low 1, high 4, original_max_position_embeddings 64, θ 5e5, head_dim 16 → inv_freq index 0 high-frequency (unchanged), index 1 smoothed, indices 2..7 divided by 8), hidden 64, 1 layer, 4 heads, intermediate 96, vocab 128, `eos_token_id: [1, 2]`, **bfloat16** on disk. config.json is in the **transformers-4 spelling** (top-level `rope_theta`, `rope_scaling {"rope_type": "llama3", ...}`, `torch_dtype: "bfloat16"`, no `rope_parameters`, no `dtype`) and has **no `num_key_value_heads`** (defaults to 4). LoRA r 4 α 8 on q, k, v, gate. |
| `qwen3-qknorm` | Qwen3ForCausalLM: **q_norm / k_norm** (RMSNorm over each head's q and k before RoPE, U(0.5, 1.5)), no biases, tied embeddings, hidden 48, 2 layers, 4 heads × head_dim 16 (**64 > hidden**), 2 KV heads, intermediate 80, vocab 128, θ 1e6, eps 1e-6, f32 on disk. LoRA r 4 α 8 on all seven projections. Extra: full-parameter gradients (q_norm and k_norm included). |
| `llama-linear` | LlamaForCausalLM, linear RoPE factor 2.0 in the transformers-5 spelling (`rope_parameters`), hidden 32, 1 layer, 2 heads / 1 KV head, intermediate 64, vocab 64. LoRA r 2 α 2 on down_proj, up_proj. |

## Keys in `expected.safetensors`

Integer tensors are int64, floating tensors float32. `<adapter key>` is exactly a key of `adapter_model.safetensors`,
e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`. V = vocab size.

| key | shape | meaning |
|---|---|---|
| `input_ids` | [2, 16] | random ids in [0, V) |
| `labels` | [2, 16] | = input_ids, row 0 positions 0..4 and row 1 positions 13..15 set to -100 |
| `logits` | [2, 16, V] | adapter active |
| `loss` | [] | HF `model(input_ids, labels=labels).loss`: shift by one, ignore -100, mean over all valid shifted tokens of the batch (11 + 12 = 23) |
| `grad.<adapter key>` | like the adapter tensor | d loss / d tensor |
| `cotangent` | [2, 16, V] | N(0, 1) |
| `cgrad.<adapter key>` | like the adapter tensor | d sum(logits · cotangent) / d tensor |
| `logits_base` | [2, 16, V] | adapter disabled (`with model.disable_adapter()`) |
| `score_ids` | [12] | one sequence |
| `score_logprobs` | [11] | log p(ids[i+1] \\| ids[0..i]) with the adapter: log_softmax in **float64** of the float32 logits, stored float32 |
| `score_logprobs_base` | [11] | same without the adapter |

`llama-gqa` only:

| key | shape | meaning |
|---|---|---|
| `base_loss` | [] | loss of the plain model (no adapter) on input_ids/labels |
| `base_grad.<hf key>` | like the parameter | d base_loss / d parameter, for every key of the model state dict (`model.embed_tokens.weight`, `model.layers.0.input_layernorm.weight`, …, `lm_head.weight`) |
| `packed_input_ids` | [1, 16] | two segments of 7 and 9 tokens |
| `packed_position_ids` | [1, 16] | 0..6, 0..8 |
| `packed_labels` | [1, 16] | = packed_input_ids with index 7 (first token of segment 2) = -100, so index 6 predicts nothing |
| `packed_logits` | [1, 16, V] | concatenation of running each segment separately through the adapter model |
| `packed_loss` | [] | HF causal-LM loss of packed_logits vs packed_labels (14 valid tokens) |
| `packed_grad.<adapter key>` | like the adapter tensor | d packed_loss / d tensor |

transformers 5.23 given `position_ids` and no attention_mask for the packed row builds a block-diagonal mask and
reproduces `packed_logits` **only with `use_cache=False`** (asserted by the script). With the config default
`use_cache=True` (even in train mode) the model creates an empty DynamicCache before building the mask, packed-sequence
detection is skipped (it requires `past_key_values is None`), and the row gets a plain causal mask across segments
(with restarted RoPE positions) — that output is *not* what is stored.

## Tolerances

All expectations are fp32 computations; a correct fp32 re-implementation should match logits to ~1e-5 absolute and
gradients to ~1e-5 relative. fp16/bf16 variants compute in fp32 from the rounded weights, so no low-precision
arithmetic is involved.
"""


def main():
    os.makedirs(OUT, exist_ok=True)
    llama_gqa()
    mistral_mqa()
    qwen2_tied()
    llama3_rope()
    llama_linear()
    qwen3_qknorm()
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README)
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"\nTotal size of {os.path.relpath(OUT, os.getcwd())}: {total} bytes ({total / 1024 / 1024:.2f} MiB)")


if __name__ == "__main__":
    main()
