"""Recorded precision costs, bound to the weights they were measured on.

config.json's metrics.precision.<P>.<text> holds what running precision P costs against fp32 on one
text (`cost` in bits/char, with `bpc`, `fp32_bpc`, `chars`, `command`) and `weights_sha256`, the
digest of the model.safetensors it was measured with. A cost counts only for those very weights: a
retrained, edited or re-stored (`train.shrink`) weights file makes it stale, and `auto` treats the
precision as unmeasured until `python -m train.eval MODEL FILE --precision P --record` measures again.
A cost recorded without a digest (before costs named their weights) is stale too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.modelfolder import CONFIG, write_atomic


@dataclass
class RecordedCosts:
    """One precision's recorded costs: those measured on these weights, and the texts whose cost was not."""

    costs: dict[str, float] = field(default_factory=dict)  # text -> bits/char against fp32, these weights
    stale: list[str] = field(default_factory=list)  # texts measured on other weights (or on unnamed ones)

    def stale_words(self, precision: str) -> str:
        """Why a precision with only stale costs counts as unmeasured, and how to measure it again."""
        return (f"{precision}: its recorded cost ({', '.join(self.stale)}) was measured on other weights than "
                f"this model.safetensors; python -m train.eval MODEL FILE --precision {precision} --record "
                f"measures it again")


def recorded_costs(config: dict, precision: str, weights_sha256: str) -> RecordedCosts:
    """`precision`'s costs in config.json, split into those bound to `weights_sha256` and the stale rest."""
    metrics = config.get("metrics")
    entry = (metrics.get("precision") or {}).get(precision) if isinstance(metrics, dict) else None
    found = RecordedCosts()
    for text, value in (entry.items() if isinstance(entry, dict) else ()):
        if not isinstance(value, dict) or not isinstance(value.get("cost"), (int, float)):
            continue
        if weights_sha256 and value.get("weights_sha256") == weights_sha256:
            found.costs[text] = float(value["cost"])
        else:
            found.stale.append(text)
    return found


@dataclass(frozen=True)
class MeasuredCost:
    """One measurement of a precision against fp32 on a text, on the weights whose sha256 it names."""

    text: str
    precision: str
    bpc: float
    fp32_bpc: float
    chars: int
    command: str  # how it was measured (shown by /info)
    weights_sha256: str


def record_cost(model_dir: Path, measured: MeasuredCost) -> None:
    """Store the measured precision's cost on its text in config.json, bound to the weights it was
    measured on; the precision's costs measured on other weights go (they describe a model that is no
    longer there)."""
    text, precision, bpc, fp32_bpc = measured.text, measured.precision, measured.bpc, measured.fp32_bpc
    chars, command, weights_sha256 = measured.chars, measured.command, measured.weights_sha256
    path = Path(model_dir) / CONFIG
    config = json.loads(path.read_text(encoding="utf-8"))
    costs = config.setdefault("metrics", {}).setdefault("precision", {}).setdefault(precision, {})
    for other in [t for t, v in costs.items() if not isinstance(v, dict) or v.get("weights_sha256") != weights_sha256]:
        del costs[other]
    costs[text] = {"cost": round(bpc - fp32_bpc, 4), "bpc": round(bpc, 4), "fp32_bpc": round(fp32_bpc, 4),
                   "chars": chars, "command": command, "weights_sha256": weights_sha256}
    write_atomic(path, json.dumps(config, ensure_ascii=False, indent=2).encode())
