"""The precision a Generator's weights run in (fp32, bf16, int8), and `auto`'s choice among them.

Why: writing one character reads every weight once, and on most CPUs that reading, not the
arithmetic, is the cost of a step (the 2x512 models read 13 MB of fp32 weights a character). Half or
a quarter of the bytes is the lever, as in llama.cpp's quantised weights.

- `fp32`: `FastStep` (oneDNN's fused LSTM on prepacked fp32 weights).
- `int8`: weights in int8 with one scale per output channel (fbgemm's kernels, the ones behind
  PyTorch's dynamic quantisation); activations are quantised per step. Row-independent by
  construction (see `Int8Step`), so a stream writes the same text alone or batched; seeds are read
  by PyTorch's C++ int8 LSTM into the very state writing them would leave.
- `bf16`: a bfloat16 copy of the model; offered on GPUs with bf16 and on CPUs with native bf16
  arithmetic (AVX512-BF16 or AMX), elsewhere it would be emulated and slower than fp32.

A reduced precision is offered by `auto` for a model only when its cost in bits per character,
measured against fp32 on real text by `python -m train.eval MODEL FILE --precision P --record` (or
at the end of training, on the held-out tail), is recorded in config.json for these very weights
(engine/costs.py) and within `QUALITY_BOUND`; among those, `auto` takes the fastest by timing the real step at load.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Protocol

import torch

from engine.costs import recorded_costs
from engine.model import CharLSTM, FastStep, ModelConfig, State

PRECISIONS = ("fp32", "bf16", "int8")
CHOICES = ("auto", *PRECISIONS)
QUALITY_BOUND = 0.01  # bits/char a reduced precision may cost against fp32, or auto does not offer it
# auto leaves fp32 only for a step this much faster: texts from one --rng-seed differ between precisions,
# so two runs on one machine should not choose differently on a close call
MARGIN = 0.15


class PrecisionError(ValueError):
    """A precision that does not exist or that this machine cannot run; the message is one line."""


class Step(Protocol):
    """What the Batch drives: read seeds, write one character per row, score whole sequences."""

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]: ...

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]: ...


@dataclass(frozen=True)
class Choice:
    """The precision running, and why (shown by /info)."""

    precision: str
    reason: str


def check_choice(precision: str) -> str:
    """`precision` if it is one of CHOICES, else a one-line error naming them."""
    if precision not in CHOICES:
        raise PrecisionError(f"precision {precision!r}: must be one of {', '.join(CHOICES)}")
    return precision


def unavailable(precision: str, device: torch.device) -> str | None:
    """Why this machine cannot run `precision` on `device` (None: it can)."""
    check_choice(precision)
    if precision == "bf16":
        if device.type == "cuda":
            return None if torch.cuda.is_bf16_supported() else "this GPU has no bfloat16 arithmetic"
        if device.type == "cpu" and not _cpu_has_native_bf16():
            return ("this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX): emulated, bf16 "
                    "would be slower than fp32")
    if precision == "int8":
        if device.type != "cpu":
            return f"int8 weights run on CPUs only (this model is on {device.type}; bf16 is the GPU's)"
        if not _int8_works():
            return "this torch build has no working fbgemm int8 kernels (x86 CPUs only)"
    return None


def build_step(model: CharLSTM, precision: str, emulate: bool = False) -> Step:
    """The step that runs `model` in `precision`; a one-line PrecisionError if this machine cannot
    (`emulate` lets bf16 run without native support: for tests on any CPU)."""
    if precision == "auto":
        raise PrecisionError("build_step needs a concrete precision; use choose() for auto")
    why = unavailable(precision, model.head.weight.device)
    if why and not (emulate and precision == "bf16"):
        raise PrecisionError(f"precision {precision}: {why}")
    if precision == "int8":
        return Int8Step(model)
    if precision == "bf16":
        return Bf16Step(model)
    return FastStep(model)


def choose(model: CharLSTM, asked: str, config: dict, weights_sha256: str) -> tuple[Step, Choice]:
    """The step to generate with, and why: `asked` itself, or for `auto` the fastest precision that
    this machine runs and whose recorded quality cost, measured on these weights (`weights_sha256`,
    see engine/costs.py), is within QUALITY_BOUND for this model."""
    check_choice(asked)
    device = model.head.weight.device
    if asked != "auto":
        step = build_step(model, asked)
        costs = recorded_costs(config, asked, weights_sha256).costs
        cost = f"; costs {_cost_words(costs)}" if costs and asked != "fp32" else ""
        return step, Choice(asked, f"asked for{cost}")
    candidates: dict[str, Step] = {"fp32": build_step(model, "fp32")}
    skipped = []
    for precision in PRECISIONS[1:]:
        why = unavailable(precision, device)
        recorded = recorded_costs(config, precision, weights_sha256)
        costs = recorded.costs
        if why:
            skipped.append(f"{precision}: not on this machine")
        elif not costs and recorded.stale:
            skipped.append(recorded.stale_words(precision))
        elif not costs:
            skipped.append(f"{precision}: its cost is not measured for this model")
        elif max(costs.values()) > QUALITY_BOUND:
            skipped.append(f"{precision}: costs {_cost_words(costs)} (bound {QUALITY_BOUND})")
        else:
            candidates[precision] = build_step(model, precision)
    if len(candidates) == 1:
        return candidates["fp32"], Choice("fp32", "auto: " + "; ".join(skipped))
    times = step_times(candidates, model)
    best = min(times, key=times.get)
    if times[best] > times["fp32"] * (1 - MARGIN):
        best = "fp32"
    timing = ", ".join(f"{name} {seconds * 1e3:.2f}" for name, seconds in times.items())
    reason = f"auto: fastest here by {MARGIN:.0%} or fp32 (ms a step, measured at load: {timing})"
    if best != "fp32":
        reason += f"; costs {_cost_words(recorded_costs(config, best, weights_sha256).costs)}"
    return candidates[best], Choice(best, reason)


def step_times(steps: dict[str, Step], model: CharLSTM, rows: int = 1, blocks: int = 7,
               per_block: int = 5) -> dict[str, float]:
    """Seconds per step of `rows` rows writing, for each step: blocks of a few steps taken in turn (so
    a neighbour's burst of CPU use hits every candidate alike), the fastest block of each counted
    (interference only ever slows a block down). About 100 ms for two candidates on a 2x512 model."""
    device = model.head.weight.device
    ids = torch.zeros(rows, dtype=torch.long, device=device)
    best = {name: float("inf") for name in steps}
    with torch.inference_mode():
        states = {}
        for name, step in steps.items():  # warm-up: first calls pay for allocations and kernel choice
            _, states[name] = step(ids, model.zero_state(rows, device))
        for _ in range(blocks):
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(per_block):
                    _, states[name] = step(ids, states[name])
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best[name] = min(best[name], (time.perf_counter() - start) / per_block)
    return best


def worker_threads() -> tuple[int, str]:
    """Set the calling (worker) thread's torch intra-op threads to torch's default less one core, left
    to the readers (the event loop, the terminal), and say so. Only this thread's setting changes
    (OpenMP keeps it per thread; but PyTorch starts a thread that has not run torch yet with the last
    count set, which is why the Generator fixes its caller's first). Why: on a 2-vCPU machine the
    worker with two threads shared its cores with the reading thread and wrote 945-1,042 chars/s in
    int8; with one, 1,355-1,371."""
    default = torch.get_num_threads()
    threads = max(1, min(default, (os.cpu_count() or 1) - 1))
    torch.set_num_threads(threads)
    plural = "s" if threads > 1 else ""
    return threads, f"{threads} torch thread{plural} (one of {os.cpu_count()} cores left to the readers)"


def _cost_words(costs: dict[str, float]) -> str:
    return ", ".join(f"{cost:+.4f} bits/char on {text}" for text, cost in costs.items())


class Int8Step:
    """The model with int8 weights (one scale per output row) for the LSTM layers and the output layer,
    run by fbgemm (the kernels behind PyTorch's dynamic quantisation); gates, cell state and logits
    stay fp32.

    Row independence: dynamic quantisation picks one activation scale for a whole input tensor, so a
    row's result would depend on the rows beside it. Every quantised input here is an LSTM output h
    in [-1, 1] or a one-hot character in [0, 1]; two extra inputs hold +1 and -1 (their weights are
    zero), so every tensor spans exactly [-1, 1] and gets the same scale whatever else is in the
    batch. The first layer's input is the character itself (one-hot), so embeddings are never
    quantised and its product is a table, looked up when writing.

    Reading a seed runs PyTorch's own int8 LSTM (`torch.quantized_lstm`: its time loop in C++, each
    layer's input product for the whole seed in one call), where the +1 and -1 are two extra hidden
    units whose gates are pinned open by their biases. Writing runs one Python step per character
    (`__call__`) on the same int8 numbers, doing the operations of that LSTM's cell in the same
    order, so writing a text and reading it end in the same state to the bit: a re-read conversation
    writes what its cached state would have, and a 400-character seed takes about 50 ms to read on
    the project's 2-vCPU Zen 3 instead of 150-200 ms one Python step a character.
    """

    def __init__(self, model: CharLSTM) -> None:
        self.model = model
        device = model.head.weight.device
        self._end_columns = torch.tensor([[1.0, -1.0]], device=device)
        hidden, vocab = model.config.hidden, model.config.vocab_size
        layers = [_layer_weights(model, i) for i in range(model.config.layers)]  # (w_in, bias, w_rec) each
        head = (_quantize(model.head.weight.float()), model.head.bias.float())
        zeros = torch.zeros(4 * (hidden + 2), device=device)
        # reading: per layer, the C++ LSTM's parameters, with the +1 and -1 units (True: 7-bit activations)
        inputs = [_prepack(_widen(w_in, hidden), _widen_bias(bias, hidden)) for w_in, bias, _ in layers]
        self.cells = [torch.ops.quantized.make_quantized_cell_params_dynamic(
            packed_in, _prepack(_widen(w_rec, hidden), None), zeros, zeros, True)
            for packed_in, (_, _, w_rec) in zip(inputs, layers, strict=True)]
        # writing: the first layer's input product of every character, computed as reading computes it
        self.table = _linear(torch.eye(vocab, device=device), inputs[0])[:, _narrow_index(hidden)]
        self.recurrent = [_prepack(w_rec, None) for _, _, w_rec in layers]  # each layer's w_hh
        # what multiplies each layer's output: [next layer's w_ih; own w_hh] (the last layer: [head; w_hh])
        self.after = [_prepack(_stack(w_next, w_rec), torch.cat([b_next, b_next.new_zeros(4 * hidden)]))
                      for (_, _, w_rec), (w_next, b_next, *_) in zip(layers, [*layers[1:], head], strict=True)]
        self.head = _prepack(*head)
        self._next: tuple[torch.Tensor, list[torch.Tensor]] | None = None  # see _recurrent

    def read(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits after the last character [batch, vocab], final state."""
        out, state = self._lstm(ids, state)
        return self._head(out[-1]), state

    def __call__(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One character per row: ids [batch] -> logits [batch, vocab], next state. The operations of
        PyTorch's LSTM cell in `_lstm`, in the same order, so that writing a text and reading it end
        in the same state to the bit. Each layer's output is multiplied once, by its next layer's
        input weights (the last: the output layer's) and its own recurrent weights together: the
        recurrent product is the next step's, kept for it (see `_recurrent`); two int8 calls a step
        instead of four."""
        ends = self._ends(ids.shape[0])
        recurrent, given = self._recurrent(state), self.table[ids]
        hs, cs, following = [], [], []
        for product, c, after in zip(recurrent, state[1].unbind(0), self.after, strict=True):
            gates = product.add_(given)
            i, f, g, o = gates.chunk(4, 1)
            i.sigmoid_()
            f.sigmoid_()
            g.tanh_()
            o.sigmoid_()
            c = (f * c).add_(i * g)
            x = o * c.tanh()
            out = _linear(torch.cat([x, ends], 1), after)
            split = out.shape[1] - gates.shape[1]
            given = out[:, :split]  # the next layer's input product, or the logits
            following.append(out[:, split:])
            hs.append(x)
            cs.append(c)
        h = torch.stack(hs)
        self._next = (h, following)
        return given, (h, torch.stack(cs))

    def _recurrent(self, state: State) -> list[torch.Tensor]:
        """Each layer's recurrent product for `state`: the one the step that returned this state
        computed (the Batch hands each step's state to the next, so this is most steps), else
        computed now (after rows joined or left, or a read). Taken once: the step adds to it in place."""
        kept, self._next = self._next, None
        if kept is not None and kept[0] is state[0]:
            return kept[1]
        ends = self._ends(state[0].shape[1])
        return [_linear(torch.cat([h, ends], 1), packed)
                for h, packed in zip(state[0].unbind(0), self.recurrent, strict=True)]

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids [batch, time] -> logits [batch, time, vocab], all in int8 (for scoring text)."""
        out, state = self._lstm(ids, state)
        return self._head(out.transpose(0, 1).reshape(-1, out.shape[-1])).view(*ids.shape, -1), state

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
            out, h, c = _run_cells(x, h, c, self.cells)
        return out, (h[..., :hidden].contiguous(), c[..., :hidden].contiguous())

    def _pipelined(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`_run_cells` in two threads: the first layer here, chunk by chunk, the layers above in a
        second thread a chunk behind (the same numbers: a layer's calls per chunk, its state handed
        on, give what one call gives). The generator leaves a core to its readers, and a reader
        waiting for a long seed's first character needs none: a 400-character read took 33-40 ms
        instead of 49-55 on the project's 2-vCPU Zen 3 (the fastest of 15; medians 54-56 against
        66-91). The second thread takes this one's torch threads and denormal handling (both are per
        thread, and flushing denormals changes the numbers), and it is joined before this returns."""
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
                        out, *state = _run_cells(chunk, *state, self.cells[1:])
                        outs.append(out)
                    result.append((torch.cat(outs), *state))
            except BaseException as exc:  # handed to the reading thread, which raises it
                result.append(exc)

        helper = threading.Thread(target=upper, name="alice-int8-reader", daemon=True)
        helper.start()
        h0, c0 = h[:1], c[:1]
        try:
            for chunk in x.chunk(PIPELINE_CHUNKS):
                out, h0, c0 = _run_cells(chunk, h0, c0, self.cells[:1])
                chunks.put(out)
        finally:
            chunks.put(None)
            helper.join()
        if isinstance(result[0], BaseException):
            raise result[0]
        out, h_upper, c_upper = result[0]
        return out, torch.cat([h0, h_upper]), torch.cat([c0, c_upper])

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the C++ LSTM's last-layer outputs (their +1 and -1 units included)."""
        return _linear(x, self.head)

    def _ends(self, rows: int) -> torch.Tensor:
        """The +1 and -1 columns that pin every quantised input's range to [-1, 1]."""
        if self._end_columns.shape[0] < rows:
            self._end_columns = torch.tensor([[1.0, -1.0]], device=self._end_columns.device).repeat(rows, 1)
        return self._end_columns[:rows]


PINNED = 30.0  # gate bias of the +1 and -1 units: sigmoid(30) and tanh(30) are 1.0 in float32
PIPELINE_MIN = 128  # characters: a shorter text is read in one thread (a second one would cost more than it saves)
PIPELINE_CHUNKS = 8  # pieces a pipelined read is cut into (the upper layers start after the first)


def _flushes_denormals() -> bool:
    """Whether this thread's float arithmetic flushes denormals to zero (see engine.model.flush_denormals)."""
    return bool(torch.tensor([1e-30]) * torch.tensor([1e-10]) == 0)  # 1e-40 is a denormal float32


def _run_cells(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, cells: list[torch.Tensor],
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyTorch's int8 LSTM (the C++ one) over x [time, batch, in] from h, c [layers, batch, hidden + 2]."""
    return torch.quantized_lstm(x, [h, c], cells, True, len(cells), 0.0, False, False, False,
                                dtype=torch.qint8, use_dynamic=True)


class Bf16Step:
    """A bfloat16 copy of the model, run by its own read and step (cuDNN on a GPU, oneDNN on a CPU
    with native bf16); the state and logits it hands back are fp32, like every other step's."""

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


@dataclass(frozen=True)
class _Int8:
    """A weight quantised to int8, one scale per output row."""

    values: torch.Tensor  # int8 [out, in]
    scales: torch.Tensor  # float64 [out]


def _layer_weights(model: CharLSTM, layer: int) -> tuple[_Int8, torch.Tensor, _Int8]:
    """One LSTM layer's input weights (the first layer's: per character, the embedding's product),
    bias (both of PyTorch's, added) and recurrent weights, quantised."""
    lstm = model.lstm
    with torch.no_grad():
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}").float(), getattr(lstm, f"weight_hh_l{layer}").float()
        bias = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).float()
        if layer == 0:
            return _quantize(w_ih @ model.embed.weight.float().t(), with_ends=False), bias, _quantize(w_hh)
        return _quantize(w_ih), bias, _quantize(w_hh)


def _stack(top: _Int8, bottom: _Int8) -> _Int8:
    """Two weights' rows in one (their own scales kept)."""
    return _Int8(torch.cat([top.values, bottom.values]), torch.cat([top.scales, bottom.scales]))


def _quantize(weight: torch.Tensor, with_ends: bool = True) -> _Int8:
    """Symmetric int8, one scale per output row; `with_ends`: two zero columns for the +1 and -1
    inputs that pin the activation range (see Int8Step)."""
    weight = weight.detach().float()
    if with_ends:
        weight = torch.cat([weight, weight.new_zeros(weight.shape[0], 2)], 1)
    scales = (weight.abs().amax(1) / 127).clamp_min(1e-12).double()
    values = torch.round(weight / scales[:, None].float()).clamp(-127, 127).to(torch.int8)
    return _Int8(values, scales)


def _widen(weight: _Int8, hidden: int) -> _Int8:
    """Rows for PyTorch's LSTM with two more hidden units (+1 and -1): each gate block of `hidden`
    rows gets two zero rows after it."""
    values = weight.values.view(4, hidden, -1)
    zeros = values.new_zeros(4, 2, values.shape[2])
    scales = torch.cat([weight.scales.view(4, hidden), weight.scales.new_ones(4, 2)], 1)
    return _Int8(torch.cat([values, zeros], 1).reshape(4 * (hidden + 2), -1), scales.reshape(-1))


def _widen_bias(bias: torch.Tensor, hidden: int) -> torch.Tensor:
    """`bias` for the widened rows: the +1 and -1 units' input, forget and output gates open, their
    candidate +1 and -1, so each keeps h = tanh(c) = +1 or -1 (gate order i, f, g, o)."""
    blocks = torch.cat([bias.view(4, hidden), bias.new_full((4, 2), PINNED)], 1)
    blocks[2, hidden + 1] = -PINNED
    return blocks.reshape(-1)


def _narrow_index(hidden: int) -> torch.Tensor:
    """The rows of a widened gate layout that belong to the model's own units."""
    return torch.cat([torch.arange(k * (hidden + 2), k * (hidden + 2) + hidden) for k in range(4)])


def _prepack(weight: _Int8, bias: torch.Tensor | None) -> torch.Tensor:
    """fbgemm's packed int8 weight (and fp32 bias)."""
    zero_points = torch.zeros(weight.values.shape[0], dtype=torch.long)
    with warnings.catch_warnings():  # quantized tensors are deprecated in favour of torchao; still here
        warnings.simplefilter("ignore")
        quantized = torch._make_per_channel_quantized_tensor(weight.values.contiguous(), weight.scales,
                                                             zero_points, 0)
        return torch.ops.quantized.linear_prepack(quantized, None if bias is None else bias.detach().float())


# the operator's C++ entry point (its Python wrapper checks for tracing's fake objects: a few us a call)
_LINEAR = getattr(torch.ops.quantized.linear_dynamic.default, "_op", torch.ops.quantized.linear_dynamic.default)


def _linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x @ weight.T (+ bias) with x quantised to 7 bits: on AVX2, fbgemm adds pairs of 8-bit products
    in 16 bits, which saturate with full 8-bit inputs (a 64x64 product was off by 3.0, 0.16 with 7)."""
    return _LINEAR(x, packed, True)


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_INT8_WORKS: bool | None = None


def _int8_works() -> bool:
    """fbgemm's int8 linear exists in this build and gives a float product's answer on a small case,
    and PyTorch's int8 LSTM reads a small model's text into the state its steps write."""
    global _INT8_WORKS
    if _INT8_WORKS is None:
        try:
            engines = torch.backends.quantized.supported_engines
            if not ({"fbgemm", "x86"} & set(engines)):
                _INT8_WORKS = False
            else:
                # large enough that products saturate 16 bits without reduce_range (see _linear)
                weight = torch.linspace(-1, 1, 64 * 64).reshape(64, 64).sin() * 3
                x = torch.linspace(-1, 1, 64).reshape(1, 64).cos()
                got = _linear(torch.cat([x, torch.tensor([[1.0, -1.0]])], 1), _prepack(_quantize(weight), None))
                _INT8_WORKS = bool(torch.allclose(got, x @ weight.t(), atol=0.1)) and _int8_lstm_works()
        except (AttributeError, RuntimeError):
            _INT8_WORKS = False
    return _INT8_WORKS


def _int8_lstm_works() -> bool:
    """Int8Step on a throwaway two-layer model: reading four characters ends where four steps do."""
    with torch.random.fork_rng(devices=[]), torch.inference_mode():  # leave the caller's RNG as it was
        torch.manual_seed(0)
        model = CharLSTM(ModelConfig(vocab_size=6, embed=3, hidden=8, layers=2)).eval()
        step, ids = Int8Step(model), torch.tensor([[1, 4, 2, 5]])
        read, (h, _) = step.read(ids)
        state = model.zero_state(1)
        for t in range(ids.shape[1]):
            logits, state = step(ids[:, t], state)
        return torch.equal(read, logits) and torch.equal(h, state[0])
