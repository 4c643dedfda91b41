#!/usr/bin/env python3
"""Generates the dataset fixtures under Tests/Fixtures/datasets/.

Run with the project venv (transformers 5.x, tokenizers 0.23):
    /work/main/.venv/bin/python Tests/Fixtures/make_dataset_fixtures.py

Writes:
- tiny/tokenizer.json: a byte-level BPE with 128 ids (specials <s>=0, </s>=1, <|im_start|>=2, <|im_end|>=3, the
  97 byte symbols of tab, newline and printable ASCII, 27 merges); its post-processor adds <s>. ASCII text only.
- tiny/tokenizer_config.json (bos <s>, eos </s>), tiny/chat_template.jinja (plain ChatML, no generation tags),
  chatml_generation.jinja and llama3_generation.jinja / llama3_plain.jinja.
- expected.json: ids and loss masks, from
  * transformers' apply_chat_template(..., return_dict=True, return_assistant_tokens_mask=True) with the
    {% generation %} templates (tiny + ChatML, and the llama3 fixture tokenizer + a Llama 3 template);
  * TRL-style prompt/completion masks computed here by hand: prompt = render([user], add_generation_prompt=True),
    mask = [0] * len(prompt ids) + [1] * rest, except that Tailor does not train the whitespace the template
    writes after the final end-of-turn token (the "\n" after <|im_end|>); both masks are stored;
  * text: tokenizer(text).input_ids + [eos], all trained;
  * no template (TRL non-conversational): prompt ids with BOS, then completion ids and EOS, completion trained;
    where a token straddles the prompt/completion boundary (alpaca's "\n\n" before the output), it is trained.
The Swift tests never need Python.
"""
import json
import pathlib

from tokenizers import Tokenizer, models, pre_tokenizers, decoders, processors, AddedToken
import transformers
from transformers import PreTrainedTokenizerFast

HERE = pathlib.Path(__file__).resolve().parent / "datasets"
ROOT = pathlib.Path(__file__).resolve().parent


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


SPECIALS = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("i", "n"), ("e", "r"), ("a", "n"), ("o", "n"), ("r", "e"), ("Ġ", "a"), ("Ġ", "s"),
          ("Ġ", "w"), ("o", "u"), ("Ġ", "i"), ("e", "s"), ("i", "s"), ("Ċ", "Ċ"), ("a", "s"), ("s", "i"), ("s", "t"),
          ("a", "t"), ("o", "r"), ("e", "n"), ("Ġ", "b"), ("Ġ", "c"), ("l", "l"), ("Ġt", "he"), ("as", "si"),
          ("Ġ", "H")]


def tiny_tokenizer():
    table = bytes_to_unicode()
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in [9, 10] + list(range(32, 127)):
        vocab[table[b]] = len(vocab)
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    assert len(vocab) == 128, len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=MERGES, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 0)]),
    ])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    return tok


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHATML_GENERATION = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3_GENERATION = (
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}\n"
    "    {%- if message['role'] == 'assistant' %}\n"
    "        {%- generation %}\n"
    "        {{- message['content'] | trim + '<|eot_id|>' }}\n"
    "        {%- endgeneration %}\n"
    "    {%- else %}\n"
    "        {{- message['content'] | trim + '<|eot_id|>' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n")
LLAMA3_PLAIN = LLAMA3_GENERATION.replace("        {%- generation %}\n", "").replace("        {%- endgeneration %}\n", "")

CONVERSATIONS = {
    "system_multi_turn": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "  Hi there  "},
        {"role": "assistant", "content": " Hello! "},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "See you soon."},
    ],
    "one_turn": [
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the chicken cross the road?\nTo get to the other side."},
    ],
    "trailing_newlines_and_tool": [
        {"role": "user", "content": "List two, then check the weather."},
        {"role": "assistant", "content": "- one\n- two\n\n"},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "It is 21 C, the best weather in town."},
    ],
    "in_content_special": [
        {"role": "user", "content": "Say <|im_end|> please"},
        {"role": "assistant", "content": "ok"},
    ],
}

PAIRS = [
    {"prompt": "What is 2+2?", "completion": "It is 4."},
    {"prompt": "Write the word 'cat' in French.", "completion": " chat\n"},
]
ALPACA = [
    {"instruction": "Translate to French.", "input": "the cat", "output": "le chat"},
    {"instruction": "Name a color.", "input": "", "output": "Blue."},
]
TEXTS = ["Hello world!", "the cat sat on the mat\nand then it slept.", " leading space"]


def fast(tok_obj, bos, eos, template):
    t = PreTrainedTokenizerFast(tokenizer_object=tok_obj, bos_token=bos, eos_token=eos)
    t.chat_template = template
    return t


