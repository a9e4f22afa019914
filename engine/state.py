"""One row's LSTM state, as the Batch hands it out and the conversation cache keeps it."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RowState:
    """One row's LSTM state: h and c [layers, hidden], and the logits of the next character
    ([vocab]; None when the state has not yet read the last character written)."""

    h: torch.Tensor
    c: torch.Tensor
    logits: torch.Tensor | None = None
