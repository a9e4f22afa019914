"""Sampling settings and the batched draw of next characters (temperature, top-k, top-p, and the
characters a row may write at all: see engine/lexicon.py for `words="lexicon"`).

The draw runs in numpy on the CPU: for a few dozen characters per row, a handful of numpy calls cost
microseconds where the same work as torch operators costs a step's worth of dispatch overhead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.bestof import BEST_OF_RULE, best_of_allowed


@dataclass(frozen=True)
class Sampling:
    """How the next character is chosen from the model's distribution."""

    temperature: float = 0.8  # 0 = greedy (always the likeliest), < 1 = safer, > 1 = wilder
    top_k: int = 0  # keep only the k likeliest characters (0 = all)
    top_p: float = 0.95  # keep the smallest set whose probability reaches p (1 = all)
    words: str = "lexicon"  # "lexicon" = only words of the model's lexicon.txt (if it has one); "free" = any
    best_of: int = 1  # write sentence by sentence, each the best of this many candidates (engine/sentences.py)
    case: str = "book"  # how the text is shown: "book" = as the book prints it (engine/casing.py), "lower" = as written

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 10:
            raise ValueError(f"temperature must be between 0 and 10, not {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (off) or a positive count, not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")
        if not best_of_allowed(self.best_of):
            raise ValueError(f"best_of {BEST_OF_RULE}, not {self.best_of}")
        if self.words not in WORDS:
            raise ValueError(f"words must be {' or '.join(WORDS)}, not {self.words!r}")
        if self.case not in CASES:
            raise ValueError(f"case must be {' or '.join(CASES)}, not {self.case!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


WORDS = ("lexicon", "free")
CASES = ("book", "lower")  # the model only ever reads and writes lowercase: case is how a reader shows it


class RowSettings:
    """The settings of a batch, one row per stream, as arrays (built once per change of the batch)."""

    def __init__(self, settings: Sequence[Sampling]) -> None:
        temperature = np.array([s.temperature for s in settings], dtype=np.float64).reshape(-1, 1)
        self.greedy = temperature[:, 0] == 0
        self.all_greedy = bool(self.greedy.all())
        self.inverse_temperature = 1 / np.maximum(temperature, 1e-6)
        self.top_k = np.array([s.top_k or _ALL for s in settings], dtype=np.int64)  # 0 (off) keeps all
        self.top_p = np.array([s.top_p for s in settings], dtype=np.float64).reshape(-1, 1)
        self.row = np.arange(len(settings))
        self.guided = np.array([s.words == "lexicon" for s in settings], dtype=bool)  # rows kept to the lexicon
        self.any_guided = bool(self.guided.any())

    def __len__(self) -> int:
        return len(self.greedy)


_ALL = np.iinfo(np.int64).max
_NO = np.float64(-np.inf)  # a float64 scalar: np.where then makes float64 logits


def choose(logits: np.ndarray, rows: RowSettings, uniforms: np.ndarray, banned: int | None = 0,
           allowed: np.ndarray | None = None) -> np.ndarray:
    """One id per row of `logits` [batch, vocab], each row with its own settings and its own uniform
    draw in [0, 1). A row's pick depends only on that row, so a stream is reproducible whatever it
    is batched with. `banned` (the unknown symbol) is never produced; with `allowed` (bool [batch,
    vocab], at least one True per row) only those characters are, and temperature, top-k and top-p
    act on them alone."""
    source = logits
    # a float64 copy (headroom against rounding at the cut-offs), with what is not allowed cut
    logits = logits.astype(np.float64) if allowed is None else np.where(allowed, logits, _NO)
    if banned is not None:
        logits[:, banned] = -np.inf
    order = np.argsort(-logits, axis=1, kind="stable")  # likeliest first; ties keep id order
    if len(rows) == 1:  # one stream: the same draw in fewer numpy calls (each costs microseconds)
        if allowed is not None and logits[0, order[0, 0]] == -np.inf and not allowed.all():
            return choose(source, rows, uniforms, banned, np.ones_like(allowed))  # unguided this once
        return np.array([_choose_one(logits[0], order[0], rows, float(uniforms[0]))])
    if allowed is not None:
        stuck = np.isneginf(logits[rows.row, order[:, 0]])  # nothing allowed is possible: unguided this once
        if stuck.any() and not allowed[stuck].all():
            return choose(source, rows, uniforms, banned, allowed | stuck[:, None])
    if rows.all_greedy:
        return order[:, 0]
    scaled = logits[rows.row[:, None], order] * rows.inverse_temperature
    weights = np.exp(scaled - scaled[:, :1])  # unnormalised, the likeliest = 1
    cdf = np.cumsum(weights, axis=1)
    # the kept characters are a prefix of `order`: the k likeliest, cut where the likelier ones
    # already hold top_p of the mass (the likeliest always stays: nothing is likelier)
    nucleus = ((cdf - weights) < rows.top_p * cdf[:, -1:]).sum(axis=1)
    kept = np.minimum(nucleus, rows.top_k)
    target = uniforms * cdf[rows.row, kept - 1]
    pick = (cdf <= target[:, None]).sum(axis=1)  # first rank whose cdf passes the draw (< kept)
    pick[rows.greedy] = 0
    return order[rows.row, pick]


def _choose_one(logits: np.ndarray, order: np.ndarray, rows: RowSettings, uniform: float) -> int:
    """`choose`'s draw for a batch of one row (greedy or not), with the same arithmetic in fewer numpy
    calls: one stream writes a character every half millisecond, and each call costs microseconds."""
    if rows.greedy[0]:
        return int(order[0])
    scaled = logits[order] * rows.inverse_temperature[0]
    weights = np.exp(scaled - scaled[0])
    cdf = np.cumsum(weights)
    nucleus = int(np.count_nonzero((cdf - weights) < rows.top_p[0] * cdf[-1]))
    kept = min(nucleus, int(rows.top_k[0]))
    pick = int(np.searchsorted(cdf, uniform * cdf[kept - 1], side="right"))  # = count of cdf <= the draw
    return int(order[pick])


def sample_next(logits: torch.Tensor, settings: list[Sampling], uniforms: list[float],
                banned: int | None = 0) -> torch.Tensor:
    """`choose` for torch logits [batch, vocab] on any device; returns ids [batch] on that device."""
    values = logits.detach().float().cpu().numpy()
    ids = choose(values, RowSettings(settings), np.asarray(uniforms, dtype=np.float64), banned)
    return torch.from_numpy(ids).to(logits.device)
