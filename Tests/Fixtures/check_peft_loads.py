"""Developer check (needs the venv): PEFT loads an adapter written by Tailor and computes the
same log-probabilities as `tailor score`.

    .venv/bin/python Tests/Fixtures/check_peft_loads.py MODEL_DIR ADAPTER_DIR [TAILOR_BINARY]
"""
import json, subprocess, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

model_dir, adapter_dir = sys.argv[1], sys.argv[2]
tailor = sys.argv[3] if len(sys.argv) > 3 else ".build/debug/tailor"
ids = [1, 5, 9, 17, 33, 2, 8, 40]
base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
model = PeftModel.from_pretrained(base, adapter_dir).eval()
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].double()
lp = torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
out = subprocess.run([tailor, "score", "--model", model_dir, "--adapter", adapter_dir, "--ids", ",".join(map(str, ids)), "--json"],
                     check=True, capture_output=True, text=True).stdout
ours = torch.tensor(json.loads(out)["logprobs"], dtype=torch.float64)
diff = (ours - lp).abs().max().item()
print(f"PEFT loaded {adapter_dir}; max |Δ logprob| vs tailor score = {diff:.2e}")
sys.exit(0 if diff < 1e-4 else 1)
