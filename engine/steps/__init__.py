"""The steps a Generator runs its model with, one module per precision, all honouring `Step`.

- `fp32.FastStep`: oneDNN's fused LSTM on prepacked fp32 weights (the model itself elsewhere).
- `int8.Int8Step`: int8 weights on fbgemm, row-independent, reads and writes to the same bits.
- `bf16.Bf16Step`: a bfloat16 copy of the model, where the hardware has bf16 arithmetic.
- `build`: which of them this machine runs, and building one by its precision's name.

Why several: writing one character reads every weight once, and on most CPUs that reading, not the
arithmetic, is the cost of a step; half or a quarter of the bytes is the lever (as in llama.cpp's
quantised weights). engine/precision.py chooses among them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # names for annotations only: `from engine.steps import PRECISIONS` stays cheap (no torch)
    import torch

    from engine.model import State

PRECISIONS = ("fp32", "bf16", "int8")  # every precision a model can run in; fp32 first (the reference)
CHOICES = ("auto", *PRECISIONS)  # what a user may ask for; engine/precision.py chooses for auto


class PrecisionError(ValueError):
    """A precision that does not exist or that this machine cannot run; the message is one line."""


class Step(Protocol):
    """What callers drive: the Batch reads seeds and writes one character per row, train.eval scores
    whole sequences. A state a step returns may carry more than (h, c) for the step after it (see
    CarriedState, engine/state.py); handed back unchanged, or some of its rows (`state_rows`), it saves
    that work, and a plain (h, c) is always accepted."""

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits after the last character [batch, vocab], final state."""
        ...

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state."""
        ...

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits at every position [batch, time, vocab], final state (scoring)."""
        ...
