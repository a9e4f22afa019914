"""One row's LSTM state, as the Batch hands it out and the conversation cache keeps it; and a batch's
state that carries the next step's work along (`CarriedState`)."""

from __future__ import annotations

import bisect
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


class CarriedState(tuple):
    """A batch's state (h, c) [layers, rows, hidden], carrying `ahead`: per layer, the product the next
    step needs for each of its first rows, computed by the step that returned it (engine/steps/int8.py).
    Rows joined since have none; the step computes theirs. Rows are independent, so a row's product
    is the same whichever rows it was computed beside, and it stays valid for that row alone."""

    ahead: list[torch.Tensor]  # [rows with a product, ...] each, for the first rows

    def __new__(cls, h: torch.Tensor, c: torch.Tensor, ahead: list[torch.Tensor]) -> CarriedState:
        state = super().__new__(cls, (h, c))
        state.ahead = ahead
        return state

    @property
    def carried(self) -> int:
        """How many of the first rows have their products."""
        return self.ahead[0].shape[0] if self.ahead else 0


def state_rows(state: tuple[torch.Tensor, torch.Tensor], index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The state of the rows at `index` (ascending), with the products of those that had them.
    (`index_select`, far cheaper than indexing with a tensor: this runs every time a row leaves; see
    docs/measurements.md.)"""
    h, c = state[0].index_select(1, index), state[1].index_select(1, index)
    if not isinstance(state, CarriedState):
        return h, c
    with_product = index[:bisect.bisect_left(index.tolist(), state.carried)]  # a prefix: `index` ascends
    return CarriedState(h, c, [product.index_select(0, with_product) for product in state.ahead])


def state_joined(state: tuple[torch.Tensor, torch.Tensor], h: torch.Tensor, c: torch.Tensor,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, c) of `state`'s rows followed by newcomers', keeping the products `state` carries for its rows."""
    return CarriedState(h, c, state.ahead) if isinstance(state, CarriedState) else (h, c)
