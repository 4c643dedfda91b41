"""SentencePiece (Llama-2-style) fixtures: a tiny SPM model, an HF Llama folder using it, a PEFT adapter, the GGUF
that llama.cpp's own converter makes from the folder, and reference ids / log-probabilities.

    .venv/bin/python Tests/Fixtures/make_spm_fixtures.py /path/to/llama.cpp

(a llama.cpp source tree with convert_hf_to_gguf.py, conversion/ and gguf-py/; the venv needs sentencepiece,
tokenizers, transformers, peft and llama-cpp-python, not protobuf.) Writes Tests/Fixtures/spm/ (README.md there
describes the files; it is kept):

  model/tokenizer.model    SentencePiece BPE trained here on tokenizers/corpus.jsonl, set up like Llama 2's
                           (byte_fallback, add_dummy_prefix, no whitespace collapsing, identity normalization,
                           split_digits; <unk> <s> </s> = 0 1 2), 768 pieces.
  model/tokenizer.json     the Llama-2 hub form: BPE vocab + merges from transformers' own SPM conversion
                           (`generate_merges`, as SentencePieceExtractor does), normalizer Prepend("▁") + Replace,
                           no pre-tokenizer, BOS post-processor, ByteFallback decoder.
  model/tokenizer_config.json, config.json, model.safetensors
                           LlamaForCausalLM, hidden 32, 2 layers, 4 heads / 2 KV heads, intermediate 64,
                           vocab 768, float16 on disk; llama-2-chat template.
  adapter/                 PEFT LoRA r 4 α 8 on all seven projections (float32).
  llama-spm-f16.gguf       convert_hf_to_gguf.py --outtype f16 (lossless: the weights are float16).
  expected.json            texts, reference ids and decodes, score ids and log-probabilities (base and merged).
  digests.bin              per line of tokenizers/corpus.jsonl: the low 32 bits (u32 LE) of FNV-1a 64 of ids +
                           decode + decode(skip special), hashed as make_tokenizer_fixtures.py does.

Reference tokenizer: `tokenizers.Tokenizer.from_file(model/tokenizer.json)` (reference/tokenizers.md §0). The script
asserts that it equals sentencepiece on every corpus line without special-token text, and that llama.cpp's
tokenizer on the converter's GGUF equals it on every text and every corpus line. transformers 5's AutoTokenizer
rebuilds a Metaspace pre-tokenizer and differs on leading spaces; it is not the reference.
"""
import io, json, math, os, shutil, struct, sys
import numpy as np
import sentencepiece as spm
import torch
from safetensors.torch import load_file
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
from tokenizers.models import BPE
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.tokenization_utils_base import generate_merges
from peft import LoraConfig, PeftModel, get_peft_model

src = sys.argv[1]
sys.path.insert(0, src); sys.path.insert(0, os.path.join(src, "gguf-py"))
import convert_hf_to_gguf as conv
import gguf

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "spm")
MDIR, ADIR = os.path.join(OUT, "model"), os.path.join(OUT, "adapter")
GGUF = os.path.join(OUT, "llama-spm-f16.gguf")
for d in [MDIR, ADIR]:
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)

corpus = [json.loads(l) for l in open(os.path.join(HERE, "tokenizers", "corpus.jsonl"), encoding="utf-8")]

# --- SentencePiece model ---------------------------------------------------------------------------------------------
buf = io.BytesIO()
spm.SentencePieceTrainer.train(
    sentence_iterator=iter([s for line in corpus for s in line.split("\n") if s.strip()]), model_writer=buf,
    model_type="bpe", vocab_size=768, byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
    normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
    split_by_unicode_script=True, split_by_whitespace=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    character_coverage=0.99, max_sentencepiece_length=16, num_threads=1, minloglevel=2)
with open(os.path.join(MDIR, "tokenizer.model"), "wb") as f:
    f.write(buf.getvalue())
sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
V = sp.vocab_size()

# --- tokenizer.json (Llama-2 hub form) and tokenizer_config.json -----------------------------------------------------
vocab = {sp.id_to_piece(i): i for i in range(V)}
tok = Tokenizer(BPE(vocab=vocab, merges=generate_merges(vocab), unk_token="<unk>", fuse_unk=True, byte_fallback=True))
tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ["<unk>", "<s>", "</s>"]])
tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                 decoders.Strip(" ", 1, 0)])
tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
tok.save(os.path.join(MDIR, "tokenizer.json"))
tok = Tokenizer.from_file(os.path.join(MDIR, "tokenizer.json"))
template = open(os.path.join(HERE, "templates", "llama-2-chat.jinja"), encoding="utf-8").read()
special = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                    "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])}
json.dump({"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": special, "bos_token": "<s>",
           "chat_template": template, "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
           "model_max_length": 4096, "pad_token": None, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>"},
          open(os.path.join(MDIR, "tokenizer_config.json"), "w"), indent=2)

# --- model and adapter -----------------------------------------------------------------------------------------------
config = LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=1e4,
                     bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
torch.manual_seed(7)
model = LlamaForCausalLM(config).float()
g = torch.Generator().manual_seed(7)
with torch.no_grad():  # as make_fixtures.py: linear N(0, 0.05), embeddings N(0, 0.5), norms U(0.5, 1.5)
    for name, p in model.named_parameters():
        if name.endswith("embed_tokens.weight"): p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        elif "norm" in name: p.copy_(torch.rand(p.shape, generator=g) + 0.5)
        else: p.copy_(torch.randn(p.shape, generator=g) * 0.05)
model.to(torch.float16).save_pretrained(MDIR)
for extra in ["generation_config.json"]:
    if os.path.exists(os.path.join(MDIR, extra)): os.remove(os.path.join(MDIR, extra))

base = AutoModelForCausalLM.from_pretrained(MDIR, dtype=torch.float32, attn_implementation="eager").eval()
pm = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
                                     init_lora_weights=False, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                              "gate_proj", "up_proj", "down_proj"]))
