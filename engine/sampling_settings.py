"""What a stream may ask of sampling (`Sampling`), its bounds in words, and the product's best-of K.

Free of numpy and torch: the front ends' settings import it at start-up. The draw itself is
engine/sampling.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

WORDS = ("lexicon", "free")
MAX_TEMPERATURE = 10.0
MAX_BEST_OF = 64  # candidates per sentence: each is a row of the batch
DEFAULT_BEST_OF = 2  # the K front ends write with unless told (bench/sense.py chose it); 1 = plain sampling

RULES: dict[str, tuple[Callable[[Any], bool], str]] = {  # field: (test of a value, the rule in words)
    "temperature": (lambda v: 0 <= v <= MAX_TEMPERATURE, f"must be between 0 and {MAX_TEMPERATURE:g}"),
    "top_k": (lambda v: v >= 0, "must be 0 (off) or positive"),
    "top_p": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "words": (lambda v: v in WORDS, f"must be {' or '.join(WORDS)}"),
    "best_of": (lambda v: isinstance(v, int) and 1 <= v <= MAX_BEST_OF,
                f"must be a whole number from 1 (plain sampling) to {MAX_BEST_OF}"),
}


@dataclass(frozen=True)
class Sampling:
    """How the next character is chosen from the model's distribution."""

    temperature: float = 0.8  # 0 = greedy (always the likeliest), < 1 = safer, > 1 = wilder
    top_k: int = 0  # keep only the k likeliest characters (0 = all)
    top_p: float = 0.95  # keep the smallest set whose probability reaches p (1 = all)
    words: str = "lexicon"  # "lexicon" = only words of the model's lexicon.txt (if it has one); "free" = any
    best_of: int = 1  # the engine writes plainly unless asked; front ends ask for DEFAULT_BEST_OF (engine/sentences.py)

    def __post_init__(self) -> None:
        for f in fields(self):
            test, rule = RULES[f.name]
            value = getattr(self, f.name)
            if not test(value):
                raise ValueError(f"{f.name} {rule}, not {value!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
