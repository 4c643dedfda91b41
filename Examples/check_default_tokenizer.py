#!/usr/bin/env python3
"""Checks that Tailor's Tokenizer and Hugging Face `tokenizers` give identical ids (and decodes)
for the default model's tokenizer.json, on corpus lines, dialogues rendered with the chat template,
task questions and some text outside the corpus.

    cd Examples && swift build -c release --product encode-lines
    python check_default_tokenizer.py [MODEL_DIR]   # needs tokenizers (transformers optional)
"""
import json
import pathlib
import subprocess
import sys

from tokenizers import Tokenizer

here = pathlib.Path(__file__).resolve().parent
datasets = here.parent / "Datasets"
model_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else datasets / "default-model"
tokenizer_path = model_dir / "tokenizer.json"


def chatml(messages, generation_prompt=False):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if generation_prompt else "")


texts = [line for line in (datasets / "corpus" / "corpus.txt").read_text().split("\n") if line][:300]
for name in ["corpus/dialogues.jsonl", "default-task/train.jsonl", "default-task/valid.jsonl"]:
    lines = (datasets / name).read_text().splitlines()[:100]
    for line in lines:
        messages = json.loads(line)["messages"]
        texts.append(chatml(messages))
        texts.append(chatml(messages[:1], generation_prompt=True))
texts += [
    "Hello, world! It's 2024 — naïve café, 東京, emoji 🦊.",
    "  leading spaces,\ttabs\tand trailing spaces   ",
    "Numbers 1234567 and symbols #$%^&*() {}[]<>",
    "<|endoftext|>text<|im_end|><|im_start|>user\nHi<|im_end|>",
    "line one\n\nline two\r\nline three",
    "don't we'll they've I'm she'd it's",
]

# The chat template in tokenizer_config.json must render like the ChatML above.
try:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model_dir))
    msgs = [{"role": "user", "content": "Where does the fox live?"}, {"role": "assistant", "content": "The fox lives in the forest."}]
    assert hf.apply_chat_template(msgs, tokenize=False) == chatml(msgs), "chat template renders differently"
    assert hf.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True) == chatml(msgs[:1], True)
    assert hf.eos_token == "<|im_end|>" and hf.pad_token == "<|endoftext|>", (hf.eos_token, hf.pad_token)
    print("transformers: AutoTokenizer loads the folder; chat template and special tokens as expected")
except ImportError:
    print("transformers not installed; skipping the template check")

py = Tokenizer.from_file(str(tokenizer_path))
binary = here / ".build" / "release" / "encode-lines"
if not binary.exists():
    subprocess.run(["swift", "build", "-c", "release", "--product", "encode-lines"], cwd=here, check=True)
stdin = "\n".join(json.dumps(t) for t in texts) + "\n"
result = subprocess.run([str(binary), str(tokenizer_path)], input=stdin, capture_output=True, text=True, check=True)
rows = result.stdout.splitlines()
assert len(rows) == len(texts), (len(rows), len(texts))

bad = 0
tokens = 0
for text, row in zip(texts, rows):
    ids_text, decoded = row.split("\t", 1)
    swift_ids = json.loads(ids_text)
    expected = py.encode(text, add_special_tokens=False).ids
    tokens += len(expected)
    if swift_ids != expected or json.loads(decoded) != py.decode(expected, skip_special_tokens=False):
        bad += 1
        if bad <= 5:
            print("MISMATCH", repr(text), swift_ids, expected, file=sys.stderr)

vocab = py.get_vocab_size(with_added_tokens=True)
specials = {t: py.token_to_id(t) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]}
print(f"{len(texts)} texts, {tokens} tokens, vocab {vocab}, specials {specials}: {len(texts) - bad} identical, {bad} different")
sys.exit(1 if bad else 0)
