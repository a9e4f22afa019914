"""The batched draw of next characters (temperature, top-k, top-p, and the
characters a row may write at all: see engine/lexicon.py for `words="lexicon"`).

The draw runs in numpy on the CPU: for a few dozen characters per row, a handful of numpy calls cost
microseconds where the same work as torch operators costs a step's worth of dispatch overhead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.sampling_settings import CASES, MAX_BEST_OF, WORDS, Sampling

# Sampling, WORDS, CASES and MAX_BEST_OF are defined in engine/sampling_settings.py (torch-free) and offered here too
__all__ = ["CASES", "MAX_BEST_OF", "WORDS", "RowSettings", "Sampling", "choose", "sample_next"]


class RowSettings:
    """The settings of a batch, one row per stream, as arrays (built once per change of the batch)."""

    def __init__(self, settings: Sequence[Sampling]) -> None:
        temperature = np.array([s.temperature for s in settings], dtype=np.float64).reshape(-1, 1)
        self.greedy = temperature[:, 0] == 0
        self.all_greedy, self.any_greedy = bool(self.greedy.all()), bool(self.greedy.any())
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
    scaled = logits[rows.row[:, None], order] * rows.inverse_temperature  # -inf stays -inf
    if allowed is not None:
        stuck = scaled[:, 0] == -np.inf  # nothing allowed is possible: unguided this once
        if stuck.any() and not allowed[stuck].all():
            return choose(source, rows, uniforms, banned, allowed | stuck[:, None])
    if rows.all_greedy:
        return order[:, 0]
    weights = np.exp(scaled - scaled[:, :1])  # unnormalised, the likeliest = 1
    cdf = np.cumsum(weights, axis=1)
    # the kept characters are a prefix of `order`: the k likeliest, cut where the likelier ones
    # already hold top_p of the mass (the likeliest always stays: nothing is likelier)
    nucleus = ((cdf - weights) < rows.top_p * cdf[:, -1:]).sum(axis=1)
    kept = np.minimum(nucleus, rows.top_k)
    target = uniforms * cdf[rows.row, kept - 1]
    pick = (cdf <= target[:, None]).sum(axis=1)  # first rank whose cdf passes the draw (< kept)
    if rows.any_greedy:
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
