#!/usr/bin/env python3
"""Builds the tokenizer fixtures under Tests/Fixtures/tokenizers with the `tokenizers` library itself.

Run from the repository root with the project venv:  /work/main/.venv/bin/python Tests/Fixtures/make_tokenizer_fixtures.py

Writes
  tokenizers/corpus.jsonl            10k+ deterministic test lines (one JSON string per line; lines may hold \\n, \\r)
  tokenizers/<family>/tokenizer.json a tokenizer trained on the corpus, shaped like a real model family
  tokenizers/<family>/expected.json  full ids / decodes / stream chunks for the first FULL_LINES lines
  tokenizers/<family>/digests.bin    per corpus line: FNV-1a 64 (little endian) of ids + decode + decode(skip special)

Reference behaviour is `tokenizers.Tokenizer.from_file` (see reference/tokenizers.md section 0), never AutoTokenizer.
"""
import json
import os
import random
import struct
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers.decoders import DecodeStream

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizers")
FULL_LINES = 200
STREAM_LINES = 50

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# ---------------------------------------------------------------------------------------------------------------
# Corpus


def edge_cases():
    """Hand-written lines that hit the documented edge cases; they come first so the full-id fixture covers them."""
    return [
        "hello world", " hello", "  hello", "hello ", "", " ", "   ", "\t", "\n", "\r\n", "a\r\n\r\nb",
        "I'm HE'LL we'VE", "DON'T STOP, it's fine", "'s 'S 'ſ 'K", "it’s curly", "don't", "'re're",
        "'Sup 'REALLY 'Twas O'Malley 'DDR 'ſup 'Ve 'LLama", "x'ſup X'K x'\u212aup", "12345 678", "1234567890123", "$5.00", "x² ½ Ⅻ", "١٢٣٤", "१२३४५", "3.14159e-10",
        "a  b   c", "hi\n\n  there\n", "x!!!\n\ny", "a-b-c x.y.z 1,2,,3 it''s!! a!b!!c ...", "  ＨＥＬＬＯ  Wörld  ", "ΣΑΣ İ ß ǅ", "\tTab", "café naïve 日本語", " 🤗ok", "(hello", "foo.bar()",
        "...hello", "cafe\u0301 ok", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u0085b", "a\u200bb", "a\ufeffb",
        "a\u180eb", "a\x0bb\x0cc", "\u0301abc", "e\u0301\u0327", "\u212b ang", "A\u030a", "\u1100\u1161\u11a8 한국어",
        "ǅemal ʰhi", "hi   ", "\u00e9\u0301", "👨\u200d👩\u200d👧\u200d👦 family", "🏳️\u200d🌈 flag", "👍🏽👍🏿",
        "hello<|eot_id|>world", "<|begin_of_text|>hi", "a<|eot_id|> a", "<|im_start|>user\nHi<|im_end|>\n",
        "<s>[INST] hi [/INST]", "hello</s>world", "</s>hello", "[INST]hello world", "x<s></s>x",
        "<|endoftext|><|endoftext|>", "a <mask> b", "a<mask>b", "a <sep> b", "a<sep>b", "<sep>", "<<SYS>>  x",
        "tool <tool_call>{\"a\": 1}</tool_call>", "cafe\u0301 is café", "Résumé naïve coöperate",
        "\x00\x01\x7f\u0080\u009f", "\ue000 private", "\U000e0001 tag", "\U0001f600\U0001f601\U0001f602",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "ﬁne ﬂow", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ１２３", "αβγ ΑΒΓ ς", "Straße STRASSE",
        "İstanbul ıi", "עברית עם ניקוד: שָׁלוֹם", "العربية ١٢٣", "हिन्दी भाषा", "ไทย ภาษา", "  leading two",
        "trailing tab\t", "mixed \t \n \r\n end", "a\n", "\n\n\n", " \n ", "word\r\nword", "a\r  b", "old mac\rline  \r   z", "x \r\t\ty\n  \n   w", "????", "!!!abc",
        "@user #tag $var %mod ^caret &amp; *star", "a-b_c.d/e\\f", "`code` ~tilde~", "<0x41> literal",
        "▁already▁meta", " ▁ x", "__init__", "x" * 120, "ab" * 40, "9" * 40, " " * 33 + "z", "\u2581",
    ]


WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by "
         "word but not what all were we when your can said there use an each which she do how their if will up "
         "other about out many then them these so some her would make like him into time has look two more write "
         "go see number no way could people my than first water been call who oil its now find long down day did "
         "get come made may part tokenizer merge vocabulary training gradient adapter matrix llama qwen model "
         "learning rate batch epoch loss weight bias layer attention transformer embedding sequence").split()
ACCENTED = "café naïve façade Zürich São Paulo Ελληνικά русский язык Čeština Łódź über résumé piñata Ærø".split()
CJK = ["日本語のテキスト", "中文文本测试", "한국어 문장", "漢字かなカナ", "東京都", "你好，世界！", "これはテストです。"]
EMOJI = ["🤗", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "👍🏽", "❤️", "🇫🇷", "😀", "🧑\u200d💻", "✨", "🔥🔥"]
CONTRACTIONS = ["don't", "DON'T", "We'RE", "they'll", "I'VE", "she'd", "it's", "IT'S", "it’s", "y'all", "o'clock",
                "'Twas", "O'Malley", "'TIS", "'Sup", "'MISSISSIPPI'", "l'Dorado"]
CODE = [
    "def f(x):\n    return x ** 2  # square", "for (int i = 0; i < n; ++i) {", "\tif (a && b) { return; }",
    "let xs = [1, 2, 3].map { $0 * 2 }", "SELECT * FROM users WHERE id = 42;", "<div class=\"x\">hi</div>",
    "import numpy as np", "    }\n}", "x = {'k': [1, 2.5, None]}", "fn main() -> Result<(), Error> {",
    "#include <stdio.h>", "console.log(`${a}+${b}`);", "a[i][j] += b[j] * c;", "// TODO: fix this",
]
SPECIALS = ["<|eot_id|>", "<|begin_of_text|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<|endoftext|>",
            "[INST]", "[/INST]", "<mask>", "<sep>", "<<SYS>>", "<tool_call>"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", " \n", "\n\n", "\u00a0", "\u3000", " \t "]
NUMBERS = ["0", "7", "42", "123", "2024", "3.14", "1,000,000", "12345678901234567890", "0x1F", "½", "²", "١٢٣"]


def random_line(rng):
    kind = rng.random()
    parts = []
    if kind < 0.07:
        return rng.choice(["", " ", "  ", "\t", "\r\n", "\n"])
    if kind < 0.22:
        return rng.choice(CODE) + rng.choice(["", "", " ", "\n", "\r\n"])
    n = rng.randint(1, 9)
    for _ in range(n):
        r = rng.random()
        if r < 0.50:
            w = rng.choice(WORDS)
            c = rng.random()
            if c < 0.15:
                w = w.capitalize()
            elif c < 0.2:
                w = w.upper()
            parts.append(w)
        elif r < 0.58:
            parts.append(rng.choice(ACCENTED))
        elif r < 0.63:
            parts.append(rng.choice(CJK))
        elif r < 0.68:
            parts.append(rng.choice(EMOJI))
        elif r < 0.75:
            parts.append(rng.choice(CONTRACTIONS))
        elif r < 0.82:
            parts.append(rng.choice(NUMBERS))
        elif r < 0.86:
            parts.append(rng.choice(SPECIALS))
        elif r < 0.90:
            parts.append(rng.choice([".", ",", "!", "?", "...", "(", ")", "\"", "'", ":", ";", "-", "—"]))
        elif r < 0.93:
            parts.append(rng.choice(["e\u0301", "n\u0303", "A\u030a", "\u212b", "o\u0308\u0304", "\u1100\u1161"]))
        else:
            parts.append(rng.choice(SPACES))
        sep = " " if rng.random() < 0.8 else rng.choice(["", "  ", "\t", "\n", ", "])
        parts.append(sep)
    line = "".join(parts)
    if rng.random() < 0.3:
        line = line.strip(" ")
    return line


def make_corpus():
    rng = random.Random(20260101)
    lines = edge_cases()
    while len(lines) < 10_240:
        lines.append(random_line(rng))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Tokenizers


def train(tok, lines, vocab_size, special_tokens, alphabet=None, limit_alphabet=None):
    kwargs = dict(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False, min_frequency=2)
    if alphabet is not None:
        kwargs["initial_alphabet"] = alphabet
    if limit_alphabet is not None:
        kwargs["limit_alphabet"] = limit_alphabet
    tok.train_from_iterator(lines, trainer=trainers.BpeTrainer(**kwargs))


def byte_level(lines, name, split, digits, add_prefix_space, use_regex, vocab_size=1200):
    tok = Tokenizer(models.BPE())
    steps = []
    if digits:
        steps.append(pre_tokenizers.Digits(individual_digits=True))
    if split is not None:
        steps.append(pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False))
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=use_regex))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps) if len(steps) > 1 else steps[0]
    tok.decoder = decoders.ByteLevel()
    if name == "qwen2":
        tok.normalizer = normalizers.NFC()
    train(tok, lines, vocab_size, [], alphabet=pre_tokenizers.ByteLevel.alphabet())
    return tok


