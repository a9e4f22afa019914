"""The fp32 step: oneDNN's fused LSTM on weights prepacked once, or the model's own calls elsewhere."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from engine.model import CharLSTM, State


class FastStep:
    """Generation-time `CharLSTM.read`, `step` and `forward` from a snapshot of the weights (changes
    made to the model afterwards are not seen). Same results as the model's own within float rounding.

    On CPU with oneDNN, each layer runs as oneDNN's fused LSTM (the kernel nn.LSTM itself uses there)
    with its weights reordered once into the blocked layout the kernel reads ("prepacked"); nn.LSTM
    reorders them on every call, which for one character costs more than the step itself. Elsewhere
    (a GPU, a build without oneDNN) it is the model's own `read`, `step` and `forward`.

    The packed layout is tuned for a batch size, and a call with another one pays a reorder; so the
    weights are packed twice, for one row and for many, and each call takes the layout that fits it
    (bench/generate_speed.py measures the steps).
    """

    PACK_HINTS = (1, 16)  # the batch sizes oneDNN tunes a packed layout for: one row, many rows

    def __init__(self, model: CharLSTM) -> None:
        self.model = model
        self.flags = _layer_flags(model.config.hidden)
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
        out, state = self._lstm(ids, state)
        return self.model.head(out[-1]), state

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state."""
        return self.read(ids[:, None], state)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits [batch, time, vocab], final state (for scoring text)."""
        if not self.packs:
            return self.model(ids, state)
        out, state = self._lstm(ids, state)
        return self.model.head(out.transpose(0, 1)), state

    def _lstm(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """The packed layers over ids [batch, time]: last layer's outputs [time, batch, hidden], final state."""
        x = self.model.embed(ids).transpose(0, 1).contiguous()  # [time, batch, embed]
        if state is None:
            state = self.model.zero_state(ids.shape[0], ids.device)
        hs, cs = [], []
        layers = self.packs[1 if ids.shape[0] == 1 else self.PACK_HINTS[-1]]  # one row, or many
        for i, layer in enumerate(layers):
            x, h, c = _run_layer(x, state[0][i:i + 1].contiguous(), state[1][i:i + 1].contiguous(), layer, self.flags)
            hs.append(h)
            cs.append(c)
        return x, (torch.cat(hs), torch.cat(cs))


_LSTM_MODE = 2  # oneDNN's code for an LSTM cell (ideep::rnn_kind::LSTM)


class _LayerFlags(NamedTuple):
    """mkldnn_rnn_layer's arguments after the state, in its order. Passed positionally: the operator
    takes keywords, but parsing them costs microseconds a call, and this runs every character."""

    reverse: bool
    batch_sizes: list[int]
    mode: int
    hidden_size: int
    num_layers: int
    has_biases: bool
    bidirectional: bool
    batch_first: bool
    train: bool


def _layer_flags(hidden: int) -> _LayerFlags:
    """One forward, unidirectional LSTM layer with biases, for inference, time first."""
    return _LayerFlags(reverse=False, batch_sizes=[], mode=_LSTM_MODE, hidden_size=hidden, num_layers=1,
                       has_biases=True, bidirectional=False, batch_first=False, train=False)


def _pack_layer(weight_ih: torch.Tensor, weight_hh: torch.Tensor, hidden: int,
                input_shape: list[int]) -> list[torch.Tensor]:
    """One layer's weights in oneDNN's blocked layout for inputs of `input_shape` [time, batch, in].
    A private operator (torch has no public one for it): `_onednn_rnn_works` checks it before use."""
    return torch.ops.mkldnn._reorder_mkldnn_rnn_layer_weight(
        weight_ih, weight_hh, hidden_size=hidden, reverse=False, has_biases=True, batch_first=False,
        input_size=input_shape)


def _run_layer(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, layer: tuple[torch.Tensor, ...],
               flags: _LayerFlags) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM layer (packed w_ih, packed w_hh, b_ih, b_hh) over x [time, batch, in] from state h, c
    [1, batch, hidden] -> outputs, h, c."""
    out, h, c, _ = torch.ops.aten.mkldnn_rnn_layer(x, *layer, h, c, *flags)
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
            out, *_ = _run_layer(x, zero, zero, (*packed, lstm.bias_ih_l0, lstm.bias_hh_l0), _layer_flags(4))
            return bool(torch.allclose(out, lstm(x)[0], atol=1e-6))
    except (AttributeError, RuntimeError):
        return False
