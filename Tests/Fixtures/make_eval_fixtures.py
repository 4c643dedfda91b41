"""Expected `tailor eval` results from transformers + PEFT (token-weighted mean NLL).

Model: the llama-gqa fixture weights with its PEFT adapter, plus the tiny 128-id byte-level
tokenizer and ChatML template from Tests/Fixtures/datasets/tiny. Examples are built as Tailor
documents them: text = tokenizer encoding + EOS, every token scored; chat = ChatML render,
assistant turns (content + <|im_end|>) scored, via transformers' return_assistant_tokens_mask on
the {% generation %} version of the same template.

Run: .venv/bin/python Tests/Fixtures/make_eval_fixtures.py  → Tests/Fixtures/eval/expected.json
"""
import json, os, shutil, tempfile
import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
from peft import PeftModel

here = os.path.dirname(os.path.abspath(__file__))
tiny = os.path.join(here, "datasets", "tiny")
variant = os.path.join(here, "models", "llama-gqa")
tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tiny, "tokenizer.json"))
cfg = json.load(open(os.path.join(tiny, "tokenizer_config.json")))
eos_id = tok.convert_tokens_to_ids(cfg["eos_token"])
generation_template = open(os.path.join(here, "datasets", "chatml_generation.jinja")).read()

base = AutoModelForCausalLM.from_pretrained(os.path.join(variant, "model"), dtype=torch.float32, attn_implementation="eager")
model = PeftModel.from_pretrained(base, os.path.join(variant, "adapter")).eval()


def nll(examples):
    total, count = 0.0, 0
    for ids, labels in examples:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits[:-1], -1)
        for t in range(1, len(ids)):
            if labels[t] != -100:
                total -= lp[t - 1, ids[t]].item()
                count += 1
    return {"loss": total / count, "tokens": count, "examples": len(examples)}


text = []
for line in open(os.path.join(here, "eval", "text.jsonl")):
    ids = tok(json.loads(line)["text"])["input_ids"] + [eos_id]
    text.append((ids, ids))
chat = []
for line in open(os.path.join(here, "eval", "chat.jsonl")):
    out = tok.apply_chat_template(json.loads(line)["messages"], chat_template=generation_template, tokenize=True,
                                  return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    chat.append((ids, [i if m else -100 for i, m in zip(ids, mask)]))
result = {"text": nll(text), "chat": nll(chat)}
json.dump(result, open(os.path.join(here, "eval", "expected.json"), "w"), indent=1)
print(result)