def sentencepiece_like(lines, vocab_size, byte_fallback, unk):
    """BPE over ▁-words; trained with a Metaspace split so merges never cross word boundaries."""
    tok = Tokenizer(models.BPE(unk_token=unk, byte_fallback=byte_fallback, fuse_unk=unk is not None))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    train(tok, lines, vocab_size, ["<unk>", "<s>", "</s>"], limit_alphabet=160)
    return tok


def with_byte_tokens(data):
    """Inserts <0x00>..<0xFF> after the three specials, as Llama 2's vocabulary does (ids 3-258)."""
    vocab = data["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    head = [t for t, _ in ordered[:3]]
    rest = [t for t, _ in ordered[3:]]
    new = head + ["<0x%02X>" % b for b in range(256)] + [t for t in rest if not (len(t) == 6 and t.startswith("<0x"))]
    data["model"]["vocab"] = {t: i for i, t in enumerate(new)}
    for a in data["added_tokens"]:
        a["id"] = data["model"]["vocab"][a["content"]]
    return data


def set_merge_form(data, form):
    merges = data["model"]["merges"]
    if form == "string":
        data["model"]["merges"] = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in merges]
    else:
        data["model"]["merges"] = [m.split(" ", 1) if isinstance(m, str) else m for m in merges]
    return data


def template(single, pair, specials, tok):
    return processors.TemplateProcessing(single=single, pair=pair,
                                         special_tokens=[(s, tok.token_to_id(s)) for s in specials])


