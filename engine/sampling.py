"""Sampling settings and the batched draw of next characters (temperature, top-k, top-p)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Sampling:
    """How the next character is chosen from the model's distribution."""

    temperature: float = 0.8  # 0 = greedy (always the likeliest), < 1 = safer, > 1 = wilder
    top_k: int = 0  # keep only the k likeliest characters (0 = all)
    top_p: float = 0.95  # keep the smallest set whose probability reaches p (1 = all)

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 10:
            raise ValueError(f"temperature must be between 0 and 10, not {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (off) or a positive count, not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def sample_next(logits: torch.Tensor, settings: list[Sampling], uniforms: list[float],
                banned: int | None = 0) -> torch.Tensor:
    """Pick one id per row of logits [batch, vocab], each row with its own settings and its own
    uniform draw in [0, 1) (so every stream stays reproducible whatever it is batched with).
    `banned` (the unknown symbol) is never produced."""
    logits = logits.float().clone()
    if banned is not None:
        logits[:, banned] = float("-inf")
    batch, vocab = logits.shape
    temps = torch.tensor([s.temperature for s in settings], dtype=torch.float32, device=logits.device)
    greedy = temps == 0
    probs = torch.softmax(logits / temps.clamp_min(1e-6)[:, None], dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    ranks = torch.arange(vocab, device=logits.device)[None, :]
    top_k = torch.tensor([s.top_k or vocab for s in settings], device=logits.device)[:, None]
    top_p = torch.tensor([s.top_p for s in settings], dtype=torch.float32, device=logits.device)[:, None]
    before = sorted_p.cumsum(-1) - sorted_p  # mass of the likelier characters
    keep = (ranks < top_k) & ((before < top_p) | (ranks == 0))
    sorted_p = sorted_p * keep
    cdf = sorted_p.cumsum(-1)
    u = torch.tensor(uniforms, dtype=torch.float32, device=logits.device)[:, None] * cdf[:, -1:]
    pick = torch.searchsorted(cdf, u, right=True).clamp_max(vocab - 1)
    chosen = order.gather(1, pick)[:, 0]
    return torch.where(greedy, order[:, 0], chosen)
