"""What a stream may ask of sampling (`Sampling`) and its bounds in words (best-of K's: engine/bestof.py).

Free of numpy and torch: the front ends' settings import it at start-up. The draw itself is
engine/sampling.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from engine.bestof import BEST_OF_RULE, MAX_BEST_OF, best_of_allowed

__all__ = ["CASES", "MAX_BEST_OF", "MAX_TEMPERATURE", "RULES", "WORDS", "Sampling"]

WORDS = ("lexicon", "free")
CASES = ("book", "lower")  # the model only ever reads and writes lowercase: case is how a reader shows it
MAX_TEMPERATURE = 10.0
MAX_REPEAT_PENALTY = 10.0

RULES: dict[str, tuple[Callable[[Any], bool], str]] = {  # field: (test of a value, the rule in words)
    "temperature": (lambda v: 0 <= v <= MAX_TEMPERATURE, f"must be between 0 and {MAX_TEMPERATURE:g}"),
    "top_k": (lambda v: v >= 0, "must be 0 (off) or positive"),
    "top_p": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "words": (lambda v: v in WORDS, f"must be {' or '.join(WORDS)}"),
    "best_of": (best_of_allowed, BEST_OF_RULE),
    "case": (lambda v: v in CASES, f"must be {' or '.join(CASES)}"),
    "repeat_penalty": (lambda v: 0 <= v <= MAX_REPEAT_PENALTY, f"must be between 0 and {MAX_REPEAT_PENALTY:g}"),
}


@dataclass(frozen=True)
class Sampling:
    """How the next character is chosen from the model's distribution."""

    temperature: float = 0.8  # 0 = greedy (always the likeliest), < 1 = safer, > 1 = wilder
    top_k: int = 0  # keep only the k likeliest characters (0 = all)
    top_p: float = 0.95  # keep the smallest set whose probability reaches p (1 = all)
    words: str = "lexicon"  # "lexicon" = only words of the model's lexicon.txt (if it has one); "free" = any
    best_of: int = 1  # plain sampling unless asked; front ends ask for engine/bestof.py's DEFAULT_BEST_OF
    case: str = "book"  # how the text is shown: "book" = as the book prints it (engine/casing.py), "lower" = as written
    repeat_penalty: float = 0.5  # best-of: score a sentence loses when all its word pairs are in the story already

    def __post_init__(self) -> None:
        for f in fields(self):
            test, rule = RULES[f.name]
            value = getattr(self, f.name)
            if not test(value):
                raise ValueError(f"{f.name} {rule}, not {value!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
