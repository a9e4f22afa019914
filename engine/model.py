"""CharLSTM: embedding -> multi-layer LSTM -> linear to character logits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [layers, batch, hidden]


@dataclass
class ModelConfig:
    """Architecture and regularisation of a CharLSTM (everything needed to rebuild it)."""

    vocab_size: int
    embed: int = 64  # size of each character's embedding vector
    hidden: int = 384  # LSTM units per layer
    layers: int = 2  # stacked LSTM layers
    dropout: float = 0.4  # between LSTM layers and before the output layer (training only)
    embed_dropout: float = 0.15  # on the input embeddings (training only)
    weight_drop: float = 0.4  # DropConnect on the recurrent weights (training only)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        fields = cls.__dataclass_fields__
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown architecture fields {unknown}")
        return cls(**data)


def flush_denormals() -> None:
    """Treat denormal floats as zero in this thread's CPU math. An LSTM's cell state decays toward
    zero on long text, and x86 CPUs compute on denormals many times slower (the scores do not change
    measurably: denormals are below 1e-38)."""
    torch.set_flush_denormal(True)


class CharLSTM(nn.Module):
    """Character language model. `forward` runs whole sequences; `step` one character. Generation
    runs it through a step of engine/steps/ (fp32, int8, bf16)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.lstm = nn.LSTM(config.embed, config.hidden, config.layers, batch_first=True,
                            dropout=config.dropout if config.layers > 1 else 0.0)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits [batch, time, vocab], final state."""
        x = F.dropout(self.embed(ids), self.config.embed_dropout, self.training)
        if self.training and self.config.weight_drop > 0:
            dropped = {
                f"weight_hh_l{i}": F.dropout(getattr(self.lstm, f"weight_hh_l{i}"), self.config.weight_drop)
                for i in range(self.config.layers)
            }
            out, state = functional_call(self.lstm, dropped, (x, state), strict=False)
        else:
            out, state = self.lstm(x, state)
        out = F.dropout(out, self.config.dropout, self.training)
        return self.head(out), state

    @torch.no_grad()
    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Prime on whole sequences: ids [batch, time] -> logits after the last character [batch, vocab],
        final state (the output layer runs on the last position only)."""
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out[:, -1]), state

    @torch.no_grad()
    def step(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state."""
        logits, state = self.forward(ids[:, None], state)
        return logits[:, 0], state

    def zero_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        shape = (self.config.layers, batch, self.config.hidden)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
