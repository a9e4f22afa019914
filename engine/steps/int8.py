"""The int8 step: int8 weights on fbgemm, rows independent, reading and writing to the same bits."""

from __future__ import annotations

import os
import queue
import threading

import torch

from engine.model import CharLSTM, State
from engine.state import CarriedState
from engine.steps.int8_weights import (
    PINNED,
    REDUCE_RANGE,
    layer_weights,
    linear,
    narrow_index,
    prepack,
    quantize,
    stack,
    widen,
    widen_bias,
)

PIPELINE_MIN = 128  # characters: a shorter text is read in one thread (a second one would cost more than it saves)
PIPELINE_CHUNKS = 8  # pieces a pipelined read is cut into (the upper layers start after the first)


class Int8Step:
    """The model with int8 weights (one scale per output row) for the LSTM layers and the output layer,
    run by fbgemm (the kernels behind PyTorch's dynamic quantisation); gates, cell state and logits
    stay fp32.

    Row independence: dynamic quantisation picks one activation scale for a whole input tensor, so a
    row's result would depend on the rows beside it. Every quantised input here is an LSTM output h
    in [-1, 1] or a one-hot character in [0, 1], plus two inputs holding +1 and -1 (weights zero), so
    every tensor spans exactly [-1, 1] and gets the same scale whatever else is in the batch (see
    engine/steps/int8_weights.py). The first layer's input is the character itself (one-hot), so its
    product is a table, looked up when writing.

    Reading a seed runs PyTorch's own int8 LSTM (`torch.quantized_lstm`: its time loop in C++, each
    layer's input product for the whole seed in one call). Writing runs one Python step per character
    (`__call__`) on the same int8 numbers, doing the operations of that LSTM's cell in the same order,
    so writing a text and reading it end in the same state to the bit: a re-read conversation writes
    what its cached state would have.
    """

    def __init__(self, model: CharLSTM) -> None:
        self.model = model
        device = model.head.weight.device
        self._end_columns = torch.tensor([[1.0, -1.0]], device=device)
        hidden, vocab = model.config.hidden, model.config.vocab_size
        layers = [layer_weights(model, i) for i in range(model.config.layers)]  # (w_in, bias, w_rec) each
        head = (quantize(model.head.weight.float()), model.head.bias.float())
        # Reading: PyTorch's C++ int8 LSTM knows nothing of the +1 and -1 inputs, so they become two
        # more hidden units of every layer: each gate block (i, f, g, o) of `hidden` rows is widened by
        # two rows, whose zero weights and pinned biases keep those units' h at +1 and -1 for ever.
        zeros = torch.zeros(4 * (hidden + 2), device=device)
        inputs = [prepack(widen(w_in, hidden), widen_bias(bias, hidden)) for w_in, bias, _ in layers]
        self.cells = [torch.ops.quantized.make_quantized_cell_params_dynamic(
            w_ih=packed_in, w_hh=prepack(widen(w_rec, hidden), None), bias_ih=zeros, bias_hh=zeros,
            reduce_range=REDUCE_RANGE)  # 7-bit activations, as `linear`
            for packed_in, (_, _, w_rec) in zip(inputs, layers, strict=True)]
        # Writing: the first layer's input product of every character, computed as reading computes it
        # (widened, then narrowed back to the model's own units)
        self.table = linear(torch.eye(vocab, device=device), inputs[0])[:, narrow_index(hidden)]
        self.recurrent = [prepack(w_rec, None) for _, _, w_rec in layers]  # each layer's w_hh
        # what multiplies each layer's output: [next layer's w_ih; own w_hh] (the last layer: [head; w_hh])
        self.after = [prepack(stack(w_next, w_rec), torch.cat([b_next, b_next.new_zeros(4 * hidden)]))
                      for (_, _, w_rec), (w_next, b_next, *_) in zip(layers, [*layers[1:], head], strict=True)]
        self.head = prepack(*head)

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits after the last character [batch, vocab], final state."""
        out, state = self._lstm(ids, state)
        return linear(out[-1], self.head), state

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, CarriedState]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state. The operations of
        PyTorch's LSTM cell in `_lstm`, in the same order, so that writing a text and reading it end
        in the same state to the bit. Each layer's output is multiplied once, by its next layer's
        input weights (the last: the output layer's) and its own recurrent weights together: the
        recurrent product is the next step's, handed along in the state returned (CarriedState); two
        int8 calls a step instead of four."""
        ends = self._ends(ids.shape[0])
        recurrent, given = self._recurrent(state), self.table.index_select(0, ids)
        hs, cs, ahead = [], [], []
        for product, c, after in zip(recurrent, state[1].unbind(0), self.after, strict=True):
            gates = product + given
            i, f, g, o = gates.chunk(4, 1)
            i.sigmoid_()
            f.sigmoid_()
            g.tanh_()
            o.sigmoid_()
            c = (f * c).add_(i * g)
            x = o * c.tanh()
            out = linear(torch.cat([x, ends], 1), after)
            split = out.shape[1] - gates.shape[1]
            given = out[:, :split]  # the next layer's input product, or the logits
            ahead.append(out[:, split:])
            hs.append(x)
            cs.append(c)
        return given, CarriedState(torch.stack(hs), torch.stack(cs), ahead)

    def _recurrent(self, state: State) -> list[torch.Tensor]:
        """Each layer's recurrent product for `state`: the ones it carries, the others' computed now."""
        carried = state.carried if isinstance(state, CarriedState) else 0
        rows = state[0].shape[1]
        if carried == rows:
            return state.ahead
        ends = self._ends(rows - carried)
        new = [linear(torch.cat([h[carried:], ends], 1), packed)
               for h, packed in zip(state[0].unbind(0), self.recurrent, strict=True)]
        return [torch.cat([old, product]) for old, product in zip(state.ahead, new, strict=True)] if carried else new

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits [batch, time, vocab], all in int8 (for scoring text)."""
        out, state = self._lstm(ids, state)
        return linear(out.transpose(0, 1).reshape(-1, out.shape[-1]), self.head).view(*ids.shape, -1), state

    def _lstm(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """PyTorch's int8 LSTM over ids [batch, time]: last layer's outputs [time, batch, hidden + 2]
        (the last two are the +1 and -1 units), final state [layers, batch, hidden]."""
        hidden = self.model.config.hidden
        if state is None:
            state = self.model.zero_state(ids.shape[0], ids.device)
        h, c = state
        ends = self._end_columns.new_tensor([1.0, -1.0]).expand(*h.shape[:2], 2)
        h = torch.cat([h, ends], 2)
        c = torch.cat([c, ends * PINNED], 2)  # tanh(c) = +1 and -1 exactly; c moves by 1 a character
        x = torch.nn.functional.one_hot(ids.t(), self.model.config.vocab_size).float()
        if len(self.cells) > 1 and ids.shape[1] >= PIPELINE_MIN and (os.cpu_count() or 1) > 1:
            out, h, c = self._pipelined(x, h, c)
        else:
            out, h, c = run_cells(x, h, c, self.cells)
        return out, (h[..., :hidden].contiguous(), c[..., :hidden].contiguous())

    def _pipelined(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`run_cells` in two threads: the first layer here, chunk by chunk, the layers above in a
        second thread a chunk behind (the same numbers: a layer's calls per chunk, its state handed
        on, give what one call gives). Why: the generator leaves a core to its readers, and a reader
        waiting for a long seed's first character needs none (bench/generate_speed.py times reads).
        The second thread takes this one's torch threads and denormal handling (both are per thread,
        and flushing denormals changes the numbers), and it is joined before this returns."""
        chunks: queue.SimpleQueue[torch.Tensor | None] = queue.SimpleQueue()
        result: list = []
        threads, flush = torch.get_num_threads(), _flushes_denormals()

        def upper() -> None:
            torch.set_num_threads(threads)
            torch.set_flush_denormal(flush)
            try:
                with torch.no_grad():  # plain tensors, whatever mode the reading thread is in
                    state, outs = (h[1:], c[1:]), []
                    for chunk in iter(chunks.get, None):
                        out, *state = run_cells(chunk, *state, self.cells[1:])
                        outs.append(out)
                    result.append((torch.cat(outs), *state))
            except BaseException as exc:  # handed to the reading thread, which raises it
                result.append(exc)

        helper = threading.Thread(target=upper, name="alice-int8-reader", daemon=True)
        helper.start()
        h0, c0 = h[:1], c[:1]
        try:
            for chunk in x.chunk(PIPELINE_CHUNKS):
                out, h0, c0 = run_cells(chunk, h0, c0, self.cells[:1])
                chunks.put(out)
        finally:
            chunks.put(None)
            helper.join()
        if isinstance(result[0], BaseException):
            raise result[0]
        out, h_upper, c_upper = result[0]
        return out, torch.cat([h0, h_upper]), torch.cat([c0, c_upper])

    def _ends(self, rows: int) -> torch.Tensor:
        """The +1 and -1 columns that pin every quantised input's range to [-1, 1]."""
        if self._end_columns.shape[0] < rows:
            self._end_columns = torch.tensor([[1.0, -1.0]], device=self._end_columns.device).repeat(rows, 1)
        return self._end_columns[:rows]


def run_cells(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, cells: list,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyTorch's int8 LSTM (the C++ one) over x [time, batch, in] from h, c [layers, batch, hidden + 2]."""
    return torch.quantized_lstm(x, [h, c], cells, has_biases=True, num_layers=len(cells), dropout=0.0,
                                train=False, bidirectional=False, batch_first=False, dtype=torch.qint8,
                                use_dynamic=True)


def _flushes_denormals() -> bool:
    """Whether this thread's float arithmetic flushes denormals to zero (see engine.model.flush_denormals)."""
    return bool(torch.tensor([1e-30]) * torch.tensor([1e-10]) == 0)  # 1e-40 is a denormal float32