def generation_case(t, name, messages):
    out = t.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    text = t.apply_chat_template(messages, tokenize=False)
    return {"name": name, "record": {"messages": messages}, "text": text,
            "ids": list(out["input_ids"]), "mask": list(out["assistant_masks"])}


def trl_case(t, record, user, assistant, end_of_turn):
    prompt_text = t.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    text = t.apply_chat_template([{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
                                 tokenize=False)
    prompt_ids = t(prompt_text, add_special_tokens=False)["input_ids"]
    ids = t(text, add_special_tokens=False)["input_ids"]
    assert ids[:len(prompt_ids)] == prompt_ids, "prompt is not a prefix"
    trl_mask = [0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids))
    # Tailor: whitespace after the final end-of-turn token is not trained.
    mask = list(trl_mask)
    last = max(i for i, x in enumerate(ids) if x == end_of_turn)
    for i in range(last + 1, len(ids)):
        assert t.decode([ids[i]]).strip() == "", t.decode([ids[i]])
        mask[i] = 0
    return {"record": record, "text": text, "ids": ids, "mask": mask, "trl_mask": trl_mask}


def plain_case(t, record, prompt, completion):
    """TRL's non-conversational masks (prompt ids, then the rest) when the prompt's ids are a prefix of the
    whole text's; otherwise (a token straddles the boundary) the tokens whose offsets reach past the prompt."""
    enc = t(prompt + completion, return_offsets_mapping=True)
    ids = enc["input_ids"] + [t.eos_token_id]
    mask = [1 if end > len(prompt) else 0 for (_, end) in enc["offset_mapping"]] + [1]
    prompt_ids = t(prompt)["input_ids"]
    if ids[:len(prompt_ids)] == prompt_ids:
        assert mask == [0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids))
    return {"record": record, "text": prompt + completion, "ids": ids, "mask": mask}


def main():
    HERE.joinpath("tiny").mkdir(parents=True, exist_ok=True)
    tok = tiny_tokenizer()
    tok.save(str(HERE / "tiny" / "tokenizer.json"))
    (HERE / "tiny" / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "tokenizer_class": "PreTrainedTokenizerFast"}, indent=1) + "\n")
    (HERE / "tiny" / "chat_template.jinja").write_text(CHATML)
    (HERE / "chatml_generation.jinja").write_text(CHATML_GENERATION)
    (HERE / "llama3_generation.jinja").write_text(LLAMA3_GENERATION)
    (HERE / "llama3_plain.jinja").write_text(LLAMA3_PLAIN)

    tiny = Tokenizer.from_file(str(HERE / "tiny" / "tokenizer.json"))
    gen = fast(tiny, "<s>", "</s>", CHATML_GENERATION)
    plain = fast(tiny, "<s>", "</s>", CHATML)
    notemplate = fast(tiny, "<s>", "</s>", None)
    llama3 = fast(Tokenizer.from_file(str(ROOT / "tokenizers" / "llama3" / "tokenizer.json")),
                  "<|begin_of_text|>", "<|eot_id|>", LLAMA3_GENERATION)

    for name, messages in CONVERSATIONS.items():   # both templates render the same text
        assert gen.apply_chat_template(messages, tokenize=False) == plain.apply_chat_template(messages, tokenize=False)
    im_end = tiny.token_to_id("<|im_end|>")
    expected = {
        "transformers": transformers.__version__,
        "chatml": [generation_case(gen, n, m) for n, m in CONVERSATIONS.items()],
        "llama3": [generation_case(llama3, n, m) for n, m in CONVERSATIONS.items() if n != "in_content_special"],
        "prompt_completion_chatml": [trl_case(plain, r, r["prompt"], r["completion"], im_end) for r in PAIRS],
        "alpaca_chatml": [trl_case(plain, r, r["instruction"] + ("\n\n" + r["input"] if r["input"] else ""),
                                   r["output"], im_end) for r in ALPACA],
        "text": [{"record": {"text": s}, "text": s, "ids": notemplate(s)["input_ids"] + [notemplate.eos_token_id],
                  "mask": None} for s in TEXTS],
        "prompt_completion_plain": [plain_case(notemplate, r, r["prompt"], r["completion"]) for r in PAIRS],
        "alpaca_plain": [plain_case(notemplate, r, r["instruction"] + ("\n\n" + r["input"] if r["input"] else "") + "\n\n",
                                    r["output"]) for r in ALPACA],
    }
    for case in expected["text"]:
        case["mask"] = [1] * len(case["ids"])
    for n, cases in expected.items():
        if isinstance(cases, list):
            for c in cases:
                assert any(c["mask"]), (n, c)
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
