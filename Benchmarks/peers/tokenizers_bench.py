"""Peer for tokenizer-bench: times the Hugging Face `tokenizers` library on the same file.

    python Benchmarks/peers/tokenizers_bench.py TOKENIZER_JSON LINES_FILE REPEATS

LINES_FILE holds one JSON string per line (like Tests/Fixtures/tokenizers/corpus.jsonl).
Prints one JSON object: lines, tokens, seconds (best of REPEATS, one thread, encode one line at
a time as Tailor does), and an FNV-1a checksum of all ids so the two sides can be compared.
"""
import json, os, sys, time
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
best, ids = float("inf"), []
for _ in range(repeats):
    t = time.perf_counter()
    ids = [tok.encode(line).ids for line in lines]
    best = min(best, time.perf_counter() - t)
h = 0xCBF29CE484222325
for row in ids:
    for i in row + [-1]:
        h ^= i & 0xFFFFFFFFFFFFFFFF
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
print(json.dumps({"lines": len(lines), "tokens": sum(map(len, ids)), "seconds": best, "checksum": f"{h:016x}"}))
