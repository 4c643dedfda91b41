"""Qwen2 fixture that llama.cpp can run: a tiny Qwen2ForCausalLM with head_dim × heads = hidden (llama.cpp's qwen2
graph requires it; models/qwen2-tied breaks it on purpose), q/k/v biases, tied embeddings, the byte-level BPE
tokenizer of tokenizers/qwen2 (its pre-tokenizer regex is Qwen2's, which Tailor writes as tokenizer.ggml.pre "qwen2"),
a PEFT LoRA adapter, and reference log-probabilities.

    .venv/bin/python Tests/Fixtures/make_qwen2_fixtures.py

Deterministic (fixed seeds, single-threaded torch). Writes Tests/Fixtures/qwen2/:

  model/          config.json, model.safetensors (bfloat16, as Qwen2 checkpoints), generation_config.json,
                  tokenizer.json (copied from tokenizers/qwen2: 1,600 BPE tokens + 6 added), tokenizer_config.json
                  (ChatML template, eos <|im_end|>, pad <|endoftext|>, no BOS).
                  Qwen2ForCausalLM, hidden 32, 2 layers, 4 heads × head_dim 8 / 2 KV heads, intermediate 64,
                  vocab 1,664 (padded past the tokenizer, as Qwen2 checkpoints are: ids 1,606… have no token),
                  θ 1e6, eps 1e-6. Weights: linear N(0, 0.05), tied embedding N(0, 0.15), norms U(0.5, 1.5),
                  biases N(0, 0.1).
  adapter/        PEFT LoRA, rsLoRA r 8 α 8 (scale 8/√8) on all seven projections, float32; A ~ U(±1/√in),
                  B ~ N(0, 0.05), both non-zero.
  expected.json   texts and their `tokenizers` ids; score_ids (the ChatML conversation, special tokens included)
                  and log p(ids[i+1] | ids[..i]) without the adapter (logprobs_base) and with it merged by PEFT's
                  merge_and_unload (logprobs_merged), log_softmax in float64 of the float32 logits.

Used by ExportCommandTests (Swift only) and, through Tests/Fixtures/check_export.py, by the optional
ExportInteropTests (llama.cpp).
"""
import json, math, os, shutil
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
from peft import LoraConfig, PeftModel, get_peft_model

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "qwen2")
MDIR, ADIR = os.path.join(OUT, "model"), os.path.join(OUT, "adapter")
for d in [MDIR, ADIR]:
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)

# --- tokenizer ---------------------------------------------------------------------------------------------------------
shutil.copy(os.path.join(HERE, "tokenizers", "qwen2", "tokenizer.json"), MDIR)
tok = Tokenizer.from_file(os.path.join(MDIR, "tokenizer.json"))
n_tokens = tok.get_vocab_size(with_added_tokens=True)
V = 1664
assert n_tokens == 1606 and tok.token_to_id("<|endoftext|>") == 1600 and tok.token_to_id("<|im_end|>") == 1602
template = open(os.path.join(HERE, "datasets", "tiny", "chat_template.jinja"), encoding="utf-8").read()
json.dump({"add_bos_token": False, "add_eos_token": False, "bos_token": None, "chat_template": template,
           "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "model_max_length": 256,
           "pad_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"},
          open(os.path.join(MDIR, "tokenizer_config.json"), "w"), indent=2, sort_keys=True)

# --- model -------------------------------------------------------------------------------------------------------------
config = Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                     intermediate_size=64, vocab_size=V, rms_norm_eps=1e-6,
                     rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, max_position_embeddings=256,
                     tie_word_embeddings=True, bos_token_id=1600, eos_token_id=1602, attn_implementation="eager")
assert config.head_dim * config.num_attention_heads == config.hidden_size  # what llama.cpp's qwen2 needs
torch.manual_seed(9)
model = Qwen2ForCausalLM(config).float()
g = torch.Generator().manual_seed(9)
with torch.no_grad():  # as make_fixtures.py (tied: the embedding is also the head, hence 0.15)
    for name, p in model.named_parameters():
        if name.endswith("embed_tokens.weight"): p.copy_(torch.randn(p.shape, generator=g) * 0.15)
        elif "norm" in name: p.copy_(torch.rand(p.shape, generator=g) + 0.5)
        elif name.endswith(".bias"): p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else: p.copy_(torch.randn(p.shape, generator=g) * 0.05)
assert model.lm_head.weight is model.model.embed_tokens.weight
model.to(torch.bfloat16).save_pretrained(MDIR)

# --- adapter -----------------------------------------------------------------------------------------------------------
base = AutoModelForCausalLM.from_pretrained(MDIR, dtype=torch.float32, attn_implementation="eager").eval()
ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
pm = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=8, use_rslora=True, lora_dropout=0.0,
                                     bias="none", init_lora_weights=False, target_modules=ALL7))
g = torch.Generator().manual_seed(10)
with torch.no_grad():
    for name, p in pm.named_parameters():
        if ".lora_A." in name: p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(p.shape[1]))
        elif ".lora_B." in name: p.copy_(torch.randn(p.shape, generator=g) * 0.05)
pm.save_pretrained(ADIR)
os.remove(os.path.join(ADIR, "README.md"))
acfg = json.load(open(os.path.join(ADIR, "adapter_config.json")))
acfg["target_modules"] = sorted(acfg["target_modules"]); acfg["base_model_name_or_path"] = None
json.dump(acfg, open(os.path.join(ADIR, "adapter_config.json"), "w"), indent=2, sort_keys=True)

# --- texts and log-probabilities ---------------------------------------------------------------------------------------
texts = ["Hello world", " hello  there\n\nnew paragraph", "It's 12345 o'clock, isn't it?", "café <tool_call>x</tool_call>",
         "a café, another café",  # NFC text; the tokenizer's added token "café" is NFD with normalized: true
         "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nIt's 4.<|im_end|>\n"]
ids = [tok.encode(t).ids for t in texts]
score_ids = ids[-1]
assert 1601 in score_ids and 1602 in score_ids
def logprobs(m):
    with torch.no_grad():
        lp = torch.log_softmax(m(torch.tensor([score_ids])).logits[0].double(), -1)
    return lp[:-1].gather(1, torch.tensor(score_ids[1:])[:, None])[:, 0].tolist()
base = AutoModelForCausalLM.from_pretrained(MDIR, dtype=torch.float32, attn_implementation="eager").eval()
lp_base = logprobs(base)
adapted = PeftModel.from_pretrained(base, ADIR).eval()
lp_adapted = logprobs(adapted)
lp_merged = logprobs(adapted.merge_and_unload().eval())
assert max(abs(a - b) for a, b in zip(lp_adapted, lp_merged)) < 1e-5
json.dump({"texts": texts, "ids": ids, "score_ids": score_ids, "logprobs_base": lp_base, "logprobs_merged": lp_merged},
          open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False)
print(f"vocab {V} ({n_tokens} tokens); score sequence {len(score_ids)} tokens; adapter moves log-probs by "
      f"{max(abs(a - b) for a, b in zip(lp_base, lp_merged)):.3g}")
total = 0
for root, _, files in os.walk(OUT):
    for fn in sorted(files):
        p = os.path.join(root, fn); total += os.path.getsize(p)
        print(f"{os.path.getsize(p):>8}  {os.path.relpath(p, OUT)}")
print(f"{total:>8}  total")
assert total < 300_000
