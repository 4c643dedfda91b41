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



# ----------------------------------------------------------------------------------------------------------------
# Chat templates: the real templates (see SOURCES.md), rendered by transformers.
# ----------------------------------------------------------------------------------------------------------------

UNICODE = "Ünïcödé “quotes” 'single' \"double\" back\\slash\ttab\nnew line — 日本語 🤗 <b>&amp;</b> {{ not jinja }}"

CONVERSATIONS = {
    "system_multi_turn": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "  Hi there  "},
        {"role": "assistant", "content": " Hello! "},
        {"role": "user", "content": "Bye"},
    ],
    "no_system": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    "single_user": [{"role": "user", "content": "Hello"}],
    "ends_with_assistant": [
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the chicken cross the road?\nTo get to the other side."},
    ],
    "unicode": [
        {"role": "system", "content": UNICODE},
        {"role": "user", "content": UNICODE},
        {"role": "assistant", "content": UNICODE + "\n\n"},
        {"role": "user", "content": "\n  leading and trailing whitespace  \n"},
    ],
}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city. Returns °C.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
            "days": {"type": "integer", "minimum": 1, "default": 1},
            "scale": {"type": "number", "multipleOf": 0.5},
        }, "required": ["city"]}}},
    {"type": "function", "function": {"name": "no_args", "description": "Takes nothing.",
                                      "parameters": {"type": "object", "properties": {}}}},
]

TOOL_CONVERSATIONS = {
    "tool_call_and_response": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Zürich and Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "scale": 1.0}}},
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "{\"temp\": 21.5}"},
        {"role": "tool", "content": "{\"temp\": 18}"},
        {"role": "assistant", "content": "Zürich 21.5 °C, Paris 18 °C."},
    ],
    "single_tool_call_no_system": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "content": {"temp": -3, "note": "snow ❄"}},
    ],
}

TEMPLATES = {
    # file: (bos, eos, supports_tools, extra context)
    "qwen2.5-instruct.jinja": (None, "<|im_end|>", True, {}),
    "llama-3.2-instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>", True, {"date_string": "26 Jul 2024"}),
    "llama-2-chat.jinja": ("<s>", "</s>", False, {}),
    "mistral-7b-instruct-v0.2.jinja": ("<s>", "</s>", False, {}),
    "mistral-instruct-v1-system.jinja": ("<s>", "</s>", False, {}),
    "zephyr.jinja": ("<s>", "</s>", False, {}),
    "smollm2-instruct.jinja": ("<|im_start|>", "<|im_end|>", False, {}),
    "gemma-7b-it.jinja": ("<bos>", "<eos>", False, {}),
}


def render(template, messages, tools=None, add_generation_prompt=False, mask=False, **kwargs):
    try:
        rendered, indices = render_jinja_template(
            conversations=[messages], tools=tools, chat_template=template,
            add_generation_prompt=add_generation_prompt, return_assistant_tokens_mask=mask, **kwargs)
        case = {"expected": rendered[0]}
        if mask:
            case["generation_ranges"] = [list(r) for r in indices[0]]
        return case
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e), "error_type": type(e).__name__}


def template_cases():
    out = {}
    for name, (bos, eos, tools_ok, extra) in TEMPLATES.items():
        source = (HERE / name).read_text(encoding="utf-8")
        kwargs = dict(extra)
        if bos is not None:
            kwargs["bos_token"] = bos
        if eos is not None:
            kwargs["eos_token"] = eos
        cases = []
        convs = dict(CONVERSATIONS)
        for conv_name, messages in convs.items():
            for agp in (False, True):
                case = {"name": f"{conv_name}/agp={agp}", "messages": messages, "add_generation_prompt": agp}
                case.update(render(source, messages, add_generation_prompt=agp, **kwargs))
                cases.append(case)
        if tools_ok:
            for conv_name, messages in TOOL_CONVERSATIONS.items():
                for agp in (False, True):
                    case = {"name": f"tools/{conv_name}/agp={agp}", "messages": messages, "tools": TOOLS,
                            "add_generation_prompt": agp}
                    case.update(render(source, messages, tools=TOOLS, add_generation_prompt=agp, **kwargs))
                    cases.append(case)
            case = {"name": "tools/plain_chat", "messages": CONVERSATIONS["no_system"], "tools": TOOLS,
                    "add_generation_prompt": True}
            case.update(render(source, CONVERSATIONS["no_system"], tools=TOOLS, add_generation_prompt=True, **kwargs))
            cases.append(case)
        # Role-order violations (Llama 2, Mistral and Gemma raise).
        bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
        case = {"name": "violation/two_users", "messages": bad, "add_generation_prompt": False}
        case.update(render(source, bad, **kwargs))
        cases.append(case)
        out[name] = {"bos_token": bos, "eos_token": eos, "extra": extra, "cases": cases}
    return out


