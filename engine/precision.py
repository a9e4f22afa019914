"""Which precision a Generator runs its model in (fp32, bf16, int8: engine/steps/), and why.

`auto` offers a reduced precision for a model only when its cost in bits per character, measured
against fp32 on real text by `python -m train.eval MODEL FILE --precision P --record` (or at the end
of training, on the held-out tail), is recorded in config.json for these very weights
(engine/costs.py) and within `QUALITY_BOUND`; among those, it takes the fastest by timing the real
step at load. Asked for by name, a precision runs if
this machine can run it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from engine.costs import recorded_costs
from engine.model import CharLSTM
from engine.steps import CHOICES, PRECISIONS, PrecisionError, Step
from engine.steps.build import build_step, unavailable

QUALITY_BOUND = 0.01  # bits/char a reduced precision may cost against fp32, or auto does not offer it
# auto leaves fp32 only for a step this much faster: texts from one --rng-seed differ between precisions,
# so two runs on one machine should not choose differently on a close call
MARGIN = 0.15


@dataclass(frozen=True)
class Choice:
    """The precision running, and why (shown by /info)."""

    precision: str
    reason: str


def check_choice(precision: str) -> str:
    """`precision` if it is one of CHOICES, else a one-line error naming them."""
    if precision not in CHOICES:
        raise PrecisionError(f"precision {precision!r}: must be one of {', '.join(CHOICES)}")
    return precision


def choose_precision(model: CharLSTM, asked: str, config: dict, weights_sha256: str) -> tuple[Step, Choice]:
    """The step to generate with, and why: `asked` itself, or for `auto` the fastest precision that
    this machine runs and whose recorded quality cost, measured on these weights (`weights_sha256`,
    see engine/costs.py), is within QUALITY_BOUND for this model."""
    check_choice(asked)
    device = model.head.weight.device
    if asked != "auto":
        step = build_step(model, asked)
        costs = recorded_costs(config, asked, weights_sha256).costs
        cost = f"; costs {_cost_words(costs)}" if costs and asked != "fp32" else ""
        return step, Choice(asked, f"asked for{cost}")
    candidates: dict[str, Step] = {"fp32": build_step(model, "fp32")}
    skipped = []
    for precision in PRECISIONS[1:]:
        why = unavailable(precision, device)
        recorded = recorded_costs(config, precision, weights_sha256)
        costs = recorded.costs
        if why:
            skipped.append(f"{precision}: not on this machine")
        elif not costs and recorded.stale:
            skipped.append(recorded.stale_words(precision))
        elif not costs:
            skipped.append(f"{precision}: its cost is not measured for this model")
        elif max(costs.values()) > QUALITY_BOUND:
            skipped.append(f"{precision}: costs {_cost_words(costs)} (bound {QUALITY_BOUND})")
        else:
            candidates[precision] = build_step(model, precision)
    if len(candidates) == 1:
        return candidates["fp32"], Choice("fp32", "auto: " + "; ".join(skipped))
    times = step_times(candidates, model)
    best = min(times, key=times.get)
    if times[best] > times["fp32"] * (1 - MARGIN):
        best = "fp32"
    timing = ", ".join(f"{name} {seconds * 1e3:.2f}" for name, seconds in times.items())
    reason = f"auto: fastest here by {MARGIN:.0%} or fp32 (ms a step, measured at load: {timing})"
    if best != "fp32":
        reason += f"; costs {_cost_words(recorded_costs(config, best, weights_sha256).costs)}"
    return candidates[best], Choice(best, reason)


def step_times(steps: dict[str, Step], model: CharLSTM, rows: int = 1, blocks: int = 7,
               per_block: int = 5) -> dict[str, float]:
    """Seconds per step of `rows` rows writing, for each step: blocks of a few steps taken in turn (so
    a neighbour's burst of CPU use hits every candidate alike), the fastest block of each counted
    (interference only ever slows a block down): a fair comparison on a machine shared with others."""
    device = model.head.weight.device
    ids = torch.zeros(rows, dtype=torch.long, device=device)
    best = {name: float("inf") for name in steps}
    with torch.inference_mode():
        states = {}
        for name, step in steps.items():  # warm-up: first calls pay for allocations and kernel choice
            _, states[name] = step(ids, model.zero_state(rows, device))
        for _ in range(blocks):
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(per_block):
                    _, states[name] = step(ids, states[name])
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best[name] = min(best[name], (time.perf_counter() - start) / per_block)
    return best


def _cost_words(costs: dict[str, float]) -> str:
    return ", ".join(f"{cost:+.4f} bits/char on {text}" for text, cost in costs.items())