g = torch.Generator().manual_seed(8)
with torch.no_grad():  # lora_A ~ U(±1/√in), lora_B ~ N(0, 0.05): both non-zero, as make_fixtures.py
    for name, p in pm.named_parameters():
        if ".lora_A." in name: p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(p.shape[1]))
        elif ".lora_B." in name: p.copy_(torch.randn(p.shape, generator=g) * 0.05)
pm.save_pretrained(ADIR)
os.remove(os.path.join(ADIR, "README.md"))
acfg = json.load(open(os.path.join(ADIR, "adapter_config.json")))
acfg["target_modules"] = sorted(acfg["target_modules"]); acfg["base_model_name_or_path"] = None
json.dump(acfg, open(os.path.join(ADIR, "adapter_config.json"), "w"), indent=2, sort_keys=True)

# --- texts and reference ids -----------------------------------------------------------------------------------------
texts = [
    "Hello world", "the quick brown fox jumps over the lazy dog", " hello", "  hello", "hello ", "hello   ", "", " ",
    "   ", "\n", "\n\n\n", "a\nb", "line one\nline two\n", " \n ", "\ttab\tseparated", "a  b   c    d",
    "12345 678", "3.14159e-10", "2024-01-31 09:30", "x² ½ Ⅻ", "١٢٣٤", "café naïve 日本語", "cafe\u0301 \u00e9\u0301",
    " 🤗ok", "👍🏽👍🏿", "👨\u200d👩\u200d👧\u200d👦 family", "Straße İstanbul ΣΑΣ", "עברית العربية", "\x00\x01\x7f",
    "▁already▁meta", "<0x41> literal", "don't STOP, it's fine!!!", "x" * 40, "hello</s>world", "a <s> b",
    "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] Again? [/INST]",
]
SPECIAL = ("<s>", "</s>", "<unk>")
ref = [tok.encode(t).ids for t in texts]
for t, ids in zip(texts, ref):
    if not any(s in t for s in SPECIAL):
        assert ids == [1] + sp.encode(t), (t, ids, sp.encode(t))
        assert tok.decode(ids, skip_special_tokens=True) == t or "▁" in t, t  # "▁" decodes to " "

def fnv1a64(chunks):
    h = 0xCBF29CE484222325
    for chunk in chunks:
        for b in chunk:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h

digests, corpus_ids, differ_spm = bytearray(), [], 0
for line in corpus:
    ids = tok.encode(line).ids
    corpus_ids.append(ids)
    if not any(s in line for s in SPECIAL):
        assert ids == [1] + sp.encode(line), line
    dec, dec_skip = tok.decode(ids, skip_special_tokens=False), tok.decode(ids, skip_special_tokens=True)
    digests += struct.pack("<I", 0xFFFFFFFF & fnv1a64([b"".join(struct.pack("<I", i) for i in ids), b"\xff", dec.encode(), b"\xff",
                                          dec_skip.encode()]))
open(os.path.join(OUT, "digests.bin"), "wb").write(bytes(digests))

# --- llama.cpp's converter -------------------------------------------------------------------------------------------
sys.argv = ["convert_hf_to_gguf.py", MDIR, "--outtype", "f16", "--outfile", GGUF]
conv.main()
r = gguf.GGUFReader(GGUF)
assert r.fields["tokenizer.ggml.model"].contents() == "llama"
assert r.fields["tokenizer.ggml.tokens"].contents() == [sp.id_to_piece(i) for i in range(V)]

# llama.cpp's tokenizer on the converter's GGUF equals the reference on every text and corpus line.
import llama_cpp
llm = llama_cpp.Llama(model_path=GGUF, vocab_only=True, verbose=False)
stderr = os.dup(2); os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # silence "starts with 2 BOS tokens"
got = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=True) for t in texts + corpus]
os.dup2(stderr, 2)
for t, a, b in zip(texts + corpus, got, ref + corpus_ids):
    assert a == b, (t, a, b)
del llm

# --- log-probabilities: base (HF) and adapter merged (PEFT merge_and_unload) -----------------------------------------
score_ids = ref[1] + ref[31][1:]
def logprobs(m):
    with torch.no_grad():
        lp = torch.log_softmax(m(torch.tensor([score_ids])).logits[0].double(), -1)
    return lp[:-1].gather(1, torch.tensor(score_ids[1:])[:, None])[:, 0].tolist()
base = AutoModelForCausalLM.from_pretrained(MDIR, dtype=torch.float32, attn_implementation="eager").eval()
lp_base = logprobs(base)
merged = PeftModel.from_pretrained(base, ADIR).merge_and_unload().eval()
lp_merged = logprobs(merged)

expected = {"texts": texts, "ids": ref, "decoded": [tok.decode(i, skip_special_tokens=False) for i in ref],
            "decoded_skip": [tok.decode(i, skip_special_tokens=True) for i in ref],
            "score_ids": score_ids, "logprobs_base": lp_base, "logprobs_merged": lp_merged}
with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=None)
print(f"vocab {V}; {len(texts)} texts and {len(corpus)} corpus lines: llama.cpp ids == tokenizers ids; "
      f"score sequence {len(score_ids)} tokens; adapter moves log-probs by "
      f"{max(abs(a - b) for a, b in zip(lp_base, lp_merged)):.3g}")
for name in sorted(os.listdir(OUT)) + [f"model/{n}" for n in sorted(os.listdir(MDIR))]:
    p = os.path.join(OUT, name)
    if os.path.isfile(p): print(f"{os.path.getsize(p):>8}  {name}")
