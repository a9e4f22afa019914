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
    zero on long text, and x86 CPUs compute on denormals many times slower: the library model
    scored 20,000 characters in 82 s without this and 24 s with it (same bits/char to 1e-12)."""
    torch.set_flush_denormal(True)


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


class FastStep:
    """Generation-time `CharLSTM.read` and `CharLSTM.step` from a snapshot of the weights (changes made
    to the model afterwards are not seen). Same results as the model's own within float rounding.

    On CPU with oneDNN, each layer runs as oneDNN's fused LSTM (the kernel nn.LSTM itself uses there)
    with its weights reordered once into the blocked layout the kernel reads ("prepacked"); nn.LSTM
    reorders them on every call, which for one character costs three times the step itself (measured
    on this project's 2-core AMD machine: 418 us a step for 1 row, 577 for 16, against 114 and 214
    prepacked). Elsewhere (a GPU, a build without oneDNN) it is the model's own `read` and `step`.

    The packed layout is tuned for a batch size, and a call with another one pays a reorder: the
    2x512 model took 1.8-2.2 ms a step for 1 row on weights packed for 16, 0.9-1.0 ms on weights
    packed for 1 (and 7.7-11 ms for 16 rows on those). So the weights are packed twice, for one row
    and for many, and each call takes the layout that fits it.
    """

    PACK_HINTS = (1, 16)  # the batch sizes oneDNN tunes a packed layout for: one row, many rows

    def __init__(self, model: CharLSTM) -> None:
        self.model = model
        # per batch-size hint, per layer: packed w_ih, packed w_hh, b_ih, b_hh (empty: no oneDNN)
        self.packs: dict[int, list[tuple[torch.Tensor, ...]]] = {}
        if _onednn_rnn_works(model):
            lstm = model.lstm
            with torch.no_grad():
                for hint in self.PACK_HINTS:
                    self.packs[hint] = []
                    for i in range(lstm.num_layers):
                        inputs = lstm.input_size if i == 0 else lstm.hidden_size
                        weights = [getattr(lstm, f"{name}_l{i}").detach() for name in ("weight_ih", "weight_hh")]
                        packed = _pack_layer(*weights, lstm.hidden_size, [1, hint, inputs])
                        self.packs[hint].append((*packed, getattr(lstm, f"bias_ih_l{i}").detach(),
                                                 getattr(lstm, f"bias_hh_l{i}").detach()))

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits after the last character [batch, vocab], final state."""
        if not self.packs:
            return self.model.read(ids, state)
        x = self.model.embed(ids).transpose(0, 1).contiguous()  # [time, batch, embed]
        if state is None:
            state = self.model.zero_state(ids.shape[0], ids.device)
        hs, cs = [], []
        layers = self.packs[1 if ids.shape[0] == 1 else self.PACK_HINTS[-1]]  # one row, or many
        for i, layer in enumerate(layers):
            x, h, c = _run_layer(x, state[0][i:i + 1].contiguous(), state[1][i:i + 1].contiguous(), *layer)
            hs.append(h)
            cs.append(c)
        return self.model.head(x[-1]), (torch.cat(hs), torch.cat(cs))

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state."""
        return self.read(ids[:, None], state)


_LSTM_MODE = 2  # oneDNN's code for an LSTM cell (ideep::rnn_kind::LSTM)


def _pack_layer(weight_ih: torch.Tensor, weight_hh: torch.Tensor, hidden: int,
                input_shape: list[int]) -> list[torch.Tensor]:
    return torch.ops.mkldnn._reorder_mkldnn_rnn_layer_weight(weight_ih, weight_hh, hidden, False, True, False,
                                                              input_shape)


def _run_layer(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor,
               weight_hh: torch.Tensor, bias_ih: torch.Tensor,
               bias_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM layer over x [time, batch, in] from state h, c [1, batch, hidden] -> outputs, h, c."""
    out, h, c, _ = torch.ops.aten.mkldnn_rnn_layer(x, weight_ih, weight_hh, bias_ih, bias_hh, h, c, False, [],
                                                   _LSTM_MODE, h.shape[-1], 1, True, False, False, False)
    return out, h, c


def _onednn_rnn_works(model: CharLSTM) -> bool:
    """oneDNN's prepacked LSTM is a private operator: use it only for fp32 on CPU, and only if it
    gives nn.LSTM's answer on a small case."""
    weight = model.lstm.weight_hh_l0
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return False
    with torch.random.fork_rng(devices=[]):  # a throwaway LSTM's random weights: leave the caller's RNG as it was
        lstm = nn.LSTM(3, 4).eval()
    x = torch.linspace(-1, 1, 6).reshape(2, 1, 3)
    zero = torch.zeros(1, 1, 4)
    try:
        with torch.no_grad():
            packed = _pack_layer(lstm.weight_ih_l0, lstm.weight_hh_l0, 4, [2, 1, 3])
            out, *_ = _run_layer(x, zero, zero, *packed, lstm.bias_ih_l0, lstm.bias_hh_l0)
            return bool(torch.allclose(out, lstm(x)[0], atol=1e-6))
    except (AttributeError, RuntimeError):
        return False
