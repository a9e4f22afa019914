"""The bf16 step: a bfloat16 copy of the model, for hardware with native bfloat16 arithmetic."""

from __future__ import annotations

import copy

import torch

from engine.model import CharLSTM, State


class Bf16Step:
    """A bfloat16 copy of the model, run by its own read, step and forward (cuDNN on a GPU, oneDNN on
    a CPU with native bf16); the state and logits it hands back are fp32, like every other step's."""

    def __init__(self, model: CharLSTM) -> None:
        self.model = copy.deepcopy(model).to(torch.bfloat16).eval()

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        logits, state = self.model.read(ids, _to(state, torch.bfloat16))
        return logits.float(), _to(state, torch.float32)

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        logits, state = self.model.step(ids, _to(state, torch.bfloat16))
        return logits.float(), _to(state, torch.float32)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        logits, state = self.model(ids, _to(state, torch.bfloat16))
        return logits.float(), _to(state, torch.float32)


def _to(state: State | None, dtype: torch.dtype) -> State | None:
    return None if state is None else (state[0].to(dtype), state[1].to(dtype))
