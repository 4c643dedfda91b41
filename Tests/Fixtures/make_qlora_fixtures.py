"""Reference QLoRA optimizer steps: PyTorch + PEFT on a base whose block projections are
dequant(quant(W)) with ggml's reference rounding, for Tailor's `--quantize q4_0|q8_0` trainer tests.

The seven block projections (q, k, v, o, gate, up, down) of the llama-gqa fixture model are
quantized and dequantized with the `gguf` package's `gguf.quants.quantize` / `dequantize`
(the numpy port of ggml's reference quantizers; embeddings, head and norms stay fp32, as in
Tailor). The PEFT adapter, data and optimizers are those of make_train_fixtures.py:

  <type>.sgd1.<adapter key>    adapter after 1 step of torch.optim.SGD(lr=0.5)
  <type>.adamw3.<adapter key>  adapter after 3 steps of AdamW(lr=1e-2, weight_decay=0.1)
  <type>.adamw3_losses         [3] the loss before each AdamW step

for <type> in q4_0, q8_0. Run: .venv/bin/python Tests/Fixtures/make_qlora_fixtures.py
"""
import os
import numpy as np
import torch
from gguf import GGMLQuantizationType
from gguf.quants import quantize, dequantize
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
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def peft_model(qtype):
    base = AutoModelForCausalLM.from_pretrained(os.path.join(variant, "model"), dtype=torch.float32,
                                                attn_implementation="eager")
    changed = 0
    with torch.no_grad():
        for name, module in base.named_modules():
            if name.split(".")[-1] in PROJECTIONS:
                w = module.weight.detach().numpy().astype(np.float32)
                back = dequantize(quantize(w, qtype), qtype).astype(np.float32)
                assert back.shape == w.shape
                module.weight.copy_(torch.from_numpy(back))
                changed += 1
    assert changed == 7 * base.config.num_hidden_layers
    return PeftModel.from_pretrained(base, os.path.join(variant, "adapter"), is_trainable=True)


def run(qtype, make_optimizer, steps):
    model = peft_model(qtype)
    losses = train(model, make_optimizer, steps, ids, labels)
    out = {name.replace(".default", ""): p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}
    return out, losses


result = {}
for label, qtype in (("q4_0", GGMLQuantizationType.Q4_0), ("q8_0", GGMLQuantizationType.Q8_0)):
    sgd, _ = run(qtype, lambda p: torch.optim.SGD(p, lr=0.5), 1)
    for k, v in sgd.items():
        result[f"{label}.sgd1.{k}"] = v
    adamw, losses = run(qtype, lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1), 3)
    for k, v in adamw.items():
        result[f"{label}.adamw3.{k}"] = v
    result[f"{label}.adamw3_losses"] = torch.tensor(losses, dtype=torch.float32)
    print(label, "AdamW losses", losses)
save_file({k: v.contiguous() for k, v in result.items()}, os.path.join(here, "train", "llama-gqa-qlora-steps.safetensors"))
print("wrote", len(result), "tensors")