# Templates with {% generation %}: transformers reports the character spans via return_assistant_tokens_mask.
GENERATION_TEMPLATES = {
    "chatml_generation": (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' }}"
        "{% if message['role'] == 'assistant' %}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
        "{{ '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    "llama3_generation_blocks": (
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
        "{%- endif %}\n"),
}


def generation_cases():
    out = {}
    for name, source in GENERATION_TEMPLATES.items():
        cases = []
        for conv_name in ("system_multi_turn", "ends_with_assistant", "unicode", "single_user"):
            messages = CONVERSATIONS[conv_name]
            case = {"name": conv_name, "messages": messages, "add_generation_prompt": False}
            case.update(render(source, messages, mask=True, bos_token="<s>", eos_token="</s>"))
            cases.append(case)
        out[name] = {"source": source, "bos_token": "<s>", "eos_token": "</s>", "cases": cases}
    return out


# ----------------------------------------------------------------------------------------------------------------
# Jinja features, one at a time, rendered by the same transformers environment.
# ----------------------------------------------------------------------------------------------------------------

FEATURES = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("{% if true %}\n  yes\n{% endif %}\nafter", {}),
    ("  {% if true %}\n    x\n  {% endif %}\n", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("a\n  {{- 'b' -}}  \nc", {}),
    ("a {{ 'b' }} \n c", {}),
    ("{# comment #}\nx\n  {# indented comment #}\ny {#- eat -#} z", {}),
    ("line1\n    {%+ if true %}kept{% endif %}\nline2", {}),
    ("{% if true +%}\nkept newline{% endif %}", {}),
    ("{% raw %}{{ not rendered }}{% endraw %}\n{% raw -%}  x  {%- endraw %}", {}),
    ("text with trailing newline\n", {}),
    ("crlf\r\nline{% if true %}\r\nx{% endif %}\r\n", {}),
    # loops
    ("{% for x in xs %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}:{{ x }} {% endfor %}", {"xs": ["a", "b", "c"]}),
    ("{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", {"xs": []}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"b": 1, "a": [1, 2]}}),
    ("{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("{% for x in xs if x > 1 %}{{ x }}{{ loop.last }}{{ loop.length }} {% endfor %}", {"xs": [1, 2, 3, 0, 5]}),
    ("{% for x in xs %}{% if x == 3 %}{% break %}{% endif %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}", {"xs": [0, 1, 2, 3, 4]}),
    ("{% for x in xs %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem }}{{ loop.nextitem }} {% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% for i in range(3) %}{% for j in range(i) %}{{ i }}{{ j }} {% endfor %}{% endfor %}{{ range(2, 10, 3) | list }}", {}),
    # if / elif / else, conditionals
    ("{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %}", {"x": 2}),
    ("{{ 'yes' if x else 'no' }} {{ 'a' if not x }}|{{ x and 'and' }} {{ x or 'or' }} {{ none or 0 }}", {"x": 0}),
    # set, namespace, block set
    ("{% set ns = namespace(found=false, n=0) %}{% for m in ms %}{% if m.role == 'system' %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }}", {"ms": [{"role": "user"}, {"role": "system"}]}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1, 'x') %}{{ t }} {{ (1,) }} {{ () }}", {}),
    ("{% set block %}  inner {{ 1 + 1 }}\n{% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    # macros
    ("{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", {}),
    ("{% macro render(m) -%}\n  <{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>\n{%- endmacro %}\n{% for m in ms %}{{ render(m) }}\n{% endfor %}", {"ms": [{"role": "user", "content": " hi "}]}),
    # filters
    ("{{ '  x  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ [1, 2] | length }}|{{ 'héllo' | length }}|{{ {'a': 1} | count }}", {}),
    ("{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ x | tojson(sort_keys=true) }}|{{ 'é\"<>' | tojson }}|{{ 1.0 | tojson }}", {"x": {"b": [1, 2.5, None, True], "a": "ü"}}),
    ("{{ x | tojson(separators=(',', ':')) }}|{{ x | tojson(ensure_ascii=true) }}", {"x": {"k": "日本"}}),
    ("{{ 'Hello World' | upper }} {{ 'Hello' | lower }} {{ 'hello wORLD' | capitalize }} {{ 'hello-world foo(bar' | title }}", {}),
    ("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }}", {}),
    ("{{ missing | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} {{ 0 | d('z', boolean=true) }} {{ 'v' | default('d') }}", {}),
    ("{{ ['a', 'b'] | join(', ') }} {{ [1, 2] | join }} {{ ms | join('/', attribute='role') }}", {"ms": [{"role": "u"}, {"role": "a"}]}),
    ("{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | first }} {{ [] | first }}.", {}),
    ("{{ ms | selectattr('role', 'equalto', 'user') | list | length }} {{ ms | rejectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ ms | selectattr('tool_calls') | list | length }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}]}),
    ("{{ ['a', 'B'] | map('upper') | join }} {{ [1, 2, 3] | select('odd') | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ ms | map(attribute='x', default='-') | list }}", {"ms": [{"x": 1}, {}]}),
    ("{{ 12 | string + 'x' }} {{ '42' | int + 1 }} {{ '3.5' | float }} {{ 'x' | int }} {{ 3.9 | int }} {{ 2 | float }} {{ 'ab' | list }} {{ {'a': 1} | list }}", {}),
    ("{{ 'abc' | reverse }} {{ [1, 2, 3] | reverse | list }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ms | sort(attribute='n') | map(attribute='n') | list }}", {"ms": [{"n": 2}, {"n": 1}]}),
    ("{{ [1, 2, 1, 3, 2] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ 'x<y>&' | safe }} {{ 'x<y>&\"' | e }}", {}),
    ("{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}|{{ 'x' | indent('--', first=true) }}", {}),
    ("{{ d | items | list }} {% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} {{ d | dictsort }}", {"d": {"b": 2, "a": 1}}),
    ("{{ [1, 5, 3] | max }} {{ [1, 5, 3] | min }} {{ [1, 2, 3] | sum }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }}", {}),
    # tests
    ("{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ n is none }} {{ x is string }} {{ d is mapping }} {{ l is iterable }} {{ s is iterable }} {{ 5 is number }} {{ true is boolean }} {{ l is sequence }} {{ d is sequence }}", {"x": "s", "n": None, "d": {}, "l": [1], "s": "str"}),
    ("{{ 1 is true }} {{ true is true }} {{ false is false }} {{ 'a' is equalto 'a' }} {{ 2 is eq 2 }} {{ 3 is ne 2 }} {{ 'a' is in 'abc' }} {{ x is not none }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is lower }}", {"x": 1}),
    # string and dict methods
    ("{{ '  a b  '.strip() }}|{{ 'xxa'.lstrip('x') }}|{{ 'a  '.rstrip() }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a-b-c'.rsplit('-', 1) }}", {}),
    ("{{ 'hello wORLD 3rd'.title() }} {{ 'x'.upper() }} {{ 'X'.lower() }} {{ 'aXa'.replace('a', 'b') }} {{ 'abc'.capitalize() }} {{ '{} and {name}'.format(1, name='n') }} {{ '-'.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }}", {}),
    ("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.a }} {{ d.items() | list }}", {"d": {"a": 1, "b": [2]}}),
    # slices, indexing, operators
    ("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-1] }} {{ l[-2] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ l[5] }}. {{ l[1:100] }} {{ l[-100:2] }} {{ l[3:1:-1] }}", {"l": [1, 2, 3, 4, 5]}),
    ("{{ 'a' in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' ~ 1 ~ none ~ true }} {{ 1 + 2 * 3 - 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1.5 + 1 }} {{ 'ab' * 3 }} {{ [1] + [2] }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 1 < 2 > 3 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ not 1 == 2 }} {{ -x }} {{ (1 + 2) * 3 }}", {"x": 5}),
    ("{{ 'A' + x | trim + 'B' }}|{{ ('A' + x) | trim }}|{{ x | trim | length }}", {"x": "  y  "}),
    ("{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }} {{ {'a': [1, 'b']} }} {{ \"it's\" }} {{ 1e-5 }} {{ 10 / 4 }} {{ 1e16 }}", {}),
    ("{{ messages[0]['role'] }} {{ messages[0].content }} {{ messages[-1]['role'] }} {{ messages | length }}", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]}),
    ("{{ missing }}|{{ missing | length }}|{{ missing | trim }}|{% for x in missing %}x{% endfor %}|{{ d.nope is defined }}|{{ none.attr is defined }}|{{ missing is iterable }}|{{ 'x' in missing }}", {"d": {}}),
    ("{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", {}),
    # generation block inside a loop, outside the tracker (renders its content)
    ("{% for m in ms %}{% generation %}{{ m }}{% endgeneration %}{% endfor %}", {"ms": ["a", "b"]}),
    # errors
    ("{{ raise_exception('Custom message with \"quotes\"') }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ d.missing.attr }}", {"d": {}}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ missing + 1 }}", {}),
    ("{{ 1 / 0 }}", {}),
]


def feature_cases():
    env_template = None
    cases = []
    for source, context in FEATURES:
        case = {"source": source, "context": context}
        try:
            compiled = transformers.utils.chat_template_utils._compile_jinja_template(source)
            case["expected"] = compiled.render(**context)
        except Exception as e:  # noqa: BLE001 - record jinja2's error class and message
            case["error"] = str(e)
            case["error_type"] = type(e).__name__
        cases.append(case)
    return cases


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    write("json_serialization.json", json_cases())
    write("expected_renders.json", {"transformers": transformers.__version__, "jinja2": jinja2.__version__,
                                    "templates": template_cases()})
    write("expected_generation.json", {"transformers": transformers.__version__, "templates": generation_cases()})
    write("expected_features.json", {"transformers": transformers.__version__, "jinja2": jinja2.__version__,
                                     "cases": feature_cases()})