def add_boundary_traps(data, lines, limit=400):
    """Adds lowest-priority merges (and tokens) that join the last token of one pre-tokenized word to the first
    token of the next. `tokenizers` never applies them (the words are separate), but an implementation whose
    pre-tokenizer fails to split there merges them and gets different ids, so split errors cannot hide behind a
    vocabulary that happens to tokenize both splits alike."""
    tok = Tokenizer.from_str(json.dumps(data))
    added_ids = {a["id"] for a in data["added_tokens"]}
    vocab = data["model"]["vocab"]
    merges = data["model"]["merges"]
    string_form = bool(merges) and isinstance(merges[0], str)
    first_free = max(vocab.values()) + 1
    traps = []
    seen = set()
    for line in lines[:4000]:
        enc = tok.encode(line, add_special_tokens=False)
        for i in range(len(enc.ids) - 1):
            a, b = enc.tokens[i], enc.tokens[i + 1]
            if enc.ids[i] in added_ids or enc.ids[i + 1] in added_ids or enc.word_ids[i] == enc.word_ids[i + 1]:
                continue
            if (a, b) in seen or a + b in vocab or " " in a or " " in b or len(seen) >= limit:
                continue
            seen.add((a, b))
            traps.append((a, b))
    for k, (a, b) in enumerate(traps):
        vocab[a + b] = first_free + k
        merges.append(f"{a} {b}" if string_form else [a, b])
    # Added tokens outside the model vocabulary move up past the new tokens, as tokenizers would number them.
    shift = {i: i + len(traps) for i in added_ids if i >= first_free}
    for a in data["added_tokens"]:
        a["id"] = shift.get(a["id"], a["id"])

    def remap(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "ids" and isinstance(value, list):
                    node[key] = [shift.get(i, i) for i in value]
                elif key == "id" and isinstance(value, int):  # Roberta/Bert style entries are lists, not here
                    node[key] = shift.get(value, value)
                else:
                    remap(value)
        elif isinstance(node, list):
            for item in node:
                remap(item)
    remap(data.get("post_processor"))
    return data


def build_all(lines):
    out = {}

    # (1) Llama 3: Split(regex) + ByteLevel(use_regex=false), ignore_merges, BOS via TemplateProcessing.
    t = byte_level(lines, "llama3", LLAMA3_REGEX, False, False, False)
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in
                          ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                           "<|end_header_id|>"]])
    t.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    t.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        template("<|begin_of_text|> $A", "<|begin_of_text|> $A <|begin_of_text|> $B", ["<|begin_of_text|>"], t)])
    d = json.loads(t.to_str())
    d["model"]["ignore_merges"] = True
    out["llama3"] = set_merge_form(d, "pair")

    # (2) Qwen2: NFC, single-digit regex, no BOS, ChatML specials, non-special tool tokens, a normalized token.
    t = byte_level(lines, "qwen2", QWEN2_REGEX, False, False, False)
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in
                          ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    t.add_tokens([AddedToken("<tool_call>", special=False, normalized=False),
                  AddedToken("</tool_call>", special=False, normalized=False),
                  AddedToken("cafe\u0301", special=False, normalized=True)])
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    d = json.loads(t.to_str())
    out["qwen2"] = set_merge_form(d, "string")

    # (3) SmolLM: Digits + ByteLevel(use_regex=true); specials first (ids 0-2); single_word and rstrip tokens.
    t = byte_level(lines, "smollm", None, True, False, True)
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in
                          ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]])
    t.add_tokens([AddedToken("<sep>", single_word=True, normalized=False),
                  AddedToken("<mask>", rstrip=True, special=False, normalized=False)])
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    out["smollm"] = set_merge_form(json.loads(t.to_str()), "pair")

    # (3b) GPT-2: plain ByteLevel(add_prefix_space=true, use_regex=true), no post-processor, string merges.
    t = byte_level(lines, "gpt2", None, False, True, True, vocab_size=900)
    t.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    out["gpt2"] = set_merge_form(json.loads(t.to_str()), "string")

    # (4) Llama 2 / Mistral legacy: Prepend+Replace normalizers, byte_fallback, fused <unk>, <s> BOS.
    t = sentencepiece_like(lines, 1000, True, "<unk>")
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.pre_tokenizer = None
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    d = with_byte_tokens(json.loads(t.to_str()))
    t = Tokenizer.from_str(json.dumps(d))
    for s in ["<unk>", "<s>", "</s>"]:
        t.add_special_tokens([AddedToken(s, special=True, normalized=False)])
    t.add_tokens([AddedToken("[INST]", normalized=True), AddedToken("[/INST]", normalized=True),
                  AddedToken("<<SYS>>", normalized=False, rstrip=True)])
    t.post_processor = template("<s> $A", "<s> $A <s> $B", ["<s>"], t)
    out["llama2"] = set_merge_form(json.loads(t.to_str()), "string")

    # (5) Metaspace(prepend_scheme first, split false), no byte fallback: unknown chars become <unk> (not fused).
    d = json.loads(sentencepiece_like(lines, 800, False, "<unk>").to_str())
    d["model"]["fuse_unk"] = False
    t = Tokenizer.from_str(json.dumps(d))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    t.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoders.Metaspace(prepend_scheme="first")])
    for s in ["<unk>", "<s>", "</s>"]:
        t.add_special_tokens([AddedToken(s, special=True, normalized=False)])
    t.add_tokens([AddedToken("[INST]", normalized=False), AddedToken("[/INST]", normalized=False)])
    t.post_processor = template("<s> $A", "<s> $A <s> $B", ["<s>"], t)
    out["metaspace_first"] = set_merge_form(json.loads(t.to_str()), "pair")

    # (6) Metaspace(always, split true), neither unk nor byte fallback (unknown chars are dropped), BOS and EOS.
    d = json.loads(sentencepiece_like(lines, 600, False, None).to_str())
    d["model"]["unk_token"] = None
    d["model"]["fuse_unk"] = False
    t = Tokenizer.from_str(json.dumps(d))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<s>", "</s>"]])
    t.post_processor = processors.Sequence([template("<s> $A </s>", "<s> $A </s> $B </s>", ["<s>", "</s>"], t)])
    out["metaspace_always"] = set_merge_form(json.loads(t.to_str()), "string")

    # (7) Everything else the Swift side implements: NFKC + Lowercase + Strip, WhitespaceSplit, literal Splits with
    # each delimiter behaviour (and invert), grouped Digits, RobertaProcessing (BOS and EOS).
    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Split(".", behavior="merged_with_next"),
        pre_tokenizers.Split(",", behavior="removed"),
        pre_tokenizers.Split("'", behavior="contiguous", invert=True),
        pre_tokenizers.Split("!", behavior="isolated", invert=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    train(t, lines, 900, ["<s>", "</s>"], alphabet=pre_tokenizers.ByteLevel.alphabet())
    t.post_processor = processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>")))
    out["normalizers_splits"] = set_merge_form(json.loads(t.to_str()), "pair")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Expected outputs


def fnv1a64(chunks):
    h = 0xCBF29CE484222325
    for chunk in chunks:
        for b in chunk:
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def digest(ids, decoded, decoded_skip):
    """ids as u32 LE, then 0xFF (never in UTF-8), decode, 0xFF, decode(skip_special_tokens)."""
    return fnv1a64([b"".join(struct.pack("<I", i) for i in ids), b"\xff", decoded.encode(), b"\xff",
                    decoded_skip.encode()])


def expectations(tok, lines):
    full, digests = [], bytearray()
    for n, line in enumerate(lines):
        enc = tok.encode(line, add_special_tokens=True)
        ids = enc.ids
        dec = tok.decode(ids, skip_special_tokens=False)
        dec_skip = tok.decode(ids, skip_special_tokens=True)
        digests += struct.pack("<Q", digest(ids, dec, dec_skip))
        if n < FULL_LINES:
            plain = tok.encode(line, add_special_tokens=False).ids
            entry = {"line": n, "ids": ids, "decoded": dec, "decoded_skip": dec_skip}
            if plain != ids:
                entry["ids_plain"] = plain
            if n < STREAM_LINES:
                stream = DecodeStream(skip_special_tokens=False)
                entry["stream"] = [stream.step(tok, i) for i in ids]
            full.append(entry)
    return full, bytes(digests)


def dump(obj, f):
    """Compact UTF-8 JSON; U+FEFF is escaped because Foundation's JSON parser on Linux drops it at a string start."""
    f.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("\ufeff", "\\ufeff"))


def main():
    print("tokenizers", tokenizers.__version__, file=sys.stderr)
    os.makedirs(ROOT, exist_ok=True)
    lines = make_corpus()
    with open(os.path.join(ROOT, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False).replace("\ufeff", "\\ufeff") + "\n")
    for name, data in build_all(lines).items():
        if name != "llama2":  # legacy SentencePiece has no pre-tokenizer, so no word boundaries to trap
            data = add_boundary_traps(data, lines)
        folder = os.path.join(ROOT, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            dump(data, f)
        tok = Tokenizer.from_file(path)
        full, digests = expectations(tok, lines)
        with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
            dump({"tokenizers_version": tokenizers.__version__, "lines": full}, f)
        with open(os.path.join(folder, "digests.bin"), "wb") as f:
            f.write(digests)
        print(name, "vocab", tok.get_vocab_size(), file=sys.stderr)


if __name__ == "__main__":
    main()
