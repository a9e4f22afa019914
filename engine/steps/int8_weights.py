"""The int8 step's weights: quantised one scale per output row, laid out for fbgemm's kernels.

Every quantised input the int8 step multiplies gets two extra columns, +1 and -1, whose weights are
zero: the inputs then span exactly [-1, 1] whatever else is in the batch, so fbgemm's per-tensor
activation scale is the same for every row (see engine/steps/int8.py). For PyTorch's C++ int8 LSTM
those two columns are two extra hidden units ("widened" gates), held at +1 and -1 by pinned biases.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from engine.model import CharLSTM

PINNED = 30.0  # gate bias of the +1 and -1 units: sigmoid(30) and tanh(30) are 1.0 in float32


@dataclass(frozen=True)
class Int8Weight:
    """A weight quantised to int8, one scale per output row."""

    values: torch.Tensor  # int8 [out, in]
    scales: torch.Tensor  # float64 [out]


def layer_weights(model: CharLSTM, layer: int) -> tuple[Int8Weight, torch.Tensor, Int8Weight]:
    """One LSTM layer's input weights (the first layer's: per character, the embedding's product, so
    embeddings are never quantised), bias (both of PyTorch's, added) and recurrent weights, quantised."""
    lstm = model.lstm
    with torch.no_grad():
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}").float(), getattr(lstm, f"weight_hh_l{layer}").float()
        bias = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).float()
        if layer == 0:
            return quantize(w_ih @ model.embed.weight.float().t(), with_ends=False), bias, quantize(w_hh)
        return quantize(w_ih), bias, quantize(w_hh)


def quantize(weight: torch.Tensor, with_ends: bool = True) -> Int8Weight:
    """Symmetric int8, one scale per output row; `with_ends`: two zero columns for the +1 and -1
    inputs that pin the activation range."""
    weight = weight.detach().float()
    if with_ends:
        weight = torch.cat([weight, weight.new_zeros(weight.shape[0], 2)], 1)
    scales = (weight.abs().amax(1) / 127).clamp_min(1e-12).double()
    values = torch.round(weight / scales[:, None].float()).clamp(-127, 127).to(torch.int8)
    return Int8Weight(values, scales)


def stack(top: Int8Weight, bottom: Int8Weight) -> Int8Weight:
    """Two weights' rows in one (their own scales kept)."""
    return Int8Weight(torch.cat([top.values, bottom.values]), torch.cat([top.scales, bottom.scales]))


def widen(weight: Int8Weight, hidden: int) -> Int8Weight:
    """Rows for PyTorch's LSTM with two more hidden units (+1 and -1): each gate block of `hidden`
    rows gets two zero rows after it (gate blocks i, f, g, o of hidden + 2 rows each)."""
    values = weight.values.view(4, hidden, -1)
    zeros = values.new_zeros(4, 2, values.shape[2])
    scales = torch.cat([weight.scales.view(4, hidden), weight.scales.new_ones(4, 2)], 1)
    return Int8Weight(torch.cat([values, zeros], 1).reshape(4 * (hidden + 2), -1), scales.reshape(-1))


def widen_bias(bias: torch.Tensor, hidden: int) -> torch.Tensor:
    """`bias` for the widened rows: the +1 and -1 units' input, forget and output gates open, their
    candidate +1 and -1, so each keeps h = tanh(c) = +1 or -1 (gate order i, f, g, o)."""
    blocks = torch.cat([bias.view(4, hidden), bias.new_full((4, 2), PINNED)], 1)
    blocks[2, hidden + 1] = -PINNED
    return blocks.reshape(-1)


def narrow_index(hidden: int) -> torch.Tensor:
    """The rows of a widened gate layout that belong to the model's own units."""
    return torch.cat([torch.arange(k * (hidden + 2), k * (hidden + 2) + hidden) for k in range(4)])


def prepack(weight: Int8Weight, bias: torch.Tensor | None) -> torch.Tensor:
    """fbgemm's packed int8 weight (and fp32 bias)."""
    with warnings.catch_warnings():  # quantized tensors are deprecated in favour of torchao; still here
        warnings.simplefilter("ignore")
        return torch.ops.quantized.linear_prepack(_per_channel_int8(weight),
                                                  None if bias is None else bias.detach().float())


def _per_channel_int8(weight: Int8Weight) -> torch.Tensor:
    """A quantized tensor holding exactly these int8 values and row scales. torch's public
    `quantize_per_channel` rounds floats its own way; this private constructor takes the values as
    they are, so the C++ LSTM and the Python step read the very same numbers."""
    zero_points = torch.zeros(weight.values.shape[0], dtype=torch.long)
    return torch._make_per_channel_quantized_tensor(weight.values.contiguous(), weight.scales, zero_points, 0)


REDUCE_RANGE = True  # activations quantised to 7 bits, not 8 (see `linear`)
_LINEAR_DYNAMIC = torch.ops.quantized.linear_dynamic.default  # (X, W_prepack, reduce_range) -> Y


def linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x @ weight.T (+ bias) with x quantised to 7 bits (REDUCE_RANGE): on AVX2, fbgemm adds pairs of
    8-bit products in 16 bits, which saturate with full 8-bit inputs. The flag goes positionally: the
    operator takes keywords, but parsing them costs microseconds a call, and this runs every character."""
    return _LINEAR_DYNAMIC(x, packed, REDUCE_RANGE)
