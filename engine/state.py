"""One row's LSTM state, as the Batch hands it out and the conversation cache keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: conversations and dialogue turns are checked before torch loads
    import torch


@dataclass
class RowState:
    """One row's LSTM state: h and c [layers, hidden], and the logits of the next character
    ([vocab]; None when the state has not yet read the last character written)."""

    h: torch.Tensor
    c: torch.Tensor
    logits: torch.Tensor | None = None
