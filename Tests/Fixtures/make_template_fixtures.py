#!/usr/bin/env python3
"""Generates the chat-template and JSON fixtures under Tests/Fixtures/templates/.

Run with the project venv (transformers 5.x, jinja2 3.1.6):
    /work/main/.venv/bin/python Tests/Fixtures/make_template_fixtures.py

Rendering goes through transformers' own machinery
(`transformers.utils.chat_template_utils.render_jinja_template`), the function `apply_chat_template(...,
tokenize=False)` calls, so the expected strings are exactly what transformers produces. The Swift tests never
need Python.
"""
import json
import math
import pathlib
import random

import jinja2
import transformers
from transformers.utils.chat_template_utils import render_jinja_template

HERE = pathlib.Path(__file__).resolve().parent / "templates"


# ----------------------------------------------------------------------------------------------------------------
# JSON: Python json.dumps on a spread of values, so the Swift serializer can be checked byte for byte.
# ----------------------------------------------------------------------------------------------------------------

def json_cases():
    rng = random.Random(1234)
    floats = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2 + 0.1, 1e-05, 1e-4, 0.0001234, 1e16, 1e15, 9999999999999998.0,
              123456789012345680.0, 1.5e300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 3.14159,
              100.0, 1e22, 1e21, 12345.678, 0.5, 2.5e-7, 1e-7, 65536.0, 4.35, 1/3]
    for _ in range(200):
        exp = rng.uniform(-30, 30)
        floats.append(rng.choice([-1, 1]) * rng.random() * 10 ** exp)
    for _ in range(50):
        floats.append(struct_random_double(rng))
    values = [
        None, True, False, 0, -1, 2**63 - 1, -2**63, "", "plain", "quote \" backslash \\ slash /",
        "\b\f\n\r\t\x00\x01\x1f\x7f", "café naïve 日本語 🤗 \u2028\u2029", "\ufeffBOM",
        [], {}, [1, [2, [3, []]], {}], {"b": 1, "a": [1.5, {"z": None, "y": True}], "é": "x"},
        {"nested": {"k": [1, 2, {"deep": "v"}], "e": {}}, "list": [[]]},
    ]
    cases = []
    for v in values:
        cases.append({
            "input": json.dumps(v),
            "default": json.dumps(v),
            "no_ascii": json.dumps(v, ensure_ascii=False),
            "indent2": json.dumps(v, ensure_ascii=False, indent=2),
            "indent0_sorted": json.dumps(v, indent=0, sort_keys=True),
            "compact": json.dumps(v, separators=(",", ":")),
        })
    # For floats json.dumps(x) == repr(x); the Swift side checks parse(repr).serialized() == repr.
    return {"cases": cases, "float_reprs": [repr(f) for f in floats]}


def struct_random_double(rng):
    import struct
    while True:
        d = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(d):
            return d


def write(name, obj):
    path = HERE / name
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(HERE.parent.parent.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    write("json_serialization.json", json_cases())
