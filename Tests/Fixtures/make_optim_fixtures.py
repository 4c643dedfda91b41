#!/usr/bin/env python3
"""Optimizer / schedule / clipping parity fixture for TailorOptim.

Regenerate (deterministic, no network):

    cd <repo root>
    /work/main/.venv/bin/python Tests/Fixtures/make_optim_fixtures.py

Verified with torch 2.15 (CPU) and transformers 5.23.0. Writes ``Tests/Fixtures/optim/optim.safetensors``.

Parameters a [3,4], b [5], c [2,3], d [2,3,2] (d is 3-D: Adafactor factors its last two dims) and five
gradient sets; c has no gradient (None) at step 2, so it is skipped by clipping and by the optimizer,
and its per-parameter step count falls behind. Every optimizer runs 5 steps in the torch training order

    p.grad = grads[s]  ->  clip_grad_norm_(params, 1.0)  ->  lr = scheduler lr  ->  opt.step()  ->  sched.step()

with Hugging Face ``get_cosine_schedule_with_warmup(warmup=2, total=5)`` around the optimizer's peak lr.

Keys (float32 unless noted):
    init.<p>                      initial parameter values
    grad.<s>.<p>                  gradient of step s (absent when None), before clipping
    norm [5]                      clip_grad_norm_ return value per step (pre-clip total norm)
    <opt>.lr [5] float64          the lr used at each step
    <opt>.after.<s>.<p>           parameter values after step s
    sched.<name> [n] float64      HF schedule values lr(step) for step = 0..n-1 (see SCHEDULES)
Metadata: torch / transformers versions and every optimizer's hyperparameters (JSON).
"""
import json
import math
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_min_lr_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

OUT = Path(__file__).resolve().parent / "optim" / "optim.safetensors"
SHAPES = {"a": [3, 4], "b": [5], "c": [2, 3], "d": [2, 3, 2]}
STEPS = 5
GRAD_SCALES = [0.1, 0.5, 0.05, 1.0, 0.2]  # some steps clip (norm > 1), some do not
NONE_GRADS = {(2, "c")}
WARMUP, MAX_NORM = 2, 1.0

OPTIMIZERS = {
    "adamw": (torch.optim.AdamW, 0.05, dict(weight_decay=0.1)),
    "adam": (torch.optim.Adam, 0.05, dict(weight_decay=0.05)),
    "sgd_nesterov": (torch.optim.SGD, 0.1, dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd_momentum": (torch.optim.SGD, 0.1, dict(momentum=0.9, dampening=0.1)),
    "sgd": (torch.optim.SGD, 0.1, dict()),
    "adafactor": (torch.optim.Adafactor, 0.05, dict(weight_decay=0.01)),
}

# name -> (factory, peak, warmup, total, extra kwargs, number of steps recorded)
SCHEDULES = {
    "constant_w3": (get_constant_schedule_with_warmup, 1e-3, 3, None, {}, 12),
    "linear_w3_t10": (get_linear_schedule_with_warmup, 1e-3, 3, 10, {}, 12),
    "cosine_w3_t10": (get_cosine_schedule_with_warmup, 1e-3, 3, 10, {}, 11),
    "cosine_w0_t7": (get_cosine_schedule_with_warmup, 2e-4, 0, 7, {}, 8),
    "cosine_min_w3_t10": (get_cosine_with_min_lr_schedule_with_warmup, 1e-3, 3, 10, {"min_lr": 1e-4}, 11),
}


def schedule_values(factory, peak, warmup, total, extra, n):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    args = {"num_warmup_steps": warmup, **extra}
    if total is not None:
        args["num_training_steps"] = total
    sched = factory(opt, **args)
    values = []
    for _ in range(n):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(values, dtype=torch.float64)


def main():
    torch.manual_seed(20240611)
    init = {k: torch.randn(s) for k, s in SHAPES.items()}
    grads = [
        {k: (None if (s, k) in NONE_GRADS else torch.randn(shape) * GRAD_SCALES[s]) for k, shape in SHAPES.items()}
        for s in range(STEPS)
    ]
    out = {f"init.{k}": v.clone() for k, v in init.items()}
    for s, g in enumerate(grads):
        for k, v in g.items():
            if v is not None:
                out[f"grad.{s}.{k}"] = v.clone()

    norms = None
    for name, (cls, peak, kwargs) in OPTIMIZERS.items():
        params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
        plist = list(params.values())
        extra = {} if cls is torch.optim.Adafactor else {"foreach": False}
        opt = cls(plist, lr=peak, **kwargs, **extra)
        sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=WARMUP, num_training_steps=STEPS)
        lrs, step_norms = [], []
        for s in range(STEPS):
            for k, p in params.items():
                p.grad = None if grads[s][k] is None else grads[s][k].clone()
            step_norms.append(float(torch.nn.utils.clip_grad_norm_(plist, MAX_NORM)))
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
            for k, p in params.items():
                out[f"{name}.after.{s}.{k}"] = p.detach().clone()
        out[f"{name}.lr"] = torch.tensor(lrs, dtype=torch.float64)
        if norms is None:
            norms = step_norms
        assert norms == step_norms
    out["norm"] = torch.tensor(norms, dtype=torch.float32)

    for name, spec in SCHEDULES.items():
        out[f"sched.{name}"] = schedule_values(*spec)

    meta = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seed": "20240611",
        "max_norm": str(MAX_NORM),
        "schedule": f"get_cosine_schedule_with_warmup(num_warmup_steps={WARMUP}, num_training_steps={STEPS})",
        "optimizers": json.dumps({n: {"class": c.__name__, "peak_lr": lr, **kw} for n, (c, lr, kw) in OPTIMIZERS.items()}),
        "schedules": json.dumps({n: {"factory": f.__name__, "peak": p, "warmup": w, "total": t, **e}
                                 for n, (f, p, w, t, e, _) in SCHEDULES.items()}),
        "none_grads": json.dumps(sorted(f"{s}.{k}" for s, k in NONE_GRADS)),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sorted(out.items())}, str(OUT), metadata=meta)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(out)} tensors); norms {norms}")


if __name__ == "__main__":
    main()
