"""Reference optimizer steps of PyTorch + PEFT for Tailor's trainer tests.

Starting from the llama-gqa fixture model and adapter (Tests/Fixtures/models/llama-gqa), with
the fixture's two rows (input_ids, labels) as the whole training set in one batch, dropout 0,
no clipping, constant lr, no warmup:

  sgd1.<adapter key>    adapter after 1 step of torch.optim.SGD(lr=0.5)
  adamw3.<adapter key>  adapter after 3 steps of torch.optim.AdamW(lr=1e-2, weight_decay=0.1)
  adamw3_losses         [3] the loss before each AdamW step

Run: .venv/bin/python Tests/Fixtures/make_train_fixtures.py
"""
import os
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM
from peft import PeftModel
from fixture_training import train

torch.manual_seed(0)
torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
variant = os.path.join(here, "models", "llama-gqa")
expected = load_file(os.path.join(variant, "expected.safetensors"))
ids, labels = expected["input_ids"], expected["labels"]


def peft_model():
    base = AutoModelForCausalLM.from_pretrained(os.path.join(variant, "model"), dtype=torch.float32,
                                                attn_implementation="eager")
    return PeftModel.from_pretrained(base, os.path.join(variant, "adapter"), is_trainable=True)


def adapter_tensors(model):
    out = {}
    for name, p in model.named_parameters():
        if "lora_" in name:
            out[name.replace(".default", "")] = p.detach().clone()
    return out


def run(make_optimizer, steps):
    model = peft_model()
    losses = train(model, make_optimizer, steps, ids, labels)
    return adapter_tensors(model), losses


result = {}
sgd, _ = run(lambda p: torch.optim.SGD(p, lr=0.5), 1)
for k, v in sgd.items():
    result["sgd1." + k] = v
adamw, losses = run(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1), 3)
for k, v in adamw.items():
    result["adamw3." + k] = v
result["adamw3_losses"] = torch.tensor(losses, dtype=torch.float32)
save_file({k: v.contiguous() for k, v in result.items()}, os.path.join(here, "train", "llama-gqa-steps.safetensors"))
print("wrote", len(result), "tensors; AdamW losses", losses)
