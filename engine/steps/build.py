"""Which steps this machine runs, and the step for a precision's name (engine/steps/__init__.py)."""

from __future__ import annotations

import torch

from engine.model import CharLSTM, ModelConfig
from engine.steps import PRECISIONS, PrecisionError, Step
from engine.steps.bf16 import Bf16Step
from engine.steps.fp32 import FastStep
from engine.steps.int8 import Int8Step
from engine.steps.int8_weights import linear, prepack, quantize

STEPS: dict[str, type] = {"fp32": FastStep, "bf16": Bf16Step, "int8": Int8Step}  # keyed by PRECISIONS


def unavailable(precision: str, device: torch.device) -> str | None:
    """Why this machine cannot run `precision` on `device` (None: it can)."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision {precision!r}: must be one of {', '.join(PRECISIONS)}")
    if precision == "bf16":
        if device.type == "cuda":
            return None if torch.cuda.is_bf16_supported() else "this GPU has no bfloat16 arithmetic"
        if device.type == "cpu" and not _cpu_has_native_bf16():
            return ("this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX): emulated, bf16 "
                    "would be slower than fp32")
    if precision == "int8":
        if device.type != "cpu":
            return f"int8 weights run on CPUs only (this model is on {device.type}; bf16 is the GPU's)"
        if not _int8_works():
            return "this torch build has no working fbgemm int8 kernels (x86 CPUs only)"
    return None


def build_step(model: CharLSTM, precision: str, emulate: bool = False) -> Step:
    """The step that runs `model` in `precision`; a one-line PrecisionError if this machine cannot
    (`emulate` lets bf16 run without native support: for tests on any CPU)."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"build_step needs one of {', '.join(PRECISIONS)}, not {precision!r} "
                             "(engine.precision.choose_precision chooses for auto)")
    why = unavailable(precision, model.head.weight.device)
    if why and not (emulate and precision == "bf16"):
        raise PrecisionError(f"precision {precision}: {why}")
    return STEPS[precision](model)


def _cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX). torch has no public name
    for this check: the private one is asked, and a build without it counts as no."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_INT8_WORKS: bool | None = None


def _int8_works() -> bool:
    """fbgemm's int8 linear exists in this build and gives a float product's answer on a small case,
    and PyTorch's int8 LSTM reads a small model's text into the state its steps write."""
    global _INT8_WORKS
    if _INT8_WORKS is None:
        try:
            engines = torch.backends.quantized.supported_engines
            if not ({"fbgemm", "x86"} & set(engines)):
                _INT8_WORKS = False
            else:
                # large enough that products saturate 16 bits without reduce_range (see int8_weights.linear)
                weight = torch.linspace(-1, 1, 64 * 64).reshape(64, 64).sin() * 3
                x = torch.linspace(-1, 1, 64).reshape(1, 64).cos()
                got = linear(torch.cat([x, torch.tensor([[1.0, -1.0]])], 1), prepack(quantize(weight), None))
                _INT8_WORKS = bool(torch.allclose(got, x @ weight.t(), atol=0.1)) and _int8_lstm_works()
        except (AttributeError, RuntimeError):
            _INT8_WORKS = False
    return _INT8_WORKS


def _int8_lstm_works() -> bool:
    """Int8Step on a throwaway two-layer model: reading four characters ends where four steps do."""
    with torch.random.fork_rng(devices=[]), torch.inference_mode():  # leave the caller's RNG as it was
        torch.manual_seed(0)
        model = CharLSTM(ModelConfig(vocab_size=6, embed=3, hidden=8, layers=2)).eval()
        step, ids = Int8Step(model), torch.tensor([[1, 4, 2, 5]])
        read, (h, _) = step.read(ids)
        state = model.zero_state(1)
        for t in range(ids.shape[1]):
            logits, state = step(ids[:, t], state)
        return torch.equal(read, logits) and torch.equal(h, state[0])
