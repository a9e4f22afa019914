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


class CharLSTM(nn.Module):
    """Character language model. `forward` runs whole sequences; `step` one character."""

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
    def step(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state."""
        logits, state = self.forward(ids[:, None], state)
        return logits[:, 0], state

    def zero_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        shape = (self.config.layers, batch, self.config.hidden)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class FastStep:
    """`CharLSTM.step` rearranged for generation speed, from a snapshot of the weights (changes made to
    the model afterwards are not seen). Same results as `step` within float rounding.

    The first layer's input projection depends only on the character, so it becomes a table lookup;
    each higher layer takes one matrix product over [input, hidden]; on CPU, batches of 4 rows or more
    go through oneDNN, which multiplies them about 1.6x faster than the default BLAS (MKL) on this
    project's AMD machines, while MKL stays quicker for 1-2 rows.
    """

    ONEDNN_MIN_ROWS = 4  # measured crossover (fp32, 2x384 model)

    def __init__(self, model: CharLSTM) -> None:
        lstm, layers = model.lstm, model.config.layers
        with torch.no_grad():
            param = {name: p.detach() for name, p in lstm.named_parameters()}
            bias = [param[f"bias_ih_l{i}"] + param[f"bias_hh_l{i}"] for i in range(layers)]
            weights = [param["weight_hh_l0"]] + [
                torch.cat([param[f"weight_ih_l{i}"], param[f"weight_hh_l{i}"]], 1) for i in range(1, layers)]
            table = F.linear(model.embed.weight.detach(), param["weight_ih_l0"], bias[0])
            # torch's CPU tanh costs about six sigmoids, and tanh(x) = 2 sigmoid(2x) - 1: doubling the
            # cell-gate rows (exact in floating point) lets one sigmoid serve all four gates
            hidden = model.config.hidden
            double = torch.ones(4 * hidden, 1, device=table.device, dtype=table.dtype)
            double[2 * hidden:3 * hidden] = 2
            self.table = table * double[:, 0]
            self.weights = [w * double for w in weights]
            self.biases: list[torch.Tensor | None] = [None, *(b * double[:, 0] for b in bias[1:])]
            self.head = model.head.weight.detach(), model.head.bias.detach()
        self.onednn = _onednn_works(self.table)

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """ids [batch] -> logits [batch, vocab], next state (as `CharLSTM.step`, without autograd)."""
        h, c = state
        hs, cs = [], []
        linear = _onednn_linear if self.onednn and len(ids) >= self.ONEDNN_MIN_ROWS else F.linear
        for i, weight in enumerate(self.weights):
            if i == 0:
                gates = linear(h[0], weight, None).add_(self.table[ids])
            else:
                gates = linear(torch.cat([hs[-1], h[i]], 1), weight, self.biases[i])
            in_gate, forget, cell, out = torch.sigmoid_(gates).chunk(4, 1)
            c_next = forget.mul(c[i]).addcmul_(in_gate, cell.mul(2).sub_(1))
            hs.append(torch.sigmoid(c_next * 2).mul_(2).sub_(1).mul_(out))  # out * tanh(c_next)
            cs.append(c_next)
        return linear(hs[-1], *self.head), (torch.stack(hs), torch.stack(cs))


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [None], "")


def _onednn_works(like: torch.Tensor) -> bool:
    """oneDNN's linear is a private operator: use it only for fp32 on CPU, and only if it answers."""
    if like.device.type != "cpu" or like.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return False
    try:
        x, w = torch.ones(2, 3), torch.ones(4, 3)
        return bool(torch.equal(_onednn_linear(x, w, None), F.linear(x, w)))
    except (AttributeError, RuntimeError):
        return False
